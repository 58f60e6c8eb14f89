import type { PostingSlot } from '../graph/budget';
import { GraphError, MaybeCommittedError } from '../graph/errors';
import { buildImportMessage, messageIdFor, type MessageAuthor } from '../graph/messageBody';
import { refusesReactions, tenantDirectory, type TenantDirectory } from '../graph/nativeContent';
import { channelPacingKey } from '../graph/pacing';
import type { PlannedMessage } from '../model';
import type { ChannelRecord, UserRecord } from '../state/ledgerRecords';
import { ChannelProgress } from './channelProgress';
import type { PostMessagesInput, PostMessagesResult } from './contracts';
import type { PipelineDeps } from './deps';
import { FileFailure, MessageFiles } from './files';
import { channelImportState, isImportRefused, readBackCompleted, type StepOutcome } from './reconcile';
import { FALLBACK_USER_KEY } from './users';

/** Answers that concern one message only: it is recorded as failed and the channel goes on. */
const MESSAGE_LEVEL_STATUS = new Set([400, 413]);
/** Re-sends of one message after a lost answer that the service does not show as committed. */
const MAX_SENDS = 3;

/** A message that could not be imported, with the reason the report shows. */
class MessageFailure extends Error {}

/** The reason recorded on a reply whose thread's first message is not posted. */
export function parentFailedReason(parentKey: string): string {
  return `its thread's first message (${parentKey}) failed`;
}

/**
 * Posts a channel's plan in order from the pass's cursor until the plan ends, the time budget is spent, the
 * channel's posting slot is lost or the service asks for a longer wait than a request waits (then
 * `waitUntil` says when to call again).
 *
 * The channel posts only while it holds a slot of the tenant's budget (`deps.budget`), shared with every
 * migration and process of the app: taken before the batch, renewed while it posts, given back when it
 * ends; a free slot goes first to the waiting channel with the most messages left. When no slot is free
 * for it the step posts nothing and answers with a short `waitUntil` (`budgetWait`), so the channel waits
 * on a durable timer instead of in a running activity.
 *
 * The service is the truth: while the ledger is behind the plan, the channel's state is read from Teams
 * first, and a completed channel (or one whose import the service refuses with 403) is read back into the
 * ledger (`readBackCompleted`) and never posted into. Posted messages reach the ledger a second apart, off
 * the posting path; one posted but not yet recorded when the run dies gets a 409 on its next POST, resolved
 * by looking it up by its planned time, so a re-run neither repeats nor loses a message.
 *
 * Each message is tried once per pass (a run of the channel's orchestration from its first batch): a
 * failure is recorded with its reason and the cursor moves past it, so a pass always reaches the end of
 * the plan; the next pass tries the failures again. A reply whose thread's first message is not posted
 * waits for it: it is recorded as failed ("its thread's first message failed") without being sent.
 */
export async function postMessages(
  deps: PipelineDeps,
  input: PostMessagesInput,
): Promise<PostMessagesResult> {
  const record = (await deps.ledger.getChannel(input.migrationId, input.channelKey))?.value;
  const left = Math.max(0, (input.planned ?? 0) - (record?.pass === input.pass ? record.cursor : 0));
  const slot = await deps.budget.take(channelPacingKey(input.teamId, input.channelId), left);
  if (!slot) return waitForBudget(deps, record);
  try {
    return await postHolding(deps, input, slot);
  } finally {
    await slot.release();
  }
}

/** The answer of a step that found no posting slot free for it: the channel's counts, and when to ask again. */
function waitForBudget(deps: PipelineDeps, record: ChannelRecord | undefined): PostMessagesResult {
  return {
    done: false,
    waitUntil: new Date(deps.now() + deps.budget.retryMs()).toISOString(),
    budgetWait: true,
    channelCompleted: record?.state === 'completed',
    posted: record?.posted ?? 0,
    failed: record?.failed ?? 0,
    missing: record?.missing ?? 0,
    throttled: 0,
  };
}

async function postHolding(
  deps: PipelineDeps,
  input: PostMessagesInput,
  slot: PostingSlot,
): Promise<PostMessagesResult> {
  const address = {
    runId: input.migrationId,
    teamId: input.teamId,
    channelId: input.channelId,
    channelKey: input.channelKey,
  };
  const progress = await ChannelProgress.load(deps, address, input.pass);
  const deadline = deps.now() + input.timeBudgetMs;

  let completed = progress.record.state === 'completed';
  if (!completed && progress.behind)
    completed = (await channelImportState(deps.graph, input.teamId, input.channelId)) === 'completed';
  let outcome: StepOutcome | 'refused' = completed
    ? await readBackCompleted(deps, progress, deadline)
    : await postFromCursor(deps, progress, deadline, slot);
  if (outcome === 'refused') {
    completed = true;
    outcome = await readBackCompleted(deps, progress, deadline);
  }
  return {
    done: outcome.done,
    ...(outcome.waitUntil ? { waitUntil: outcome.waitUntil } : {}),
    channelCompleted: completed,
    ...progress.counts,
    throttled: progress.throttled,
  };
}

/**
 * The posting loop of an open channel, while `slot` is held. Resolves to `'refused'` when the service
 * refuses imports into the channel and Teams does not show it open: the caller reads it back instead.
 */
async function postFromCursor(
  deps: PipelineDeps,
  progress: ChannelProgress,
  deadline: number,
  slot: PostingSlot,
): Promise<StepOutcome | 'refused'> {
  const { runId, teamId, channelId, channelKey } = progress.address;
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
  let done = false;
  let recorded = false;
  const checkpoint = async (waitUntil?: string): Promise<void> => {
    await progress.checkpoint({ state: 'posting', ...(waitUntil ? { waitUntil } : {}) });
    recorded = true;
  };
  try {
    for await (const msg of progress.plan()) {
      if (progress.outcomeOf(msg) === 'posted') {
        progress.advance(msg);
        continue;
      }
      if (deps.now() >= deadline || !slot.held()) {
        await checkpoint();
        return { done: false };
      }
      const parentId = msg.parentKey === undefined ? undefined : await progress.postedTopLevel(msg.parentKey);
      if (msg.parentKey !== undefined && parentId === undefined) {
        progress.markFailed(msg, parentFailedReason(msg.parentKey));
      } else {
        try {
          const teamsId = await poster.post(msg, parentId);
          progress.markPosted(msg, teamsId, { reactionsRefused: poster.reactionsRefused.has(msg.key) });
        } catch (err) {
          if (err instanceof MessageFailure) progress.markFailed(msg, err.message);
          else if (isImportRefused(err)) {
            if ((await channelImportState(deps.graph, teamId, channelId)) === 'open') throw err;
            await checkpoint();
            return 'refused';
          } else if (err instanceof GraphError && err.longWait && err.retryAfterMs !== undefined) {
            const waitUntil = new Date(deps.now() + err.retryAfterMs).toISOString();
            await checkpoint(waitUntil);
            return { done: false, waitUntil };
          } else throw err;
        }
      }
      progress.advance(msg);
      progress.maybeCheckpoint();
    }
    done = true;
  } catch (err) {
    await checkpoint().catch(() => undefined);
    throw err;
  } finally {
    await poster.close(done && progress.failed.size === 0, recorded);
  }
  await progress.checkpoint({
    state: progress.failed.size === 0 ? 'posted' : 'posting',
    ...(progress.failed.size === 0 && !progress.record.finishedAt
      ? { finishedAt: new Date(deps.now()).toISOString() }
      : {}),
  });
  return { done: true };
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

  /**
   * Releases the export; `channelDone` (every planned message posted) also drops the staged file bytes,
   * `postedRecorded` (the step's outcomes are in the ledger) those of the inline images it posted.
   */
  async close(channelDone: boolean, postedRecorded: boolean): Promise<void> {
    await this.files.close(channelDone, postedRecorded);
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
