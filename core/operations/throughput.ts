/**
 * Measured throughput: messages posted per minute, kept as a bounded series of one-minute buckets on each
 * channel's ledger row and summed over channels for the live page, the CLI and the report.
 */

/** One minute of posting: the minute (epoch ms of its start) and the messages posted in it. */
export interface MinuteBucket {
  minute: number;
  messages: number;
}

/** Minutes a channel's series keeps: the last six hours. */
export const SERIES_MINUTES = 360;
/** Minutes the current rate is measured over (the latest, partial minute included). */
export const RATE_WINDOW_MINUTES = 5;

const MINUTE_MS = 60_000;

/** The start (epoch ms) of the minute `at` falls in. */
export function minuteOf(at: number): number {
  return Math.floor(at / MINUTE_MS) * MINUTE_MS;
}

/**
 * Adds `messages` posted at `at` to a series (ascending by minute) and keeps only the last `keep` minutes
 * before `at`; returns a new series.
 */
export function addToSeries(
  series: readonly MinuteBucket[],
  at: number,
  messages: number,
  keep = SERIES_MINUTES,
): MinuteBucket[] {
  const minute = minuteOf(at);
  const oldest = minute - (keep - 1) * MINUTE_MS;
  const out = series.filter((b) => b.minute >= oldest).map((b) => ({ ...b }));
  if (messages <= 0) return out;
  const bucket = out.find((b) => b.minute === minute);
  if (bucket) bucket.messages += messages;
  else {
    out.push({ minute, messages });
    out.sort((a, b) => a.minute - b.minute);
  }
  return out;
}

/** The series as a ledger column holds it: `[[minuteEpochMs, messages], ...]`. */
export function encodeSeries(series: readonly MinuteBucket[]): string {
  return JSON.stringify(series.map((b) => [b.minute, b.messages]));
}

/** Reads a ledger column back; anything unreadable is an empty series (the figures are a measurement). */
export function decodeSeries(text: string | undefined): MinuteBucket[] {
  if (!text) return [];
  try {
    const rows = JSON.parse(text) as unknown;
    if (!Array.isArray(rows)) return [];
    return rows
      .filter(
        (r): r is [number, number] =>
          Array.isArray(r) && Number.isFinite(r[0]) && Number.isFinite(r[1]) && r[1] >= 0,
      )
      .map(([minute, messages]) => ({ minute, messages }))
      .sort((a, b) => a.minute - b.minute);
  } catch {
    return [];
  }
}

/** Sums several channels' series minute by minute (ascending). */
export function sumSeries(all: readonly (readonly MinuteBucket[])[]): MinuteBucket[] {
  const byMinute = new Map<number, number>();
  for (const series of all)
    for (const b of series) byMinute.set(b.minute, (byMinute.get(b.minute) ?? 0) + b.messages);
  return [...byMinute.entries()]
    .sort(([a], [b]) => a - b)
    .map(([minute, messages]) => ({ minute, messages }));
}

/**
 * Messages per second over the last `windowMinutes` minutes up to `now`: the messages posted in that window
 * over the seconds of it the run covered (from its first posted minute when that is later). Undefined when
 * nothing was posted in the window.
 */
export function measuredRate(
  series: readonly MinuteBucket[],
  now: number,
  windowMinutes = RATE_WINDOW_MINUTES,
): number | undefined {
  const current = minuteOf(now);
  const windowStart = current - (windowMinutes - 1) * MINUTE_MS;
  const inWindow = series.filter((b) => b.minute >= windowStart && b.minute <= current);
  const messages = inWindow.reduce((n, b) => n + b.messages, 0);
  if (messages === 0) return undefined;
  const from = Math.max(windowStart, inWindow[0].minute);
  const seconds = Math.max(1, (now - from) / 1000);
  return messages / seconds;
}

/** Seconds until `remaining` messages are posted at `ratePerSecond`; undefined without a rate or work. */
export function etaSeconds(remaining: number, ratePerSecond: number | undefined): number | undefined {
  if (remaining <= 0 || !ratePerSecond || ratePerSecond <= 0) return undefined;
  return Math.ceil(remaining / ratePerSecond);
}

/** A duration for people: `45 s`, `12 min`, `3 h 20 min`. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m ? `${h} h ${m} min` : `${h} h`;
}
