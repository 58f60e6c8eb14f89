import type { PassSummary } from '../state/chatExportTables';
import type { ChatExportResult, PlannedChat } from './exporter';
import type { ChatOutcome } from './service';

/** What a pass did so far, summed chat by chat (small and fixed in size, whatever the number of chats). */
export interface PassTotals extends Omit<PassSummary, 'mode' | 'finishedAt'> {
  /** `fileName: error` of the first failed chats (at most MAX_LISTED_FAILURES). */
  failures: string[];
  /** Set once a chat found the user's consent gone. */
  consentGone?: string;
}

/** Failed chats named in a pass's totals; the count covers the rest. */
export const MAX_LISTED_FAILURES = 20;

/** Totals of a pass that has exported nothing yet. */
export function emptyTotals(): PassTotals {
  return {
    chats: 0,
    uploaded: 0,
    unchanged: 0,
    empty: 0,
    failed: 0,
    addedMessages: 0,
    updatedMessages: 0,
    failures: [],
  };
}

/** Adds one chat's outcome to the totals (a pure function: the orchestrator calls it during replay). */
export function addOutcome(totals: PassTotals, outcome: ChatOutcome): PassTotals {
  if (outcome.kind === 'consentGone') return { ...totals, consentGone: totals.consentGone ?? outcome.reason };
  const r = outcome.result;
  const failures =
    r.status === 'failed' && totals.failures.length < MAX_LISTED_FAILURES
      ? [...totals.failures, `${r.fileName}: ${r.error ?? 'failed'}`]
      : totals.failures;
  return {
    ...totals,
    chats: totals.chats + 1,
    [r.status]: totals[r.status] + 1,
    addedMessages: totals.addedMessages + r.addedMessages,
    updatedMessages: totals.updatedMessages + r.updatedMessages,
    failures,
  };
}

/** The result of a chat whose export failed: nothing counted, the error's message kept for the status. */
export function failedChatResult(planned: PlannedChat, error: unknown): ChatExportResult {
  return {
    chatId: planned.chat.id,
    title: planned.title,
    fileName: planned.fileName,
    status: 'failed',
    fetchedMessages: 0,
    addedMessages: 0,
    updatedMessages: 0,
    error: error instanceof Error ? error.message : String(error),
  };
}
