import { odata, type TableClient } from '@azure/data-tables';
import { defined } from './ledgerRecords';
import {
  compositeKey,
  decodeKey,
  encodeKey,
  statusOf,
  tableClient,
  tableName,
  type LedgerConnection,
} from './tables';

/** What a source file became in Teams: an inline image, a file in the channel's folder, or a notice. */
export type FileTarget = 'hosted' | 'drive' | 'notice';

/**
 * One source file of one channel of a run: its bytes (size, SHA-256, where they are staged until the message
 * that uses them is posted) and what it became in Teams. Never the file's URL or token.
 */
export interface FileRecord {
  /** The source file id (Slack `F...`), or the planned attachment id of a file without one. */
  fileId: string;
  size?: number;
  /** Hex SHA-256 of the bytes, checked again when staged bytes are reused. */
  sha256?: string;
  /** The staged copy of the bytes in the run's object store, while one is kept. */
  staged?: string;
  target?: FileTarget;
  /** The image type the bytes parsed as (`image/png`, ...), for an inline image. */
  contentType?: string;
  driveItemId?: string;
  eTag?: string;
  /** The item's name in the channel's files folder. */
  name?: string;
  /** The reference attachment's `contentUrl`: the folder's webUrl, `/`, the item's name. */
  contentUrl?: string;
  /** Why the file arrived as a notice. */
  notice?: string;
}

type Entity = Record<string, unknown> & { partitionKey: string; rowKey: string };
const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** Options of FileLedger.create. */
export interface FileLedgerOptions {
  /** Told how many rows each read returned (table `files`), as the message ledger's hook is: what a step costs. */
  onRowsRead?: (table: string, rows: number) => void;
}

/** Table row <-> FileRecord; the partition is the run and channel, the row the file id. */
export const fileRows = {
  partition: (runId: string, channelKey: string): string => compositeKey(runId, channelKey),
  toEntity: (runId: string, channelKey: string, r: FileRecord): Entity => ({
    partitionKey: fileRows.partition(runId, channelKey),
    rowKey: encodeKey(r.fileId),
    ...defined({
      size: r.size,
      sha256: r.sha256,
      staged: r.staged,
      target: r.target,
      contentType: r.contentType,
      driveItemId: r.driveItemId,
      eTag: r.eTag,
      name: r.name,
      contentUrl: r.contentUrl,
      notice: r.notice?.slice(0, 2000),
    }),
  }),
  fromEntity: (e: Record<string, unknown>): FileRecord => {
    const record: FileRecord = { fileId: decodeKey(String(e.rowKey)) };
    if (typeof e.size === 'number') record.size = e.size;
    for (const key of [
      'sha256',
      'staged',
      'contentType',
      'driveItemId',
      'eTag',
      'name',
      'contentUrl',
      'notice',
    ] as const) {
      const value = str(e[key]);
      if (value !== undefined) record[key] = value;
    }
    const target = str(e.target);
    if (target === 'hosted' || target === 'drive' || target === 'notice') record.target = target;
    return record;
  },
};

/**
 * The run's file checkpoints in Azure Table Storage (`${prefix}files`), beside the ledger's tables: one row
 * per source file per channel, keyed by the file id the plan line carries, so each file is downloaded once and
 * uploaded once, across crashes and resumes, and a step reads the rows of its own files only. Writes are
 * whole-row upserts, so repeating one after a crash leaves the same state.
 */
export class FileLedger {
  private constructor(
    private readonly table: TableClient,
    private readonly onRowsRead: (table: string, rows: number) => void = () => undefined,
  ) {}

  /** Binds the table `${prefix}files` of a storage account. */
  static create(connection: LedgerConnection, prefix = 'ti', options: FileLedgerOptions = {}): FileLedger {
    return new FileLedger(tableClient(connection, tableName(prefix, 'files')), options.onRowsRead);
  }

  /** Creates the table when it is missing; harmless when it exists. */
  async ensureTable(): Promise<void> {
    try {
      await this.table.createTable();
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }

  /** Writes a file's whole row. */
  async put(runId: string, channelKey: string, record: FileRecord): Promise<void> {
    await this.table.upsertEntity(fileRows.toEntity(runId, channelKey, record), 'Replace');
  }

  /** One file's row by its file id (a point read), or undefined when the file has none yet. */
  async get(runId: string, channelKey: string, fileId: string): Promise<FileRecord | undefined> {
    try {
      const entity = await this.table.getEntity(fileRows.partition(runId, channelKey), encodeKey(fileId));
      this.onRowsRead('files', 1);
      return fileRows.fromEntity(entity);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** The file rows of a channel that still name staged bytes, and only those (the service filters the rest). */
  async staged(runId: string, channelKey: string): Promise<FileRecord[]> {
    const filter = odata`PartitionKey eq ${fileRows.partition(runId, channelKey)} and staged gt ${''}`;
    const rows: FileRecord[] = [];
    for await (const entity of this.table.listEntities({ queryOptions: { filter } }))
      rows.push(fileRows.fromEntity(entity));
    this.onRowsRead('files', rows.length);
    return rows;
  }
}
