import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  ChatExportActivity,
  ChatExportOrchestrator,
  type ChatOutcome,
  type ExportChatInput,
  type ExportUserChatsInput,
  type ExportUserChatsResult,
  type ExportUserChatsStatus,
  type FinishPassInput,
  type PlannedChat,
  type PlanPassInput,
  type PlanResult,
} from '../activities/chatExportNames';
import { activityRetry } from './retry';

function failureText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * One pass over a user's chats: plan (refresh the consent, list and name the chats), export the chats with
 * at most `concurrency` activities in flight, stop scheduling more once the consent is gone, then record
 * the outcome on the user. A chat whose activity fails after its retries is recorded as failed, so a pass
 * always reaches its finish and never leaves the user `exporting`.
 */
export const exportUserChats: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<ExportUserChatsInput>();
  const status: ExportUserChatsStatus = { phase: 'planning', chatsDone: 0, chatsTotal: 0 };
  context.df.setCustomStatus({ ...status });
  const planInput: PlanPassInput = { userId: input.userId };
  let plan: PlanResult;
  try {
    plan = (yield context.df.callActivityWithRetry(
      ChatExportActivity.planPass,
      activityRetry(),
      planInput,
    )) as PlanResult;
  } catch (error) {
    plan = { kind: 'failed', reason: `planning failed: ${failureText(error)}` };
  }
  const outcomes: ChatOutcome[] = [];
  if (plan.kind === 'planned') {
    status.phase = 'exporting';
    status.chatsTotal = plan.chats.length;
    context.df.setCustomStatus({ ...status });
    const running = new Map<Task, PlannedChat>();
    let consentGone = false;
    const settle = (task: Task): void => {
      const planned = running.get(task)!;
      running.delete(task);
      const outcome: ChatOutcome = task.isFaulted
        ? {
            kind: 'done',
            result: {
              chatId: planned.chat.id,
              title: planned.title,
              fileName: planned.fileName,
              status: 'failed',
              fetchedMessages: 0,
              addedMessages: 0,
              updatedMessages: 0,
              error: failureText(task.result),
            },
          }
        : (task.result as ChatOutcome);
      outcomes.push(outcome);
      if (outcome.kind === 'consentGone') consentGone = true;
      status.chatsDone += 1;
      context.df.setCustomStatus({ ...status });
    };
    for (const planned of plan.chats) {
      if (consentGone) break;
      const chatInput: ExportChatInput = { userId: input.userId, targetUserId: plan.targetUserId, planned };
      running.set(
        context.df.callActivityWithRetry(ChatExportActivity.exportChat, activityRetry(), chatInput),
        planned,
      );
      if (running.size >= Math.max(1, input.concurrency))
        settle((yield context.df.Task.any([...running.keys()])) as Task);
    }
    while (running.size > 0) settle((yield context.df.Task.any([...running.keys()])) as Task);
  }
  status.phase = 'finishing';
  context.df.setCustomStatus({ ...status });
  const finish: FinishPassInput = { userId: input.userId, mode: input.mode, plan, outcomes };
  const result = (yield context.df.callActivityWithRetry(
    ChatExportActivity.finishPass,
    activityRetry(),
    finish,
  )) as ExportUserChatsResult;
  status.phase = 'done';
  context.df.setCustomStatus({ ...status });
  return result;
};

df.app.orchestration(ChatExportOrchestrator.exportUserChats, exportUserChats);
