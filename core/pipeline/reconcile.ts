import { GraphError } from '../graph/errors';
import { messageIdFor } from '../graph/messageBody';
import type { TeamsImportClient } from '../graph/teamsImport';
import type { PlannedMessage } from '../model';
import { ChannelProgress, type ChannelAddress } from './channelProgress';
import type { PipelineDeps } from './deps';

/** The reason recorded on planned messages that a completed channel can no longer take. */
export const COMPLETED_BEFORE_POSTED = 'the channel was completed before they were posted';

/** What Teams says about a channel: still taking imports, completed, or not saying (`migrationMode` absent). */
export type ChannelImportState = 'open' | 'completed' | 'unknown';

/** Learns from Teams whether a channel still takes imports (`GET /teams/{id}/channels/{id}`, `migrationMode`). */
export async function channelImportState(
  graph: TeamsImportClient,
  teamId: string,
  channelId: string,
): Promise<ChannelImportState> {
  const { migrationMode } = await graph.getChannel(teamId, channelId);
  if (migrationMode === 'completed') return 'completed';
  if (migrationMode === 'inProgress') return 'open';
  return 'unknown';
}

/** The service refused an import because the channel is not (or no longer) in migration mode. */
export function isImportRefused(err: unknown): boolean {
  return err instanceof GraphError && err.status === 403 && /for import purposes/i.test(err.serviceMessage);
}

/** Where a step of a channel stands when it returns: finished, or to be called again (after `waitUntil`). */
export interface StepOutcome {
  done: boolean;
  /** Set when the service asked for a longer wait than a request waits: call again after it (ISO). */
  waitUntil?: string;
}

/**
 * Brings the ledger of a completed channel up to what Teams holds: every planned message the ledger does not
 * hold as posted is looked up by its planned time (the service's message id is its epoch milliseconds;
 * lookups are paced by the client) and recorded as posted when found, else as missing with the reason
 * "the channel was completed before they were posted". Nothing is ever posted. Stops at `deadline` (or a
 * long throttle) with what it learnt checkpointed; run again, it goes on from there. When it is done the
 * channel row is `completed`.
 */
export async function readBackCompleted(
  deps: PipelineDeps,
  progress: ChannelProgress,
  deadline: number,
): Promise<StepOutcome> {
  const { teamId, channelId } = progress.address;
  try {
    for await (const msg of progress.plan(0)) {
      const outcome = progress.outcomeOf(msg);
      if (outcome === 'posted' || outcome === 'missing') continue;
      if (deps.now() >= deadline) {
        await progress.checkpoint();
        return { done: false };
      }
      const teamsId = await lookUp(deps.graph, teamId, channelId, msg, progress);
      if (teamsId) progress.markPosted(msg, teamsId);
      else {
        const failure = progress.failed.get(msg.key);
        progress.markMissing(
          msg,
          failure ? `${COMPLETED_BEFORE_POSTED} (it had failed: ${failure})` : COMPLETED_BEFORE_POSTED,
        );
      }
      progress.maybeCheckpoint();
    }
  } catch (err) {
    await progress.checkpoint().catch(() => undefined);
    if (err instanceof GraphError && err.longWait && err.retryAfterMs !== undefined)
      return { done: false, waitUntil: new Date(deps.now() + err.retryAfterMs).toISOString() };
    throw err;
  }
  await progress.checkpoint({
    state: 'completed',
    ...(progress.record.finishedAt ? {} : { finishedAt: new Date(deps.now()).toISOString() }),
  });
  return { done: true };
}

/** Which channel reconcileChannel looks at, and how long it may read. */
export interface ReconcileChannelInput {
  migrationId: string;
  teamId: string;
  channelId: string;
  channelKey: string;
  timeBudgetMs: number;
}

/** What reconcileChannel learnt, and the ledger's counts after it. */
export interface ReconcileChannelResult extends StepOutcome {
  state: ChannelImportState;
  posted: number;
  missing: number;
}

/**
 * Learns a channel's state from Teams and brings the ledger up to it: a completed channel is read back
 * (`readBackCompleted`) and never posted into. A channel still open needs nothing read: a message posted but
 * not recorded is found by the 409 its next POST gets. The step a resume, or a pass re-opening a channel,
 * runs before it posts.
 */
export async function reconcileChannel(
  deps: PipelineDeps,
  input: ReconcileChannelInput,
): Promise<ReconcileChannelResult> {
  const address: ChannelAddress = {
    runId: input.migrationId,
    teamId: input.teamId,
    channelId: input.channelId,
    channelKey: input.channelKey,
  };
  const progress = await ChannelProgress.load(deps, address);
  const state =
    progress.record.state === 'completed'
      ? 'completed'
      : await channelImportState(deps.graph, input.teamId, input.channelId);
  const outcome =
    state === 'completed'
      ? await readBackCompleted(deps, progress, deps.now() + input.timeBudgetMs)
      : { done: true };
  const { posted, missing } = progress.counts;
  return { state, ...outcome, posted, missing };
}

/** The Teams id of a planned message if the channel holds it (a reply under its thread's posted parent). */
async function lookUp(
  graph: TeamsImportClient,
  teamId: string,
  channelId: string,
  msg: PlannedMessage,
  progress: ChannelProgress,
): Promise<string | undefined> {
  const id = messageIdFor(msg.createdDateTime);
  if (msg.parentKey === undefined) return (await graph.getMessage(teamId, channelId, id))?.id;
  const parentId = await progress.postedTopLevel(msg.parentKey);
  if (parentId === undefined) return undefined;
  return (await graph.getReply(teamId, channelId, parentId, id))?.id;
}
