import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as yauzl from 'yauzl';
import { ZipWriter, zipFolder } from '../../bench/zipWriter';
import type { MigrationOptions } from '../../core/pipeline/contracts';
import type { PipelineDeps } from '../../core/pipeline/deps';
import { stageSource } from '../../core/pipeline/stage';
import { ExportReadError, openExportArchive, type ExportArchive } from '../../core/sources/archive';
import { BLOB_READ_WINDOW_BYTES, openBlobZip } from '../../core/state/blobZip';
import { startAzurite, type AzuriteHandle } from '../../devhost/azurite';
import { createPipelineDeps } from '../../functions/composition';
import { readSettings } from '../../functions/settings';
import { proxiedStorage, startCountingProxy, type CountingProxy } from '../support/countingProxy';
import { assembleZulipExport, EXPORT_2016, tempDir } from '../support/fixtures';
import { SAMPLE_EXPORT } from '../support/migration';

const CONTAINER = 'imports';

/** Every entry of an archive: its path, size and bytes, read whole and streamed. */
async function contents(archive: ExportArchive): Promise<Array<[string, number, string, string]>> {
  const out: Array<[string, number, string, string]> = [];
  for (const p of archive.paths()) {
    const streamed: Buffer[] = [];
    for await (const chunk of (await archive.stream(p)) as AsyncIterable<Buffer>) streamed.push(chunk);
    out.push([
      p,
      archive.size(p),
      (await archive.read(p)).toString('base64'),
      Buffer.concat(streamed).toString('base64'),
    ]);
  }
  return out;
}

/** The entries of a ZIP file as its central directory gives them, read by yauzl straight from the file. */
async function zipEntries(path: string): Promise<{ entries: yauzl.Entry[]; directoryOffset: number }> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  const entries: yauzl.Entry[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (e: yauzl.Entry) => {
      entries.push(e);
      zip.readEntry();
    });
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
  zip.close();
  // The ZIP writer puts the directory right after the last entry's data.
  const directoryOffset = Math.max(
    ...entries.map(
      (e) => e.relativeOffsetOfLocalHeader + 30 + e.fileNameLength + e.extraFieldLength + e.compressedSize,
    ),
  );
  return { entries, directoryOffset };
}

describe('a ZIP export in a blob, read by range', () => {
  let azurite: AzuriteHandle;
  let proxy: CountingProxy;
  let container: ContainerClient;
  let deps: PipelineDeps;
  const dirs: string[] = [];

  beforeAll(async () => {
    azurite = await startAzurite();
    proxy = await startCountingProxy(azurite.blobEndpoint);
    const storage = proxiedStorage(azurite, proxy);
    container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      CONTAINER,
    );
    await container.createIfNotExists();
    deps = await createPipelineDeps(
      readSettings({ AzureWebJobsStorage: storage, GRAPH_URL: 'http://127.0.0.1:9' }),
    );
  });
  afterAll(async () => {
    await proxy.stop();
    await azurite.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  const upload = async (name: string, bytes: Buffer): Promise<void> => {
    await container.getBlockBlobClient(name).uploadData(bytes);
  };
  const blobClient = (name: string) =>
    BlobServiceClient.fromConnectionString(proxiedStorage(azurite, proxy))
      .getContainerClient(CONTAINER)
      .getBlobClient(name);
  const reads = (name: string) =>
    proxy.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/${CONTAINER}/${name}`));

  it('gives every entry of several ZIPs exactly as the same ZIP read from a file', async () => {
    const dir = tempDir('blob-zip-');
    dirs.push(dir);
    const zulip = assembleZulipExport();
    dirs.push(zulip);
    const zips: Array<{ name: string; file: string; window?: number }> = [
      { name: 'sample.zip', file: join(dir, 'sample.zip') },
      { name: 'nested/zulip.zip', file: join(dir, 'zulip.zip') },
      { name: '2016.zip', file: join(dir, '2016.zip') },
      { name: 'windows.zip', file: join(dir, 'windows.zip'), window: 256 * 1024 },
    ];
    zipFolder(SAMPLE_EXPORT, zips[0].file);
    zipFolder(zulip, zips[1].file, 'export/');
    zipFolder(EXPORT_2016, zips[2].file);
    // Entries larger than the window, across window edges, stored and deflated, and empty.
    const writer = new ZipWriter(zips[3].file);
    writer.add('channels.json', '[]');
    writer.add('big/random.bin', randomBytes(300 * 1024));
    writer.add('big/stored.bin', randomBytes(100 * 1024), true);
    writer.add('empty.json', Buffer.alloc(0));
    for (let i = 0; i < 40; i++) writer.add(`small/${i}.json`, randomBytes(5000).toString('hex'));
    writer.close();
    for (const zip of zips) {
      await upload(zip.name, readFileSync(zip.file));
      const fromFile = await openExportArchive(zip.file);
      const fromBlob = await openBlobZip(blobClient(zip.name), undefined, zip.window);
      try {
        expect(fromBlob.name).toBe(zip.name.split('/').pop());
        expect(fromBlob.problems).toEqual(fromFile.problems);
        expect(await contents(fromBlob)).toEqual(await contents(fromFile));
      } finally {
        await fromFile.close();
        await fromBlob.close();
      }
      expect(reads(zip.name).every((r) => r.range)).toBe(true);
    }
  });

  it('refuses a truncated blob and a blob that is not a ZIP as it refuses such a file, naming the blob', async () => {
    const dir = tempDir('blob-zip-bad-');
    dirs.push(dir);
    const file = join(dir, 'sample.zip');
    zipFolder(SAMPLE_EXPORT, file);
    const whole = readFileSync(file);
    await upload('truncated.zip', whole.subarray(0, Math.floor(whole.length / 2)));
    await upload('notes.zip', Buffer.from('{"these": "are not the bytes of a ZIP"}'));
    for (const name of ['truncated.zip', 'notes.zip']) {
      const opening = openBlobZip(blobClient(name));
      await expect(opening).rejects.toThrow(ExportReadError);
      await expect(opening).rejects.toThrow(
        `'${CONTAINER}/${name}' is not a readable ZIP file (End of central directory record signature not found. ` +
          'Either not a zip file, or file is truncated.): it may be truncated or not a ZIP; download the export again.',
      );
    }
    await expect(openBlobZip(blobClient('never-uploaded.zip'))).rejects.toThrow(
      `The export blob '${CONTAINER}/never-uploaded.zip' does not exist`,
    );

    const staged = await stageSource(deps, {
      migrationId: 'blob-not-zip',
      source: { kind: 'blob', container: CONTAINER, name: 'notes.zip' },
      team: { displayName: 'Not a ZIP', visibility: 'private' },
      options: { completeOnErrors: false } as MigrationOptions,
      now: new Date().toISOString(),
    });
    expect(staged.ok).toBe(false);
    expect(!staged.ok && staged.problems).toEqual([
      {
        severity: 'error',
        code: 'export-unreadable',
        message: expect.stringContaining(`'${CONTAINER}/notes.zip' is not a readable ZIP file`),
      },
    ]);
  });

  it("reads one channel of a many-channel export for a fraction of the blob: the index, the metadata and that channel's days", async () => {
    const dir = tempDir('blob-zip-many-');
    dirs.push(dir);
    const file = join(dir, 'many.zip');
    const channels = Array.from({ length: 64 }, (_, i) => ({
      id: `C${String(i).padStart(3, '0')}`,
      name: `ch-${String(i).padStart(2, '0')}`,
      created: 1_600_000_000,
      is_general: i === 0,
    }));
    const writer = new ZipWriter(file);
    writer.add('channels.json', JSON.stringify(channels));
    writer.add(
      'users.json',
      JSON.stringify([{ id: 'U1', name: 'ann', profile: { display_name: 'Ann', email: 'ann@example.com' } }]),
    );
    const perChannel = new Map<string, number>();
    channels.forEach((c, ci) => {
      let count = 0;
      for (let d = 1; d <= 4; d++) {
        // Random text deflates little, so each channel is about a megabyte of the ZIP.
        const messages = Array.from({ length: 60 }, (_, m) => ({
          type: 'message',
          user: 'U1',
          ts: `${1_600_000_000 + ci * 100_000 + d * 1000 + m}.000100`,
          text: randomBytes(3300).toString('base64'),
        }));
        count += messages.length;
        writer.add(`${c.name}/2020-09-${String(d).padStart(2, '0')}.json`, JSON.stringify(messages));
      }
      perChannel.set(c.name, count);
    });
    writer.close();
    const bytes = readFileSync(file);
    await upload('many.zip', bytes);

    const chosen = 'ch-17';
    const before = proxy.requests.length;
    const opened = await deps.openSource(
      { kind: 'blob', container: CONTAINER, name: 'many.zip' },
      { channels: [chosen] },
    );
    let messages = 0;
    try {
      const conversation = opened.slack.conversations.find((c) => c.name === chosen)!;
      for await (const day of opened.slack.days(conversation)) messages += day.messages.length;
    } finally {
      await opened.release();
    }
    expect(messages).toBe(perChannel.get(chosen));

    // What this reading needs, from the ZIP's own directory: the directory, the metadata files and the channel's
    // day files (each with its local header); every ranged request reads at most a window more than it needs,
    // and the reads fall in three places: the directory at the end, the metadata at the start, the channel.
    const { entries, directoryOffset } = await zipEntries(file);
    const needed = entries
      .filter(
        (e) => ['channels.json', 'users.json'].includes(e.fileName) || e.fileName.startsWith(`${chosen}/`),
      )
      .reduce((n, e) => n + 30 + e.fileNameLength + e.extraFieldLength + e.compressedSize, 0);
    const bound = bytes.length - directoryOffset + needed + 3 * BLOB_READ_WINDOW_BYTES;
    const read = proxy.requests
      .slice(before)
      .filter((r) => r.method === 'GET' && r.path.endsWith('/many.zip'));
    const total = read.reduce((n, r) => n + r.bytes, 0);
    expect(read.every((r) => r.range && r.status === 206)).toBe(true);
    expect(total).toBeLessThanOrEqual(bound);
    expect(bound).toBeLessThan(bytes.length / 3);
  });
});
