type TypedArray = Float64Array | Int32Array | Uint8Array;

/** A growable column of numbers in a typed array: a few bytes per row, outside the garbage-collected heap. */
export class Column<T extends TypedArray> {
  private data: T;
  private size = 0;

  constructor(private readonly make: (capacity: number) => T) {
    this.data = make(1024);
  }

  /** Appends a value. */
  push(value: number): void {
    if (this.size === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.size++] = value;
  }

  /** The values pushed so far (a view: later pushes may not show in it). */
  values(): T {
    return this.data.subarray(0, this.size) as T;
  }
}

const EMPTY_SLOT = 0;

/** Mixes a pair of non-negative integers below 2^53 into 32 bits. */
const hashPair = (hi: number, lo: number): number => {
  let h = Math.imul((hi % 4294967296) | 0, 0x9e3779b1);
  h ^= Math.imul((hi / 4294967296) | 0, 0x85ebca6b);
  h ^= Math.imul((lo % 4294967296) | 0, 0xc2b2ae35);
  h ^= Math.imul((lo / 4294967296) | 0, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
};

/**
 * Distinct pairs of integers (such as encoded Slack timestamps) numbered in the order added, with a hash index in
 * typed arrays: finds a pair's row without keeping a string or an object per row.
 */
export class PairRows {
  private readonly hiColumn = new Column((n) => new Float64Array(n));
  private readonly loColumn = new Column((n) => new Float64Array(n));
  private slots = new Int32Array(2048);
  private count = 0;

  /** The number of rows. */
  get size(): number {
    return this.count;
  }

  /** The row of a pair, or -1 when it was never added. */
  find(hi: number, lo: number): number {
    const hiValues = this.hiColumn.values();
    const loValues = this.loColumn.values();
    const mask = this.slots.length - 1;
    for (let s = hashPair(hi, lo) & mask; ; s = (s + 1) & mask) {
      const slot = this.slots[s];
      if (slot === EMPTY_SLOT) return -1;
      if (hiValues[slot - 1] === hi && loValues[slot - 1] === lo) return slot - 1;
    }
  }

  /** Adds a pair as the next row and returns the row, or returns -1 when the pair is already there. */
  add(hi: number, lo: number): number {
    if (this.find(hi, lo) >= 0) return -1;
    if ((this.count + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    this.hiColumn.push(hi);
    this.loColumn.push(lo);
    this.place(hi, lo, ++this.count);
    return this.count - 1;
  }

  /** The pairs' first numbers, by row. */
  his(): Float64Array {
    return this.hiColumn.values();
  }

  /** The pairs' second numbers, by row. */
  los(): Float64Array {
    return this.loColumn.values();
  }

  private place(hi: number, lo: number, slotValue: number): void {
    const mask = this.slots.length - 1;
    let s = hashPair(hi, lo) & mask;
    while (this.slots[s] !== EMPTY_SLOT) s = (s + 1) & mask;
    this.slots[s] = slotValue;
  }

  private rehash(capacity: number): void {
    this.slots = new Int32Array(capacity);
    const his = this.hiColumn.values();
    const los = this.loColumn.values();
    for (let r = 0; r < this.count; r++) this.place(his[r], los[r], r + 1);
  }
}
