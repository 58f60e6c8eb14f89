import type { Readable } from 'node:stream';
import { channelPacingKey } from '../graph/pacing';
import { addToSeries, decodeSeries, encodeSeries, type MinuteBucket } from '../operations/throughput';
import type { PlannedChannel, PlannedMessage } from '../model';
import type {
  ChannelPatch,
  ChannelRecord,
  MessageChange,
  MessageCounts,
  MessageRecord,
  MessageState,
} from '../state/ledger';
import type { PipelineDeps } from './deps';
import { channelSegments, readManifest } from './runStore';

/** How often message rows, the cursor and the counts reach the ledger while a step runs. */
const CHECKPOINT_MS = 1000;
/** Message outcomes that start a write at once (a transaction takes 100 rows; an outcome writes up to 3). */
const MAX_PENDING_ROWS = 30;

/** Which channel of which run a step works on. */
export interface ChannelAddress {
  runId: string;
  teamId: string;
  channelId: string;
  channelKey: string;
  /** The run whose staged plan holds the messages, when the ledger rows live under another run id (a chat's). */
  planRunId?: string;
}

/** Where a planned message's line starts in a channel's plan: its `seq`, the plan file's index, the byte offset. */
interface PlanPosition {
  seq: number;
  segment: number;
  offset: number;
}

/** The plan's start. */
const PLAN_START: PlanPosition = { seq: 0, segment: 0, offset: 0 };

/** What a step knows of one planned message's outcome. */
interface Known {
  state: MessageState;
  teamsId?: string;
}

/**
 * A channel's progress as the ledger holds it, read so that a step costs the same at the end of a large
 * channel as at its start: the counts (one row), the failures standing (one row each), then, as the plan is
 * read from the cursor on, the message rows from the cursor on (in plan order, a page at a time), and a
 * thread's first message by its key when a reply needs it. The plan is read from the byte where the cursor's
 * line starts (kept on the channel row as `planAt`), not from its start.
 *
 * Outcomes are written back as they change: message rows in transactions of at most 100 rows, each with the
 * partition's counts as they stand once it is in (so the counts never disagree with the rows), then the
 * channel row's cursor and counts, about a second apart in the background (off the posting path: a write
 * that waits for the store does not hold the next POST back) and at the end of the step. A message counts as
 * done for the ledger only once its row is written, so a crash loses at most the last second or two of
 * outcomes, which the next step finds again (a 409 or a lookup by planned time).
 *
 * A channel whose rows are still in the key-ordered layout of earlier versions is moved to the plan-ordered
 * one by the first step that loads it (one read of every row, once).
 */
export class ChannelProgress {
  /** Planned key -> why it failed: every failure standing. */
  readonly failed = new Map<string, string>();
  /** The `seq` of the next planned message this pass has not tried. */
  cursor: number;
  /** Outcomes read from the ledger (from where the plan was read) or recorded by this step. */
  private readonly known = new Map<string, Known>();
  /** Teams ids of thread-starting messages read from the ledger by key (undefined: not posted when read). */
  private readonly topLevel = new Map<string, string | undefined>();
  private postedCount: number;
  private missingCount: number;
  /** The counts the partition's counts row holds as far as this step knows. */
  private stored: MessageCounts;
  /** Where the cursor's line starts, when known; the message line last handed out and where the next starts. */
  private position: PlanPosition | undefined;
  private lastRead: { seq: number; next: PlanPosition } | undefined;
  private pending: MessageChange[] = [];
  /** The background write under way, and the error of one that failed (raised by the next checkpoint). */
  private writing: Promise<void> | undefined;
  private writeFailure: unknown;
  private checkpointAt: number;
  private lastFailed: string | undefined;
  private readonly startedAt: number;
  private readonly throttleKey: string;
  private readonly throttledBefore: number;
  /** Messages posted per minute (the ledger row's series, plus what this step posted). */
  private series: MinuteBucket[];
  /** Messages posted since the last write, added to the series' current minute by the next one. */
  private postedSinceWrite = 0;

  private constructor(
    private readonly deps: PipelineDeps,
    readonly address: ChannelAddress,
    readonly planned: PlannedChannel,
    readonly record: ChannelRecord,
    counts: MessageCounts,
    failures: MessageRecord[],
    /** The pass this step belongs to; a new pass starts its cursor over, so each failure is tried again once. */
    readonly pass: string | undefined,
  ) {
    for (const row of failures) {
      this.failed.set(row.key, row.error ?? 'failed');
      this.known.set(row.key, { state: 'failed' });
    }
    this.stored = { ...counts };
    this.postedCount = counts.posted;
    this.missingCount = counts.missing;
    const samePass = pass === undefined || record.pass === pass;
    this.cursor = samePass ? record.cursor : 0;
    this.position = this.cursor === 0 ? PLAN_START : parsePlanAt(record.planAt, this.cursor);
    this.startedAt = deps.now();
    this.checkpointAt = this.startedAt;
    this.throttleKey = channelPacingKey(address.teamId, address.channelId);
    this.throttledBefore = deps.throttles.count(this.throttleKey);
    this.series = decodeSeries(record.throughput);
  }

  /** 429 answers this channel got since the step loaded its progress. */
  get throttled(): number {
    return this.deps.throttles.count(this.throttleKey) - this.throttledBefore;
  }

  /**
   * Loads the channel's plan entry, ledger row (created when absent), counts and standing failures; moves
   * rows of the key-ordered layout to the plan-ordered one first.
   */
  static async load(
    deps: PipelineDeps,
    address: ChannelAddress,
    pass?: string,
    plan?: PlannedChannel,
  ): Promise<ChannelProgress> {
    const planned =
      plan ??
      (await readManifest(deps.store, address.runId)).channels.find((c) => c.key === address.channelKey);
    if (!planned)
      throw new Error(`Run '${address.runId}' has no channel '${address.channelKey}' in its plan.`);
    const { runId, channelKey } = address;
    const { value: record } = await deps.ledger.ensureChannelRow(runId, channelKey, {
      teamsChannelId: address.channelId,
    });
    let counts = await deps.ledger.getMessageCounts(runId, channelKey);
    if (!counts && (await deps.ledger.hasMessageRows(runId, channelKey)))
      counts = await deps.ledger.moveToPlanOrder(
        runId,
        channelKey,
        await planPositions(deps, address.planRunId ?? runId, planned),
      );
    const failures = counts ? await deps.ledger.getFailures(runId, channelKey) : [];
    return new ChannelProgress(
      deps,
      address,
      planned,
      record,
      counts ?? { posted: 0, missing: 0 },
      failures,
      pass,
    );
  }

  /** Messages posted, failed and missing, as the ledger holds them with this step's outcomes. */
  get counts(): { posted: number; failed: number; missing: number } {
    return { posted: this.postedCount, failed: this.failed.size, missing: this.missingCount };
  }

  /** True when the ledger does not hold every planned message as posted or missing. */
  get behind(): boolean {
    return this.postedCount + this.missingCount < this.planned.messages;
  }

  /** The outcome of a message the plan has handed out (undefined: none yet). */
  outcomeOf(msg: PlannedMessage): MessageState | undefined {
    return this.known.get(msg.key)?.state;
  }

  /** The Teams id of a thread's first message when it is posted: from this step, else the ledger (by key). */
  async postedTopLevel(key: string): Promise<string | undefined> {
    const known = this.known.get(key);
    if (known) return known.state === 'posted' ? known.teamsId : undefined;
    if (!this.topLevel.has(key))
      this.topLevel.set(
        key,
        await this.deps.ledger.getPostedTopLevel(this.address.runId, this.address.channelKey, key),
      );
    return this.topLevel.get(key);
  }

  /**
   * The channel's planned messages in posting order from `from` (default: the cursor) to the end of every
   * pass's segment. The plan is read from the byte where the cursor's line starts when that is known (else
   * from the start, lines before `from` skipped), and the ledger's message rows from `from` on are read
   * alongside, a page at a time, so `outcomeOf` knows each message's outcome when it is handed out.
   */
  async *plan(from = this.cursor): AsyncGenerator<PlannedMessage> {
    const { runId, channelKey } = this.address;
    const start = this.position?.seq === from ? this.position : PLAN_START;
    const rows = this.deps.ledger.messagesFrom(runId, channelKey, from);
    let row: (MessageRecord & { seq: number }) | undefined;
    let rowsLeft = true;
    try {
      const segments = channelSegments(this.address.planRunId ?? runId, this.planned);
      for (let index = start.segment; index < segments.length; index++) {
        const segment = segments[index];
        if (segment.messages === 0) continue;
        const offset = index === start.segment ? start.offset : 0;
        for await (const { line, end } of linesFrom(
          await this.deps.store.stream(segment.name, offset),
          offset,
        )) {
          if (!line.trim()) continue;
          const msg = JSON.parse(line) as PlannedMessage;
          if (msg.seq < from) continue;
          while (rowsLeft) {
            if (!row) {
              const next = await rows.next();
              if (next.done) {
                rowsLeft = false;
                break;
              }
              row = next.value;
            }
            if (row.seq > msg.seq) break;
            if (!this.known.has(row.key))
              this.known.set(row.key, { state: row.state, ...(row.teamsId ? { teamsId: row.teamsId } : {}) });
            row = undefined;
          }
          this.lastRead = { seq: msg.seq, next: { seq: msg.seq + 1, segment: index, offset: end } };
          yield msg;
        }
      }
    } finally {
      await rows.return(undefined);
    }
  }

  /** Records a posted message; `reactionsRefused` when it went with the reaction line instead of native reactions. */
  markPosted(msg: PlannedMessage, teamsId: string, extra: { reactionsRefused?: boolean } = {}): void {
    this.change(msg, {
      key: msg.key,
      teamsId,
      createdDateTime: msg.createdDateTime,
      state: 'posted',
      ...(extra.reactionsRefused ? { reactionsRefused: true } : {}),
      ...(msg.fingerprint ? { fingerprint: msg.fingerprint } : {}),
    });
  }

  markFailed(msg: PlannedMessage, reason: string): void {
    this.lastFailed = msg.key;
    this.change(msg, { key: msg.key, createdDateTime: msg.createdDateTime, state: 'failed', error: reason });
  }

  markMissing(msg: PlannedMessage, reason: string): void {
    this.change(msg, { key: msg.key, createdDateTime: msg.createdDateTime, state: 'missing', error: reason });
  }

  /** One outcome: the counts move from the message's previous outcome to this one, and its rows are queued. */
  private change(msg: PlannedMessage, record: MessageRecord): void {
    const before = this.known.get(msg.key)?.state;
    const delta = {
      posted: Number(record.state === 'posted') - Number(before === 'posted'),
      missing: Number(record.state === 'missing') - Number(before === 'missing'),
    };
    this.postedCount += delta.posted;
    this.missingCount += delta.missing;
    if (delta.posted > 0) this.postedSinceWrite += 1;
    if (record.state === 'failed') this.failed.set(msg.key, record.error ?? 'failed');
    else this.failed.delete(msg.key);
    this.known.set(msg.key, { state: record.state, ...(record.teamsId ? { teamsId: record.teamsId } : {}) });
    this.pending.push({
      record: { ...record, seq: msg.seq },
      topLevel: msg.parentKey === undefined,
      wasFailed: before === 'failed',
      delta,
    });
  }

  /** Marks the message as tried in this pass. */
  advance(msg: PlannedMessage): void {
    this.cursor = Math.max(this.cursor, msg.seq + 1);
    if (this.lastRead?.seq === msg.seq && this.lastRead.next.seq === this.cursor)
      this.position = this.lastRead.next;
  }

  /**
   * Starts writing what changed, in the background, when enough has piled up or a second has passed and no
   * write is under way; throws the error of a background write that failed.
   */
  maybeCheckpoint(): void {
    if (this.writeFailure !== undefined) throw this.writeFailure;
    if (this.writing) return;
    if (this.pending.length < MAX_PENDING_ROWS && this.deps.now() - this.checkpointAt < CHECKPOINT_MS) return;
    this.writing = this.write({}).then(
      () => {
        this.writing = undefined;
      },
      (err: unknown) => {
        this.writeFailure = err;
        this.writing = undefined;
      },
    );
  }

  /** The latest failure still standing, as `key: reason`. */
  private lastFailure(): string {
    const key =
      this.lastFailed !== undefined && this.failed.has(this.lastFailed)
        ? this.lastFailed
        : this.failed.keys().next().value!;
    return `${key}: ${this.failed.get(key)}`;
  }

  /**
   * Writes the pending message rows, then the channel row: cursor, pass, counts, the latest failure, the
   * messages posted per minute (the last 360 minutes), and `patch`. A checkpoint clears a wait for a long
   * throttle (unless `patch` sets one) and, in a new pass, the error of the previous pass's import.
   */
  async checkpoint(patch: ChannelPatch = {}): Promise<void> {
    await this.writing;
    if (this.writeFailure !== undefined) {
      const failure = this.writeFailure;
      this.writeFailure = undefined;
      throw failure;
    }
    await this.write(patch);
  }

  /**
   * One write: the message rows pending now, then the channel row as it stands now (taken before anything is
   * awaited, so the cursor never runs ahead of the rows written). Rows whose write failed are kept for the next.
   */
  private async write(patch: ChannelPatch): Promise<void> {
    this.checkpointAt = this.deps.now();
    const rows = this.pending;
    this.pending = [];
    this.series = addToSeries(this.series, this.checkpointAt, this.postedSinceWrite);
    this.postedSinceWrite = 0;
    const channel: ChannelPatch = {
      ...(this.record.startedAt ? {} : { startedAt: new Date(this.startedAt).toISOString() }),
      ...(this.pass !== undefined ? { pass: this.pass } : {}),
      ...(this.pass !== undefined && this.pass !== this.record.pass ? { error: '' } : {}),
      cursor: this.cursor,
      ...(this.position?.seq === this.cursor
        ? { planAt: `${this.cursor}:${this.position.segment}:${this.position.offset}` }
        : {}),
      posted: this.postedCount,
      failed: this.failed.size,
      missing: this.missingCount,
      throttled: this.record.throttled + this.throttled,
      lastError: this.failed.size === 0 ? '' : this.lastFailure(),
      waitUntil: '',
      throughput: encodeSeries(this.series),
      ...patch,
    };
    try {
      if (rows.length > 0)
        this.stored = await this.deps.ledger.writeMessageChanges(
          this.address.runId,
          this.address.channelKey,
          rows,
          this.stored,
        );
    } catch (err) {
      this.pending = [...rows, ...this.pending];
      throw err;
    }
    await this.deps.ledger.updateChannel(this.address.runId, this.address.channelKey, channel);
  }
}

/** Parses a channel row's `planAt` when it belongs to `cursor`. */
function parsePlanAt(planAt: string | undefined, cursor: number): PlanPosition | undefined {
  const match = /^(\d+):(\d+):(\d+)$/.exec(planAt ?? '');
  if (!match || Number(match[1]) !== cursor) return undefined;
  return { seq: cursor, segment: Number(match[2]), offset: Number(match[3]) };
}

/** The lines of a stream that starts at byte `start` of its file, each with the byte offset just past it. */
async function* linesFrom(stream: Readable, start: number): AsyncGenerator<{ line: string; end: number }> {
  let head: Buffer[] = [];
  let headLength = 0;
  let at = start;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let from = 0;
    for (let newline = chunk.indexOf(10, from); newline !== -1; newline = chunk.indexOf(10, from)) {
      const piece = chunk.subarray(from, newline);
      const bytes = headLength > 0 ? Buffer.concat([...head, piece]) : piece;
      at += bytes.length + 1;
      head = [];
      headLength = 0;
      from = newline + 1;
      yield { line: bytes.toString('utf8'), end: at };
    }
    if (from < chunk.length) {
      head.push(chunk.subarray(from));
      headLength += chunk.length - from;
    }
  }
  if (headLength > 0) yield { line: Buffer.concat(head).toString('utf8'), end: at + headLength };
}

/** Every planned message's position and whether it starts a thread, by key (moving rows to plan order). */
async function planPositions(
  deps: PipelineDeps,
  runId: string,
  planned: PlannedChannel,
): Promise<Map<string, { seq: number; topLevel: boolean }>> {
  const positions = new Map<string, { seq: number; topLevel: boolean }>();
  for (const segment of channelSegments(runId, planned)) {
    if (segment.messages === 0) continue;
    for await (const { line } of linesFrom(await deps.store.stream(segment.name), 0)) {
      if (!line.trim()) continue;
      const msg = JSON.parse(line) as PlannedMessage;
      positions.set(msg.key, { seq: msg.seq, topLevel: msg.parentKey === undefined });
    }
  }
  return positions;
}
