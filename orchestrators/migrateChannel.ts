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
 * Imports one channel: ensures it, posts its plan in time-bounded batches (each checkpointed in the ledger),
 * continues as new every `batchesPerExecution` batches to bound its history, then completes the channel
 * unless it is General (its parent completes General last) or some messages failed.
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
  let batch: PostMessagesResult = { done: false, posted: 0, failed: 0, throttled: 0 };
  for (let i = 0; i < input.batchesPerExecution && !batch.done; i++) {
    const post: PostMessagesInput = {
      migrationId,
      teamId,
      channelId,
      channelKey: channel.key,
      timeBudgetMs: input.batchSeconds * 1000,
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
      total: channel.messages,
      throttled,
    });
  }
  if (!batch.done) {
    const next: MigrateChannelInput = { ...input, channelId, throttled, execution: input.execution + 1 };
    context.df.continueAsNew(next);
    return undefined;
  }

  let completed = false;
  if (!channel.isGeneral && (batch.failed === 0 || input.completeOnErrors)) {
    const complete: CompleteChannelInput = { migrationId, teamId, channelId, channelKey: channel.key };
    yield context.df.callActivityWithRetry(Activity.completeChannel, activityRetry(), complete);
    completed = true;
  }
  const result: MigrateChannelResult = {
    key: channel.key,
    channelId,
    posted: batch.posted,
    failed: batch.failed,
    throttled,
    completed,
  };
  return result;
};

df.app.orchestration(Orchestrator.migrateChannel, migrateChannel);
