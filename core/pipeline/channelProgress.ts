import { createInterface } from 'node:readline';
import { channelPacingKey } from '../graph/pacing';
import { addToSeries, decodeSeries, encodeSeries, type MinuteBucket } from '../operations/throughput';
import type { PlannedChannel, PlannedMessage } from '../model';
import type { ChannelPatch, ChannelRecord, MessageRecord } from '../state/ledger';
import type { PipelineDeps } from './deps';
import { channelSegments, readManifest } from './runStore';

/** How often message rows, the cursor and the counts reach the ledger while a step runs. */
const CHECKPOINT_MS = 1000;
/** Message rows written in one table transaction at most (the service allows 100). */
const MAX_PENDING_ROWS = 50;

/** Which channel of which run a step works on. */
export interface ChannelAddress {
  runId: string;
  teamId: string;
  channelId: string;
  channelKey: string;
  /** The run whose staged plan holds the messages, when the ledger rows live under another run id (a chat's). */
  planRunId?: string;
}

/**
 * A channel's progress as the ledger holds it (posted, failed and missing messages, the pass and its
 * cursor), loaded once per step and written back as it changes: message rows in transactions of at most
 * 50, then the channel row's cursor and counts, about a second apart in the background (off the posting
 * path: a write that waits for the store does not hold the next POST back) and at the end of the step. A
 * message counts as done for the ledger only once its row is written, so a crash loses at most the last
 * second or two of outcomes, which the next step finds again (a 409 or a lookup by planned time).
 */
export class ChannelProgress {
  /** Planned key -> Teams message id. */
  readonly posted = new Map<string, string>();
  /** Planned key -> why it failed. */
  readonly failed = new Map<string, string>();
  /** Planned key -> why it can no longer be posted. */
  readonly missing = new Map<string, string>();
  /** The `seq` of the next planned message this pass has not tried. */
  cursor: number;
  private pending: MessageRecord[] = [];
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
    rows: MessageRecord[],
    /** The pass this step belongs to; a new pass starts its cursor over, so each failure is tried again once. */
    readonly pass: string | undefined,
  ) {
    for (const row of rows) {
      if (row.state === 'posted' && row.teamsId) this.posted.set(row.key, row.teamsId);
      else if (row.state === 'missing') this.missing.set(row.key, row.error ?? 'missing');
      else this.failed.set(row.key, row.error ?? 'failed');
    }
    const samePass = pass === undefined || record.pass === pass;
    this.cursor = samePass ? record.cursor : 0;
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

  /** Loads the channel's plan entry, ledger row (created when absent) and message rows. */
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
    const { value: record } = await deps.ledger.ensureChannel(address.runId, address.channelKey, {
      teamsChannelId: address.channelId,
    });
    const rows = await deps.ledger.getMessages(address.runId, address.channelKey);
    return new ChannelProgress(deps, address, planned, record, rows, pass);
  }

  /** True when the ledger does not hold every planned message as posted or missing. */
  get behind(): boolean {
    return this.posted.size + this.missing.size < this.planned.messages;
  }

  /** The channel's planned messages in posting order, streamed from the staged plan (every pass's segment). */
  async *plan(): AsyncGenerator<PlannedMessage> {
    for (const segment of channelSegments(this.address.planRunId ?? this.address.runId, this.planned)) {
      if (segment.messages === 0) continue;
      const lines = createInterface({ input: await this.deps.store.stream(segment.name) });
      try {
        for await (const line of lines) if (line.trim()) yield JSON.parse(line) as PlannedMessage;
      } finally {
        lines.close();
      }
    }
  }

  /** Records a posted message; `reactionsRefused` when it went with the reaction line instead of native reactions. */
  markPosted(msg: PlannedMessage, teamsId: string, extra: { reactionsRefused?: boolean } = {}): void {
    if (!this.posted.has(msg.key)) this.postedSinceWrite += 1;
    this.posted.set(msg.key, teamsId);
    this.failed.delete(msg.key);
    this.missing.delete(msg.key);
    this.pending.push({
      key: msg.key,
      teamsId,
      createdDateTime: msg.createdDateTime,
      state: 'posted',
      ...(extra.reactionsRefused ? { reactionsRefused: true } : {}),
      ...(msg.fingerprint ? { fingerprint: msg.fingerprint } : {}),
    });
  }

  markFailed(msg: PlannedMessage, reason: string): void {
    this.failed.set(msg.key, reason);
    this.lastFailed = msg.key;
    this.pending.push({ key: msg.key, createdDateTime: msg.createdDateTime, state: 'failed', error: reason });
  }

  markMissing(msg: PlannedMessage, reason: string): void {
    this.missing.set(msg.key, reason);
    this.failed.delete(msg.key);
    this.pending.push({
      key: msg.key,
      createdDateTime: msg.createdDateTime,
      state: 'missing',
      error: reason,
    });
  }

  /** Marks the message as tried in this pass. */
  advance(msg: PlannedMessage): void {
    this.cursor = Math.max(this.cursor, msg.seq + 1);
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
      posted: this.posted.size,
      failed: this.failed.size,
      missing: this.missing.size,
      throttled: this.record.throttled + this.throttled,
      lastError: this.failed.size === 0 ? '' : this.lastFailure(),
      waitUntil: '',
      throughput: encodeSeries(this.series),
      ...patch,
    };
    try {
      if (rows.length > 0)
        await this.deps.ledger.recordMessages(this.address.runId, this.address.channelKey, rows);
    } catch (err) {
      this.pending = [...rows, ...this.pending];
      throw err;
    }
    await this.deps.ledger.updateChannel(this.address.runId, this.address.channelKey, channel);
  }
}
