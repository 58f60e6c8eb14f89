import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { sandboxRehearsal, SANDBOX_FALLBACK } from '../cli/run';
import { startAzurite } from '../devhost/azurite';
import { startSandbox } from '../sandbox';
import { median, round } from './pipeline/metrics';
import {
  busiestWindow,
  listeningUrl,
  messagePosts,
  servedMigrationEnd,
  startServedMigration,
  type MigrationView,
} from './pipeline/served';
import { writeSkewedExport } from './pipeline/skewedExport';

const RATE_PER_CHANNEL = 5;
const RATE_GLOBAL = 50;

interface Args {
  runs: number;
  messages: number;
  channels: number;
  skew: number;
  workDir: string;
  /** Writes each run's sandbox request log to `<log>-<run>.json`. */
  log?: string;
}

function parseArgs(argv: string[]): Args {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? undefined : argv[i + 1];
  };
  const num = (name: string, fallback: number): number => Number(value(name) ?? fallback);
  return {
    runs: num('runs', 1),
    messages: num('messages', 3000),
    channels: num('channels', 20),
    skew: num('skew', 0.6),
    workDir: value('work-dir') ?? path.join(tmpdir(), `two-process-bench-${process.pid}`),
    log: value('log'),
  };
}

/** Starts `teams-import serve` (the compiled CLI) on a free port against the shared storage and sandbox. */
function serve(storage: string, graphUrl: string): ChildProcess & { output(): string } {
  const bin = path.join(__dirname, '..', '..', 'bin', 'teams-import.js');
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--port', '0', '--storage', storage, '--graph-url', graphUrl],
    {
      env: { ...process.env, TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return Object.assign(child, { output: () => output });
}

interface RunResult {
  run: number;
  phases: string[];
  planned: number;
  largestChannel: number;
  seconds: { wall: number; posting: number; bound: number; perMigration: number[] };
  wallOverBound: number;
  postingOverBound: number;
  /** The most message POSTs in any sliding second: admitted ones, and those counted against the app. */
  peakPerSecond: { admitted: number; countedAgainstApp: number };
  throttled: Record<string, number>;
  loadAverage: { min: number; max: number };
}

async function runOnce(args: Args, exports: string[], sizes: number[][], run: number): Promise<RunResult> {
  const rehearsal = await sandboxRehearsal(exports[0]);
  const azurite = await startAzurite();
  const sandbox = await startSandbox({
    users: rehearsal.users,
    ratePerChannel: RATE_PER_CHANNEL,
    rateGlobal: RATE_GLOBAL,
    timeScale: 1,
  });
  const children = [0, 1].map(() => serve(azurite.connectionString, sandbox.url));
  const loads = [loadavg()[0]];
  const loadTimer = setInterval(() => loads.push(loadavg()[0]), 5000);
  try {
    const urls = await Promise.all(children.map((c) => listeningUrl(c)));
    const ids = [`bench-${run}-a`, `bench-${run}-b`];
    const started = Date.now();
    await Promise.all(
      urls.map((url, i) =>
        startServedMigration(url, {
          migrationId: ids[i],
          source: { path: exports[i] },
          team: { displayName: `Two-process ${ids[i]}` },
          userMap: rehearsal.userMap,
          fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
          options: { operationPollSeconds: 1 },
        }),
      ),
    );
    const ends: MigrationView[] = await Promise.all(
      urls.map((url, i) => servedMigrationEnd(url, ids[i], 3_600_000)),
    );
    const finished = Date.now();
    const log = sandbox.requestLog();
    if (args.log) writeFileSync(`${args.log}-${run}.json`, JSON.stringify(log));
    const posts = messagePosts(log);
    const planned = sizes.flat().reduce((a, b) => a + b, 0);
    const largest = Math.max(...sizes.flat());
    const bound = Math.max(planned / RATE_GLOBAL, largest / RATE_PER_CHANNEL);
    const posting = (posts.at(-1)!.t - posts[0].t) / 1000;
    const throttled: Record<string, number> = {};
    for (const e of log) if (e.throttled) throttled[e.throttled] = (throttled[e.throttled] ?? 0) + 1;
    const wall = (finished - started) / 1000;
    return {
      run,
      phases: ends.map((e) => e.output?.phase ?? e.runtimeStatus),
      planned,
      largestChannel: largest,
      seconds: {
        wall: round(wall, 1),
        posting: round(posting, 1),
        bound: round(bound, 1),
        perMigration: ends.map((e) =>
          round((Date.parse(e.lastUpdatedTime ?? '') - Date.parse(e.createdTime ?? '')) / 1000, 1),
        ),
      },
      wallOverBound: round(wall / bound, 3),
      postingOverBound: round(posting / bound, 3),
      peakPerSecond: {
        admitted: busiestWindow(
          posts.filter((p) => p.admitted).map((p) => p.t),
          1000,
        ),
        countedAgainstApp: busiestWindow(
          posts.filter((p) => p.admitted || p.throttled === 'global').map((p) => p.t),
          1000,
        ),
      },
      throttled,
      loadAverage: { min: round(Math.min(...loads), 2), max: round(Math.max(...loads), 2) },
    };
  } finally {
    clearInterval(loadTimer);
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)),
    );
    await sandbox.stop();
    await azurite.stop();
  }
}

/**
 * Two-process benchmark: two `teams-import serve` processes on one Azurite, each migrating its own skewed
 * 20-channel export at once into one sandbox at the service's real limits (5/s per channel, 50/s per app).
 * Prints, per run and as medians, the wall time against the combined bound, the peak rate in any sliding
 * second and the 429s by scope.
 */
async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const exports = ['a', 'b'].map((name) => path.join(args.workDir, `export-${name}`));
  const sizes = exports.map((out, i) =>
    writeSkewedExport({
      out,
      messages: args.messages,
      channels: args.channels,
      skew: args.skew,
      replyShare: 0.25,
      users: 60,
      seed: i + 1,
    }).map((c) => c.messages),
  );
  const results: RunResult[] = [];
  for (let run = 1; run <= args.runs; run++) {
    process.stderr.write(`run ${run}/${args.runs} (load average ${loadavg()[0].toFixed(2)})\n`);
    const result = await runOnce(args, exports, sizes, run);
    results.push(result);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
  const med = (pick: (r: RunResult) => number): number => median(results.map(pick));
  process.stdout.write(
    `${JSON.stringify({
      median: {
        runs: results.length,
        wall: med((r) => r.seconds.wall),
        bound: med((r) => r.seconds.bound),
        wallOverBound: med((r) => r.wallOverBound),
        postingOverBound: med((r) => r.postingOverBound),
        peakAdmittedPerSecond: med((r) => r.peakPerSecond.admitted),
        peakCountedPerSecond: med((r) => r.peakPerSecond.countedAgainstApp),
        throttledGlobal: med((r) => r.throttled.global ?? 0),
        throttledChannel: med((r) => r.throttled.channel ?? 0),
      },
    })}\n`,
  );
  rmSync(args.workDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
