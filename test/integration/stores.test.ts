import { BlobServiceClient } from '@azure/storage-blob';
import { Readable } from 'node:stream';
import { startAzurite, type AzuriteHandle } from '../../devhost/azurite';
import { BlobObjectStore } from '../../core/state/blobStore';
import { LocalFolderStore } from '../../core/state/localStore';
import type { ObjectStore } from '../../core/state/objectStore';
import { readdirSync } from 'node:fs';
import { tempDir } from '../support/fixtures';

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString();
}

function contract(name: string, make: () => Promise<ObjectStore>): void {
  describe(name, () => {
    let store: ObjectStore;
    beforeEach(async () => {
      store = await make();
    });

    it('round-trips bytes, text and streams, and replaces objects', async () => {
      await store.put('a/b.txt', 'hello');
      await store.put('a/c.bin', Buffer.from([0, 1, 2]));
      await store.put('d/e.ndjson', Readable.from(['{"x":1}\n', '{"x":2}\n']), 'application/x-ndjson');
      expect((await store.get('a/b.txt')).toString()).toBe('hello');
      expect([...(await store.get('a/c.bin'))]).toEqual([0, 1, 2]);
      expect(await readAll(await store.stream('d/e.ndjson'))).toBe('{"x":1}\n{"x":2}\n');
      await store.put('a/b.txt', 'again');
      expect((await store.get('a/b.txt')).toString()).toBe('again');
      expect(await store.exists('a/b.txt')).toBe(true);
    });

    it('lists by prefix, sorted', async () => {
      for (const n of ['channels/C2.ndjson', 'channels/C1.ndjson', 'manifest.json', 'channelsx.txt'])
        await store.put(n, n);
      expect(await store.list('channels/')).toEqual(['channels/C1.ndjson', 'channels/C2.ndjson']);
      expect(await store.list('')).toEqual([
        'channels/C1.ndjson',
        'channels/C2.ndjson',
        'channelsx.txt',
        'manifest.json',
      ]);
      expect(await store.list('nothing/')).toEqual([]);
    });

    it('names a missing object; delete is idempotent; unsafe names are refused', async () => {
      await expect(store.get('missing.json')).rejects.toThrow(/object 'missing\.json' not found/);
      await expect(store.stream('missing.json')).rejects.toThrow(/object 'missing\.json' not found/);
      expect(await store.exists('missing.json')).toBe(false);
      await store.put('x.txt', 'x');
      await store.delete('x.txt');
      await store.delete('x.txt');
      expect(await store.exists('x.txt')).toBe(false);
      for (const bad of ['../x', '/abs', 'a/../b', 'a//b', ''])
        await expect(store.put(bad, 'x')).rejects.toThrow(/invalid object name/);
    });
  });
}

contract('LocalFolderStore', async () => new LocalFolderStore(tempDir('store-')));

describe('LocalFolderStore atomic writes', () => {
  it('leaves no temporary file behind and keeps the old object when a stream fails', async () => {
    const root = tempDir('store-');
    const store = new LocalFolderStore(root);
    await store.put('plan.ndjson', 'old');
    const failing = new Readable({
      read() {
        this.push('partial');
        this.destroy(new Error('source failed'));
      },
    });
    await expect(store.put('plan.ndjson', failing)).rejects.toThrow('source failed');
    expect((await store.get('plan.ndjson')).toString()).toBe('old');
    expect(readdirSync(root)).toEqual(['plan.ndjson']);
  });
});

describe('BlobObjectStore on Azurite', () => {
  let azurite: AzuriteHandle;
  let n = 0;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => {
    await azurite.stop();
  });
  contract('contract', async () => {
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      `plans${++n}`,
    );
    const store = new BlobObjectStore(container, 'run-1/');
    await store.ensureContainer();
    return store;
  });
});
