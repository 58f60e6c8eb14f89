import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DISCOVERY_INSTANCE_ID } from '../../../activities/chatExportNames';
import { startHost, type LocalHost } from '../../../devhost/host';
import { sandboxUserFor, startSandbox, type SandboxHandle } from '../../../sandbox';

const USERS = 2150;
const TEAMS = [
  { name: 'Engineering', channels: ['Builds', 'Design'] },
  { name: 'Sales', channels: [] },
  { name: 'Support', channels: ['Tier 1', 'Tier 2', 'Escalations'] },
];

/** Discovery runs as an orchestration, a Graph page per activity, outside the request that starts it. */
describe('chat export discovery of a whole tenant', () => {
  let sandbox: SandboxHandle;
  let host: LocalHost;
  let stateDir: string;

  const graph = async (method: string, route: string, body?: unknown): Promise<Response> =>
    fetch(`${sandbox.url}/v1.0${route}`, {
      method,
      headers: { authorization: 'Bearer local', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    const users = Array.from({ length: USERS }, (_, i) =>
      sandboxUserFor(`user${String(i).padStart(4, '0')}@contoso.test`, `User ${i}`),
    );
    sandbox = await startSandbox({ users, operationPolls: 0 });
    for (const team of TEAMS) {
      const created = await graph('POST', '/teams', {
        'template@odata.bind': "https://graph.microsoft.com/v1.0/teamsTemplates('standard')",
        displayName: team.name,
        description: '',
      });
      const teamId = /teams\('([^']+)'\)/.exec(created.headers.get('content-location') ?? '')![1]!;
      for (const channel of team.channels)
        expect((await graph('POST', `/teams/${teamId}/channels`, { displayName: channel })).status).toBe(201);
    }
    stateDir = mkdtempSync(path.join(tmpdir(), 'chat-export-discovery-'));
    host = await startHost({
      port: 0,
      stateDir,
      timerTriggers: false,
      values: { GRAPH_URL: sandbox.url, CHAT_EXPORT_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
    });
  }, 120_000);
  afterAll(async () => {
    await host?.stop();
    await sandbox?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('answers at once, then lists every user and every team with its channels, continuing as new on the way', async () => {
    const started = await fetch(`${host.url}/api/chat-export/discover`, { method: 'POST', body: '{}' });
    expect(started.status).toBe(202);
    const { statusUrl } = (await started.json()) as { statusUrl: string };
    let view: Record<string, unknown> = {};
    for (let i = 0; i < 600; i++) {
      view = (await (await fetch(statusUrl)).json()) as Record<string, unknown>;
      if (view.runtimeStatus !== 'Running' && view.runtimeStatus !== 'Pending') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(view).toMatchObject({ runtimeStatus: 'Completed', stage: 'done', users: USERS, added: USERS });
    const teams = view.teams as { displayName: string; channels: { displayName: string }[] }[];
    expect(teams.map((t) => [t.displayName, t.channels.map((c) => c.displayName).sort()])).toEqual(
      TEAMS.map((t) => [t.name, ['General', ...t.channels].sort()]),
    );
    const userPages = sandbox.requestLog().filter((r) => r.path.startsWith('/v1.0/users'));
    expect(userPages).toHaveLength(Math.ceil(USERS / 100));
    const listed = (await (await fetch(`${host.url}/api/chat-export/users`)).json()) as { users: unknown[] };
    expect(listed.users).toHaveLength(USERS);
    const history = (await host.client.status(DISCOVERY_INSTANCE_ID, { showHistory: true }))!.history ?? [];
    expect(history.filter((e) => /TaskScheduled/.test(String(e.EventType))).length).toBeLessThanOrEqual(20);

    const again = await fetch(`${host.url}/api/chat-export/discover`, { method: 'POST', body: '{}' });
    expect(again.status).toBe(202);
  }, 300_000);
});
