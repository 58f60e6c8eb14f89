import '../devhost/register';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { sandboxUsersFromExport, SANDBOX_FALLBACK, type RunOptions } from '../cli/run';
import type { MigrationReport } from '../core/pipeline/report';
import { startSandbox, type RequestLogEntry } from '../sandbox';
import { runInstrumented, type InstrumentedRun } from './pipeline/instrumented';
import { batchStarts, classify, median, postingFigures, round, type BatchStart } from './pipeline/metrics';
import { writeSkewedExport } from './pipeline/skewedExport';

/** The service's real limits: message POSTs per channel and per app a second, team and channel creations. */
const REAL = { perChannel: 5, global: 50, teamCreationsPerSecond: 10, channelCreationsPer10s: 20 };

interface Args {
  channels: number;
  messages: number;
  skew: number;
  timeScale: number;
  /**
   * `time`: the sandbox's windows shrink K times (5 POSTs per channel in 1000/K ms); `limits`: its limits
   * grow K times over the real one-second window (5K per channel a second), the window the app's pacer counts.
   */
  scale: 'time' | 'limits';
  batchSeconds: number;
  channelConcurrency: number;
  /** Stops the migration after this many minutes and reports how far it got. */
  maxMinutes: number;
  workDir: string;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? undefined : argv[i + 1];
  };
  const num = (name: string, fallback: number): number => {
    const given = value(name);
    const n = Number(given ?? fallback);
    if (!Number.isFinite(n) || n <= 0)
      throw new Error(`--${name} must be a positive number, not '${given}'.`);
    return n;
  };
  return {
    channels: num('channels', 200),
    messages: num('messages', 1_000_000),
    skew: num('skew', 0.95),
    timeScale: num('time-scale', 100),
    scale: scaleOf(value('scale') ?? 'limits'),
    batchSeconds: num('batch-seconds', 60),
    channelConcurrency: num('channel-concurrency', 10),
    maxMinutes: num('max-minutes', 24 * 60),
    workDir: value('work-dir') ?? path.join(tmpdir(), `workspace-bench-${process.pid}`),
    keep: argv.includes('--keep'),
  };
}

function scaleOf(given: string): 'time' | 'limits' {
  if (given === 'time' || given === 'limits') return given;
  throw new Error(`--scale must be 'time' or 'limits', not '${given}'.`);
}

/** The app's settings for pacing and creations at `k` times the real limits (restored by the caller). */
function scaledPacing(k: number): Record<string, string> {
  return {
    TEAMS_IMPORT_RATE_PER_CHANNEL: String(REAL.perChannel * k),
    TEAMS_IMPORT_RATE_GLOBAL: String(REAL.global * k),
    TEAMS_IMPORT_TEAM_CREATIONS_PER_SECOND: String(REAL.teamCreationsPerSecond * k),
    TEAMS_IMPORT_CHANNEL_CREATIONS_PER_10S: String(REAL.channelCreationsPer10s * k),
  };
}

/** Admitted message POSTs per minute since the first one: how the pace held up over the run. */
function perMinute(log: RequestLogEntry[], from: number): number[] {
  const counts: number[] = [];
  for (const e of log) {
    if (e.status === 429 || classify(e).role !== 'post') continue;
    const m = Math.floor((e.t - from) / 60_000);
    while (counts.length <= m) counts.push(0);
    counts[m]++;
  }
  return counts;
}

/** The channel with the most message POSTs admitted, and how many. */
function busiestChannel(log: RequestLogEntry[]): { channelId: string; admitted: number } {
  const admitted = new Map<string, number>();
  for (const e of log) {
    const c = classify(e);
    if (c.role === 'post' && c.channel && e.status !== 429)
      admitted.set(c.channel, (admitted.get(c.channel) ?? 0) + 1);
  }
  let best = { channelId: '', admitted: 0 };
  for (const [channelId, n] of admitted) if (n > best.admitted) best = { channelId, admitted: n };
  return best;
}

async function writeLog(file: string, log: RequestLogEntry[]): Promise<void> {
  const out = createWriteStream(file);
  for (const e of log)
    if (!out.write(`${JSON.stringify(e)}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
  out.end();
  await finished(out);
}

/** The batches at the start and the end of a channel, and the slowest, from every batch that posted. */
function startAndEnd(starts: BatchStart[]): object {
  const ms = starts.map((b) => b.msToFirstPost);
  return {
    batches: starts.length,
    start: starts.slice(0, 3),
    end: starts.slice(-3),
    msToFirstPost: {
      firstThreeMedian: median(ms.slice(0, 3)),
      lastThreeMedian: median(ms.slice(-3)),
      median: median(ms),
      max: ms.length ? Math.max(...ms) : 0,
    },
    all: starts.map((b) => [b.atMessage, b.msToFirstPost]),
  };
}

/**
 * Workspace-scale benchmark: writes a skewed export of `--channels` channels and `--messages` messages (Zipf
 * sizes), starts a sandbox at `--time-scale` K times the real limits and the app with its pacing and creation
 * limits K times the defaults, migrates it with `runMigration` (local host, embedded Azurite, the HTTP API),
 * and prints one JSON line: wall time against the bound, 429s by scope, requests per message, history events
 * per 1,000 messages, the largest channel's batches' time to their first POST, peak RSS and load average.
 */
async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const k = args.timeScale;
  mkdirSync(args.workDir, { recursive: true });
  const exportDir = path.join(args.workDir, 'export');
  const exportStarted = Date.now();
  rmSync(exportDir, { recursive: true, force: true });
  const sizes = writeSkewedExport({
    out: exportDir,
    messages: args.messages,
    channels: args.channels,
    skew: args.skew,
    replyShare: 0.25,
    users: 60,
    seed: 1,
    maxPerDay: 1000,
  });
  const exportSeconds = (Date.now() - exportStarted) / 1000;
  process.stderr.write(
    `export: ${exportDir} in ${exportSeconds.toFixed(1)} s (largest ${sizes[0].messages}, smallest ${sizes.at(-1)?.messages})\n`,
  );

  const stateDir = path.join(args.workDir, 'run');
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  const sandbox = await startSandbox({
    users: await sandboxUsersFromExport(exportDir),
    ...(args.scale === 'time'
      ? {
          ratePerChannel: REAL.perChannel,
          rateGlobal: REAL.global,
          rateTeamCreation: REAL.teamCreationsPerSecond,
          rateChannelCreation: REAL.channelCreationsPer10s,
          timeScale: k,
        }
      : {
          ratePerChannel: REAL.perChannel * k,
          rateGlobal: REAL.global * k,
          rateTeamCreation: REAL.teamCreationsPerSecond * k,
          rateChannelCreation: REAL.channelCreationsPer10s * k,
          timeScale: 1,
        }),
    logLimit: Number.MAX_SAFE_INTEGER,
  });
  const pacing = scaledPacing(k);
  const envBefore = Object.fromEntries(Object.keys(pacing).map((key) => [key, process.env[key]]));
  Object.assign(process.env, pacing);
  const runId = 'workspace';
  const options: RunOptions = {
    stateDir,
    graphUrl: sandbox.url,
    json: true,
    includeSystemEvents: false,
    completeOnErrors: false,
    channelConcurrency: args.channelConcurrency,
    batchSeconds: args.batchSeconds,
    operationPollSeconds: 1,
    fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
    runId,
  };
  const abort = new AbortController();
  const stopAt = setTimeout(() => abort.abort(), args.maxMinutes * 60_000);
  let watched: InstrumentedRun;
  let stopped: string | undefined;
  try {
    watched = await runInstrumented(exportDir, options, {
      teamInstance: `migration-${runId}`,
      historyPollMs: 1000,
      progress: (t) => process.stderr.write(`  ${t.slice(0, 160)}\n`),
      signal: abort.signal,
      onStopped: (err) => (stopped = err instanceof Error ? err.message : String(err)),
    });
  } finally {
    clearTimeout(stopAt);
    for (const [key, value] of Object.entries(envBefore))
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
  }
  const log = sandbox.requestLog();
  await sandbox.stop();
  if (args.keep) await writeLog(path.join(stateDir, 'requests.ndjson'), log);

  const reportFile = path.join(stateDir, 'reports', `${runId}.json`);
  const report = existsSync(reportFile)
    ? (JSON.parse(readFileSync(reportFile, 'utf8')) as MigrationReport)
    : undefined;
  const planned = report?.totals.planned ?? args.messages;
  const largest = report ? Math.max(...report.channels.map((c) => c.planned)) : sizes[0].messages;
  const figures = postingFigures(
    log,
    { planned, largest, teamTimes: watched.teamTimes },
    {
      ratePerChannel: REAL.perChannel * k,
      rateGlobal: REAL.global * k,
      perChannelWindowLimit: args.scale === 'time' ? REAL.perChannel : REAL.perChannel * k,
    },
  );
  const busiest = busiestChannel(log);
  const h = watched.histories.total();
  const { firstPost, lastPost, ...rest } = figures;
  const postingBatches = watched.batches.filter((b) => !b.budgetWait);
  process.stdout.write(
    `${JSON.stringify({
      channels: args.channels,
      messages: args.messages,
      skew: args.skew,
      timeScale: k,
      scale: args.scale,
      exitCode: watched.exitCode,
      ...(stopped ? { stopped } : {}),
      planned,
      posted: report?.totals.posted ?? figures.requests.admittedPosts,
      largestChannel: largest,
      exportSeconds: round(exportSeconds, 1),
      ...rest,
      admittedPerSecond: round(figures.requests.admittedPosts / ((lastPost - firstPost) / 1000), 1),
      admittedPerMinute: perMinute(log, firstPost),
      history: {
        events: h.events,
        perThousandMessages: round((h.events * 1000) / planned, 1),
        executions: h.executions,
        closingEpisodesAdded: h.closingEpisodesAdded,
        missingExecutions: h.missingExecutions,
        polls: watched.histories.polls,
      },
      postMessagesActivities: {
        all: watched.batches.length,
        budgetWaits: watched.batches.length - postingBatches.length,
        failed: watched.batches.filter((b) => b.failed).length,
      },
      largestChannelBatches: {
        channelId: busiest.channelId,
        admitted: busiest.admitted,
        ...startAndEnd(batchStarts(log, busiest.channelId, postingBatches)),
      },
      peakRssMb: watched.peakRssMb,
      cpuSeconds: watched.cpuSeconds,
      cpuSecondsPer1000Messages: round(
        ((watched.cpuSeconds.process + watched.cpuSeconds.children) * 1000) / figures.requests.admittedPosts,
        2,
      ),
      loadAverage: { ...watched.loadAverage, atEnd: loadavg().map((l) => round(l, 2)) },
      eventLoopDelayMs: watched.eventLoopDelayMs,
    })}\n`,
  );
  if (!args.keep) rmSync(args.workDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
