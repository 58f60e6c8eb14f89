import { existsSync, mkdirSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { sandboxRehearsal, SANDBOX_FALLBACK } from '../../cli/run';
import { startHost, type LocalHost } from '../../devhost/host';
import { startSandbox, type RequestLogEntry, type SandboxHandle } from '../../sandbox';
import { tempDir } from '../support/fixtures';
import { hostApi } from '../support/hostApi';
import { FAST_RATES, SAMPLE_EXPORT, SLACK_EVENTS } from '../support/migration';
import { messagesBefore, snapshotAt } from '../support/snapshots';

const AT = [1434149103, 1452988800, 1459300000] as const;
const ID = 'timed';

const isMessagePost = (r: RequestLogEntry): boolean =>
  r.method === 'POST' && /\/messages(\/[^/]+\/replies)?$/.test(r.path) && r.status < 300;

/** What `GET /api/migrations/{id}` answers, as far as these tests read it. */
interface MigrationView {
  stage?: string;
  passes: PassView[];
  channels: { posted: number }[];
  phase?: string;
  error?: string;
}

interface PassView {
  pass: number;
  kind: string;
  source: string;
  outcome: string;
  newMessages: number;
}

describe('the delta-sync timer applies the snapshots dropped in the inbox, oldest first, once each', () => {
  const dirs: string[] = [];
  let sandbox: SandboxHandle;
  let host: LocalHost;
  let inbox: string;
  let snapshots: string[];
  const dir = (prefix: string): string => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
  const { api, settled: settledOf } = hostApi<MigrationView>(() => host);
  const settled = (): Promise<MigrationView> => settledOf(ID, 120_000);

  beforeAll(async () => {
    snapshots = AT.map((at, i) => snapshotAt(SAMPLE_EXPORT, at, {}, dir(`inbox-snapshot-${i + 1}-`)));
    const rehearsal = await sandboxRehearsal(snapshots[2]);
    sandbox = await startSandbox({
      users: rehearsal.users,
      timeScale: 10,
      slackFiles: { export: snapshots[2] },
    });
    inbox = dir('inbox-');
    host = await startHost({
      port: 0,
      stateDir: dir('delta-sync-host-'),
      timerTriggers: false,
      values: {
        ...FAST_RATES,
        GRAPH_URL: sandbox.url,
        TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true',
        TEAMS_IMPORT_INBOX_DIR: inbox,
        SLACK_FILES_URL: sandbox.slackFilesUrl,
        MIGRATION_DELTA_SCHEDULE: '0 0 3 1 1 *',
      },
    });
    const started = await api('POST', '/migrations', {
      migrationId: ID,
      source: { path: snapshots[0] },
      team: { displayName: 'Timed deltas' },
      fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
      userMap: rehearsal.userMap,
      prestage: true,
      options: { batchSeconds: 1, operationPollSeconds: 1 },
    });
    expect(started.status).toBe(202);
    expect((await settled()).stage).toBe('prestaged');
  }, 180_000);
  afterAll(async () => {
    await host?.stop();
    await sandbox?.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('applies two snapshots in the order they were dropped, one per firing, each once, and moves them to processed/', async () => {
    const box = path.join(inbox, ID);
    mkdirSync(box, { recursive: true });
    const later = path.join(box, 'a-later.zip-folder');
    const earlier = path.join(box, 'b-earlier.zip-folder');
    snapshotAt(SAMPLE_EXPORT, AT[2], {}, (mkdirSync(later), later));
    snapshotAt(SAMPLE_EXPORT, AT[1], {}, (mkdirSync(earlier), earlier));
    utimesSync(earlier, new Date('2024-01-01T00:00:00Z'), new Date('2024-01-01T00:00:00Z'));
    utimesSync(later, new Date('2024-01-02T00:00:00Z'), new Date('2024-01-02T00:00:00Z'));

    await host.invoke('migrationDeltaSync');
    const busy = await api('POST', `/migrations/${ID}/delta`, { source: { path: later } });
    await host.invoke('migrationDeltaSync');
    const firstView = await settled();
    await host.invoke('migrationDeltaSync');
    const secondView = await settled();
    const posts = sandbox.requestLog().filter(isMessagePost).length;
    await host.invoke('migrationDeltaSync');
    const thirdView = await settled();

    if (busy.status === 409) expect(busy.body.phase).toEqual(expect.any(String));
    expect(busy.status === 409 || firstView.passes.length === 2).toBe(true);
    const deltas = thirdView.passes.filter((p) => p.kind === 'delta');
    expect(deltas.map((p) => [p.source, p.outcome])).toEqual([
      ['b-earlier.zip-folder', 'prestaged'],
      ['a-later.zip-folder', 'prestaged'],
    ]);
    expect(firstView.passes).toHaveLength(2);
    expect(secondView.passes).toHaveLength(3);
    expect(sandbox.requestLog().filter(isMessagePost).length).toBe(posts);
    expect(readdirSync(box).sort()).toEqual(['processed']);
    expect(readdirSync(path.join(box, 'processed')).sort()).toEqual([
      'a-later.zip-folder',
      'b-earlier.zip-folder',
    ]);
    expect(existsSync(later)).toBe(false);

    const expected = messagesBefore(SAMPLE_EXPORT, AT[2]);
    const team = sandbox.dump().teams[0];
    const imported = team.channels.reduce(
      (n, c) => n + c.messages.reduce((k, m) => k + 1 + m.replies.length, 0),
      0,
    );
    expect(imported).toBe(thirdView.channels.reduce((n, c) => n + c.posted, 0));
    expect(imported).toBeLessThanOrEqual(expected.length);
    expect(team.migrationMode).toBe('inProgress');
  }, 300_000);

  it('answers 409 naming the phase for a delta while a pass runs, and for a cutover of a migration that is not prestaged', async () => {
    const box = path.join(inbox, ID);
    const again = path.join(box, 'c-again');
    snapshotAt(SAMPLE_EXPORT, AT[2], {}, (mkdirSync(again), again));
    await host.invoke('migrationDeltaSync');
    const busy = await api('POST', `/migrations/${ID}/delta`, { source: { path: again } });
    expect(busy.status).toBe(409);
    expect(busy.body).toMatchObject({
      phase: expect.any(String),
      error: expect.stringMatching(/is running .*phase/),
    });
    await settled();
    const cut = await api('POST', `/migrations/${ID}/cutover`, {});
    expect(cut.status).toBe(202);
    expect((await settled()).stage).toBe('completed');
    const second = await api('POST', `/migrations/${ID}/cutover`, {});
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ phase: 'completed', error: expect.stringMatching(/not prestaged/) });
    const unknown = await api('POST', '/migrations/nobody/delta', { source: { path: again } });
    expect(unknown.status).toBe(404);
  }, 300_000);
});

describe('the delta-sync timer syncs a pre-staged workspace as one migration', () => {
  const WS = 'timed-ws';
  const dirs: string[] = [];
  let sandbox: SandboxHandle;
  let host: LocalHost;
  let inbox: string;
  const dir = (prefix: string): string => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
  interface WorkspaceView {
    stage?: string;
    pass?: string;
    teams: { migrationId: string; name: string }[];
  }
  const { api, settled } = hostApi<WorkspaceView>(() => host);
  const passesOf = async (id: string): Promise<PassView[]> =>
    ((await api('GET', `/migrations/${id}`)).body as unknown as MigrationView).passes;
  /** Messages of a team in the sandbox, replies counted. */
  const teamMessages = (name: string): number =>
    sandbox
      .dump()
      .teams.find((t) => t.displayName === name)!
      .channels.reduce((n, c) => n + c.messages.reduce((k, m) => k + 1 + m.replies.length, 0), 0);

  beforeAll(async () => {
    const first = snapshotAt(SAMPLE_EXPORT, AT[1], {}, dir('ws-inbox-snapshot-1-'));
    const rehearsal = await sandboxRehearsal(SAMPLE_EXPORT);
    sandbox = await startSandbox({
      users: rehearsal.users,
      timeScale: 10,
      slackFiles: { export: SAMPLE_EXPORT },
    });
    inbox = dir('ws-inbox-');
    host = await startHost({
      port: 0,
      stateDir: dir('ws-delta-sync-host-'),
      timerTriggers: false,
      values: {
        ...FAST_RATES,
        GRAPH_URL: sandbox.url,
        TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true',
        TEAMS_IMPORT_INBOX_DIR: inbox,
        SLACK_FILES_URL: sandbox.slackFilesUrl,
        MIGRATION_DELTA_SCHEDULE: '0 0 3 1 1 *',
      },
    });
    const started = await api('POST', '/migrations', {
      migrationId: WS,
      source: { path: first },
      channelMap: 'enrique,Timed One,Enrique\nthreads,Timed Two,Threads\n',
      fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
      userMap: rehearsal.userMap,
      prestage: true,
      options: { batchSeconds: 1, operationPollSeconds: 1 },
    });
    expect(started.status).toBe(202);
    expect((await settled(WS, 120_000)).stage).toBe('prestaged');
  }, 180_000);
  afterAll(async () => {
    await host?.stop();
    await sandbox?.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it("applies the workspace's inbox snapshot to every team in one delta, once, and moves it to processed/", async () => {
    const expected = (channel: string, at: number) =>
      messagesBefore(SAMPLE_EXPORT, at).filter(
        (m) => m.channel === channel && !SLACK_EVENTS.has(m.subtype ?? ''),
      ).length;
    const before = { one: teamMessages('Timed One'), two: teamMessages('Timed Two') };
    const box = path.join(inbox, WS);
    mkdirSync(box, { recursive: true });
    const newer = path.join(box, 'newer');
    snapshotAt(SAMPLE_EXPORT, AT[2], {}, (mkdirSync(newer), newer));

    await host.invoke('migrationDeltaSync');
    const view = await settled(WS, 180_000);
    expect(view.pass).toBe('delta');
    expect(view.stage).toBe('prestaged');
    const after = { one: teamMessages('Timed One'), two: teamMessages('Timed Two') };
    expect(after.one - before.one).toBe(expected('enrique', AT[2]) - expected('enrique', AT[1]));
    expect(after.two - before.two).toBe(expected('threads', AT[2]) - expected('threads', AT[1]));
    expect(after.one - before.one).toBeGreaterThan(0);
    for (const team of view.teams)
      expect((await passesOf(team.migrationId)).map((p) => [p.kind, p.source, p.outcome])).toEqual([
        ['initial', expect.any(String), 'prestaged'],
        ['delta', 'newer', 'prestaged'],
      ]);
    expect(readdirSync(box).sort()).toEqual(['processed']);
    expect(readdirSync(path.join(box, 'processed'))).toEqual(['newer']);

    const posts = sandbox.requestLog().filter(isMessagePost).length;
    await host.invoke('migrationDeltaSync');
    await settled(WS, 60_000);
    for (const team of view.teams) expect(await passesOf(team.migrationId)).toHaveLength(2);
    expect(sandbox.requestLog().filter(isMessagePost).length).toBe(posts);
  }, 300_000);
});
