import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHost } from '../../../devhost/host';

/** A loopback Graph: the app needs no credential for it. */
const SANDBOX_GRAPH = { GRAPH_URL: 'http://127.0.0.1:9' };

describe('local host with the real app', () => {
  let stateDir: string;
  beforeAll(() => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'devhost-app-'));
  });
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  it('serves GET /api/health from functions/index.ts with embedded Azurite, and stop() leaves nothing running', async () => {
    const before = process.env.AzureWebJobsStorage;
    const host = await startHost({ port: 0, stateDir, values: SANDBOX_GRAPH });
    const blobEndpoint = /BlobEndpoint=([^;]+)/.exec(host.storageConnectionString)![1];
    expect(process.env.AzureWebJobsStorage).toBe(host.storageConnectionString);
    expect((await fetch(blobEndpoint)).status).toBeGreaterThan(0);

    const res = await fetch(`${host.url}/api/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });

    await host.stop();
    await expect(fetch(`${host.url}/api/health`)).rejects.toThrow();
    await expect(fetch(blobEndpoint)).rejects.toThrow();
    expect(process.env.AzureWebJobsStorage).toBe(before);
  });

  it('uses a given storage connection string instead of starting Azurite', async () => {
    const given = 'UseDevelopmentStorage=true';
    const host = await startHost({ port: 0, storageConnectionString: given, values: SANDBOX_GRAPH });
    expect(host.storageConnectionString).toBe(given);
    expect(process.env.AzureWebJobsStorage).toBe(given);
    await host.stop();
  });

  it('applies its values for its life only, and stops at start on a wrong setting, naming it', async () => {
    expect(process.env.GRAPH_URL).toBeUndefined();
    const host = await startHost({
      port: 0,
      storageConnectionString: 'UseDevelopmentStorage=true',
      values: SANDBOX_GRAPH,
    });
    expect(process.env.GRAPH_URL).toBe(SANDBOX_GRAPH.GRAPH_URL);
    await host.stop();
    expect(process.env.GRAPH_URL).toBeUndefined();

    await expect(
      startHost({
        port: 0,
        storageConnectionString: 'UseDevelopmentStorage=true',
        values: { GRAPH_URL: 'https://graph.microsoft.com', TEAMS_IMPORT_TOKEN: 'local' },
      }),
    ).rejects.toThrow(/TEAMS_IMPORT_TOKEN is only for a loopback sandbox/);
    expect(process.env.TEAMS_IMPORT_TOKEN).toBeUndefined();
  });
});
