import { BlobServiceClient } from '@azure/storage-blob';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipFolder } from '../../bench/zipWriter';
import { sandboxUsersFromExport, SANDBOX_FALLBACK } from '../../cli/run';
import { startAzurite, type AzuriteHandle } from '../../devhost/azurite';
import { startHost, type LocalHost } from '../../devhost/host';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { proxiedStorage, startCountingProxy, type CountingProxy } from '../support/countingProxy';
import { tempDir } from '../support/fixtures';
import { messageCount, seenTeams, type SeenTeam } from '../support/migration';
import { msg, writeExport } from '../support/slackExport';

const CONTAINER = 'imports';
const BLOB = 'uploads/2024-01-05/acme.zip';

/** A migration started from a blob, as `POST /api/uploads` and an upload leave it, against Azurite and the sandbox. */
describe('a migration from an export blob', () => {
  const dirs: string[] = [];
  let azurite: AzuriteHandle;
  let proxy: CountingProxy;
  let sandbox: SandboxHandle;
  let host: LocalHost;
  let exportDir: string;
  let written: number;
  let notesBytes: number;

  beforeAll(async () => {
    // Three channels with threads, and a message whose file's bytes travel inside the export (`__uploads/`), so
    // the posting batches read the export again.
    const days: Record<string, Record<string, object[]>> = {};
    written = 0;
    ['general', 'random', 'ops'].forEach((name, c) => {
      const start = 1_704_190_000 + c * 10_000;
      const messages: object[] = [];
      for (let i = 0; i < 12; i++) {
        const ts = `${start + i}.000000`;
        messages.push(
          i % 4 === 3
            ? msg(ts, `reply ${i} in ${name}`, { thread_ts: `${start + i - 1}.000000` })
            : msg(ts, `message ${i} in ${name}`),
        );
      }
      days[name] = { '2024-01-02': messages };
      written += messages.length;
    });
    const notes = Buffer.from('minutes of the meeting\n'.repeat(200));
    days.general['2024-01-03'] = [
      msg('1704290000.000000', 'the notes', {
        subtype: 'file_share',
        files: [
          {
            id: 'F0NOTES',
            name: 'notes.txt',
            title: 'notes.txt',
            mimetype: 'text/plain',
            size: notes.length,
          },
        ],
      }),
    ];
    written += 1;
    notesBytes = notes.length;
    exportDir = writeExport({ days });
    dirs.push(exportDir);
    mkdirSync(join(exportDir, '__uploads', 'F0NOTES'), { recursive: true });
    writeFileSync(join(exportDir, '__uploads', 'F0NOTES', 'notes.txt'), notes);

    const zipDir = tempDir('blob-source-');
    dirs.push(zipDir);
    zipFolder(exportDir, join(zipDir, 'acme.zip'));
    azurite = await startAzurite();
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      CONTAINER,
    );
    await container.createIfNotExists();
    await container.getBlockBlobClient(BLOB).uploadData(readFileSync(join(zipDir, 'acme.zip')));
    proxy = await startCountingProxy(azurite.blobEndpoint);
    const hostDir = tempDir('blob-source-host-');
    dirs.push(hostDir);
    sandbox = await startSandbox({});
    host = await startHost({
      port: 0,
      stateDir: hostDir,
      storageConnectionString: proxiedStorage(azurite, proxy),
      values: { GRAPH_URL: sandbox.url, TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true' },
    });
  });
  afterAll(async () => {
    await host?.stop();
    await sandbox?.stop();
    await proxy?.stop();
    await azurite?.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  /** Runs a migration of `source` into a fresh sandbox tenant and answers what the tenant then holds. */
  async function migrate(migrationId: string, source: object): Promise<SeenTeam[]> {
    sandbox.reset();
    sandbox.addUsers([...(await sandboxUsersFromExport(exportDir)), SANDBOX_FALLBACK]);
    const res = await fetch(`${host.url}/api/migrations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        migrationId,
        source,
        team: { displayName: 'Acme' },
        fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
        options: { batchSeconds: 1, operationPollSeconds: 1 },
      }),
    });
    expect(res.status).toBe(202);
    const done = await host.client.waitForCompletion(`migration-${migrationId}`, 150_000);
    expect([migrationId, done.runtimeStatus]).toEqual([migrationId, 'Completed']);
    return seenTeams(sandbox.dump());
  }

  it('imports exactly what the same export imports from a path, reading the blob by range only', async () => {
    const fromPath = await migrate('from-path', { path: exportDir });
    expect(fromPath).toHaveLength(1);
    expect(messageCount(fromPath[0])).toBe(written);

    const fromBlob = await migrate('from-blob', { blob: { container: CONTAINER, name: BLOB } });
    expect(fromBlob).toEqual(fromPath);
    expect(sandbox.dump().teams[0].files).toEqual([
      expect.objectContaining({ path: expect.stringMatching(/\/notes\.txt$/), size: notesBytes }),
    ]);

    const reads = proxy.requests.filter(
      (r) => r.method === 'GET' && r.path.endsWith(`/${CONTAINER}/${BLOB}`),
    );
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.filter((r) => !r.range)).toEqual([]);
  }, 360_000);
});
