import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import {
  MIGRATION_ROW,
  channelRows,
  messageRows,
  migrationRows,
  planRows,
  passRows,
  userRows,
  type ChannelRecord,
  type MessageRecord,
  type MigrationRecord,
  type PassRecord,
  type UserRecord,
  type Versioned,
  MAX_ERROR_CHARS,
} from './ledgerRecords';
import { encodeKey, statusOf, tableClient, tableName, type LedgerConnection } from './tables';

export * from './ledgerRecords';
export type { LedgerConnection } from './tables';

/** A row changed since it was read (ETag mismatch): re-read it and apply the change again. */
export class LedgerConflictError extends Error {
  constructor(
    readonly table: string,
    readonly partitionKey: string,
    readonly rowKey: string,
  ) {
    super(
      `Ledger row ${table}/${partitionKey}/${rowKey} changed since it was read (ETag mismatch): re-read it and retry the update.`,
    );
    this.name = 'LedgerConflictError';
  }
}

/** An update addressed a row that does not exist. */
export class LedgerMissingRowError extends Error {
  constructor(what: string) {
    super(`${what} is not in the ledger: create it (putMigration / ensureChannelRow) before updating it.`);
    this.name = 'LedgerMissingRowError';
  }
}

/** Fields of a migration row an update may change (`lastError: ''` clears the error). */
export type MigrationPatch = Partial<Omit<MigrationRecord, 'runId' | 'createdAt' | 'updatedAt'>>;
/** Fields of a channel row an update may change (`lastError: ''` clears the error). */
export type ChannelPatch = Partial<Omit<ChannelRecord, 'runId' | 'channelKey' | 'updatedAt'>>;
/** Fields of a pass row an update may change. */
export type PassPatch = Partial<Omit<PassRecord, 'runId' | 'pass' | 'updatedAt'>>;

/** Options of Ledger.create. */
export interface LedgerOptions {
  /** The clock for `createdAt` / `updatedAt`. */
  now?: () => Date;
  /** Told how many rows each read returned, by table (`messages`, `channels`, ...): what a step costs. */
  onRowsRead?: (table: string, rows: number) => void;
}

/** A channel's counts as its message partition holds them (the `!s` row of the plan-ordered layout). */
export interface MessageCounts {
  posted: number;
  missing: number;
}

/**
 * One outcome to write in the plan-ordered layout: the message row (with its `seq`), whether the message is
 * a thread's first message (its Teams id is then indexed by key for the replies), whether it was failed before
 * (its failure row is then closed), and what it changes in the counts.
 */
export interface MessageChange {
  record: MessageRecord & { seq: number };
  topLevel: boolean;
  wasFailed: boolean;
  delta: MessageCounts;
}

/** Entities per Table transaction (the service's limit). */
export const MAX_BATCH = 100;

/**
 * The run's checkpoints in Azure Table Storage: migrations, channels, messages (one partition per run and
 * channel), users, passes. Rows hold ids, states and counts, never message bodies. Writes are upserts or
 * merges (guarded by the row's ETag when the caller passes the one it read), so repeating a write after a
 * crash leaves the same state.
 */
export class Ledger {
  private constructor(
    private readonly tables: Record<'migrations' | 'channels' | 'messages' | 'users' | 'passes', TableClient>,
    private readonly now: () => Date,
    private readonly onRowsRead: (table: string, rows: number) => void = () => undefined,
  ) {}

  /** Binds the tables `${prefix}migrations`, `…channels`, `…messages`, `…users`, `…passes` of a storage account. */
  static create(connection: LedgerConnection, prefix = 'ti', options: LedgerOptions = {}): Ledger {
    const client = (name: string): TableClient => tableClient(connection, tableName(prefix, name));
    return new Ledger(
      {
        migrations: client('migrations'),
        channels: client('channels'),
        messages: client('messages'),
        users: client('users'),
        passes: client('passes'),
      },
      options.now ?? (() => new Date()),
      options.onRowsRead,
    );
  }

  /** Creates the tables that are missing; harmless when they exist. */
  async ensureTables(): Promise<void> {
    await Promise.all(Object.values(this.tables).map((table) => table.createTable()));
  }

  /** The run's migration row, with its ETag. */
  getMigration(runId: string): Promise<Versioned<MigrationRecord> | undefined> {
    const { partitionKey, rowKey } = migrationRows.keys(runId);
    return this.read(this.tables.migrations, partitionKey, rowKey, migrationRows.fromEntity);
  }

  /** Every migration row of the ledger (the delta-sync timer looks at each). */
  async allMigrations(): Promise<MigrationRecord[]> {
    const rows: MigrationRecord[] = [];
    const filter = `RowKey eq '${MIGRATION_ROW}'`;
    for await (const entity of this.tables.migrations.listEntities({ queryOptions: { filter } }))
      rows.push(migrationRows.fromEntity(entity));
    return rows;
  }

  /** Writes the whole migration row (upsert, replace); returns the new ETag. */
  async putMigration(record: Omit<MigrationRecord, 'updatedAt'>): Promise<string> {
    const entity = migrationRows.toEntity({ ...record, updatedAt: this.now().toISOString() });
    return etagOf(await this.tables.migrations.upsertEntity(entity, 'Replace'));
  }

  /** The run's migration row; created from `init` when absent (an existing row is returned unchanged). */
  async ensureMigration(
    init: Omit<MigrationRecord, 'createdAt' | 'updatedAt' | 'counters'> & {
      counters?: Record<string, number>;
    },
  ): Promise<Versioned<MigrationRecord>> {
    const stamp = this.now().toISOString();
    const record = { counters: {}, ...init, createdAt: stamp, updatedAt: stamp };
    return this.ensure(
      this.tables.migrations,
      migrationRows.toEntity(record),
      () => this.getMigration(init.runId),
      record,
    );
  }

  /** Merges a patch into the migration row; with an ETag, fails with LedgerConflictError if the row changed. */
  updateMigration(runId: string, patch: MigrationPatch, etag?: string): Promise<string> {
    const entity = migrationRows.toEntity({ ...patch, runId, updatedAt: this.now().toISOString() });
    return this.merge(this.tables.migrations, entity, etag, `Migration run '${runId}'`);
  }

  /**
   * One page of migration rows, ordered by run id: at most `top` rows from where `continuationToken` (from the
   * previous page) left off, and the token of the next page when there is one.
   */
  async listMigrations(
    top: number,
    continuationToken?: string,
  ): Promise<{ items: MigrationRecord[]; continuationToken?: string }> {
    const pages = this.tables.migrations
      .listEntities({ queryOptions: { filter: `RowKey eq '${MIGRATION_ROW}'` } })
      .byPage({ maxPageSize: top, ...(continuationToken ? { continuationToken } : {}) });
    const page = await pages.next();
    if (page.done || !page.value) return { items: [] };
    const next = page.value.continuationToken;
    return {
      items: page.value.map((e) => migrationRows.fromEntity(e as Record<string, unknown>)),
      ...(next ? { continuationToken: next } : {}),
    };
  }

  /** A channel row of a run, with its ETag. */
  getChannel(runId: string, channelKey: string): Promise<Versioned<ChannelRecord> | undefined> {
    const { partitionKey, rowKey } = channelRows.keys(runId, channelKey);
    return this.read(this.tables.channels, partitionKey, rowKey, channelRows.fromEntity);
  }

  /** Writes a whole channel row (upsert, replace); returns the new ETag. */
  async putChannel(record: Omit<ChannelRecord, 'updatedAt'>): Promise<string> {
    const entity = channelRows.toEntity({ ...record, updatedAt: this.now().toISOString() });
    return etagOf(await this.tables.channels.upsertEntity(entity, 'Replace'));
  }

  /** A channel row; created as `pending` at cursor 0 when absent (an existing row is returned unchanged). */
  async ensureChannelRow(
    runId: string,
    channelKey: string,
    init: Partial<Omit<ChannelRecord, 'runId' | 'channelKey' | 'updatedAt'>> = {},
  ): Promise<Versioned<ChannelRecord>> {
    const record: ChannelRecord = {
      state: 'pending',
      cursor: 0,
      posted: 0,
      failed: 0,
      missing: 0,
      throttled: 0,
      ...init,
      runId,
      channelKey,
      updatedAt: this.now().toISOString(),
    };
    return this.ensure(
      this.tables.channels,
      channelRows.toEntity(record),
      () => this.getChannel(runId, channelKey),
      record,
    );
  }

  /** Merges a patch into a channel row; with an ETag, fails with LedgerConflictError if the row changed. */
  updateChannel(runId: string, channelKey: string, patch: ChannelPatch, etag?: string): Promise<string> {
    const entity = channelRows.toEntity({ ...patch, runId, channelKey, updatedAt: this.now().toISOString() });
    return this.merge(this.tables.channels, entity, etag, `Channel '${channelKey}' of run '${runId}'`);
  }

  /** Every channel row of a run. */
  async listChannels(runId: string): Promise<ChannelRecord[]> {
    return this.query(this.tables.channels, encodeKey(runId), channelRows.fromEntity);
  }

  /** Records message outcomes (upserts, last row per key wins), in transactions of at most 100 rows. */
  async recordMessages(runId: string, channelKey: string, rows: MessageRecord[]): Promise<void> {
    const entities = new Map(rows.map((r) => [r.key, messageRows.toEntity(runId, channelKey, r)]));
    await this.upsertBatches(this.tables.messages, [...entities.values()]);
  }

  /**
   * Every recorded message of a channel, in either layout: once the partition has its counts row (the
   * plan-ordered layout), only the plan-ordered message rows; before that, the key-ordered rows.
   */
  async getMessages(runId: string, channelKey: string): Promise<MessageRecord[]> {
    const partition = messageRows.partition(runId, channelKey);
    const entities = await this.query(this.tables.messages, partition, (e) => e);
    const planOrdered = entities.some((e) => e.rowKey === planRows.summary);
    const prefix = planRows.message(0).slice(0, 2);
    return entities
      .filter((e) => {
        const rowKey = String(e.rowKey);
        return planOrdered ? rowKey.startsWith(prefix) : !planRows.isPlanRow(rowKey);
      })
      .map(messageRows.fromEntity);
  }

  /** A channel's counts row (plan-ordered layout); undefined until the first outcome is written in that layout. */
  async getMessageCounts(runId: string, channelKey: string): Promise<MessageCounts | undefined> {
    const partition = messageRows.partition(runId, channelKey);
    const row = await this.read(this.tables.messages, partition, planRows.summary, (e) => ({
      posted: Number(e.posted ?? 0),
      missing: Number(e.missing ?? 0),
    }));
    return row?.value;
  }

  /**
   * Counts a channel's plan-ordered message rows and writes the counts row from them. Steps keep the counts row
   * incrementally; one that overlapped another on the same channel (an activity still running when its
   * orchestration was cancelled and resumed) can leave it behind, so each pass ends by counting (finishPass).
   */
  async recountMessages(runId: string, channelKey: string): Promise<MessageCounts | undefined> {
    // A partition without its counts row is in the key-ordered layout (or empty): it is moved, and counted, when
    // a step first loads it.
    if (!(await this.getMessageCounts(runId, channelKey))) return undefined;
    const partitionKey = messageRows.partition(runId, channelKey);
    const range = planRows.messagesFrom(0);
    const filter = odata`PartitionKey eq ${partitionKey} and RowKey ge ${range.ge} and RowKey lt ${range.lt}`;
    const counts: MessageCounts = { posted: 0, missing: 0 };
    for await (const e of this.tables.messages.listEntities({
      queryOptions: { filter, select: ['state'] },
    })) {
      this.onRowsRead('messages', 1);
      if (e.state === 'posted') counts.posted++;
      else if (e.state === 'missing') counts.missing++;
    }
    await this.tables.messages.upsertEntity({ partitionKey, rowKey: planRows.summary, ...counts }, 'Replace');
    return counts;
  }

  /** True when the channel's partition holds any row (one row read at most). */
  async hasMessageRows(runId: string, channelKey: string): Promise<boolean> {
    const filter = odata`PartitionKey eq ${messageRows.partition(runId, channelKey)}`;
    const page = await this.tables.messages
      .listEntities({ queryOptions: { filter } })
      .byPage({ maxPageSize: 1 })
      .next();
    const rows = page.done || !page.value ? 0 : page.value.length;
    this.onRowsRead('messages', rows);
    return rows > 0;
  }

  /**
   * A channel's message rows from plan position `seq` on, in plan order, read a page (`pageSize` rows) at a
   * time as the caller goes: a caller that stops early has read only the pages it reached.
   */
  async *messagesFrom(
    runId: string,
    channelKey: string,
    seq: number,
    pageSize = 100,
  ): AsyncGenerator<MessageRecord & { seq: number }> {
    const range = planRows.messagesFrom(seq);
    const filter = odata`PartitionKey eq ${messageRows.partition(runId, channelKey)} and RowKey ge ${range.ge} and RowKey lt ${range.lt}`;
    for await (const page of this.tables.messages
      .listEntities({ queryOptions: { filter } })
      .byPage({ maxPageSize: pageSize })) {
      this.onRowsRead('messages', page.length);
      for (const entity of page) {
        const row = messageRows.fromEntity(entity as Record<string, unknown>);
        if (row.seq !== undefined) yield row as MessageRecord & { seq: number };
      }
    }
  }

  /** The messages of a channel that stand failed (plan-ordered layout), with their reasons. */
  async getFailures(runId: string, channelKey: string): Promise<(MessageRecord & { seq: number })[]> {
    const range = planRows.failures;
    const filter = odata`PartitionKey eq ${messageRows.partition(runId, channelKey)} and RowKey ge ${range.ge} and RowKey lt ${range.lt} and open eq true`;
    const rows: (MessageRecord & { seq: number })[] = [];
    for await (const e of this.tables.messages.listEntities({ queryOptions: { filter } })) {
      rows.push({
        key: String(e.key),
        seq: Number(e.seq),
        createdDateTime: String(e.createdDateTime ?? ''),
        state: 'failed',
        ...(typeof e.error === 'string' && e.error ? { error: e.error } : {}),
      });
    }
    this.onRowsRead('messages', rows.length);
    return rows;
  }

  /** The Teams id of a posted top-level message of a channel, by its key (plan-ordered layout). */
  async getPostedTopLevel(runId: string, channelKey: string, key: string): Promise<string | undefined> {
    const partition = messageRows.partition(runId, channelKey);
    const row = await this.read(this.tables.messages, partition, planRows.parent(key), (e) =>
      typeof e.teamsId === 'string' && e.teamsId ? e.teamsId : undefined,
    );
    return row?.value;
  }

  /**
   * Writes outcomes in the plan-ordered layout, in transactions of at most 100 rows; each transaction also
   * writes the counts row as they stand once its outcomes are in, so the counts never disagree with the rows
   * whatever write a crash cuts short. `before`: the counts the partition holds now. Returns the counts after.
   */
  async writeMessageChanges(
    runId: string,
    channelKey: string,
    changes: MessageChange[],
    before: MessageCounts,
  ): Promise<MessageCounts> {
    const partitionKey = messageRows.partition(runId, channelKey);
    const counts = { ...before };
    let actions: TransactionAction[] = [];
    let keys = new Set<string>();
    const flush = async (): Promise<void> => {
      if (actions.length === 0) return;
      actions.push(['upsert', { partitionKey, rowKey: planRows.summary, ...counts }, 'Replace']);
      await this.tables.messages.submitTransaction(actions);
      actions = [];
      keys = new Set();
    };
    for (const change of changes) {
      const entities = changeEntities(runId, channelKey, change);
      if (actions.length + entities.length >= MAX_BATCH || entities.some((e) => keys.has(e.rowKey)))
        await flush();
      for (const entity of entities) {
        actions.push(['upsert', entity, 'Replace']);
        keys.add(entity.rowKey);
      }
      counts.posted += change.delta.posted;
      counts.missing += change.delta.missing;
    }
    await flush();
    return counts;
  }

  /**
   * Moves a channel's key-ordered rows to the plan-ordered layout: each row with its plan position (rows whose
   * key the plan lacks stay as they are, unread), then the counts row, then the old rows are deleted. Every
   * write is an upsert, so a move cut short is simply done again by the next step (the counts row, written
   * last, says it is done).
   */
  async moveToPlanOrder(
    runId: string,
    channelKey: string,
    positions: Map<string, { seq: number; topLevel: boolean }>,
  ): Promise<MessageCounts> {
    const partitionKey = messageRows.partition(runId, channelKey);
    const legacy = (await this.query(this.tables.messages, partitionKey, (e) => e)).filter(
      (e) => !planRows.isPlanRow(String(e.rowKey)),
    );
    const counts: MessageCounts = { posted: 0, missing: 0 };
    const entities: (Record<string, unknown> & { partitionKey: string; rowKey: string })[] = [];
    const moved: string[] = [];
    for (const entity of legacy) {
      const row = messageRows.fromEntity(entity);
      const at = positions.get(row.key);
      if (!at) continue;
      const change: MessageChange = {
        record: { ...row, seq: at.seq },
        topLevel: at.topLevel,
        wasFailed: false,
        delta: { posted: 0, missing: 0 },
      };
      entities.push(...changeEntities(runId, channelKey, change));
      if (row.state === 'posted') counts.posted++;
      else if (row.state === 'missing') counts.missing++;
      moved.push(String(entity.rowKey));
    }
    await this.upsertBatches(this.tables.messages, entities);
    await this.tables.messages.upsertEntity({ partitionKey, rowKey: planRows.summary, ...counts }, 'Replace');
    for (let start = 0; start < moved.length; start += MAX_BATCH)
      await this.tables.messages
        .submitTransaction(
          moved.slice(start, start + MAX_BATCH).map((rowKey) => ['delete', { partitionKey, rowKey }]),
        )
        .catch(() => undefined);
    return counts;
  }

  /** Posted messages of a channel: planned key -> Teams message id (parents of replies, resume). */
  async getPostedMessages(runId: string, channelKey: string): Promise<Map<string, string>> {
    const rows = await this.query(
      this.tables.messages,
      messageRows.partition(runId, channelKey),
      messageRows.fromEntity,
      "state eq 'posted'",
    );
    return new Map(rows.filter((r) => r.teamsId).map((r) => [r.key, r.teamsId!]));
  }

  /** Records how source users were matched (upserts, batched). */
  async putUsers(runId: string, rows: UserRecord[]): Promise<void> {
    const entities = new Map(rows.map((r) => [r.sourceUserId, userRows.toEntity(runId, r)]));
    await this.upsertBatches(this.tables.users, [...entities.values()]);
  }

  /** The run's users by source user id. */
  async getUsers(runId: string): Promise<Map<string, UserRecord>> {
    const rows = await this.query(this.tables.users, encodeKey(runId), userRows.fromEntity);
    return new Map(rows.map((r) => [r.sourceUserId, r]));
  }

  /** Writes a whole pass row (upsert, replace). */
  async putPass(record: Omit<PassRecord, 'updatedAt'>): Promise<void> {
    await this.tables.passes.upsertEntity(
      passRows.toEntity({ ...record, updatedAt: this.now().toISOString() }),
      'Replace',
    );
  }

  /** Merges a patch into a pass row. */
  async updatePass(runId: string, pass: number, patch: PassPatch): Promise<void> {
    const entity = passRows.toEntity({ ...patch, runId, pass, updatedAt: this.now().toISOString() });
    await this.merge(this.tables.passes, entity, undefined, `Pass ${pass} of run '${runId}'`);
  }

  /** The run's passes, oldest first. */
  listPasses(runId: string): Promise<PassRecord[]> {
    return this.query(this.tables.passes, encodeKey(runId), passRows.fromEntity);
  }

  private async read<T>(
    table: TableClient,
    partitionKey: string,
    rowKey: string,
    from: (e: Record<string, unknown>) => T,
  ): Promise<Versioned<T> | undefined> {
    try {
      const entity = await table.getEntity(partitionKey, rowKey);
      this.onRowsRead(this.nameOf(table), 1);
      return { value: from(entity), etag: entity.etag };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  private async ensure<T>(
    table: TableClient,
    entity: Record<string, unknown> & { partitionKey: string; rowKey: string },
    reread: () => Promise<Versioned<T> | undefined>,
    created: T,
  ): Promise<Versioned<T>> {
    try {
      return { value: created, etag: etagOf(await table.createEntity(entity)) };
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
    const existing = await reread();
    if (!existing)
      throw new Error(
        `Ledger row ${table.tableName}/${entity.partitionKey}/${entity.rowKey} vanished while being created; retry.`,
      );
    return existing;
  }

  private async merge(
    table: TableClient,
    entity: Record<string, unknown> & { partitionKey: string; rowKey: string },
    etag: string | undefined,
    what: string,
  ): Promise<string> {
    try {
      return etagOf(await table.updateEntity(entity, 'Merge', { etag: etag ?? '*' }));
    } catch (err) {
      const status = statusOf(err);
      if (status === 412 && etag)
        throw new LedgerConflictError(table.tableName, entity.partitionKey, entity.rowKey);
      if (status === 404 || status === 412) throw new LedgerMissingRowError(what);
      throw err;
    }
  }

  private async query<T>(
    table: TableClient,
    partitionKey: string,
    from: (e: Record<string, unknown>) => T,
    extraFilter?: string,
  ): Promise<T[]> {
    const filter = `PartitionKey eq '${partitionKey.replace(/'/g, "''")}'${extraFilter ? ` and ${extraFilter}` : ''}`;
    const rows: T[] = [];
    for await (const entity of table.listEntities({ queryOptions: { filter } })) rows.push(from(entity));
    this.onRowsRead(this.nameOf(table), rows.length);
    return rows;
  }

  private nameOf(table: TableClient): string {
    return Object.entries(this.tables).find(([, t]) => t === table)?.[0] ?? table.tableName;
  }

  private async upsertBatches(
    table: TableClient,
    entities: (Record<string, unknown> & { partitionKey: string; rowKey: string })[],
  ): Promise<void> {
    const byPartition = new Map<string, typeof entities>();
    for (const entity of entities) {
      const list = byPartition.get(entity.partitionKey) ?? [];
      list.push(entity);
      byPartition.set(entity.partitionKey, list);
    }
    for (const list of byPartition.values()) {
      for (let start = 0; start < list.length; start += MAX_BATCH) {
        const actions: TransactionAction[] = list
          .slice(start, start + MAX_BATCH)
          .map((e) => ['upsert', e, 'Replace']);
        await table.submitTransaction(actions);
      }
    }
  }
}

/** The rows one outcome writes: its message row, its top-level index row once posted, its failure row. */
function changeEntities(
  runId: string,
  channelKey: string,
  change: MessageChange,
): (Record<string, unknown> & { partitionKey: string; rowKey: string })[] {
  const { record } = change;
  const partitionKey = messageRows.partition(runId, channelKey);
  const entities = [messageRows.toEntity(runId, channelKey, record)];
  if (change.topLevel && record.state === 'posted' && record.teamsId)
    entities.push({
      partitionKey,
      rowKey: planRows.parent(record.key),
      teamsId: record.teamsId,
      seq: record.seq,
    });
  if (record.state === 'failed' || change.wasFailed)
    entities.push({
      partitionKey,
      rowKey: planRows.failure(record.seq),
      key: record.key,
      seq: record.seq,
      createdDateTime: record.createdDateTime,
      open: record.state === 'failed',
      ...(record.state === 'failed' && record.error ? { error: record.error.slice(0, MAX_ERROR_CHARS) } : {}),
    });
  return entities;
}

function etagOf(response: { etag?: string }): string {
  return response.etag ?? '';
}
