import { compositeKey, decodeKey, encodeKey } from './tables';

/** Where a migration run stands. */
export type MigrationRunState = 'running' | 'completed' | 'failed' | 'terminated';

/** One migration run: the team it creates and where it got to. */
export interface MigrationRecord {
  runId: string;
  status: MigrationRunState;
  /** The orchestration phase (`staging`, `team`, `channels`, `completing`, `members`, `report`, ...). */
  phase: string;
  teamId?: string;
  /** The team-creation operation to poll, until the team exists. */
  operationUrl?: string;
  /** When the team's creation was last asked for (ISO), recorded before the request is sent. */
  teamRequestedAt?: string;
  createdAt: string;
  updatedAt: string;
  counters: Record<string, number>;
  lastError?: string;
  /**
   * Where the migration stands between passes: `importing` (its first pass has not ended), `prestaged`
   * (imported, nothing completed), `cutting-over` (a cutover began and has not ended), `completed` (the team
   * is completed: a run that completed it, or a cutover).
   */
  stage?: MigrationStage;
  /** The timer applies snapshots dropped into the migration's inbox (prestaged ones always do). */
  deltaSync?: boolean;
}

/** Where a migration stands between passes (see MigrationRecord.stage). */
export type MigrationStage = 'importing' | 'prestaged' | 'cutting-over' | 'completed';

/** A pass of a migration: its first import, a delta from a newer snapshot, or the cutover. */
export type PassKind = 'initial' | 'delta' | 'cutover';

/** How a pass ended (`running` while it has not). */
export type PassOutcome =
  'running' | 'prestaged' | 'completed' | 'needs-attention' | 'refused' | 'failed' | 'interrupted';

/** One pass of a migration, as its history keeps it. */
export interface PassRecord {
  runId: string;
  /** 1 for the first pass, then one more for each pass begun. */
  pass: number;
  kind: PassKind;
  /** The snapshot it applied, described without secrets (a path's base name, a blob's name); empty when none. */
  source: string;
  startedAt: string;
  finishedAt?: string;
  outcome: PassOutcome;
  /** Planned messages this pass added to the migration (all of them for the first pass). */
  newMessages: number;
  /** Messages posted, and messages failed, during this pass. */
  posted: number;
  failed: number;
  /** Imported messages this pass found edited, or deleted, in Slack after their import. */
  editedInSlack: number;
  deletedInSlack: number;
  /** The snapshot's workspace (Slack team id) and its newest message (Slack ts), when known. */
  workspace?: string;
  newestMessage?: string;
  /** Why the pass was refused or failed. */
  error?: string;
  /** Messages posted before the pass began (its `posted` is counted from there). */
  postedBefore?: number;
  updatedAt: string;
}

/** How far a channel has got: created in Teams, posting, every message posted, migration completed. */
export type ChannelState = 'pending' | 'created' | 'posting' | 'posted' | 'completed';

/** One channel of a run: its Teams id, state, posting cursor and counts. */
export interface ChannelRecord {
  runId: string;
  channelKey: string;
  teamsChannelId?: string;
  state: ChannelState;
  /** The posting pass the cursor belongs to (a run of the channel's orchestration from its first batch). */
  pass?: string;
  /** The `seq` of the next planned message this pass has not tried yet. */
  cursor: number;
  /**
   * Where the cursor's message starts in the staged plan, as `<cursor>:<segment>:<byte offset>` (the segment
   * an index into the channel's plan files): a step reads the plan from there. Ignored unless its cursor is
   * the row's `cursor`.
   */
  planAt?: string;
  posted: number;
  failed: number;
  /** Planned messages that can no longer be posted: the channel was completed before they were. */
  missing: number;
  throttled: number;
  /** The last message failure, as `key: reason`. */
  lastError?: string;
  /** Why the channel's import itself failed (its orchestration's error), until a later pass clears it. */
  error?: string;
  /** While posting waits out a long throttle: when it resumes (ISO). */
  waitUntil?: string;
  /** When posting began and when the last planned message was posted (ISO), for the report's elapsed times. */
  startedAt?: string;
  finishedAt?: string;
  /** Imported messages the latest snapshot shows edited, or no longer has, in Slack. */
  editedInSlack?: number;
  deletedInSlack?: number;
  /**
   * Messages posted per minute, the last 360 minutes, as JSON `[[minuteEpochMs, messages], ...]` (see
   * core/operations/throughput): the measured throughput the live page, the CLI and the report show.
   */
  throughput?: string;
  /** A chat's creation was asked for at this instant (ISO), recorded before the request is sent. */
  requestedAt?: string;
  /** Why a conversation planned as a chat went to the OneDrive way instead (the service refused it, ...). */
  diverted?: string;
  /** A private channel that is not created in Teams, and why (no member mapped to an Entra user). */
  notCreated?: string;
  /** A private channel's Slack members who map to no Entra user (not added to it), as a JSON list of names. */
  unmappedMembers?: string;
  updatedAt: string;
}

/**
 * What happened to one planned message: posted; failed (its reason kept, tried again by the next pass); or
 * missing: never to be posted because its channel was completed first.
 */
export type MessageState = 'posted' | 'failed' | 'missing';

/** One planned message's outcome (never its body). */
export interface MessageRecord {
  /** The planned message key (`1503435956.000247`, `1503435956.000247#p2`). */
  key: string;
  /** Its position in the channel's plan (`PlannedMessage.seq`); absent on rows of the key-ordered layout. */
  seq?: number;
  teamsId?: string;
  createdDateTime: string;
  state: MessageState;
  error?: string;
  /** The service refused the message's native reactions; it was posted with them as the text line. */
  reactionsRefused?: boolean;
  /** The fingerprint of the source content posted (text, files, edit stamp): how later snapshots spot edits. */
  fingerprint?: string;
  /** A later snapshot shows the posted message edited, or no longer has it, in Slack. */
  changed?: 'edited' | 'deleted';
  /** Where the changed message is: in Teams, and in Slack when the workspace's URL is known. */
  teamsLink?: string;
  slackLink?: string;
}

/** How a source user was matched to the tenant. */
export type UserMatch = 'map' | 'upn' | 'email' | 'fallback' | 'unmatched';

/** One source user of a run and the Entra user that stands for them. */
export interface UserRecord {
  sourceUserId: string;
  entraId?: string;
  displayName?: string;
  matchedBy: UserMatch;
}

/** A record with the ETag it was read or written with, for optimistic concurrency. */
export interface Versioned<T> {
  value: T;
  etag: string;
}

/** The row key of a run's migration row. */
export const MIGRATION_ROW = 'run';
/** Longest error text kept in a row; the rest is cut. */
export const MAX_ERROR_CHARS = 2000;

type Entity = Record<string, unknown> & { partitionKey: string; rowKey: string };

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;
const num = (value: unknown): number => (typeof value === 'number' ? value : Number(value ?? 0));
const clip = (text: string | undefined): string | undefined =>
  text === undefined ? undefined : text.slice(0, MAX_ERROR_CHARS);

/** Drops undefined properties, so Merge updates leave those columns alone. */
export function defined(entity: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entity).filter(([, v]) => v !== undefined));
}

/** Table row <-> MigrationRecord. */
export const migrationRows = {
  keys: (runId: string) => ({ partitionKey: encodeKey(runId), rowKey: MIGRATION_ROW }),
  toEntity: (r: Partial<MigrationRecord> & { runId: string }): Entity => ({
    ...migrationRows.keys(r.runId),
    ...defined({
      status: r.status,
      phase: r.phase,
      teamId: r.teamId,
      operationUrl: r.operationUrl,
      teamRequestedAt: r.teamRequestedAt,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      counters: r.counters && JSON.stringify(r.counters),
      lastError: clip(r.lastError),
      stage: r.stage,
      deltaSync: r.deltaSync,
    }),
  }),
  fromEntity: (e: Record<string, unknown>): MigrationRecord => ({
    runId: decodeKey(String(e.partitionKey)),
    status: e.status as MigrationRunState,
    phase: String(e.phase ?? ''),
    ...optional({
      teamId: str(e.teamId),
      operationUrl: str(e.operationUrl),
      teamRequestedAt: str(e.teamRequestedAt),
      lastError: str(e.lastError),
    }),
    createdAt: String(e.createdAt ?? ''),
    updatedAt: String(e.updatedAt ?? ''),
    counters: str(e.counters) ? (JSON.parse(String(e.counters)) as Record<string, number>) : {},
    ...(str(e.stage) ? { stage: e.stage as MigrationStage } : {}),
    ...(typeof e.deltaSync === 'boolean' ? { deltaSync: e.deltaSync } : {}),
  }),
};

/** Table row <-> ChannelRecord. */
export const channelRows = {
  keys: (runId: string, channelKey: string) => ({
    partitionKey: encodeKey(runId),
    rowKey: encodeKey(channelKey),
  }),
  toEntity: (r: Partial<ChannelRecord> & { runId: string; channelKey: string }): Entity => ({
    ...channelRows.keys(r.runId, r.channelKey),
    ...defined({
      teamsChannelId: r.teamsChannelId,
      state: r.state,
      pass: r.pass,
      cursor: r.cursor,
      planAt: r.planAt,
      posted: r.posted,
      failed: r.failed,
      missing: r.missing,
      throttled: r.throttled,
      lastError: clip(r.lastError),
      error: clip(r.error),
      waitUntil: r.waitUntil,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      editedInSlack: r.editedInSlack,
      deletedInSlack: r.deletedInSlack,
      throughput: r.throughput,
      requestedAt: r.requestedAt,
      diverted: clip(r.diverted),
      notCreated: clip(r.notCreated),
      unmappedMembers: r.unmappedMembers,
      updatedAt: r.updatedAt,
    }),
  }),
  fromEntity: (e: Record<string, unknown>): ChannelRecord => ({
    runId: decodeKey(String(e.partitionKey)),
    channelKey: decodeKey(String(e.rowKey)),
    ...optional({
      teamsChannelId: str(e.teamsChannelId),
      pass: str(e.pass),
      planAt: str(e.planAt),
      lastError: str(e.lastError),
      error: str(e.error),
      waitUntil: str(e.waitUntil),
      startedAt: str(e.startedAt),
      finishedAt: str(e.finishedAt),
      throughput: str(e.throughput),
      requestedAt: str(e.requestedAt),
      diverted: str(e.diverted),
      notCreated: str(e.notCreated),
      unmappedMembers: str(e.unmappedMembers),
    }),
    state: e.state as ChannelState,
    cursor: num(e.cursor),
    posted: num(e.posted),
    failed: num(e.failed),
    missing: num(e.missing),
    throttled: num(e.throttled),
    ...(e.editedInSlack !== undefined ? { editedInSlack: num(e.editedInSlack) } : {}),
    ...(e.deletedInSlack !== undefined ? { deletedInSlack: num(e.deletedInSlack) } : {}),
    updatedAt: String(e.updatedAt ?? ''),
  }),
};

/** Digits of a plan position in a row key: ten, so row keys sort as `seq` does. */
const SEQ_DIGITS = 10;

/**
 * Row keys of a channel's message partition in the plan-ordered layout. Each starts with `!` and a letter that
 * is not a hex digit, which `encodeKey` never writes (it escapes `!` as `!21`), so these rows never collide
 * with rows of the key-ordered layout (row key = the encoded message key) and list apart from them:
 * - `!m<seq>`: one per planned message with an outcome, in plan order (a batch reads them from its cursor);
 * - `!r<seq>`: one per message that failed (`open` while it stays failed), so the failures read apart;
 * - `!p<key>`: the Teams id of a posted top-level message by its key, for the replies of its thread;
 * - `!s`: the partition's counts (posted, missing), written in the same transaction as the rows they count.
 */
export const planRows = {
  message: (seq: number): string => `!m${String(seq).padStart(SEQ_DIGITS, '0')}`,
  failure: (seq: number): string => `!r${String(seq).padStart(SEQ_DIGITS, '0')}`,
  parent: (key: string): string => `!p${encodeKey(key)}`,
  summary: '!s',
  /** The row-key range of each kind: from `ge` (inclusive) to `lt`. */
  messagesFrom: (seq: number) => ({ ge: planRows.message(seq), lt: '!n' }),
  failures: { ge: '!r', lt: '!s' },
  /** A row of this layout (not a message row of the key-ordered layout). */
  isPlanRow: (rowKey: string): boolean => /^![mprs]/.test(rowKey),
};

/** Table row <-> MessageRecord; the partition is the run and channel. */
export const messageRows = {
  partition: (runId: string, channelKey: string) => compositeKey(runId, channelKey),
  toEntity: (runId: string, channelKey: string, r: MessageRecord): Entity => ({
    partitionKey: messageRows.partition(runId, channelKey),
    rowKey: r.seq === undefined ? encodeKey(r.key) : planRows.message(r.seq),
    ...(r.seq === undefined ? {} : { key: r.key, seq: r.seq }),
    ...defined({
      teamsId: r.teamsId,
      createdDateTime: r.createdDateTime,
      state: r.state,
      error: clip(r.error),
      reactionsRefused: r.reactionsRefused,
      fingerprint: r.fingerprint,
      changed: r.changed,
      teamsLink: r.teamsLink,
      slackLink: r.slackLink,
    }),
  }),
  fromEntity: (e: Record<string, unknown>): MessageRecord => ({
    key: typeof e.key === 'string' ? e.key : decodeKey(String(e.rowKey)),
    ...(typeof e.seq === 'number' ? { seq: e.seq } : {}),
    ...optional({
      teamsId: str(e.teamsId),
      error: str(e.error),
      fingerprint: str(e.fingerprint),
      teamsLink: str(e.teamsLink),
      slackLink: str(e.slackLink),
    }),
    createdDateTime: String(e.createdDateTime ?? ''),
    state: e.state as MessageState,
    ...(e.reactionsRefused === true ? { reactionsRefused: true } : {}),
    ...(e.changed === 'edited' || e.changed === 'deleted' ? { changed: e.changed } : {}),
  }),
};

/** The row key of a pass: its number, zero-padded so rows list in order. */
export const passRowKey = (pass: number): string => String(pass).padStart(6, '0');

/** Table row <-> PassRecord; the partition is the run. */
export const passRows = {
  keys: (runId: string, pass: number) => ({ partitionKey: encodeKey(runId), rowKey: passRowKey(pass) }),
  toEntity: (r: Partial<PassRecord> & { runId: string; pass: number }): Entity => ({
    ...passRows.keys(r.runId, r.pass),
    ...defined({
      kind: r.kind,
      source: r.source,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      outcome: r.outcome,
      newMessages: r.newMessages,
      posted: r.posted,
      failed: r.failed,
      editedInSlack: r.editedInSlack,
      deletedInSlack: r.deletedInSlack,
      workspace: r.workspace,
      newestMessage: r.newestMessage,
      error: clip(r.error),
      postedBefore: r.postedBefore,
      updatedAt: r.updatedAt,
    }),
  }),
  fromEntity: (e: Record<string, unknown>): PassRecord => ({
    runId: decodeKey(String(e.partitionKey)),
    pass: Number(e.rowKey),
    kind: e.kind as PassKind,
    source: String(e.source ?? ''),
    startedAt: String(e.startedAt ?? ''),
    ...optional({
      finishedAt: str(e.finishedAt),
      workspace: str(e.workspace),
      newestMessage: str(e.newestMessage),
      error: str(e.error),
    }),
    outcome: e.outcome as PassOutcome,
    newMessages: num(e.newMessages),
    posted: num(e.posted),
    failed: num(e.failed),
    editedInSlack: num(e.editedInSlack),
    deletedInSlack: num(e.deletedInSlack),
    ...(e.postedBefore !== undefined ? { postedBefore: num(e.postedBefore) } : {}),
    updatedAt: String(e.updatedAt ?? ''),
  }),
};

/** Table row <-> UserRecord. */
export const userRows = {
  toEntity: (runId: string, r: UserRecord): Entity => ({
    partitionKey: encodeKey(runId),
    rowKey: encodeKey(r.sourceUserId),
    ...defined({ entraId: r.entraId, displayName: r.displayName, matchedBy: r.matchedBy }),
  }),
  fromEntity: (e: Record<string, unknown>): UserRecord => ({
    sourceUserId: decodeKey(String(e.rowKey)),
    ...optional({ entraId: str(e.entraId), displayName: str(e.displayName) }),
    matchedBy: e.matchedBy as UserMatch,
  }),
};

function optional<T extends Record<string, string | undefined>>(values: T): Partial<Record<keyof T, string>> {
  return defined(values) as Partial<Record<keyof T, string>>;
}
