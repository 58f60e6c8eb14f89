import { TableClient } from '@azure/data-tables';
import fc from 'fast-check';
import { startAzurite, type AzuriteHandle } from '../../devhost/azurite';
import {
  Ledger,
  LedgerConflictError,
  LedgerMissingRowError,
  type MessageRecord,
} from '../../core/state/ledger';
import { FileLedger } from '../../core/state/fileLedger';
import { compositeKey, decodeKey, encodeKey } from '../../core/state/tables';

const ODD_KEYS = [
  '1503435956.000247#p2',
  'a/b\\c',
  'what?',
  "it's 100%",
  'tab\there\nnewline\u007f',
  'ü漢字🙂',
  '!21 literal escape',
  'pipe|inside',
];

describe('ledger keys', () => {
  it('encodes any string into a valid Table key and back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (value) => {
        const key = encodeKey(value);
        const forbidden = [...key].filter(
          (c) =>
            '/\\#?'.includes(c) ||
            c.charCodeAt(0) < 0x20 ||
            (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f),
        );
        expect(forbidden).toEqual([]);
        expect(decodeKey(key)).toBe(value);
      }),
    );
    expect(encodeKey('1503435956.000247#p2')).toBe('1503435956.000247!23p2');
  });

  it('keeps composite keys unambiguous when a part holds the separator', () => {
    expect(compositeKey('a|b', 'c')).not.toBe(compositeKey('a', 'b|c'));
  });

  it('rejects a key Table Storage would refuse for its length, naming it', () => {
    expect(() => encodeKey('x'.repeat(1025))).toThrow(/Table key too long \(1025 > 1024/);
  });
});

describe('Ledger on Azurite', () => {
  let azurite: AzuriteHandle;
  let ledger: Ledger;
  let clock = Date.parse('2024-05-01T10:00:00Z');

  beforeAll(async () => {
    azurite = await startAzurite();
    ledger = Ledger.create(azurite.connectionString, 'ti', { now: () => new Date(clock) });
    await ledger.ensureTables();
  });
  afterAll(() => azurite.stop());

  it('creates its tables idempotently', async () => {
    await expect(ledger.ensureTables()).resolves.toBeUndefined();
  });

  it('creates a migration row once, merges patches, and rejects a stale ETag', async () => {
    const first = await ledger.ensureMigration({ runId: 'run-1', status: 'running', phase: 'staging' });
    expect(first.value).toEqual({
      runId: 'run-1',
      status: 'running',
      phase: 'staging',
      counters: {},
      createdAt: '2024-05-01T10:00:00.000Z',
      updatedAt: '2024-05-01T10:00:00.000Z',
    });
    clock += 1000;
    const again = await ledger.ensureMigration({ runId: 'run-1', status: 'failed', phase: 'other' });
    expect(again.value.phase).toBe('staging');

    const etag = await ledger.updateMigration(
      'run-1',
      {
        phase: 'team',
        teamId: 't-1',
        operationUrl: "/teams('t-1')/operations('o')",
        counters: { posted: 3 },
      },
      again.etag,
    );
    const read = await ledger.getMigration('run-1');
    expect(read).toEqual({
      etag,
      value: {
        runId: 'run-1',
        status: 'running',
        phase: 'team',
        teamId: 't-1',
        operationUrl: "/teams('t-1')/operations('o')",
        counters: { posted: 3 },
        createdAt: '2024-05-01T10:00:00.000Z',
        updatedAt: '2024-05-01T10:00:01.000Z',
      },
    });
    await expect(ledger.updateMigration('run-1', { phase: 'late' }, again.etag)).rejects.toBeInstanceOf(
      LedgerConflictError,
    );
    expect((await ledger.getMigration('run-1'))?.value.phase).toBe('team');
    await expect(ledger.updateMigration('no-such-run', { phase: 'x' })).rejects.toBeInstanceOf(
      LedgerMissingRowError,
    );
    expect(await ledger.getMigration('no-such-run')).toBeUndefined();
  });

  it('keeps channel rows per run with optimistic concurrency, and clears an error with an empty string', async () => {
    const created = await ledger.ensureChannelRow('run-2', 'C01');
    expect(created.value).toMatchObject({ state: 'pending', cursor: 0, posted: 0, failed: 0, throttled: 0 });
    const etag = await ledger.updateChannel(
      'run-2',
      'C01',
      { teamsChannelId: '19:x@thread.tacv2', state: 'posting', cursor: 40, posted: 40, lastError: 'boom' },
      created.etag,
    );
    const conflict = await ledger
      .updateChannel('run-2', 'C01', { cursor: 10 }, created.etag)
      .catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(LedgerConflictError);
    expect((conflict as Error).message).toMatch(/changed since it was read.*re-read it and retry/);
    await ledger.updateChannel('run-2', 'C01', { lastError: '', throttled: 2 }, etag);
    await ledger.ensureChannelRow('run-2', 'C02', { state: 'created', teamsChannelId: '19:y' });
    await ledger.ensureChannelRow('run-3', 'C01');
    const channels = await ledger.listChannels('run-2');
    expect(channels.map((c) => c.channelKey).sort()).toEqual(['C01', 'C02']);
    const c01 = channels.find((c) => c.channelKey === 'C01')!;
    expect(c01).toMatchObject({
      teamsChannelId: '19:x@thread.tacv2',
      state: 'posting',
      cursor: 40,
      throttled: 2,
    });
    expect(c01).not.toHaveProperty('lastError');
  });

  it('records messages in transactions of at most 100 per partition, idempotently', async () => {
    const submit = jest.spyOn(TableClient.prototype, 'submitTransaction');
    const rows: MessageRecord[] = Array.from({ length: 250 }, (_, i) => ({
      key: `1600000000.${String(i).padStart(6, '0')}`,
      createdDateTime: new Date(1600000000000 + i).toISOString(),
      state: i % 50 === 49 ? 'failed' : 'posted',
      ...(i % 50 === 49 ? { error: 'GraphError 400' } : { teamsId: String(1600000000000 + i) }),
    }));
    await ledger.recordMessages('run-4', 'C01', rows);
    expect(submit.mock.calls.map(([actions]) => actions.length)).toEqual([100, 100, 50]);
    await ledger.recordMessages('run-4', 'C01', rows.slice(0, 10));
    submit.mockRestore();

    expect(await ledger.getMessages('run-4', 'C01')).toHaveLength(250);
    const posted = await ledger.getPostedMessages('run-4', 'C01');
    expect(posted.size).toBe(245);
    expect(posted.get('1600000000.000007')).toBe('1600000000007');
    expect(posted.has('1600000000.000049')).toBe(false);
    expect((await ledger.getPostedMessages('run-4', 'C02')).size).toBe(0);
  });

  it('lets a later outcome of the same message replace the earlier one', async () => {
    await ledger.recordMessages('run-5', 'C01', [
      { key: 'm1', createdDateTime: '2020-01-01T00:00:00.000Z', state: 'failed', error: 'lost answer' },
      { key: 'm1', createdDateTime: '2020-01-01T00:00:00.000Z', state: 'posted', teamsId: '1577836800000' },
    ]);
    expect(await ledger.getMessages('run-5', 'C01')).toEqual([
      { key: 'm1', createdDateTime: '2020-01-01T00:00:00.000Z', state: 'posted', teamsId: '1577836800000' },
    ]);
  });

  it('round-trips odd run ids, channel keys, message keys and user ids', async () => {
    const runId = 'run/odd#1?';
    const channelKey = 'chan\\nel|x';
    await ledger.ensureChannelRow(runId, channelKey);
    await ledger.recordMessages(
      runId,
      channelKey,
      ODD_KEYS.map((key, i) => ({
        key,
        createdDateTime: `2020-01-01T00:00:00.00${i}Z`,
        state: 'posted',
        teamsId: `id${i}`,
      })),
    );
    const posted = await ledger.getPostedMessages(runId, channelKey);
    expect([...posted.keys()].sort()).toEqual([...ODD_KEYS].sort());
    expect(posted.get('1503435956.000247#p2')).toBe('id0');
    expect((await ledger.listChannels(runId)).map((c) => [c.runId, c.channelKey])).toEqual([
      [runId, channelKey],
    ]);
    expect((await ledger.getChannel(runId, channelKey))?.value.channelKey).toBe(channelKey);

    await ledger.putUsers(runId, [
      { sourceUserId: 'U1/ü', entraId: 'e-1', displayName: 'Ana', matchedBy: 'email' },
      { sourceUserId: "B'2", matchedBy: 'unmatched' },
    ]);
    const users = await ledger.getUsers(runId);
    expect(users.get('U1/ü')).toEqual({
      sourceUserId: 'U1/ü',
      entraId: 'e-1',
      displayName: 'Ana',
      matchedBy: 'email',
    });
    expect(users.get("B'2")).toEqual({ sourceUserId: "B'2", matchedBy: 'unmatched' });
  });

  it('keeps the partitions of look-alike run and channel keys apart', async () => {
    await ledger.recordMessages('a|b', 'c', [
      { key: 'k', createdDateTime: '2020-01-01T00:00:00.000Z', state: 'posted', teamsId: '1' },
    ]);
    await ledger.recordMessages('a', 'b|c', [
      { key: 'k', createdDateTime: '2020-01-01T00:00:00.000Z', state: 'posted', teamsId: '2' },
    ]);
    expect((await ledger.getPostedMessages('a|b', 'c')).get('k')).toBe('1');
    expect((await ledger.getPostedMessages('a', 'b|c')).get('k')).toBe('2');
  });

  it("reads a file row by its id, rows written before point reads included, and lists only a channel's staged ones", async () => {
    const read: number[] = [];
    const files = FileLedger.create(azurite.connectionString, 'ti', {
      onRowsRead: (table, rows) => {
        if (table === 'files') read.push(rows);
      },
    });
    await files.ensureTable();
    const table = TableClient.fromConnectionString(azurite.connectionString, 'tifiles', {
      allowInsecureConnection: true,
    });
    const uploaded = {
      size: 10,
      target: 'drive',
      driveItemId: 'item-1',
      eTag: '"{0D0A1C2E-0000-4000-8000-000000000001},1"',
      name: 'plan (2).pdf',
      contentUrl: 'https://contoso.sharepoint.com/sites/t/Shared%20Documents/general/plan%20(2).pdf',
    };
    const image = {
      size: 5,
      sha256: 'ab'.repeat(32),
      staged: 'runs/files-run/files/general/F!IMG',
      target: 'hosted',
      contentType: 'image/png',
    };
    await table.upsertEntity({ partitionKey: 'files-run|general', rowKey: 'FDOC1', ...uploaded });
    await table.upsertEntity({ partitionKey: 'files-run|general', rowKey: 'F!21IMG', ...image });
    await table.upsertEntity({
      partitionKey: 'files-run|general',
      rowKey: 'FTXT1',
      size: 3,
      target: 'notice',
      notice: 'empty file: 0 bytes',
    });
    await table.upsertEntity({ partitionKey: 'files-run|random', rowKey: 'FIMG2', ...image });

    expect(await files.get('files-run', 'general', 'FDOC1')).toEqual({ fileId: 'FDOC1', ...uploaded });
    expect(await files.get('files-run', 'general', 'F!IMG')).toEqual({ fileId: 'F!IMG', ...image });
    expect(await files.get('files-run', 'general', 'FIMG2')).toBeUndefined();
    expect(read).toEqual([1, 1]);
    expect(await files.staged('files-run', 'general')).toEqual([{ fileId: 'F!IMG', ...image }]);
    expect(read).toEqual([1, 1, 1]);
  });

  it('rejects a table prefix Table Storage would refuse', () => {
    expect(() => Ledger.create(azurite.connectionString, 'my-prefix')).toThrow(
      /prefix 'my-prefix' is invalid/,
    );
  });
});
