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
  type PlanPassInput,
  type PlanResult,
} from '../activities/chatExportNames';

/**
 * One pass over a user's chats: plan (refresh the consent, list and name the chats), export the chats with
 * at most `concurrency` activities in flight, stop scheduling more once the consent is gone, then record
 * the outcome on the user. Activities report failures as results, so a pass always reaches its finish.
 */
export const exportUserChats: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<ExportUserChatsInput>();
  const status: ExportUserChatsStatus = { phase: 'planning', chatsDone: 0, chatsTotal: 0 };
  context.df.setCustomStatus({ ...status });
  const planInput: PlanPassInput = { userId: input.userId };
  const plan = (yield context.df.callActivity(ChatExportActivity.planPass, planInput)) as PlanResult;
  const outcomes: ChatOutcome[] = [];
  if (plan.kind === 'planned') {
    status.phase = 'exporting';
    status.chatsTotal = plan.chats.length;
    context.df.setCustomStatus({ ...status });
    const running = new Set<Task>();
    let consentGone = false;
    const settle = (task: Task): void => {
      running.delete(task);
      const outcome = task.result as ChatOutcome;
      outcomes.push(outcome);
      if (outcome.kind === 'consentGone') consentGone = true;
      status.chatsDone += 1;
      context.df.setCustomStatus({ ...status });
    };
    for (const planned of plan.chats) {
      if (consentGone) break;
      const chatInput: ExportChatInput = { userId: input.userId, targetUserId: plan.targetUserId, planned };
      running.add(context.df.callActivity(ChatExportActivity.exportChat, chatInput));
      if (running.size >= Math.max(1, input.concurrency))
        settle((yield context.df.Task.any([...running])) as Task);
    }
    while (running.size > 0) settle((yield context.df.Task.any([...running])) as Task);
  }
  status.phase = 'finishing';
  context.df.setCustomStatus({ ...status });
  const finish: FinishPassInput = { userId: input.userId, mode: input.mode, plan, outcomes };
  const result = (yield context.df.callActivity(
    ChatExportActivity.finishPass,
    finish,
  )) as ExportUserChatsResult;
  status.phase = 'done';
  context.df.setCustomStatus({ ...status });
  return result;
};

df.app.orchestration(ChatExportOrchestrator.exportUserChats, exportUserChats);
