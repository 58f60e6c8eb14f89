/**
 * Names and input/result types of the chat export's durable functions: the module the chat-export
 * orchestrator imports from activities/ (types and constants only, no I/O).
 */
import type { ChatOutcome, PlanResult } from '../core/chatexport/service';
import type { PlannedChat } from '../core/chatexport/exporter';
import type { ChatExportUser } from '../core/state/chatExportTables';

/** Registered activity names of the chat export. */
export const ChatExportActivity = {
  planPass: 'chatExportPlanPass',
  exportChat: 'chatExportExportChat',
  finishPass: 'chatExportFinishPass',
} as const;

/** Registered orchestrator names of the chat export. */
export const ChatExportOrchestrator = {
  exportUserChats: 'exportUserChats',
} as const;

/** Whose chats to export, whether it is the first pass or a delta, and how many chats run at once. */
export interface ExportUserChatsInput {
  userId: string;
  mode: 'full' | 'delta';
  concurrency: number;
}

/** The final status of the user after the pass. */
export type ExportUserChatsResult = Pick<ChatExportUser, 'id' | 'status' | 'reason' | 'lastPass'>;

/** What an operator sees while a pass runs. */
export interface ExportUserChatsStatus {
  phase: 'planning' | 'exporting' | 'finishing' | 'done';
  chatsDone: number;
  chatsTotal: number;
}

/** Input of the plan activity. */
export interface PlanPassInput {
  userId: string;
}

/** Input of the per-chat activity. */
export interface ExportChatInput {
  userId: string;
  targetUserId: string;
  planned: PlannedChat;
}

/** Input of the finishing activity. */
export interface FinishPassInput {
  userId: string;
  mode: 'full' | 'delta';
  plan: PlanResult;
  outcomes: ChatOutcome[];
}

export type { ChatOutcome, PlanResult, PlannedChat };
