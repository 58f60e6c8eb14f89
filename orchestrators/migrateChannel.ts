import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import {
  Activity,
  Orchestrator,
  type CompleteChannelInput,
  type EnsureChannelInput,
  type EnsureChannelResult,
  type MigrateChannelInput,
  type MigrateChannelResult,
  type PostMessagesInput,
  type PostMessagesResult,
} from '../activities/names';
import { activityRetry } from './retry';

/**
 * Imports one channel in one pass: ensures it, posts its plan in time-bounded batches (each checkpointed in
 * the ledger; each message tried once per pass, so the pass always ends), waits on a durable timer when the
 * service asks for a longer wait than a request waits, continues as new every `batchesPerExecution` batches
 * to bound its history, then completes the channel unless the pass completes nothing (`complete: false`: a
 * pre-staged pass), it is General (its parent completes General last), Teams already shows it completed, or
 * some messages failed (unless `completeOnErrors`).
 */
export const migrateChannel: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<MigrateChannelInput>();
  const { migrationId, teamId, channel } = input;
  let channelId = input.channelId;
  if (!channelId) {
    const ensure: EnsureChannelInput = { migrationId, teamId, channel };
    const ensured = (yield context.df.callActivityWithRetry(
      Activity.ensureChannel,
      activityRetry(),
      ensure,
    )) as EnsureChannelResult;
    channelId = ensured.channelId;
  }

  let throttled = input.throttled;
  let batch: PostMessagesResult | undefined;
  for (let i = 0; i < input.batchesPerExecution && !batch?.done; i++) {
    const post: PostMessagesInput = {
      migrationId,
      teamId,
      channelId,
      channelKey: channel.key,
      pass: input.pass,
      timeBudgetMs: input.batchSeconds * 1000,
      planned: channel.messages,
    };
    batch = (yield context.df.callActivityWithRetry(
      Activity.postMessages,
      activityRetry(),
      post,
    )) as PostMessagesResult;
    throttled += batch.throttled;
    context.df.setCustomStatus({
      channel: channel.teamsName,
      posted: batch.posted,
      failed: batch.failed,
      missing: batch.missing,
      total: channel.messages,
      throttled,
      ...(batch.waitUntil ? { waitingUntil: batch.waitUntil } : {}),
      ...(batch.budgetWait ? { waitingFor: 'a posting slot of the tenant budget' } : {}),
    });
    if (batch.waitUntil) yield context.df.createTimer(new Date(batch.waitUntil));
  }
  if (!batch?.done) {
    const next: MigrateChannelInput = { ...input, channelId, throttled, execution: input.execution + 1 };
    context.df.continueAsNew(next);
    return undefined;
  }

  let completed = batch.channelCompleted;
  const completing = (input.complete ?? true) && !channel.isGeneral;
  if (!completed && completing && (batch.failed === 0 || input.completeOnErrors)) {
    const complete: CompleteChannelInput = { migrationId, teamId, channelId, channelKey: channel.key };
    yield context.df.callActivityWithRetry(Activity.completeChannel, activityRetry(), complete);
    completed = true;
  }
  const result: MigrateChannelResult = {
    key: channel.key,
    channelId,
    posted: batch.posted,
    failed: batch.failed,
    missing: batch.missing,
    throttled,
    completed,
  };
  return result;
};

df.app.orchestration(Orchestrator.migrateChannel, migrateChannel);
