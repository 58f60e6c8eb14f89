/** A Slack `ts` read exactly: epoch microseconds and its millisecond truncation. */
export interface SlackTime {
  micros: number;
  ms: number;
}

/** Parses a Slack `ts` ("1503435956.000247") without floating-point rounding; digits past six are dropped. */
export function parseSlackTs(ts: string): SlackTime {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(ts);
  if (!m) throw new Error(`invalid Slack ts ${JSON.stringify(ts)}: expected seconds with up to six decimals`);
  const micro = Number(((m[2] ?? '') + '000000').slice(0, 6));
  const micros = Number(m[1]) * 1_000_000 + micro;
  return { micros, ms: Number(m[1]) * 1000 + Math.floor(micro / 1000) };
}

/** A Slack `ts` as two exact integers; equal pairs if and only if equal strings. See {@link tsPair}. */
export interface TsPair {
  hi: number;
  lo: number;
}

/**
 * Encodes a Slack `ts` (1-12 digits, optionally a dot and 1-9 digits) losslessly into `out`: `hi` holds the
 * seconds and their digit count, `lo` the fraction and its digit count (0: no dot). False when `ts` has
 * another form (then `out` is unchanged).
 */
export function tsPair(ts: string, out: TsPair): boolean {
  const n = ts.length;
  let i = 0;
  let seconds = 0;
  for (; i < n; i++) {
    const d = ts.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    seconds = seconds * 10 + d;
  }
  if (i < 1 || i > 12) return false;
  const secondsDigits = i;
  let fraction = 0;
  let fractionDigits = 0;
  if (i < n) {
    if (ts.charCodeAt(i) !== 46) return false;
    for (i++; i < n; i++) {
      const d = ts.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return false;
      fraction = fraction * 10 + d;
      fractionDigits++;
    }
    if (fractionDigits < 1 || fractionDigits > 9) return false;
  }
  out.hi = seconds * 16 + secondsDigits;
  out.lo = fraction * 16 + fractionDigits;
  return true;
}

/** The Slack `ts` string a {@link tsPair} encodes. */
export function tsOfPair(hi: number, lo: number): string {
  const secondsDigits = hi % 16;
  const fractionDigits = lo % 16;
  const seconds = String((hi - secondsDigits) / 16).padStart(secondsDigits, '0');
  if (fractionDigits === 0) return seconds;
  return `${seconds}.${String((lo - fractionDigits) / 16).padStart(fractionDigits, '0')}`;
}

const POWERS_OF_TEN = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000];

/** The {@link SlackTime} of a {@link tsPair}, equal to {@link parseSlackTs} of its string. */
export function timeOfPair(hi: number, lo: number): SlackTime {
  const seconds = (hi - (hi % 16)) / 16;
  const fractionDigits = lo % 16;
  const fraction = (lo - fractionDigits) / 16;
  const micro =
    fractionDigits <= 6
      ? fraction * POWERS_OF_TEN[6 - fractionDigits]
      : Math.floor(fraction / POWERS_OF_TEN[fractionDigits - 6]);
  return { micros: seconds * 1_000_000 + micro, ms: seconds * 1000 + Math.floor(micro / 1000) };
}

/** One message to place in time: its source time, its thread parent (index into the list), its parts. */
export interface TimedUnit {
  key: string;
  micros: number;
  ms: number;
  /** Index of the thread parent in the same list, for replies. */
  parent?: number;
  /** Consecutive milliseconds the message needs (one per part of a split message). */
  parts: number;
}

/** Planned times: the posting order (indexes into the input) and each unit's part times in epoch ms. */
export interface TimePlan {
  order: number[];
  times: number[][];
  /** Units whose first part is later than their source millisecond. */
  bumps: number;
}

/** The columns {@link postingOrder} sorts: per message its source time, key and parent index (-1: none). */
export interface OrderColumns {
  micros: ArrayLike<number>;
  /** The key of message `i`, asked for only to break ties. */
  keyOf: (i: number) => string;
  parents: ArrayLike<number>;
}

/**
 * The posting order of one channel's messages (indexes into the columns): by source time, except that a
 * reply not later than its parent goes right after the parent; ties break on the key, then the position.
 */
export function postingOrder({ micros, keyOf, parents }: OrderColumns): number[] {
  const n = micros.length;
  const primary = new Float64Array(n);
  const afterParent = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const p = parents[i];
    const early = p >= 0 && micros[i] <= micros[p];
    primary[i] = early ? micros[p] : micros[i];
    afterParent[i] = early ? 1 : 0;
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => {
    if (primary[a] !== primary[b]) return primary[a] - primary[b];
    if (afterParent[a] !== afterParent[b]) return afterParent[a] - afterParent[b];
    if (afterParent[a] && micros[a] !== micros[b]) return micros[a] - micros[b];
    const ka = keyOf(a);
    const kb = keyOf(b);
    return ka < kb ? -1 : ka > kb ? 1 : a - b;
  });
  return order;
}

/** The first millisecond of the next message: its source ms, unless the previous one or the floor is later. */
export function nextTime(ms: number, previous: number, floorMs: number): number {
  return Math.max(ms, previous + 1, floorMs);
}

/**
 * Plans `createdDateTime`s for one channel. Units are ordered by source time (a reply that is not later
 * than its parent goes right after the parent), then each part takes max(its source ms, previous + 1 ms,
 * `floorMs`), so times strictly increase in posting order: unique to the millisecond, replies after their
 * parent, nothing before `floorMs`. Deterministic: ties break on the key, then the input position.
 */
export function planTimestamps(units: TimedUnit[], floorMs: number = -Infinity): TimePlan {
  const order = postingOrder({
    micros: units.map((u) => u.micros),
    keyOf: (i) => units[i].key,
    parents: units.map((u) => u.parent ?? -1),
  });
  const times: number[][] = new Array(units.length);
  let last = -Infinity;
  let bumps = 0;
  for (const i of order) {
    const u = units[i];
    const first = nextTime(u.ms, last, floorMs);
    if (first !== u.ms) bumps++;
    const t: number[] = [];
    for (let k = 0; k < Math.max(1, u.parts); k++) t.push(first + k);
    last = t[t.length - 1];
    times[i] = t;
  }
  return { order, times, bumps };
}
