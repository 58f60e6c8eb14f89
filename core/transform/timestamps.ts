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

/**
 * Plans `createdDateTime`s for one channel. Units are ordered by source time (a reply that is not later
 * than its parent goes right after the parent), then each part takes max(its source ms, previous + 1 ms,
 * `floorMs`), so times strictly increase in posting order: unique to the millisecond, replies after their
 * parent, nothing before `floorMs`. Deterministic: ties break on the key, then the input position.
 */
export function planTimestamps(units: TimedUnit[], floorMs: number = -Infinity): TimePlan {
  const sortTime = (u: TimedUnit): [number, number, number] => {
    const p = u.parent === undefined ? undefined : units[u.parent];
    return p && u.micros <= p.micros ? [p.micros, 1, u.micros] : [u.micros, 0, 0];
  };
  const keys = units.map(sortTime);
  const order = units.map((_, i) => i);
  order.sort((a, b) => {
    const ka = keys[a];
    const kb = keys[b];
    for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
    const ua = units[a].key;
    const ub = units[b].key;
    return ua < ub ? -1 : ua > ub ? 1 : a - b;
  });
  const times: number[][] = new Array(units.length);
  let last = -Infinity;
  let bumps = 0;
  for (const i of order) {
    const u = units[i];
    const first = Math.max(u.ms, last + 1, floorMs);
    if (first !== u.ms) bumps++;
    const t: number[] = [];
    for (let k = 0; k < Math.max(1, u.parts); k++) t.push(first + k);
    last = t[t.length - 1];
    times[i] = t;
  }
  return { order, times, bumps };
}
