import { BlobServiceClient } from '@azure/storage-blob';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sandboxUsersFromExport, SANDBOX_FALLBACK } from '../../cli/run';
import type { MigrationReport } from '../../core/pipeline/report';
import { startHost, type LocalHost } from '../../devhost/host';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { messageCount, seenTeams } from '../support/migration';
import { threadedChannelExport } from '../support/slackExport';

type Json = Record<string, unknown>;

/** The HTTP API of a migration app: starting, listing, cancelling, resuming, uploading, and the live pages. */
describe('operating migrations over the HTTP API', () => {
  const dirs: string[] = [];
  let sandbox: SandboxHandle;
  let host: LocalHost;
  let exportDir: string;
  let known: ReturnType<typeof threadedChannelExport>['known'];
  let small: ReturnType<typeof threadedChannelExport>;

  const api = (route: string, init?: RequestInit): Promise<Response> =>
    fetch(`${host.url}/api/${route}`, init);
  const json = async (res: Response): Promise<Json> => (await res.json()) as Json;
  const post = (route: string, body?: unknown): Promise<Response> =>
    api(route, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const start = (migrationId: string, dir: string): Promise<Response> =>
    post('migrations', {
      migrationId,
      source: { path: dir },
      fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
      options: { batchSeconds: 1, operationPollSeconds: 1 },
    });
  const status = async (id: string): Promise<Json & { runtimeStatus: string; channels: Json[] }> =>
    (await json(await api(`migrations/${id}`))) as Json & { runtimeStatus: string; channels: Json[] };
  const until = async (what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  beforeAll(async () => {
    const big = threadedChannelExport(60);
    exportDir = big.dir;
    known = big.known;
    small = threadedChannelExport(6, {}, 1_704_300_000);
    dirs.push(exportDir, small.dir);
    sandbox = await startSandbox({ users: await sandboxUsersFromExport(exportDir) });
    const stateDir = mkdtempSync(path.join(tmpdir(), 'e2e-operations-'));
    dirs.push(stateDir);
    host = await startHost({
      port: 0,
      stateDir,
      values: { GRAPH_URL: sandbox.url, TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true' },
    });
  });
  afterAll(async () => {
    await host?.stop();
    await sandbox?.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('names the migration id in the start answer, beside the Durable management URLs, and every route takes either id', async () => {
    const res = await start('ops-a', exportDir);
    expect(res.status).toBe(202);
    const body = await json(res);
    expect(body).toMatchObject({
      id: 'ops-a',
      instanceId: 'migration-ops-a',
      statusQueryGetUri: expect.stringContaining('migration-ops-a'),
      terminatePostUri: expect.stringContaining('migration-ops-a'),
      dashboardUrl: `${host.url}/api/migrations/ops-a/dashboard`,
    });
    expect(res.headers.get('location')).toBe(body.statusQueryGetUri);
    for (const id of ['ops-a', 'migration-ops-a']) {
      expect((await api(`migrations/${id}`)).status).toBe(200);
      expect((await api(`migrations/${id}/dashboard?format=json`)).status).toBe(200);
    }
    const report = await api('migrations/migration-ops-a/report');
    expect(report.status).toBe(404);
    expect((await json(report)).error).toMatch(/has no report yet/);
  });

  it('lists a running migration with its phase and counts, and refuses to resume it (409 with the phase)', async () => {
    await until('messages are posted', async () => {
      const s = await status('ops-a');
      return Number(s.channels[0]?.posted ?? 0) >= 5;
    });
    const list = await json(await api('migrations'));
    const item = (list.items as Json[]).find((m) => m.id === 'ops-a');
    expect(item).toMatchObject({
      instanceId: 'migration-ops-a',
      phase: 'importing',
      runtimeStatus: 'Running',
      counts: expect.objectContaining({ channelsTotal: 1, messagesTotal: known.length }),
      createdTime: expect.any(String),
      lastUpdatedTime: expect.any(String),
    });
    const resume = await post('migrations/ops-a/resume');
    expect(resume.status).toBe(409);
    expect(await json(resume)).toMatchObject({
      phase: 'importing',
      error: expect.stringMatching(/is running \(phase importing\)/),
    });
  });

  it('cancels the migration and its channel orchestration; the ledger keeps what was posted; a resume ends as an uninterrupted run', async () => {
    const cancel = await post('migrations/migration-ops-a/cancel');
    expect(cancel.status).toBe(202);
    expect(await json(cancel)).toMatchObject({ id: 'ops-a', phase: 'cancelled', channelsStopped: 1 });
    expect((await host.client.status('migration-ops-a'))?.runtimeStatus).toBe('Terminated');
    expect((await host.client.status('migration-ops-a:channel:C1'))?.runtimeStatus).toBe('Terminated');
    const again = await post('migrations/ops-a/cancel');
    expect(again.status).toBe(409);
    expect(await json(again)).toMatchObject({
      phase: 'cancelled',
      error: expect.stringMatching(/not running \(phase cancelled\)/),
    });
    const listed = ((await json(await api('migrations'))).items as Json[]).find((m) => m.id === 'ops-a');
    expect(listed).toMatchObject({ phase: 'cancelled', runtimeStatus: 'Terminated' });

    const resumed = await post('migrations/ops-a/resume');
    expect(resumed.status).toBe(202);
    expect(await json(resumed)).toMatchObject({ id: 'ops-a', instanceId: 'migration-ops-a' });
    const done = await host.client.waitForCompletion('migration-ops-a', 90_000);
    expect(done.output).toMatchObject({
      phase: 'completed',
      planned: known.length,
      posted: known.length,
      failed: 0,
    });
    const teams = seenTeams(await sandbox.dump());
    expect(teams).toHaveLength(1);
    expect(messageCount(teams[0])).toBe(known.length);

    const finished = await post('migrations/ops-a/resume');
    expect(finished.status).toBe(409);
    expect(await json(finished)).toMatchObject({ phase: 'completed' });
    const cancelDone = await post('migrations/ops-a/cancel');
    expect(cancelDone.status).toBe(409);
    expect(await json(cancelDone)).toMatchObject({ phase: 'completed' });
  }, 120_000);

  it('answers 404 for an unknown migration and 400 for what is not an id, on every route', async () => {
    for (const [method, route] of [
      ['GET', 'migrations/{id}/report'],
      ['GET', 'migrations/{id}/dashboard'],
      ['POST', 'migrations/{id}/cancel'],
      ['POST', 'migrations/{id}/resume'],
    ]) {
      const unknown = await api(route.replace('{id}', 'm-none'), { method });
      expect([route, unknown.status]).toEqual([route, 404]);
      expect((await json(unknown)).error).toMatch(/No migration 'm-none'/);
      const invalid = await api(route.replace('{id}', encodeURIComponent('no way!')), { method });
      expect([route, invalid.status]).toEqual([route, 400]);
      expect((await json(invalid)).error).toMatch(/is not a migration id/);
    }
  });

  it('serves the finished migration report under the instance id, with the summary and the people', async () => {
    const res = await api('migrations/migration-ops-a/report');
    expect(res.status).toBe(200);
    const report = (await res.json()) as MigrationReport;
    expect(report.summary.moved[0]).toBe(
      `${known.length} of ${known.length} planned messages are in Teams, in 1 channel of the team '${report.team.displayName}'.`,
    );
    const html = await (await api('migrations/migration-ops-a/report?format=html')).text();
    expect(html.indexOf('Summary')).toBeLessThan(html.indexOf('Channels'));
    expect(html.replace(/\s+/g, ' ')).toMatch(
      new RegExp(
        `<b>initial</b> from .*: started .*, finished .* · completed · ${known.length} new, ${known.length} posted, 0 failed`,
      ),
    );
    expect(report.passes.map((p) => [p.pass, p.kind, p.outcome])).toEqual([[1, 'initial', 'completed']]);
    expect(html).toMatch(/<b>initial<\/b>[^<]*started[\s\S]*· completed ·/);
  });

  it('pages through the migrations with top and continuationToken, and refuses a bad page (400); an uninterrupted run measures every message it posted', async () => {
    expect((await start('ops-b', small.dir)).status).toBe(202);
    await host.client.waitForCompletion('migration-ops-b', 60_000);
    const report = (await (await api('migrations/ops-b/report')).json()) as MigrationReport;
    expect(report.throughput.series.reduce((n, b) => n + b.messages, 0)).toBe(small.known.length);
    const first = await json(await api('migrations?top=1'));
    expect(first.items).toHaveLength(1);
    expect(first.continuationToken).toEqual(expect.any(String));
    const second = await json(
      await api(`migrations?top=1&continuationToken=${encodeURIComponent(String(first.continuationToken))}`),
    );
    expect(second.items).toHaveLength(1);
    const ids = [...(first.items as Json[]), ...(second.items as Json[])].map((m) => m.id).sort();
    expect(ids).toEqual(['ops-a', 'ops-b']);
    expect(second.continuationToken).toBeUndefined();
    for (const query of ['top=0', 'top=abc', `top=201`, 'continuationToken=%20']) {
      const res = await api(`migrations?${query}`);
      expect([query, res.status]).toEqual([query, 400]);
      expect((await json(res)).error).toEqual(expect.any(String));
    }
  }, 90_000);

  it('hands out a write-only upload URL for a new blob in the imports container, and the source to start from', async () => {
    const res = await post('uploads', { fileName: 'acme export.zip', expiresInMinutes: 30 });
    expect(res.status).toBe(201);
    const upload = (await res.json()) as {
      uploadUrl: string;
      source: { blob: { container: string; name: string } };
      expiresOn: string;
      signedWith: string;
    };
    expect(upload.source.blob.container).toBe('imports');
    expect(upload.source.blob.name).toMatch(/^uploads\/\d{4}-\d{2}-\d{2}\/[0-9a-f-]{36}\/acme_export\.zip$/);
    expect(upload.signedWith).toBe('service');
    const bytes = Buffer.from('PK\u0005\u0006'.padEnd(22, '\u0000'));
    const put = await fetch(upload.uploadUrl, {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob' },
      body: bytes,
    });
    expect(put.status).toBe(201);
    expect((await fetch(upload.uploadUrl)).status).toBe(403);
    const stored = await BlobServiceClient.fromConnectionString(host.storageConnectionString)
      .getContainerClient('imports')
      .getBlobClient(upload.source.blob.name)
      .downloadToBuffer();
    expect(stored.equals(bytes)).toBe(true);

    for (const body of [
      { expiresInMinutes: 1 },
      { expiresInMinutes: 10_000 },
      { fileName: 3 },
      { other: true },
    ]) {
      const refused = await post('uploads', body);
      expect([body, refused.status]).toEqual([body, 400]);
      expect(JSON.stringify(await refused.json())).toMatch(/expiresInMinutes|fileName|other/);
    }
    const notJson = await api('uploads', { method: 'POST', body: '{nope' });
    expect(notJson.status).toBe(400);
  });

  it('serves the live pages with a strict Content-Security-Policy, their script, and 400 for a bad interval', async () => {
    const page = await api('migrations/ops-a/dashboard');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(page.headers.get('content-security-policy')).not.toMatch(/unsafe-inline/);
    const text = await page.text();
    expect(text).toContain('<main id="live" data-poll="/api/migrations/ops-a/dashboard?format=json"');
    expect(text).not.toMatch(/<script>/);
    const list = await api('dashboard');
    expect(list.status).toBe(200);
    expect(await list.text()).toContain('href="/api/migrations/ops-b/dashboard"');
    const script = await api('dashboard/assets/dashboard.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect((await api('dashboard/assets/other.js')).status).toBe(404);
    expect((await api('migrations/ops-a/dashboard?interval=0')).status).toBe(400);
    expect((await api('dashboard?top=0')).status).toBe(400);
  });
});
