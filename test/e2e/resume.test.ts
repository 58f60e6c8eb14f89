import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sandboxUsersFromExport, SANDBOX_FALLBACK } from '../../cli/run';
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
  messageCount,
  SAMPLE_EXPORT,
  seenTeams,
  spawnCli,
  type SeenTeam,
} from '../support/migration';

/** A point at which the run is killed, judged from the sandbox's request log. */
interface KillPoint {
  name: string;
  reached(log: RequestLogEntry[]): boolean;
}

const isMessagePost = (r: RequestLogEntry): boolean =>
  r.method === 'POST' && /\/messages(\/[^/]+\/replies)?$/.test(r.path) && r.status < 300;
const postsAtLeast = (n: number) => (log: RequestLogEntry[]) => log.filter(isMessagePost).length >= n;

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

const runArgs = (stateDir: string, graphUrl: string): string[] => [
  'run',
  SAMPLE_EXPORT,
  '--graph-url',
  graphUrl,
  '--state-dir',
  stateDir,
  '--run-id',
  'resume',
  '--fallback-user',
  SANDBOX_FALLBACK.userPrincipalName,
  '--batch-seconds',
  '1',
  '--operation-poll-seconds',
  '1',
  '--slack-files-url',
  `${graphUrl}${SLACK_FILES_PREFIX}`,
  '--json',
];

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
