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
