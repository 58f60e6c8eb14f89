import { createInterface } from 'node:readline';
import { GraphError, MaybeCommittedError } from '../graph/errors';
import { buildImportMessage, messageIdFor, type MessageAuthor } from '../graph/messageBody';
import { refusesReactions, tenantDirectory, type TenantDirectory } from '../graph/nativeContent';
import { channelPacingKey } from '../graph/pacing';
import type { PlannedMessage } from '../model';
import type { MessageRecord, UserRecord } from '../state/ledgerRecords';
import type { PostMessagesInput, PostMessagesResult } from './contracts';
import type { PipelineDeps } from './deps';
import { FileFailure, MessageFiles } from './files';
import { readManifest, runPaths } from './runStore';
import { FALLBACK_USER_KEY } from './users';

/** Answers that concern one message only: it is recorded as failed and the channel goes on. */
const MESSAGE_LEVEL_STATUS = new Set([400, 413]);
/** Re-sends of one message after a lost answer that the service does not show as committed. */
const MAX_SENDS = 3;
/** How often posted messages, the cursor and the counts reach the ledger while a batch runs. */
const CHECKPOINT_MS = 1000;
/** Message rows written in one table transaction at most (the service allows 100). */
const MAX_PENDING_ROWS = 50;

/** A message that could not be imported, with the reason the report shows. */
class MessageFailure extends Error {}

/**
 * Posts a channel's plan in order from its ledger cursor until the plan ends or the time budget is spent.
 * Posted messages (source key -> Teams id) reach the ledger in one transaction a second, off the posting
 * path; a message posted but not yet recorded when the run dies is found again on the next run, whose POST
 * gets a 409 that is resolved by looking the message up by its planned time (the service's id is its epoch
 * milliseconds). So a re-run after any crash neither repeats nor loses a message. Failed messages are
 * recorded and retried by the next run; replies whose parent failed wait for it.
 */
export async function postMessages(
  deps: PipelineDeps,
  input: PostMessagesInput,
): Promise<PostMessagesResult> {
  const { migrationId: runId, teamId, channelId, channelKey } = input;
  const started = deps.now();
  const deadline = started + input.timeBudgetMs;
  const manifest = await readManifest(deps.store, runId);
  const planned = manifest.channels.find((c) => c.key === channelKey);
  if (!planned) throw new Error(`Run '${runId}' has no channel '${channelKey}' in its plan.`);

  const { value: record } = await deps.ledger.ensureChannel(runId, channelKey, { teamsChannelId: channelId });
  const posted = new Map<string, string>();
  const failed = new Map<string, string>();
  for (const row of await deps.ledger.getMessages(runId, channelKey)) {
    if (row.state === 'posted' && row.teamsId) posted.set(row.key, row.teamsId);
    else failed.set(row.key, row.error ?? 'failed');
  }
  const users = await deps.ledger.getUsers(runId);
  const tenant = tenantDirectory(teamId, channelId, users, await deps.ledger.listChannels(runId));
  const poster = new MessagePoster(
    deps,
    runId,
    teamId,
    channelId,
    users,
    tenant,
    new MessageFiles(deps, runId, teamId, channelId, channelKey),
  );
  const throttleKey = channelPacingKey(teamId, channelId);
  const throttledBefore = deps.throttles.count(throttleKey);

  let cursor = record.cursor;
  let contiguous = true;
  let done = true;
  let checkpointAt = deps.now();
  let pending: MessageRecord[] = [];
  const checkpoint = async (final: boolean): Promise<void> => {
    checkpointAt = deps.now();
    if (pending.length > 0) {
      const rows = pending;
      pending = [];
      await deps.ledger.recordMessages(runId, channelKey, rows);
    }
    const state = final && done && failed.size === 0 ? 'posted' : 'posting';
    await deps.ledger.updateChannel(runId, channelKey, {
      ...(record.startedAt ? {} : { startedAt: new Date(started).toISOString() }),
      ...(state === 'posted' && !record.finishedAt ? { finishedAt: new Date(deps.now()).toISOString() } : {}),
      cursor,
      posted: posted.size,
      failed: failed.size,
      throttled: record.throttled + deps.throttles.count(throttleKey) - throttledBefore,
      state: record.state === 'completed' ? 'completed' : state,
      lastError: failed.size > 0 ? [...failed.values()].at(-1) : '',
    });
  };

  const lines = createInterface({
    input: await deps.store.stream(runPaths.channelPlan(runId, planned.planPath)),
  });
  try {
    for await (const line of lines) {
      if (!line.trim()) continue;
      const msg = JSON.parse(line) as PlannedMessage;
      if (msg.seq < record.cursor) continue;
      if (posted.has(msg.key)) {
        if (contiguous) cursor = msg.seq + 1;
        continue;
      }
      if (deps.now() >= deadline) {
        done = false;
        break;
      }
      const parentId = msg.parentKey === undefined ? undefined : posted.get(msg.parentKey);
      let row: MessageRecord;
      try {
        if (msg.parentKey !== undefined && parentId === undefined)
          throw new MessageFailure(`its thread's first message (${msg.parentKey}) is not posted yet`);
        const teamsId = await poster.post(msg, parentId);
        row = { key: msg.key, teamsId, createdDateTime: msg.createdDateTime, state: 'posted' };
        if (poster.reactionsRefused.has(msg.key)) row.reactionsRefused = true;
        posted.set(msg.key, teamsId);
        failed.delete(msg.key);
        if (contiguous) cursor = msg.seq + 1;
      } catch (err) {
        if (!(err instanceof MessageFailure)) throw err;
        row = { key: msg.key, createdDateTime: msg.createdDateTime, state: 'failed', error: err.message };
        failed.set(msg.key, `${msg.key}: ${err.message}`);
        contiguous = false;
      }
      pending.push(row);
      if (pending.length >= MAX_PENDING_ROWS || deps.now() - checkpointAt >= CHECKPOINT_MS)
        await checkpoint(false);
    }
  } catch (err) {
    done = false;
    await checkpoint(false).catch(() => undefined);
    throw err;
  } finally {
    lines.close();
    await poster.close(done && failed.size === 0);
  }
  await checkpoint(true);
  return {
    done,
    posted: posted.size,
    failed: failed.size,
    throttled: deps.throttles.count(throttleKey) - throttledBefore,
  };
}

/** Sends one planned message: author, inline images and file links resolved, lost answers looked up. */
class MessagePoster {
  constructor(
    private readonly deps: PipelineDeps,
    private readonly runId: string,
    private readonly teamId: string,
    private readonly channelId: string,
    private readonly users: Map<string, UserRecord>,
    private readonly tenant: TenantDirectory,
    private readonly files: MessageFiles,
  ) {}

  /** Keys of messages whose native reactions the service refused: they were posted with the text line. */
  readonly reactionsRefused = new Set<string>();

  async post(msg: PlannedMessage, parentId: string | undefined): Promise<string> {
    const author = this.author(msg);
    const prepared = await this.files.prepare(msg).catch((err: unknown) => {
      throw err instanceof FileFailure ? new MessageFailure(err.message) : err;
    });
    const build = (nativeReactions?: boolean) =>
      buildImportMessage(
        prepared.message,
        author,
        prepared.hostedBytes,
        prepared.fileUrls,
        this.tenant,
        nativeReactions,
      );
    const id = await this.send(msg, parentId, build);
    await this.files.posted(msg).catch(() => undefined);
    return id;
  }

  private async send(
    msg: PlannedMessage,
    parentId: string | undefined,
    build: (nativeReactions?: boolean) => ReturnType<typeof buildImportMessage>,
  ): Promise<string> {
    let body = build();
    for (let send = 1; ; send++) {
      try {
        const created = parentId
          ? await this.deps.graph.postReply(this.teamId, this.channelId, parentId, body)
          : await this.deps.graph.postMessage(this.teamId, this.channelId, body);
        return created.id;
      } catch (err) {
        if (err instanceof GraphError && body.reactions && refusesReactions(err.status, err.serviceMessage)) {
          body = build(false);
          this.reactionsRefused.add(msg.key);
          continue;
        }
        const conflict = err instanceof GraphError && err.status === 409;
        if (conflict || err instanceof MaybeCommittedError) {
          const existing = await this.lookUp(msg, parentId);
          if (existing) return existing;
          if (conflict)
            throw new MessageFailure(
              `409 Conflict, yet no message of this channel has its time ${msg.createdDateTime}: the plan's timestamps collide with a message posted outside this run`,
            );
          if (send < MAX_SENDS) continue;
        }
        if (err instanceof GraphError && MESSAGE_LEVEL_STATUS.has(err.status))
          throw new MessageFailure(`${err.status} ${err.code}: ${err.serviceMessage}`);
        throw err;
      }
    }
  }

  /** Releases the export; `channelDone` (every planned message posted) also drops the staged file bytes. */
  async close(channelDone: boolean): Promise<void> {
    await this.files.close(channelDone);
  }

  private author(msg: PlannedMessage): MessageAuthor {
    const user = msg.author.sourceUserId ? this.users.get(msg.author.sourceUserId) : undefined;
    if (user?.entraId && msg.author.kind !== 'bot')
      return { entraId: user.entraId, displayName: user.displayName ?? msg.author.displayName };
    const fallback = this.users.get(FALLBACK_USER_KEY);
    if (!fallback?.entraId)
      throw new MessageFailure(
        `${msg.author.displayName} has no Entra user and the run has no fallback user`,
      );
    return { fallback: { entraId: fallback.entraId, displayName: fallback.displayName ?? 'Fallback user' } };
  }

  private async lookUp(msg: PlannedMessage, parentId: string | undefined): Promise<string | undefined> {
    const id = messageIdFor(msg.createdDateTime);
    const found = parentId
      ? await this.deps.graph.getReply(this.teamId, this.channelId, parentId, id)
      : await this.deps.graph.getMessage(this.teamId, this.channelId, id);
    return found?.id;
  }
}
