import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  ChatExportActivity,
  ChatExportOrchestrator,
  type ChatOutcome,
  type ChatPagePlan,
  type ExportChatInput,
  type ExportUserChatsInput,
  type ExportUserChatsResult,
  type ExportUserChatsStatus,
  type FinishPassInput,
  type PassTotals,
  type PlanChatPageInput,
  type PlannedChat,
  type PlanPassInput,
  type PlanResult,
} from '../activities/chatExportNames';
import { addOutcome, emptyTotals, failedChatResult } from '../core/chatexport/passTotals';
import { activityRetry } from './retry';

/** The first line of an activity's failure (the Durable failure text goes on with the worker's stack trace). */
function failureText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
}

/**
 * One pass over a user's chats, a page of chats at a time: plan (refresh the consent, find the target
 * user), then for each page list and name its chats and export them with at most `concurrency` activities in
 * flight, and continue as new before the next page, so the history stays bounded however many chats the
 * user has. Scheduling stops once the consent is gone; the outcome is recorded on the user. A chat whose
 * activity fails after its retries counts as failed, so a pass always reaches its finish and never leaves
 * the user `exporting`.
 */
export const exportUserChats: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<ExportUserChatsInput>();
  let totals: PassTotals = input.progress?.totals ?? emptyTotals();
  const status: ExportUserChatsStatus = {
    phase: input.progress ? 'exporting' : 'planning',
    chatsDone: totals.chats,
    chatsTotal: totals.chats,
    pages: input.progress?.pages ?? 0,
  };
  context.df.setCustomStatus({ ...status });
  const finish = function* (failure?: string): Generator<Task, ExportUserChatsResult, unknown> {
    status.phase = 'finishing';
    context.df.setCustomStatus({ ...status });
    const finishInput: FinishPassInput = {
      userId: input.userId,
      mode: input.mode,
      totals,
      ...(failure !== undefined ? { failure } : {}),
    };
    const result = (yield context.df.callActivityWithRetry(
      ChatExportActivity.finishPass,
      activityRetry(),
      finishInput,
    )) as ExportUserChatsResult;
    status.phase = 'done';
    context.df.setCustomStatus({ ...status });
    return result;
  };

  let targetUserId = input.progress?.targetUserId;
  if (targetUserId === undefined) {
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
    if (plan.kind === 'consentGone') totals = { ...totals, consentGone: plan.reason };
    if (plan.kind !== 'planned') return yield* finish(plan.kind === 'failed' ? plan.reason : undefined);
    targetUserId = plan.targetUserId;
  }

  const pageInput: PlanChatPageInput = {
    userId: input.userId,
    ...(input.progress ? { next: input.progress.next } : {}),
  };
  let page: ChatPagePlan;
  try {
    page = (yield context.df.callActivityWithRetry(
      ChatExportActivity.planChatPage,
      activityRetry(),
      pageInput,
    )) as ChatPagePlan;
  } catch (error) {
    page = { kind: 'failed', reason: `listing the chats failed: ${failureText(error)}` };
  }
  if (page.kind === 'consentGone') totals = { ...totals, consentGone: page.reason };
  if (page.kind !== 'page') return yield* finish(page.kind === 'failed' ? page.reason : undefined);

  status.phase = 'exporting';
  status.pages += 1;
  status.chatsTotal += page.chats.length;
  context.df.setCustomStatus({ ...status });
  const running = new Map<Task, PlannedChat>();
  const settle = (task: Task): void => {
    const planned = running.get(task)!;
    running.delete(task);
    const outcome: ChatOutcome = task.isFaulted
      ? { kind: 'done', result: failedChatResult(planned, new Error(failureText(task.result))) }
      : (task.result as ChatOutcome);
    totals = addOutcome(totals, outcome);
    status.chatsDone = totals.chats;
    context.df.setCustomStatus({ ...status });
  };
  for (const planned of page.chats) {
    if (totals.consentGone !== undefined) break;
    const chatInput: ExportChatInput = { userId: input.userId, targetUserId, planned };
    running.set(
      context.df.callActivityWithRetry(ChatExportActivity.exportChat, activityRetry(), chatInput),
      planned,
    );
    if (running.size >= Math.max(1, input.concurrency))
      settle((yield context.df.Task.any([...running.keys()])) as Task);
  }
  while (running.size > 0) settle((yield context.df.Task.any([...running.keys()])) as Task);

  if (page.next !== undefined && totals.consentGone === undefined) {
    const next: ExportUserChatsInput = {
      ...input,
      progress: { targetUserId, next: page.next, pages: status.pages, totals },
    };
    context.df.continueAsNew(next);
    return undefined;
  }
  return yield* finish();
};

df.app.orchestration(ChatExportOrchestrator.exportUserChats, exportUserChats);
