import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHost, type LocalHost } from '../../../devhost/host';
import { MAX_REQUEST_BODY_BYTES } from '../../../devhost/http';
import { MAX_USER_MAP_CHARS } from '../../../functions/migrations';
import { setEnv } from '../../support/process';

const MB = 1_000_000;

/** A request body of `total` bytes made as it is sent, so the sender never holds it. */
function streamedBody(total: number): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(1024 * 1024).fill(0x20);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const n = Math.min(chunk.length, total - sent);
      controller.enqueue(chunk.subarray(0, n));
      sent += n;
    },
  });
}

describe('the HTTP API against hostile requests (local host, real app)', () => {
  let host: LocalHost;
  let stateDir: string;
  let restoreEnv: () => void;
  beforeAll(async () => {
    restoreEnv = setEnv({
      TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true',
      GRAPH_URL: 'http://127.0.0.1:9',
      SLACK_TOKEN: '',
    });
    stateDir = mkdtempSync(path.join(tmpdir(), 'hostile-api-'));
    host = await startHost({ port: 0, stateDir, timerTriggers: false });
  }, 120_000);
  afterAll(async () => {
    await host?.stop();
    restoreEnv?.();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const start = (body: unknown) =>
    fetch(`${host.url}/api/migrations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const missingExport = { source: { path: path.join(tmpdir(), 'hostile-api-no-such-export') } };

  it('answers 400 to status requests for ids the start route could not have made, before any lookup', async () => {
    for (const id of ['x%2F..%2Fother', 'id%3FshowHistory=true', 'x%20y', 'a'.repeat(64), '-leading-dash']) {
      const res = await fetch(`${host.url}/api/migrations/${id}`);
      expect({ id, status: res.status }).toEqual({ id, status: 400 });
      expect(((await res.json()) as { error: string }).error).toContain('is not a migration id');
    }
    expect((await fetch(`${host.url}/api/migrations/never-started`)).status).toBe(404);
  });

  it('answers 202 with the running instance to all of three simultaneous identical starts', async () => {
    const body = { ...missingExport, migrationId: 'race-1' };
    const answers = await Promise.all([start(body), start(body), start(body)]);
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    const ids = await Promise.all(
      answers.map(async (a) => {
        const body = (await a.json()) as { id: string; instanceId: string };
        return [body.id, body.instanceId];
      }),
    );
    expect(ids).toEqual(Array(3).fill(['race-1', 'migration-race-1']));
  });

  it('finds a migration by its id or by its instance id', async () => {
    expect((await start({ ...missingExport, migrationId: 'found-1' })).status).toBe(202);
    for (const id of ['found-1', 'migration-found-1']) {
      const res = await fetch(`${host.url}/api/migrations/${id}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { migrationId: string }).migrationId).toBe('found-1');
    }
  });

  it('refuses a body over the cap with 413 naming the cap, from its Content-Length', async () => {
    const res = await fetch(`${host.url}/api/migrations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Uint8Array(MAX_REQUEST_BODY_BYTES + 1),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toContain(
      `limit of ${MAX_REQUEST_BODY_BYTES} bytes`,
    );
  });

  it('refuses a 300 MB streamed body without holding it (memory measured in this process, which runs the host)', async () => {
    global.gc?.();
    const before = process.memoryUsage().rss;
    const res = await fetch(`${host.url}/api/migrations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: streamedBody(300 * MB),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toContain(
      `limit of ${MAX_REQUEST_BODY_BYTES} bytes`,
    );
    const grew = process.memoryUsage().rss - before;
    // Read whole, the body took the host to 4.25 GB; refused as it streams in, it costs at most the cap.
    expect(grew).toBeLessThan(MAX_REQUEST_BODY_BYTES + 100 * MB);
    expect((await fetch(`${host.url}/api/health`)).status).toBe(200);
  });

  it('caps the start schema: a user map one character too long is refused naming the field', async () => {
    const res = await start({ ...missingExport, userMap: 'x'.repeat(MAX_USER_MAP_CHARS + 1) });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain(
      `userMap must be at most ${MAX_USER_MAP_CHARS} characters`,
    );
    const lists = await start({
      ...missingExport,
      channels: Array.from({ length: 10_001 }, (_, i) => `c${i}`),
    });
    expect(lists.status).toBe(400);
    expect(JSON.stringify(await lists.json())).toContain('channels must list at most 10000 channels');
  });

  it('takes a Slack API source only when the app has SLACK_TOKEN, and never lets a request say where the token goes', async () => {
    const noToken = await start({ source: { kind: 'slack-api', workspace: 'acme' } });
    expect(noToken.status).toBe(400);
    expect(JSON.stringify(await noToken.json())).toContain('set SLACK_TOKEN');
    const elsewhere = await start({
      source: { kind: 'slack-api', apiUrl: 'https://attacker.example.test/api/' },
    });
    expect(elsewhere.status).toBe(400);
    expect(((await elsewhere.json()) as { errors: string[] }).errors).toEqual([
      'source: Unrecognized key: "apiUrl"',
    ]);
  });
});
