import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeSkewedExport } from '../../bench/pipeline/skewedExport';
import { sandboxUsersFromExport } from '../../cli/run';
import {
  SLACK_FILES_PREFIX,
  startSandbox,
  type RequestLogEntry,
  type SandboxHandle,
  type SandboxUser,
} from '../../sandbox';
import {
  exitedWithin,
  FAST_RATES,
  killGroup,
  messageCount,
  SAMPLE_EXPORT,
  seenTeams,
  spawnCli,
  type SeenTeam,
  testRunArgs,
} from '../support/migration';

/** A point at which the run is killed, judged from the sandbox's request log. */
interface KillPoint {
  name: string;
  reached(log: RequestLogEntry[]): boolean;
}

const isMessagePost = (r: RequestLogEntry): boolean =>
  r.method === 'POST' && /\/messages(\/[^/]+\/replies)?$/.test(r.path) && r.status < 300;
const postsAtLeast = (n: number) => (log: RequestLogEntry[]) => log.filter(isMessagePost).length >= n;
const isTeamCreation = (r: RequestLogEntry): boolean => r.method === 'POST' && /\/teams$/.test(r.path);
const isCompletionStep = (r: RequestLogEntry): boolean =>
  r.method === 'POST' && /(completeMigration|\/members\/add)$/.test(r.path);

const KILL_POINTS: KillPoint[] = [
  {
    name: 'right after the team creation request',
    reached: (log) => log.some((r) => r.method === 'POST' && /\/teams$/.test(r.path)),
  },
  { name: 'after the first message posts', reached: postsAtLeast(3) },
  { name: 'mid-way through the channels', reached: postsAtLeast(70) },
  { name: 'near the end of posting', reached: postsAtLeast(150) },
  {
    name: 'between channel completions',
    reached: (log) =>
      log.some((r) => r.method === 'POST' && /channels\/[^/]+\/completeMigration$/.test(r.path)),
  },
  {
    name: 'after the team completion, before members',
    reached: (log) => log.some((r) => /teams\/[^/]+\/completeMigration$/.test(r.path)),
  },
];

const runArgs = (stateDir: string, graphUrl: string): string[] =>
  testRunArgs(SAMPLE_EXPORT, {
    graphUrl,
    stateDir,
    runId: 'resume',
    slackFilesUrl: `${graphUrl}${SLACK_FILES_PREFIX}`,
  });

describe('a run killed at any point and run again ends exactly like an uninterrupted run', () => {
  let users: SandboxUser[];
  let reference: SeenTeam[];
  const dirs: string[] = [];
  const sandboxes: SandboxHandle[] = [];
  const freshSandbox = async (): Promise<SandboxHandle> => {
    const s = await startSandbox({ users, timeScale: 10, slackFiles: { export: SAMPLE_EXPORT } });
    sandboxes.push(s);
    return s;
  };
  const freshDir = (): string => {
    const d = mkdtempSync(path.join(tmpdir(), 'e2e-resume-'));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    users = await sandboxUsersFromExport(SAMPLE_EXPORT);
    const sandbox = await freshSandbox();
    const child = spawnCli(runArgs(freshDir(), sandbox.url), FAST_RATES);
    const code = await exitedWithin(child, 90_000);
    if (code !== 0) throw new Error(`The uninterrupted run failed (${code}):\n${child.output()}`);
    reference = seenTeams(sandbox.dump());
  });
  afterAll(async () => {
    await Promise.all(sandboxes.map((s) => s.stop()));
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('has a complete reference to compare with', () => {
    expect(reference).toHaveLength(1);
    expect(reference[0].migrationMode).toBe('completed');
    expect(messageCount(reference[0])).toBeGreaterThan(150);
  });

  it.each(KILL_POINTS)('killed $name', async (point) => {
    const sandbox = await freshSandbox();
    const stateDir = freshDir();
    const first = spawnCli(runArgs(stateDir, sandbox.url), FAST_RATES);
    let killed = false;
    const watcher = setInterval(() => {
      if (!killed && point.reached(sandbox.requestLog())) {
        killed = true;
        first.kill('SIGKILL');
      }
    }, 2);
    const firstExit = await exitedWithin(first, 90_000);
    clearInterval(watcher);
    expect({ point: point.name, killed, firstExit }).toEqual({
      point: point.name,
      killed: true,
      firstExit: 'SIGKILL',
    });
    const atKill = seenTeams(sandbox.dump());
    expect(atKill).not.toEqual(reference);

    const second = spawnCli(runArgs(stateDir, sandbox.url), FAST_RATES);
    const secondExit = await exitedWithin(second, 90_000);
    if (secondExit !== 0) throw new Error(`The resumed run failed (${secondExit}):\n${second.output()}`);
    expect(seenTeams(sandbox.dump())).toEqual(reference);
    const teamsCreated = sandbox.requestLog().filter((r) => r.method === 'POST' && /\/teams$/.test(r.path));
    expect(teamsCreated).toHaveLength(1);
  });
});

describe('a run killed again and again with its whole process group, Azurite included, under faults', () => {
  const dirs: string[] = [];
  const sandboxes: SandboxHandle[] = [];
  const children: ReturnType<typeof spawnCli>[] = [];
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) killGroup(child);
    await Promise.all(sandboxes.map((s) => s.stop()));
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('ends completed, exact and with one team, even when each kill after the team creation also loses the ledger its last second of writes', async () => {
    const exportDir = mkdtempSync(path.join(tmpdir(), 'e2e-kill-export-'));
    dirs.push(exportDir);
    const sizes = writeSkewedExport({
      out: exportDir,
      messages: 900,
      channels: 7,
      skew: 0.6,
      replyShare: 0.2,
      users: 20,
      seed: 7,
    });
    const planned = sizes.reduce((n, c) => n + c.messages, 0);
    const users = await sandboxUsersFromExport(exportDir);
    const args = (stateDir: string, graphUrl: string): string[] =>
      testRunArgs(exportDir, { graphUrl, stateDir, runId: 'kill-loop' }, ['--batch-seconds', '2']);
    const stateDir = (): string => {
      const d = mkdtempSync(path.join(tmpdir(), 'e2e-kill-state-'));
      dirs.push(d);
      return d;
    };

    const clean = await startSandbox({ users, timeScale: 10 });
    sandboxes.push(clean);
    const uninterrupted = spawnCli(args(stateDir(), clean.url), FAST_RATES);
    children.push(uninterrupted);
    const cleanExit = await exitedWithin(uninterrupted, 120_000);
    if (cleanExit !== 0)
      throw new Error(`The uninterrupted run failed (${cleanExit}):\n${uninterrupted.output()}`);
    const reference = seenTeams(clean.dump());
    expect(messageCount(reference[0])).toBe(planned);

    const sandbox = await startSandbox({
      users,
      timeScale: 10,
      faults: '429:0.03,503:0.02@1,504:0.01,lost:0.02,latency:0.05@20,teamlistlag:1@20',
      seed: 5,
    });
    sandboxes.push(sandbox);
    const dir = stateDir();
    const ledgerFile = path.join(dir, 'host', 'azurite', '__azurite_db_table__.json');
    const kills: { phase: 'team' | 'posting' | 'completing'; rolledBack: boolean }[] = [];
    const postsPerKill = Math.ceil(planned / 12);
    let exit: number | string = 'not run';
    for (let launch = 0; launch < 30 && exit !== 0; launch++) {
      const from = sandbox.requestLog().length;
      const child = spawnCli(args(dir, sandbox.url), FAST_RATES, { ownGroup: true });
      children.push(child);
      let phase: (typeof kills)[number]['phase'] | undefined;
      const snapshots: { at: number; ledger: Buffer }[] = [];
      const watcher = setInterval(() => {
        if (phase || kills.length >= 14) return;
        const last = snapshots.at(-1);
        if (existsSync(ledgerFile) && (!last || Date.now() - last.at >= 500))
          snapshots.push({ at: Date.now(), ledger: readFileSync(ledgerFile) });
        const fresh = sandbox.requestLog().slice(from);
        const ok = (r: RequestLogEntry): boolean => r.status < 300 && !r.fault;
        if (launch === 0) phase = fresh.some((r) => r.status < 300 && isTeamCreation(r)) ? 'team' : undefined;
        else if (fresh.some((r) => ok(r) && isCompletionStep(r))) phase = 'completing';
        else if (fresh.filter((r) => ok(r) && isMessagePost(r)).length >= postsPerKill) phase = 'posting';
        if (phase) killGroup(child);
      }, 10);
      exit = await exitedWithin(child, 120_000).finally(() => clearInterval(watcher));
      if (!phase && exit !== 0)
        throw new Error(`Launch ${launch} ended ${exit} unkilled:\n${child.output()}`);
      if (!phase) break;
      const before = snapshots.filter((s) => s.at <= Date.now() - 1000).at(-1);
      if (phase !== 'team' && before) writeFileSync(ledgerFile, before.ledger);
      kills.push({ phase, rolledBack: phase !== 'team' && before !== undefined });
    }

    expect(exit).toBe(0);
    expect(kills.length).toBeGreaterThanOrEqual(12);
    expect(kills[0].phase).toBe('team');
    expect(kills.filter((k) => k.phase === 'posting').length).toBeGreaterThanOrEqual(6);
    expect(kills.filter((k) => k.phase === 'completing').length).toBeGreaterThanOrEqual(2);
    expect(kills.filter((k) => k.rolledBack).length).toBeGreaterThanOrEqual(6);
    const injected = new Set(sandbox.requestLog().flatMap((r) => (r.fault ? [r.fault] : [])));
    expect(['429', '503', 'lost'].every((f) => injected.has(f))).toBe(true);
    expect(seenTeams(sandbox.dump())).toEqual(reference);
    expect(sandbox.dump().teams).toHaveLength(1);
  }, 400_000);
});
