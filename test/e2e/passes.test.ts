import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sandboxUsersFromExport, SANDBOX_FALLBACK } from '../../cli/run';
import type { MigrationReport } from '../../core/pipeline/report';
import {
  SLACK_FILES_PREFIX,
  startSandbox,
  type RequestLogEntry,
  type SandboxHandle,
  type SandboxUser,
} from '../../sandbox';
import { tempDir } from '../support/fixtures';
import {
  exitedWithin,
  FAST_RATES,
  killGroup,
  messageCount,
  SAMPLE_EXPORT,
  seenTeams,
  spawnCli,
  type SeenTeam,
} from '../support/migration';
import { messagesBefore, snapshotAt } from '../support/snapshots';

/**
 * Three snapshots of the sample workspace, cut at instants: 1 holds `threads` up to a thread's first message;
 * 2 adds the thread's replies (and a reply to an older thread) and the new channel `enrique`, but misses one
 * of enrique's messages; 3 adds the rest of enrique (the missed message among it, older than ones imported),
 * and the channel `traveling-sailor`, created after the cutover. `threads` has nothing new in 3.
 */
const AT = [1434149103, 1452988800, 1459300000] as const;
const MISSED = '1452845865.000008';
const TEAM = 'Delta rehearsal';

const isMessagePost = (r: RequestLogEntry): boolean =>
  r.method === 'POST' && /\/messages(\/[^/]+\/replies)?$/.test(r.path) && r.status < 300;
const isStart = (r: RequestLogEntry): boolean => r.method === 'POST' && /\/startMigration$/.test(r.path);

describe('pre-stage, deltas and cutover on the local host end as one import of the last snapshot', () => {
  const dirs: string[] = [];
  const sandboxes: SandboxHandle[] = [];
  let snapshots: string[];
  let users: SandboxUser[];
  let reference: SeenTeam[];

  const dir = (prefix: string): string => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
  const sandbox = async (): Promise<SandboxHandle> => {
    const s = await startSandbox({ users, timeScale: 10, slackFiles: { export: snapshots[2] } });
    sandboxes.push(s);
    return s;
  };
  const common = (stateDir: string, graphUrl: string): string[] => [
    '--graph-url',
    graphUrl,
    '--state-dir',
    stateDir,
    '--slack-files-url',
    `${graphUrl}${SLACK_FILES_PREFIX}`,
    '--json',
  ];
  const runArgs = (
    exportDir: string,
    stateDir: string,
    graphUrl: string,
    runId: string,
    prestage: boolean,
  ) => [
    'run',
    exportDir,
    '--run-id',
    runId,
    '--team-name',
    TEAM,
    '--fallback-user',
    SANDBOX_FALLBACK.userPrincipalName,
    '--batch-seconds',
    '1',
    '--operation-poll-seconds',
    '1',
    ...(prestage ? ['--prestage'] : []),
    ...common(stateDir, graphUrl),
  ];
  const passArgs = (
    kind: 'delta' | 'cutover',
    exportDir: string | undefined,
    stateDir: string,
    graphUrl: string,
    runId: string,
  ) => [kind, ...(exportDir ? [exportDir] : []), '--run-id', runId, ...common(stateDir, graphUrl)];
  /** Runs the CLI to its end and answers its exit code and what it printed. */
  const cli = async (args: string[]): Promise<{ code: number | string; output: string }> => {
    const child = spawnCli(args, FAST_RATES);
    const code = await exitedWithin(child, 120_000);
    return { code, output: child.output() };
  };
  const ok = async (args: string[]): Promise<MigrationReport> => {
    const { code, output } = await cli(args);
    if (code !== 0) throw new Error(`teams-import ${args[0]} ended ${code}:\n${output}`);
    return JSON.parse(output.slice(output.indexOf('\n{') + 1)) as MigrationReport;
  };

  beforeAll(async () => {
    snapshots = AT.map((at, i) =>
      snapshotAt(SAMPLE_EXPORT, at, i === 1 ? { drop: [MISSED] } : {}, dir(`snapshot-${i + 1}-`)),
    );
    users = await sandboxUsersFromExport(snapshots[2]);
    const once = await sandbox();
    await ok(runArgs(snapshots[2], dir('e2e-once-'), once.url, 'once', false));
    reference = seenTeams(once.dump());
  }, 180_000);
  afterAll(async () => {
    await Promise.all(sandboxes.map((s) => s.stop()));
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('has a reference: the last snapshot imported in one run, complete', () => {
    const expected = messagesBefore(SAMPLE_EXPORT, AT[2]);
    expect(reference).toHaveLength(1);
    expect(reference[0].migrationMode).toBe('completed');
    expect(reference[0].channels.map((c) => c.displayName).sort()).toEqual(
      ['General', ...new Set(expected.map((m) => m.channel))].sort(),
    );
    expect(messageCount(reference[0])).toBeGreaterThan(100);
  });

  it('pre-stages snapshot 1, applies snapshot 2 (twice: no change), cuts over, applies snapshot 3 through startMigration only where it adds', async () => {
    const sb = await sandbox();
    const state = dir('e2e-incremental-');
    const id = 'incremental';

    const first = await ok(runArgs(snapshots[0], state, sb.url, id, true));
    expect(first.phase).toBe('prestaged');
    expect(first.totals.posted).toBe(messagesBefore(SAMPLE_EXPORT, AT[0]).length);
    let team = seenTeams(sb.dump())[0];
    expect(team.migrationMode).toBe('inProgress');
    expect(team.members).toEqual([]);
    expect(team.channels.every((c) => c.migrationMode === 'inProgress')).toBe(true);

    const second = await ok(passArgs('delta', snapshots[1], state, sb.url, id));
    expect(second.phase).toBe('prestaged');
    expect(second.passes.map((p) => [p.kind, p.outcome])).toEqual([
      ['initial', 'prestaged'],
      ['delta', 'prestaged'],
    ]);
    const inSnapshot2 = messagesBefore(SAMPLE_EXPORT, AT[1]).filter((m) => m.ts !== MISSED);
    expect(second.passes[1].newMessages).toBeGreaterThan(0);
    team = seenTeams(sb.dump())[0];
    expect(team.channels.map((c) => c.displayName).sort()).toEqual(['General', 'enrique', 'threads']);
    const threads = team.channels.find((c) => c.displayName === 'threads')!;
    const replies = inSnapshot2.filter((m) => m.channel === 'threads' && m.threadTs);
    expect(threads.messages.reduce((n, m) => n + m.replies.length, 0)).toBe(replies.length);

    const before = sb.dump();
    const postsBefore = sb.requestLog().filter(isMessagePost).length;
    const again = await ok(passArgs('delta', snapshots[1], state, sb.url, id));
    expect(again.passes.at(-1)).toMatchObject({
      kind: 'delta',
      newMessages: 0,
      posted: 0,
      outcome: 'prestaged',
    });
    expect(sb.requestLog().filter(isMessagePost).length).toBe(postsBefore);
    expect(seenTeams(sb.dump())).toEqual(seenTeams(before));

    const cutover = await ok(passArgs('cutover', undefined, state, sb.url, id));
    expect(cutover.phase).toBe('completed');
    team = seenTeams(sb.dump())[0];
    expect(team.migrationMode).toBe('completed');
    expect(team.channels.every((c) => c.migrationMode === 'completed')).toBe(true);
    expect(team.members.length).toBeGreaterThan(0);

    const logBefore = sb.requestLog().length;
    const third = await ok(passArgs('delta', snapshots[2], state, sb.url, id));
    expect(third.phase).toBe('completed');
    expect(seenTeams(sb.dump())).toEqual(reference);
    const dump = sb.dump().teams[0];
    const nameOf = (p: string): string | undefined =>
      dump.channels.find((c) => p.includes(encodeURIComponent(c.id)) || p.includes(c.id))?.displayName;
    const started = sb
      .requestLog()
      .slice(logBefore)
      .filter(isStart)
      .map((r) => nameOf(r.path));
    expect(started.sort()).toEqual(['enrique', 'traveling-sailor']);

    const settled = sb.requestLog().length;
    const fourth = await ok(passArgs('delta', snapshots[2], state, sb.url, id));
    expect(fourth.passes.at(-1)).toMatchObject({ newMessages: 0, posted: 0, outcome: 'completed' });
    expect(
      sb
        .requestLog()
        .slice(settled)
        .filter((r) => isStart(r) || isMessagePost(r)),
    ).toEqual([]);
    expect(seenTeams(sb.dump())).toEqual(reference);
  }, 400_000);

  it('reports messages edited and deleted in Slack after import, with links, and posts nothing for them', async () => {
    const sb = await sandbox();
    const state = dir('e2e-changed-');
    const id = 'changed';
    await ok(runArgs(snapshots[2], state, sb.url, id, true));
    const plain = messagesBefore(SAMPLE_EXPORT, AT[2]).filter((m) => !m.threadTs && !m.subtype);
    const edited = plain.find((m) => m.channel === 'enrique')!;
    const deleted = plain.filter((m) => m.channel === 'traveling-sailor').at(-1)!;
    const changed = snapshotAt(
      SAMPLE_EXPORT,
      AT[2] + 1,
      { edit: { [edited.ts]: 'edited later' }, drop: [deleted.ts] },
      dir('snapshot-changed-'),
    );
    const posts = sb.requestLog().filter(isMessagePost).length;
    const report = await ok(passArgs('delta', changed, state, sb.url, id));
    expect(sb.requestLog().filter(isMessagePost).length).toBe(posts);
    const byName = new Map(report.channels.map((c) => [c.teamsName, c]));
    expect(byName.get('enrique')).toMatchObject({ editedInSlack: 1, deletedInSlack: 0 });
    expect(byName.get('traveling-sailor')).toMatchObject({ editedInSlack: 0, deletedInSlack: 1 });
    expect(byName.get('enrique')!.changedInSlack).toEqual([
      expect.objectContaining({
        key: edited.ts,
        change: 'edited',
        teamsLink: expect.stringMatching(/^https:\/\/teams\.microsoft\.com\/l\/message\//),
      }),
    ]);
    expect(byName.get('traveling-sailor')!.changedInSlack).toEqual([
      expect.objectContaining({ key: deleted.ts, change: 'deleted' }),
    ]);
    expect(report.passes.at(-1)).toMatchObject({ editedInSlack: 1, deletedInSlack: 1, newMessages: 0 });
    const html = readFileSync(path.join(state, 'reports', `${id}.html`), 'utf8');
    expect(html).toContain('Changed in Slack after import');
  }, 300_000);

  it('refuses a snapshot of another workspace, an older snapshot, a cutover of a migration not prestaged, with the reason, posting nothing', async () => {
    const sb = await sandbox();
    const state = dir('e2e-refusals-');
    const id = 'refusals';
    await ok(runArgs(snapshots[1], state, sb.url, id, true));
    const posts = (): number => sb.requestLog().filter(isMessagePost).length;
    const before = posts();

    const other = snapshotAt(SAMPLE_EXPORT, AT[2], {}, dir('snapshot-other-'));
    const usersFile = path.join(other, 'users.json');
    writeFileSync(
      usersFile,
      readFileSync(usersFile, 'utf8').replace(/"team_id": "T[A-Z0-9]+"/g, '"team_id": "T0THEROTHER"'),
    );
    const foreign = await cli(passArgs('delta', other, state, sb.url, id));
    expect(foreign.code).not.toBe(0);
    expect(foreign.output).toMatch(/another Slack workspace \(team T0THEROTHER\)/);

    const older = await cli(passArgs('delta', snapshots[0], state, sb.url, id));
    expect(older.code).not.toBe(0);
    expect(older.output).toMatch(/older than the last one applied/);
    expect(posts()).toBe(before);

    await ok(passArgs('cutover', undefined, state, sb.url, id));
    const twice = await cli(passArgs('cutover', undefined, state, sb.url, id));
    expect(twice.code).toBe(2);
    expect(twice.output).toMatch(/HTTP 409.*not prestaged \(phase completed\)/);
  }, 300_000);

  it('killed in the middle of each pass and run again, ends as the one import of the last snapshot', async () => {
    const sb = await sandbox();
    const state = dir('e2e-killed-');
    const id = 'killed';
    const steps: { args: string[]; killWhen: (fresh: RequestLogEntry[]) => boolean }[] = [
      {
        args: runArgs(snapshots[0], state, sb.url, id, true),
        killWhen: (fresh) => fresh.filter(isMessagePost).length >= 1,
      },
      {
        args: passArgs('delta', snapshots[1], state, sb.url, id),
        killWhen: (fresh) => fresh.filter(isMessagePost).length >= 4,
      },
      {
        args: passArgs('cutover', undefined, state, sb.url, id),
        killWhen: (fresh) =>
          fresh.some((r) => r.method === 'POST' && /completeMigration$/.test(r.path) && r.status < 300),
      },
      {
        args: passArgs('delta', snapshots[2], state, sb.url, id),
        killWhen: (fresh) => fresh.filter(isMessagePost).length >= 40,
      },
    ];
    for (const step of steps) {
      const from = sb.requestLog().length;
      const child = spawnCli(step.args, FAST_RATES, { ownGroup: true });
      let killed = false;
      const watcher = setInterval(() => {
        if (!killed && step.killWhen(sb.requestLog().slice(from))) {
          killed = true;
          killGroup(child);
        }
      }, 5);
      const code = await exitedWithin(child, 120_000).finally(() => clearInterval(watcher));
      expect({ step: step.args[0], killed, code }).toEqual({
        step: step.args[0],
        killed: true,
        code: 'SIGKILL',
      });
      await ok(step.args);
    }
    expect(seenTeams(sb.dump())).toEqual(reference);
  }, 600_000);
});
