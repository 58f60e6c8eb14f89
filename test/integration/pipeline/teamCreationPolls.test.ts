import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sandboxUsersFromExport, SANDBOX_FALLBACK } from '../../../cli/run';
import { stageSource } from '../../../core/pipeline/stage';
import { ensureTeam } from '../../../core/pipeline/teams';
import { resolveUsers } from '../../../core/pipeline/users';
import { startHost, type LocalHost } from '../../../devhost/host';
import { createPipelineDeps } from '../../../functions/composition';
import { readSettings } from '../../../functions/settings';
import { startSandbox, type SandboxHandle } from '../../../sandbox';
import { threadedChannelExport } from '../../support/slackExport';

type Event = { EventType: string; Timestamp: string; FireAt?: string; Name?: string };

/** Polls the sandbox answers `inProgress` before `succeeded`. */
const POLLS_IN_PROGRESS = 5;
/** Microsoft's ask between polls, and the migration's poll interval here. */
const INTERVAL_SECONDS = 30;

describe('team creation polls on durable timers (virtual clock)', () => {
  let sandbox: SandboxHandle;
  let host: LocalHost;
  const dirs: string[] = [];
  let exportDir: string;

  beforeAll(async () => {
    const exported = threadedChannelExport(6);
    exportDir = exported.dir;
    dirs.push(exportDir);
    sandbox = await startSandbox({
      users: [...(await sandboxUsersFromExport(exportDir)), SANDBOX_FALLBACK],
      timeScale: 10,
      operationPolls: POLLS_IN_PROGRESS,
    });
    const stateDir = mkdtempSync(path.join(tmpdir(), 'team-polls-'));
    dirs.push(stateDir);
    host = await startHost({
      port: 0,
      stateDir,
      clock: 'virtual',
      values: { GRAPH_URL: sandbox.url, TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true' },
    });
  });
  afterAll(async () => {
    await host?.stop();
    await sandbox?.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  const migrate = async (migrationId: string): Promise<Event[]> => {
    const started = await fetch(`${host.url}/api/migrations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        migrationId,
        source: { path: exportDir },
        team: { displayName: `Polls ${migrationId}` },
        fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
        options: { batchSeconds: 1, operationPollSeconds: INTERVAL_SECONDS },
      }),
    });
    expect(started.status).toBe(202);
    const done = await host.client.waitForCompletion(`migration-${migrationId}`, 60_000);
    expect(done.runtimeStatus).toBe('Completed');
    const status = await host.client.status(`migration-${migrationId}`, { showHistory: true });
    return (status?.history ?? []) as unknown as Event[];
  };

  /** Seconds from each timer's creation to its firing, for the timers before the first channel starts. */
  const pollWaits = (history: Event[]): number[] => {
    const fanOut = history.findIndex((e) => e.EventType === 'SubOrchestrationInstanceCreated');
    return history
      .slice(0, fanOut)
      .filter((e) => e.EventType === 'TimerCreated')
      .map((e) => (Date.parse(e.FireAt!) - Date.parse(e.Timestamp)) / 1000);
  };

  it('polls a new team a few seconds after the POST, then backs off to the interval', async () => {
    const history = await migrate('fresh');
    expect(pollWaits(history)).toEqual([2, 5, 10, 30, 30, 30]);
    const polls = sandbox.requestLog().filter((r) => r.method === 'GET' && /\/operations\b/.test(r.path));
    expect(polls).toHaveLength(POLLS_IN_PROGRESS + 1);
  });

  it('polls the recorded creation of a resumed run at once, then backs off again from the start', async () => {
    const migrationId = 'resumed';
    const deps = await createPipelineDeps(
      readSettings({
        AzureWebJobsStorage: host.storageConnectionString,
        GRAPH_URL: sandbox.url,
        TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true',
      }),
    );
    const staged = await stageSource(deps, {
      migrationId,
      source: { kind: 'path', path: exportDir },
      team: { displayName: `Polls ${migrationId}`, visibility: 'private' },
      options: {
        includeSystemEvents: false,
        channelConcurrency: 10,
        batchSeconds: 1,
        batchesPerExecution: 10,
        operationPollSeconds: INTERVAL_SECONDS,
        completeOnErrors: false,
      },
      now: new Date().toISOString(),
    });
    if (!staged.ok) throw new Error(JSON.stringify(staged.problems));
    await resolveUsers(deps, { migrationId, fallbackUser: SANDBOX_FALLBACK.userPrincipalName });
    const created = await ensureTeam(deps, { migrationId, ...staged.team, listWaitSeconds: 60 });
    expect(created).toMatchObject({ kind: 'team', found: false, operationUrl: expect.any(String) });
    const before = sandbox.requestLog().length;

    const history = await migrate(migrationId);
    const steps = history
      .filter((e) => ['TaskScheduled', 'TimerCreated'].includes(e.EventType))
      .map((e) => e.Name ?? e.EventType);
    const ensured = steps.indexOf('ensureTeam');
    expect(steps.slice(ensured, ensured + 3)).toEqual(['ensureTeam', 'checkTeamOperation', 'TimerCreated']);
    expect(pollWaits(history)).toEqual([2, 5, 10, 30, 30]);
    const after = sandbox.requestLog().slice(before);
    expect(after.filter((r) => r.method === 'POST' && /\/teams$/.test(r.path))).toHaveLength(0);
  });
});
