import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, type AzuriteHandle } from '../../devhost/azurite';

/** Whether `endpoint` stops answering (its server is gone) within `ms`. */
async function refusesWithin(endpoint: string, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
    const refused = await fetch(endpoint).then(
      () => false,
      () => true,
    );
    if (refused) return true;
  }
  return false;
}

describe('embedded Azurite', () => {
  let azurite: AzuriteHandle;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('serves tables and blobs on loopback through its connection string', async () => {
    expect(azurite.tableEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const table = TableClient.fromConnectionString(azurite.connectionString, 'probe', {
      allowInsecureConnection: true,
    });
    await table.createTable();
    await table.upsertEntity({ partitionKey: 'p', rowKey: 'r', value: 42 });
    expect((await table.getEntity<{ value: number }>('p', 'r')).value).toBe(42);

    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      'probe',
    );
    await blobs.createIfNotExists();
    await blobs.getBlockBlobClient('a.txt').upload('hello', 5);
    expect((await blobs.getBlockBlobClient('a.txt').downloadToBuffer()).toString()).toBe('hello');
  });

  it('stops its child process', async () => {
    const other = await startAzurite();
    await other.stop();
    await expect(fetch(other.blobEndpoint)).rejects.toThrow();
  });
});

describe('embedded Azurite after its parent is killed', () => {
  it('exits with the parent and keeps every write it acknowledged, so a crashed run resumes from its checkpoints', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const location = mkdtempSync(path.join(tmpdir(), 'azurite-crash-'));
    const parentScript = `
      const { startAzurite } = require(${JSON.stringify(path.resolve(__dirname, '../../devhost/azurite.ts'))});
      const { TableClient } = require('@azure/data-tables');
      startAzurite({ location: ${JSON.stringify(location)} }).then(async (a) => {
        const t = TableClient.fromConnectionString(a.connectionString, 'crash', { allowInsecureConnection: true });
        await t.createTable();
        await t.upsertEntity({ partitionKey: 'p', rowKey: 'r', value: 7 });
        console.log(a.blobEndpoint);
      });
    `;
    const parent = spawn(
      process.execPath,
      ['-r', require.resolve('../support/swc-register'), '-e', parentScript],
      {
        cwd: path.resolve(__dirname, '../..'),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const endpoint = await new Promise<string>((resolve) =>
      parent.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())),
    );
    parent.kill('SIGKILL');
    expect(await refusesWithin(endpoint, 5000)).toBe(true);

    const again = await startAzurite({ location });
    try {
      const table = TableClient.fromConnectionString(again.connectionString, 'crash', {
        allowInsecureConnection: true,
      });
      expect((await table.getEntity<{ value: number }>('p', 'r')).value).toBe(7);
    } finally {
      await again.stop();
      rmSync(location, { recursive: true, force: true });
    }
  });
});

describe('embedded Azurite killed with its whole process group', () => {
  it('keeps every table and blob write it acknowledged, so a run killed with its storage resumes from its checkpoints', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const location = mkdtempSync(path.join(tmpdir(), 'azurite-group-kill-'));
    const parentScript = `
      const { startAzurite } = require(${JSON.stringify(path.resolve(__dirname, '../../devhost/azurite.ts'))});
      const { TableClient } = require('@azure/data-tables');
      const { BlobServiceClient } = require('@azure/storage-blob');
      startAzurite({ location: ${JSON.stringify(location)} }).then(async (a) => {
        const t = TableClient.fromConnectionString(a.connectionString, 'kill', { allowInsecureConnection: true });
        await t.createTable();
        await t.upsertEntity({ partitionKey: 'p', rowKey: 'one', value: 1 });
        await t.submitTransaction(
          Array.from({ length: 40 }, (_, i) => ['upsert', { partitionKey: 'batch', rowKey: 'r' + i, value: i }]),
        );
        await t.updateEntity({ partitionKey: 'p', rowKey: 'one', value: 2 }, 'Merge');
        const blobs = BlobServiceClient.fromConnectionString(a.connectionString).getContainerClient('kill');
        await blobs.createIfNotExists();
        await blobs.getBlockBlobClient('plan.ndjson').upload('line\\n', 5);
        console.log(a.blobEndpoint);
      });
    `;
    const parent = spawn(
      process.execPath,
      ['-r', require.resolve('../support/swc-register'), '-e', parentScript],
      { cwd: path.resolve(__dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'], detached: true },
    );
    const endpoint = await new Promise<string>((resolve) =>
      parent.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())),
    );
    process.kill(-parent.pid!, 'SIGKILL');
    expect(await refusesWithin(endpoint, 5000)).toBe(true);

    const again = await startAzurite({ location });
    try {
      const table = TableClient.fromConnectionString(again.connectionString, 'kill', {
        allowInsecureConnection: true,
      });
      expect((await table.getEntity<{ value: number }>('p', 'one')).value).toBe(2);
      const batch: number[] = [];
      for await (const e of table.listEntities<{ value: number }>({
        queryOptions: { filter: "PartitionKey eq 'batch'" },
      }))
        batch.push(e.value);
      expect(batch.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
      const blob = BlobServiceClient.fromConnectionString(again.connectionString)
        .getContainerClient('kill')
        .getBlockBlobClient('plan.ndjson');
      expect((await blob.downloadToBuffer()).toString()).toBe('line\n');
    } finally {
      await again.stop();
      rmSync(location, { recursive: true, force: true });
    }
  });
});
