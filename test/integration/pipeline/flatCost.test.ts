import { odata, TableClient } from '@azure/data-tables';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { sandboxUsersFromExport, SANDBOX_FALLBACK } from '../../../cli/run';
import type { ChannelWork, MigrationOptions, PostMessagesResult } from '../../../core/pipeline/contracts';
import type { PipelineDeps } from '../../../core/pipeline/deps';
import { filePaths } from '../../../core/pipeline/files';
import { postMessages } from '../../../core/pipeline/poster';
import { channelSegments, readManifest } from '../../../core/pipeline/runStore';
import { stageSource } from '../../../core/pipeline/stage';
import { checkTeamOperation, ensureChannel, ensureTeam } from '../../../core/pipeline/teams';
import { resolveUsers } from '../../../core/pipeline/users';
import { FileLedger } from '../../../core/state/fileLedger';
import { Ledger } from '../../../core/state/ledger';
import { messageRows } from '../../../core/state/ledgerRecords';
import { tableName } from '../../../core/state/tables';
import { startAzurite, type AzuriteHandle } from '../../../devhost/azurite';
import { createPipelineDeps } from '../../../functions/composition';
import { readSettings } from '../../../functions/settings';
import { startSandbox, type SandboxHandle } from '../../../sandbox';
import { tempDir } from '../../support/fixtures';
import { filler, pngBytes, writeFilesExport, type ExportMessage } from '../../support/filesExport';
import { threadedChannelExport } from '../../support/slackExport';

const OPTIONS: MigrationOptions = {
  includeSystemEvents: false,
  channelConcurrency: 10,
  batchSeconds: 1,
  batchesPerExecution: 10,
  operationPollSeconds: 1,
  completeOnErrors: false,
};

/** Messages of the large channel, and messages posted by each batch that is counted. */
const LARGE = 2000;
const BATCH = 40;
/** Messages of the channel whose messages mostly carry files, and messages posted by each counted batch. */
const FILED = 120;
const FILE_BATCH = 10;

/**
 * Every fourth message is text only; the others carry one file each, in turn an image Teams shows inline,
 * a PDF and a text file (both uploaded to the channel's files folder), each with its own id and name.
 */
function filedMessages(): ExportMessage[] {
  return Array.from({ length: FILED }, (_, i): ExportMessage => {
    const id = `FL${String(i).padStart(5, '0')}`;
    if (i % 4 === 0) return { text: `text ${i}` };
    if (i % 4 === 1)
      return {
        text: `image ${i}`,
        file: { id, name: `image-${i}.png`, mimetype: 'image/png', bytes: pngBytes(8, 8, i) },
      };
    if (i % 4 === 2)
      return {
        text: `report ${i}`,
        file: {
          id,
          name: `report-${i}.pdf`,
          mimetype: 'application/pdf',
          bytes: filler(id, 3000, '%PDF-1.4\n'),
        },
      };
    return {
      text: `notes ${i}`,
      file: {
        id,
        name: `notes-${i}.txt`,
        mimetype: 'text/plain',
        bytes: Buffer.from(`notes of message ${i}`),
      },
    };
  });
}

describe('posting cost flat in the channel size: what a batch reads of the ledger and of the plan', () => {
  let azurite: AzuriteHandle;
  let sandbox: SandboxHandle;
  let deps: PipelineDeps;
  let run = 0;
  const dirs: string[] = [];
  /** Message rows read, summed over the steps since the counter was last reset. */
  let rowsRead = 0;
  /** File rows read, likewise. */
  let fileRowsRead = 0;
  /** The export whose messages mostly carry files, served by the sandbox's Slack file host. */
  const filesRoot = tempDir('flat-files-');
  const filedExport = path.join(filesRoot, 'export');

  beforeAll(async () => {
    dirs.push(filesRoot);
    writeFilesExport(filedExport, path.join(filesRoot, 'bytes'), filedMessages());
    azurite = await startAzurite();
    sandbox = await startSandbox({
      timeScale: 100,
      slackFiles: { export: filedExport, bytesDir: path.join(filesRoot, 'bytes') },
    });
    const base = await createPipelineDeps(
      readSettings({
        AzureWebJobsStorage: azurite.connectionString,
        GRAPH_URL: sandbox.url,
        SLACK_FILES_URL: sandbox.slackFilesUrl,
        TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true',
        TEAMS_IMPORT_RATE_PER_CHANNEL: '500',
        TEAMS_IMPORT_RATE_GLOBAL: '5000',
      }),
    );
    const ledger = Ledger.create(azurite.connectionString, 'ti', {
      onRowsRead: (table, rows) => {
        if (table === 'messages') rowsRead += rows;
      },
    });
    const fileLedger = FileLedger.create(azurite.connectionString, 'ti', {
      onRowsRead: (table, rows) => {
        if (table === 'files') fileRowsRead += rows;
      },
    });
    deps = { ...base, ledger, files: { ...base.files, ledger: fileLedger } };
  });
  afterAll(async () => {
    await sandbox.stop();
    await azurite.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  async function prepare(messages: number | string): Promise<{
    runId: string;
    teamId: string;
    channel: ChannelWork;
    channelId: string;
  }> {
    const dir = typeof messages === 'string' ? messages : threadedChannelExport(messages).dir;
    dirs.push(dir);
    const runId = `flat-${++run}`;
    sandbox.reset();
    sandbox.addUsers(await sandboxUsersFromExport(dir));
    sandbox.addUsers([SANDBOX_FALLBACK]);
    const staged = await stageSource(deps, {
      migrationId: runId,
      source: { kind: 'path', path: dir },
      team: { displayName: `Team ${runId}`, visibility: 'private' },
      options: OPTIONS,
      now: new Date().toISOString(),
    });
    if (!staged.ok) throw new Error(JSON.stringify(staged.problems));
    await resolveUsers(deps, { migrationId: runId, fallbackUser: SANDBOX_FALLBACK.userPrincipalName });
    const team = await ensureTeam(deps, { migrationId: runId, ...staged.team, listWaitSeconds: 60 });
    if (team.kind !== 'team') throw new Error(JSON.stringify(team));
    while (
      (await checkTeamOperation(deps, { migrationId: runId, ...team, operationUrl: team.operationUrl! }))
        .status !== 'succeeded'
    );
    const channel = staged.channels[0];
    const { channelId } = await ensureChannel(deps, { migrationId: runId, teamId: team.teamId, channel });
    return { runId, teamId: team.teamId, channel, channelId };
  }

  type Prepared = Awaited<ReturnType<typeof prepare>>;

  /**
   * One postMessages step that ends after `posts` POSTs (its clock jumps past the time budget then), with the
   * message rows and file rows it read and the byte offsets it opened plan files at.
   */
  async function batch(
    ctx: Prepared,
    posts: number,
    base: PipelineDeps = deps,
  ): Promise<{ result: PostMessagesResult; rows: number; fileRows: number; offsets: number[] }> {
    let sent = 0;
    let skew = 0;
    const offsets: number[] = [];
    const counting =
      <A extends unknown[], R>(send: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        const answer = await send(...args);
        if (++sent >= posts) skew = 1e12;
        return answer;
      };
    const graph = Object.assign(Object.create(base.graph) as typeof base.graph, {
      postMessage: counting(base.graph.postMessage.bind(base.graph)),
      postReply: counting(base.graph.postReply.bind(base.graph)),
    });
    const store = Object.assign(Object.create(base.store) as typeof base.store, {
      stream: (name: string, offset?: number) => {
        if (name.endsWith('.ndjson')) offsets.push(offset ?? 0);
        return base.store.stream(name, offset);
      },
    });
    rowsRead = 0;
    fileRowsRead = 0;
    const result = await postMessages(
      { ...base, graph, store, now: () => Date.now() + skew },
      {
        migrationId: ctx.runId,
        teamId: ctx.teamId,
        channelId: ctx.channelId,
        channelKey: ctx.channel.key,
        pass: 'first',
        timeBudgetMs: 600_000,
      },
    );
    return { result, rows: rowsRead, fileRows: fileRowsRead, offsets };
  }

  /**
   * A postMessages step that dies at the first POST of a message carrying a file or an inline image: that
   * message's files are staged (and uploaded) by then, its POST never reaches Teams.
   */
  async function dieAtFileMessage(ctx: Prepared): Promise<void> {
    type Body = { attachments?: unknown[]; hostedContents?: unknown[] };
    const dying =
      <A extends unknown[], R>(send: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        const body = args[args.length - 1] as Body;
        if ((body.attachments?.length ?? 0) + (body.hostedContents?.length ?? 0) > 0)
          throw new Error('the step died before this POST');
        return send(...args);
      };
    const graph = Object.assign(Object.create(deps.graph) as typeof deps.graph, {
      postMessage: dying(deps.graph.postMessage.bind(deps.graph)),
      postReply: dying(deps.graph.postReply.bind(deps.graph)),
    });
    await expect(
      postMessages(
        { ...deps, graph },
        {
          migrationId: ctx.runId,
          teamId: ctx.teamId,
          channelId: ctx.channelId,
          channelKey: ctx.channel.key,
          pass: 'first',
          timeBudgetMs: 600_000,
        },
      ),
    ).rejects.toThrow('the step died before this POST');
  }

  /** The byte offset of the plan line whose seq is `seq`, read from the staged file itself. */
  async function lineOffset(ctx: Prepared, seq: number): Promise<number> {
    const manifest = await readManifest(deps.store, ctx.runId);
    const planned = manifest.channels.find((c) => c.key === ctx.channel.key)!;
    const [segment] = channelSegments(ctx.runId, planned);
    const bytes = await deps.store.get(segment!.name);
    let offset = 0;
    for (const line of bytes.toString('utf8').split('\n')) {
      if ((JSON.parse(line) as { seq: number }).seq === seq) return offset;
      offset += Buffer.byteLength(line) + 1;
    }
    throw new Error(`no line ${seq}`);
  }

  it('reads no more ledger rows in a batch at the end of a large channel than in one at its start', async () => {
    const ctx = await prepare(LARGE);

    await batch(ctx, BATCH);
    const start = await batch(ctx, BATCH);
    await batch(ctx, LARGE - 3 * BATCH);
    const cursor = (await deps.ledger.getChannel(ctx.runId, ctx.channel.key))!.value.cursor;
    const end = await batch(ctx, BATCH);

    expect(start.result).toMatchObject({ done: false, posted: 2 * BATCH, failed: 0 });
    expect(cursor).toBe(LARGE - BATCH);
    expect(end.result).toMatchObject({ done: true, posted: LARGE, failed: 0, missing: 0 });
    expect(end.rows).toBeLessThanOrEqual(start.rows);
    expect(end.rows).toBeLessThan(BATCH);
    expect(end.offsets).toEqual([await lineOffset(ctx, cursor)]);
    const stored = sandbox.dump().teams[0]!.channels.find((c) => c.id === ctx.channelId)!;
    expect(stored.messages.flatMap((m) => [m, ...m.replies])).toHaveLength(LARGE);
  });

  it('reads no more file rows in a batch at the end of a channel of files than in one at its start, and moves each file once', async () => {
    const planned = filedMessages();
    const files = planned.flatMap((m) => (m.file ? [m.file] : []));
    const uploadedNames = files.filter((f) => !f.mimetype.startsWith('image/')).map((f) => f.name);
    const ctx = await prepare(filedExport);

    await batch(ctx, FILE_BATCH);
    await dieAtFileMessage(ctx);
    const start = await batch(ctx, FILE_BATCH);
    await batch(ctx, FILED - 2 * FILE_BATCH - FILE_BATCH);
    await dieAtFileMessage(ctx);
    const end = await batch(ctx, FILE_BATCH);

    expect(start.result).toMatchObject({ done: false, posted: 2 * FILE_BATCH, failed: 0 });
    expect(end.result).toMatchObject({ done: true, posted: FILED, failed: 0, missing: 0 });
    // Each counted batch resumes a step that died after staging the file of the message at its cursor: it reads
    // that file's row, and no row of the files posted before it.
    expect(start.fileRows).toBe(1);
    expect(end.fileRows).toBeLessThanOrEqual(start.fileRows);

    const uploads = sandbox
      .requestLog()
      .filter((r) => /:\/content$|:\/createUploadSession$/.test(r.path.split('?')[0]!) && r.status < 300)
      .map(
        (r) =>
          /\/([^/]+):\/(content|createUploadSession)$/.exec(decodeURIComponent(r.path.split('?')[0]!))![1],
      );
    expect(uploads.sort()).toEqual([...uploadedNames].sort());
    const downloads = sandbox.slackFilesServed().filter((r) => r.status === 200);
    expect(downloads.map((d) => d.fileId).sort()).toEqual(files.map((f) => f.id).sort());
    expect(await deps.store.list(filePaths.channel(ctx.runId, ctx.channel.key))).toEqual([]);

    const stored = sandbox.dump().teams[0]!.channels.find((c) => c.id === ctx.channelId)!.messages;
    expect(stored).toHaveLength(FILED);
    expect(stored.filter((m) => m.hostedContents.length === 1)).toHaveLength(
      files.length - uploadedNames.length,
    );
    expect(stored.filter((m) => m.attachments.length === 1)).toHaveLength(uploadedNames.length);
  });

  it("drops at the channel's end the staged file bytes an earlier step could not delete", async () => {
    const ctx = await prepare(filedExport);
    const staged = filePaths.channel(ctx.runId, ctx.channel.key);
    const store = Object.assign(Object.create(deps.store) as typeof deps.store, {
      delete: (name: string) =>
        name.startsWith(staged) ? Promise.reject(new Error('storage unavailable')) : deps.store.delete(name),
    });
    const failing = await batch(ctx, 2 * FILE_BATCH, { ...deps, store });
    expect(failing.result).toMatchObject({ done: false, posted: 2 * FILE_BATCH, failed: 0 });
    expect(await deps.store.list(staged)).not.toEqual([]);

    const { result } = await batch(ctx, FILED);

    expect(result).toMatchObject({ done: true, posted: FILED, failed: 0, missing: 0 });
    expect(await deps.store.list(staged)).toEqual([]);
    expect(await deps.files.ledger.staged(ctx.runId, ctx.channel.key)).toEqual([]);
  });

  it('moves a channel whose rows are in the key-ordered layout to plan order, then goes on exactly', async () => {
    const ctx = await prepare(48);
    await batch(ctx, 20);
    const rows = await deps.ledger.getMessages(ctx.runId, ctx.channel.key);
    expect(rows).toHaveLength(20);
    const table = TableClient.fromConnectionString(azurite.connectionString, tableName('ti', 'messages'), {
      allowInsecureConnection: true,
    });
    const partition = messageRows.partition(ctx.runId, ctx.channel.key);
    for await (const e of table.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${partition}` },
    }))
      await table.deleteEntity(e.partitionKey!, e.rowKey!);
    await deps.ledger.recordMessages(
      ctx.runId,
      ctx.channel.key,
      rows.map(({ seq: _seq, ...row }) => row),
    );
    await deps.ledger.updateChannel(ctx.runId, ctx.channel.key, { planAt: '' });
    const before = sandbox.requestLog().length;

    const { result } = await batch(ctx, 1000);

    expect(result).toMatchObject({ done: true, posted: 48, failed: 0, missing: 0 });
    const posts = sandbox
      .requestLog()
      .slice(before)
      .filter((r) => r.method === 'POST' && /\/messages(\/[^/]+\/replies)?$/.test(r.path))
      .filter((r) => r.status !== 429);
    expect(posts.map((p) => p.status)).toEqual(Array(28).fill(201));
    const after = await deps.ledger.getMessages(ctx.runId, ctx.channel.key);
    expect(after.map((r) => r.seq).sort((a, b) => a! - b!)).toEqual([...Array(48).keys()]);
    const left: string[] = [];
    for await (const e of table.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${partition}` },
    }))
      if (!e.rowKey!.startsWith('!')) left.push(e.rowKey!);
    expect(left).toEqual([]);
  });
});
