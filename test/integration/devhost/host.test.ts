import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHost } from '../../../devhost/host';

describe('local host with the real app', () => {
  let stateDir: string;
  beforeAll(() => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'devhost-app-'));
  });
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  it('serves GET /api/health from functions/index.ts with embedded Azurite, and stop() leaves nothing running', async () => {
    const before = process.env.AzureWebJobsStorage;
    const host = await startHost({ port: 0, stateDir });
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
    const host = await startHost({ port: 0, storageConnectionString: given });
    expect(host.storageConnectionString).toBe(given);
    expect(process.env.AzureWebJobsStorage).toBe(given);
    await host.stop();
  });
});
