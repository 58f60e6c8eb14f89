import '../devhost/register';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { sandboxUsersFromExport, SANDBOX_FALLBACK, type RunOptions } from '../cli/run';
import type { MigrationReport } from '../core/pipeline/report';
import { Pacer } from '../core/graph/pacing';
import { startSandbox } from '../sandbox';
import {
  channelPaces,
  classify,
  globalPerSecond,
  median,
  postingFigures,
  round,
  type ChannelPace,
  type PostingFigures,
} from './pipeline/metrics';
import { runInstrumented } from './pipeline/instrumented';
import { probePacing, productPacer } from './pipeline/pacingProbe';
import { writeSkewedExport } from './pipeline/skewedExport';

const RATE_PER_CHANNEL = 5;
const RATE_GLOBAL = 50;

interface Args {
  runs: number;
  messages: number;
  channels: number;
  skew: number;
  batchSeconds: number;
  channelConcurrency: number;
  workDir: string;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? undefined : argv[i + 1];
  };
  const num = (name: string, fallback: number): number => Number(value(name) ?? fallback);
  return {
    runs: num('runs', 1),
    messages: num('messages', 6000),
    channels: num('channels', 20),
    skew: num('skew', 0.6),
    batchSeconds: num('batch-seconds', 20),
    channelConcurrency: num('channel-concurrency', 10),
    workDir: value('work-dir') ?? path.join(tmpdir(), `pipeline-bench-${process.pid}`),
    keep: argv.includes('--keep'),
  };
}

interface RunResult {
  run: number;
  exitCode: number;
  planned: number;
  posted: number;
  largestChannel: number;
  seconds: PostingFigures['seconds'];
  wallOverBound: number;
  postingOverPostingBound: number;
  throttled: Omit<PostingFigures['throttled'], 'byScope'>;
  windowGapsMs: PostingFigures['windowGapsMs'];
  requests: PostingFigures['requests'];
  history: {
    events: number;
    perThousandMessages: number;
    executions: number;
    closingEpisodesAdded: number;
    missingExecutions: number;
    polls: number;
  };
  globalPerSecond: { median: number; secondsBelow45: number; seconds: number };
  critical: ChannelPace & { name: string };
  tail: { largestChannelEndToLastPost: number; lastPostToDone: number };
  /** The largest channel's admitted POSTs per second while `channelConcurrency` channels posted, and after. */
  criticalRate: { fullFanOut: number; fullFanOutSeconds: number; after: number; afterSeconds: number };
  channels: (ChannelPace & { name: string })[];
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  loadAverage: { min: number; max: number; mean: number };
}

/** When the full fan-out ended: the first channel end after the last channel started (fewer than W post from then on). */
function fullFanOutEnd(paces: ChannelPace[]): number {
  const lastStart = Math.max(...paces.map((p) => p.first));
  return Math.min(...paces.map((p) => p.last).filter((t) => t > lastStart));
}

async function runOnce(args: Args, exportDir: string, run: number): Promise<RunResult> {
  const stateDir = path.join(args.workDir, `run-${run}`);
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  delete process.env.TEAMS_IMPORT_RATE_PER_CHANNEL;
  delete process.env.TEAMS_IMPORT_RATE_GLOBAL;
  const sandbox = await startSandbox({
    users: await sandboxUsersFromExport(exportDir),
    ratePerChannel: RATE_PER_CHANNEL,
    rateGlobal: RATE_GLOBAL,
    timeScale: 1,
  });

  const runId = `bench-${run}`;
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
  const watched = await runInstrumented(exportDir, options, {
    teamInstance: `migration-${runId}`,
    historyPollMs: 500,
    progress: (t) => process.stderr.write(`  ${t.slice(0, 160)}\n`),
  });
  const log = sandbox.requestLog();
  const dump = sandbox.dump();
  await sandbox.stop();
  if (args.keep) writeFileSync(path.join(stateDir, 'requests.json'), JSON.stringify(log));
  const report = JSON.parse(
    readFileSync(path.join(stateDir, 'reports', `${runId}.json`), 'utf8'),
  ) as MigrationReport;

  const names = new Map(dump.teams.flatMap((t) => t.channels.map((c) => [c.id, c.displayName])));
  const planned = report.totals.planned;
  const largest = Math.max(...report.channels.map((c) => c.planned));
  const figures = postingFigures(
    log,
    { planned, largest, teamTimes: watched.teamTimes },
    { ratePerChannel: RATE_PER_CHANNEL, rateGlobal: RATE_GLOBAL },
  );
  const { firstPost, lastPost } = figures;

  const paces = channelPaces(log, RATE_PER_CHANNEL).map((p) => ({
    ...p,
    name: names.get(p.channel) ?? p.channel,
  }));
  const critical = paces[0];
  const perSecond = globalPerSecond(log, firstPost, lastPost);
  const fanOutEnd = fullFanOutEnd(paces);
  const criticalTimes = log
    .filter(
      (e) => e.status !== 429 && classify(e).role === 'post' && classify(e).channel === critical.channel,
    )
    .map((e) => e.t);
  const rateBetween = (from: number, to: number): number =>
    to > from ? round(criticalTimes.filter((t) => t >= from && t < to).length / ((to - from) / 1000), 2) : 0;
  const h = watched.histories.total();
  return {
    run,
    exitCode: watched.exitCode,
    planned,
    posted: report.totals.posted,
    largestChannel: largest,
    seconds: figures.seconds,
    wallOverBound: figures.wallOverBound,
    postingOverPostingBound: figures.postingOverPostingBound,
    throttled: {
      total: figures.throttled.total,
      steadyState: figures.throttled.steadyState,
      channelScope: figures.throttled.channelScope,
      globalScope: figures.throttled.globalScope,
    },
    windowGapsMs: figures.windowGapsMs,
    requests: figures.requests,
    history: {
      events: h.events,
      perThousandMessages: round((h.events * 1000) / planned, 1),
      executions: h.executions,
      closingEpisodesAdded: h.closingEpisodesAdded,
      missingExecutions: h.missingExecutions,
      polls: watched.histories.polls,
    },
    globalPerSecond: {
      median: median(perSecond),
      secondsBelow45: perSecond.filter((n) => n < 45).length,
      seconds: perSecond.length,
    },
    critical,
    tail: {
      largestChannelEndToLastPost: round((lastPost - critical.last) / 1000, 2),
      lastPostToDone: figures.seconds.completion,
    },
    criticalRate: {
      fullFanOut: rateBetween(critical.first, fanOutEnd),
      fullFanOutSeconds: round((fanOutEnd - critical.first) / 1000, 1),
      after: rateBetween(fanOutEnd, critical.last),
      afterSeconds: round((critical.last - fanOutEnd) / 1000, 1),
    },
    channels: paces,
    eventLoopDelayMs: watched.eventLoopDelayMs,
    loadAverage: watched.loadAverage,
  };
}

/**
 * Pipeline benchmark: generates a skewed 20-channel export, migrates it with `runMigration` into a sandbox at
 * the service's real limits (5/s per channel, 50/s per app), and prints wall time against the lower bound,
 * 429s, requests per message and Durable history events per 1,000 messages as JSON, one object per run
 * plus the medians.
 */
async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.argv.includes('--probe')) {
    const perChannel = Number(process.argv[process.argv.indexOf('--probe') + 1]) || 150;
    for (const [variant, pacer] of [
      ['product Pacer (5/s per channel, 50/s app-wide, 10 ms margin)', productPacer()],
      ['product Pacer, no margin', new Pacer({ perChannelPerSecond: 5, globalPerSecond: 50, marginMs: 0 })],
      ['product Pacer, app-wide limit off', new Pacer({ perChannelPerSecond: 5, globalPerSecond: 1e6 })],
    ] as const) {
      const result = await probePacing(variant, pacer, args.channelConcurrency, perChannel);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
    return;
  }
  const exportDir = path.join(args.workDir, 'export');
  rmSync(exportDir, { recursive: true, force: true });
  const sizes = writeSkewedExport({
    out: exportDir,
    messages: args.messages,
    channels: args.channels,
    skew: args.skew,
    replyShare: 0.25,
    users: 60,
    seed: 1,
  });
  process.stderr.write(`export: ${exportDir} (${sizes.map((s) => s.messages).join(', ')})\n`);
  const results: RunResult[] = [];
  for (let run = 1; run <= args.runs; run++) {
    process.stderr.write(`run ${run}/${args.runs} (load average ${loadavg()[0].toFixed(2)})\n`);
    const result = await runOnce(args, exportDir, run);
    results.push(result);
    const { channels: _channels, ...summary } = result;
    void _channels;
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  }
  const med = (pick: (r: RunResult) => number): number => median(results.map(pick));
  process.stdout.write(
    `${JSON.stringify({
      median: {
        runs: results.length,
        wall: med((r) => r.seconds.wall),
        bound: med((r) => r.seconds.bound),
        wallOverBound: med((r) => r.wallOverBound),
        postingOverPostingBound: med((r) => r.postingOverPostingBound),
        throttled: med((r) => r.throttled.total),
        throttledSteadyState: med((r) => r.throttled.steadyState),
        requestsPerMessage: med((r) => r.requests.perMessage),
        historyEventsPerThousand: med((r) => r.history.perThousandMessages),
      },
      channelsOfLastRun: results.at(-1)?.channels.map((c) => ({
        name: c.name,
        admitted: c.admitted,
        throttled: c.throttled,
        spanOverIdeal: round(c.spanOverIdeal),
        lostSeconds: c.lostSeconds,
        longGaps: c.longGaps,
        gapMs: c.gapMs,
        slowTurnaroundMs: c.slowTurnaroundMs,
      })),
    })}\n`,
  );
  if (!args.keep) rmSync(args.workDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
