import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { rateText } from '../core/operations/chart';
import type { DashboardChannel, MigrationDashboard } from '../core/operations/dashboard';
import { formatDuration } from '../core/operations/throughput';

/** Channel bars shown at once on a terminal; the others wait for a free line. */
export const MAX_CHANNEL_BARS = 10;
/** Seconds between summary lines in plain (non-terminal) output. */
export const PLAIN_INTERVAL_MS = 5000;

const pct = (part: number, whole: number): string =>
  whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '0%';

/** One line that says where a migration stands: phase, messages, channels, measured rate, time left, throttling. */
export function summaryLine(d: MigrationDashboard): string {
  const t = d.totals;
  const parts = [
    `${d.phase}: ${t.posted}/${t.planned} messages posted (${pct(t.posted, t.planned)})`,
    `${t.failed} failed, ${t.missing} missing`,
    `${t.channelsDone}/${t.channels} channels done, ${t.channelsInFlight} in flight`,
    ...(d.ended
      ? []
      : [
          d.throughput.ratePerSecond !== undefined
            ? `${rateText(d.throughput.ratePerSecond)} msg/s`
            : 'rate not measured yet',
        ]),
    ...(d.eta ? [`about ${formatDuration(d.eta.seconds)} left`] : []),
    `${t.throttled} throttled`,
    ...d.channels
      .filter((c) => c.waitingUntil && d.waiting.some((w) => w.channel === c.teamsName))
      .map((c) => `${c.teamsName} ${c.posted}/${c.planned} waiting for the service until ${c.waitingUntil}`),
  ];
  return parts.join(' · ');
}

/** The line printed when a channel's pass ends, and its explanation lines when something is missing. */
export function channelDoneLines(c: DashboardChannel): string[] {
  return [
    `${c.teamsName}: ${c.posted}/${c.planned} posted` +
      (c.failed ? `, ${c.failed} failed` : '') +
      (c.missing ? `, ${c.missing} missing` : '') +
      ` (${c.state})`,
    ...c.why.map((w) => `    ${w}`),
  ];
}

/** Shows a running migration's progress from successive snapshots of its live state. */
export interface ProgressView {
  update(d: MigrationDashboard): void;
  stop(): void;
}

/**
 * Progress on a terminal: one summary line, then a bar for each channel in flight (at most
 * {@link MAX_CHANNEL_BARS}); a channel's bar is replaced by its finishing line when its pass ends.
 */
export function terminalProgress(stream: NodeJS.WritableStream): ProgressView {
  const bars = new MultiBar(
    {
      stream: stream as NodeJS.WriteStream,
      format: ' {bar} {value}/{total} {name}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
    },
    Presets.shades_classic,
  );
  const summary = bars.create(1, 0, { name: '' }, { format: ' {name}' });
  const channelBars = new Map<string, SingleBar>();
  const reported = new Set<string>();
  return {
    update(d) {
      summary.update(0, { name: summaryLine(d) });
      for (const c of d.channels) {
        const bar = channelBars.get(c.key);
        const tried = c.posted + c.failed + c.missing;
        if (c.done && !reported.has(c.key)) {
          reported.add(c.key);
          if (bar) {
            bars.remove(bar);
            channelBars.delete(c.key);
          }
          bars.log(`${channelDoneLines(c).join('\n')}\n`);
          continue;
        }
        const label = `${c.teamsName} (${c.waitingUntil ? `waiting for the service until ${c.waitingUntil}` : c.state})`;
        if (bar) bar.update(tried, { name: label });
        else if (c.inFlight && channelBars.size < MAX_CHANNEL_BARS)
          channelBars.set(c.key, bars.create(Math.max(c.planned, 1), tried, { name: label }));
      }
    },
    stop() {
      bars.stop();
    },
  };
}

/**
 * Progress as plain lines (a pipe, a log file): one summary line per interval (and on each phase change),
 * and a line for each channel when its pass ends; never every channel on one line.
 */
export function plainProgress(
  write: (line: string) => void,
  now: () => number = Date.now,
  intervalMs = PLAIN_INTERVAL_MS,
): ProgressView {
  let lastPhase = '';
  let lastPrinted = -Infinity;
  const reported = new Set<string>();
  return {
    update(d) {
      for (const c of d.channels)
        if (c.done && !reported.has(c.key)) {
          reported.add(c.key);
          channelDoneLines(c).forEach(write);
        }
      if (d.phase !== lastPhase || now() - lastPrinted >= intervalMs || d.ended) {
        write(summaryLine(d));
        lastPhase = d.phase;
        lastPrinted = now();
      }
    },
    stop() {},
  };
}
