import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  Activity,
  Orchestrator,
  type ChatWork,
  type CompleteChatInput,
  type EnsureChatInput,
  type EnsureChatResult,
  type ExportChatInput,
  type ExportChatResult,
  type MigrateChatInput,
  type MigrateChatResult,
  type MigrateChatsInput,
  type MigrateChatsResult,
  type PlanChatsInput,
  type PlanChatsResult,
  type PostChatInput,
  type PostChatResult,
} from '../activities/names';
import { activityRetry } from './retry';

/** The instance id of a chat's sub-orchestration: derived from its parent's, so a re-run finds it again. */
export function chatInstanceId(parentInstanceId: string, chatKey: string): string {
  return `${parentInstanceId}:chat:${chatKey}`;
}

/** The outcome of a conversation that goes the OneDrive way without a chat being touched. */
function notAChat(chat: ChatWork): MigrateChatResult {
  return {
    key: chat.key,
    label: chat.label,
    way: 'onedrive',
    ...(chat.reason ? { reason: chat.reason } : {}),
    planned: chat.messages,
    posted: 0,
    failed: 0,
    missing: 0,
    completed: false,
  };
}

/**
 * Moves a migration's DMs and group DMs after its channels: decides where each goes (`planChats`: under
 * `--dms chats` a chat when every member maps to an Entra user, else the OneDrive way with the reason; under
 * `--dms onedrive` the OneDrive way), runs one `migrateChat` sub-orchestration per chat, at most
 * `concurrency` at once (the chat posting slots), largest first, then writes every conversation that goes
 * the OneDrive way (including chats the service refused) as an HTML file in its members' OneDrive. A
 * conversation whose import fails is reported with its error; the rest go on.
 */
export const migrateChats: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<MigrateChatsInput>();
  const plan: PlanChatsInput = { migrationId: input.migrationId, target: input.target };
  const { chats } = (yield context.df.callActivityWithRetry(
    Activity.planChats,
    activityRetry(),
    plan,
  )) as PlanChatsResult;
  const results: MigrateChatResult[] = chats.filter((c) => c.way !== 'chat').map(notAChat);
  const running = new Map<Task, ChatWork>();
  const settle = (task: Task): void => {
    const chat = running.get(task)!;
    running.delete(task);
    if (task.isFaulted) {
      const error = task.result instanceof Error ? task.result.message : String(task.result);
      results.push({ ...notAChat(chat), way: 'chat', error });
    } else results.push(task.result as MigrateChatResult);
    context.df.setCustomStatus({ chatsDone: results.length, chatsTotal: chats.length });
  };
  const width = Math.max(1, input.concurrency);
  for (const chat of chats.filter((c) => c.way === 'chat')) {
    const child: MigrateChatInput = {
      migrationId: input.migrationId,
      chat,
      pass: input.pass,
      batchSeconds: input.batchSeconds,
      batchesPerExecution: input.batchesPerExecution,
      completeOnErrors: input.completeOnErrors,
      execution: 0,
    };
    const task = context.df.callSubOrchestrator(
      Orchestrator.migrateChat,
      child,
      chatInstanceId(context.df.instanceId, chat.key),
    );
    running.set(task, chat);
    if (running.size >= width) settle((yield context.df.Task.any([...running.keys()])) as Task);
  }
  while (running.size > 0) settle((yield context.df.Task.any([...running.keys()])) as Task);
  for (const result of results.filter((r) => r.way === 'onedrive' && !r.error)) {
    const exportChat: ExportChatInput = { migrationId: input.migrationId, chatKey: result.key };
    try {
      const written = (yield context.df.callActivityWithRetry(
        Activity.exportChatToOneDrive,
        activityRetry(),
        exportChat,
      )) as ExportChatResult;
      result.oneDrive = { delivered: written.delivered, undelivered: written.undelivered };
    } catch (err) {
      result.error = `writing it to OneDrive failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  results.sort((a, b) => a.key.localeCompare(b.key));
  const result: MigrateChatsResult = { chats: results };
  return result;
};

/**
 * Imports one conversation into its Teams chat: ensures the chat (recorded in the ledger, reused on resume),
 * posts its plan in time-bounded `postChat` batches (each stages files before the chat goes into migration
 * mode, then imports; waits for a chat posting slot or a long throttle on a durable timer), continues as new
 * every `batchesPerExecution` batches, then completes the chat at once unless some messages failed (unless
 * `completeOnErrors`), so the chat spends as little time as possible in migration mode. When the service
 * refuses the chat import, the conversation goes the OneDrive way with the reason.
 */
export const migrateChat: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<MigrateChatInput>();
  const { migrationId, chat } = input;
  let chatId = input.chatId;
  if (!chatId) {
    const ensure: EnsureChatInput = { migrationId, chat };
    chatId = (
      (yield context.df.callActivityWithRetry(
        Activity.ensureChat,
        activityRetry(),
        ensure,
      )) as EnsureChatResult
    ).chatId;
  }
  let batch: PostChatResult | undefined;
  for (let i = 0; i < input.batchesPerExecution && !batch?.done; i++) {
    const post: PostChatInput = {
      migrationId,
      chatKey: chat.key,
      chatId,
      pass: input.pass,
      timeBudgetMs: input.batchSeconds * 1000,
      planned: chat.messages,
    };
    batch = (yield context.df.callActivityWithRetry(
      Activity.postChat,
      activityRetry(),
      post,
    )) as PostChatResult;
    context.df.setCustomStatus({
      chat: chat.label,
      posted: batch.posted,
      failed: batch.failed,
      total: chat.messages,
      ...(batch.budgetWait ? { waitingFor: 'a chat posting slot of the tenant budget' } : {}),
      ...(batch.waitUntil && !batch.budgetWait ? { waitingUntil: batch.waitUntil } : {}),
    });
    if (batch.waitUntil) yield context.df.createTimer(new Date(batch.waitUntil));
  }
  if (!batch?.done) {
    const next: MigrateChatInput = { ...input, chatId, execution: input.execution + 1 };
    context.df.continueAsNew(next);
    return undefined;
  }
  const outcome: MigrateChatResult = {
    key: chat.key,
    label: chat.label,
    way: batch.diverted ? 'onedrive' : 'chat',
    ...(batch.diverted ? { reason: batch.diverted } : {}),
    chatId,
    planned: chat.messages,
    posted: batch.posted,
    failed: batch.failed,
    missing: batch.missing,
    completed: batch.completed,
  };
  if (!batch.diverted && !batch.completed && (batch.failed === 0 || input.completeOnErrors)) {
    const complete: CompleteChatInput = { migrationId, chatKey: chat.key, chatId };
    yield context.df.callActivityWithRetry(Activity.completeChat, activityRetry(), complete);
    outcome.completed = true;
  }
  return outcome;
};

df.app.orchestration(Orchestrator.migrateChats, migrateChats);
df.app.orchestration(Orchestrator.migrateChat, migrateChat);
