/**
 * Names and input/result types of the chat export's durable functions: the module the chat-export
 * orchestrator imports from activities/ (types and constants only, no I/O).
 */
import type { PassTotals } from '../core/chatexport/passTotals';
import type {
  ChatOutcome,
  ChatPagePlan,
  PlanResult,
  TeamsPageResult,
  UsersPageResult,
} from '../core/chatexport/service';
import type { PlannedChat } from '../core/chatexport/exporter';
import type { ChatExportUser } from '../core/state/chatExportTables';

/** Registered activity names of the chat export. */
export const ChatExportActivity = {
  planPass: 'chatExportPlanPass',
  planChatPage: 'chatExportPlanChatPage',
  exportChat: 'chatExportExportChat',
  finishPass: 'chatExportFinishPass',
  discoverUsersPage: 'chatExportDiscoverUsersPage',
  discoverTeamsPage: 'chatExportDiscoverTeamsPage',
} as const;

/** Registered orchestrator names of the chat export. */
export const ChatExportOrchestrator = {
  exportUserChats: 'exportUserChats',
  discover: 'discoverChatExport',
} as const;

/** The one instance of the discovery orchestration: a second discovery while one runs answers the running one. */
export const DISCOVERY_INSTANCE_ID = 'chat-export-discovery';

/** Discovery's input; `progress` is set by continue-as-new. */
export interface DiscoverInput {
  userMapCsv?: string;
  progress?: { stage: 'users' | 'teams'; next?: string; totals: DiscoveryTotals };
}

/** What discovery found so far (and, as its output, in all). */
export interface DiscoveryTotals {
  users: number;
  added: number;
  teams: number;
}

/** Discovery's custom status: where it stands. */
export interface DiscoveryStatus extends DiscoveryTotals {
  stage: 'users' | 'teams' | 'done';
}

/** Input of the activity that lists one page of users. */
export interface DiscoverUsersPageInput {
  userMapCsv?: string;
  next?: string;
}

/** Input of the activity that lists one page of teams with their channels. */
export interface DiscoverTeamsPageInput {
  next?: string;
}

/** Whose chats to export, whether it is the first pass or a delta, and how many chats run at once. */
export interface ExportUserChatsInput {
  userId: string;
  mode: 'full' | 'delta';
  concurrency: number;
  /** Set by continue-as-new: where the pass stands after the pages it has done. */
  progress?: {
    targetUserId: string;
    /** The next page of the chat listing. */
    next: string;
    pages: number;
    totals: PassTotals;
  };
}

/** The final status of the user after the pass. */
export type ExportUserChatsResult = Pick<ChatExportUser, 'id' | 'status' | 'reason' | 'lastPass'>;

/** What an operator sees while a pass runs. */
export interface ExportUserChatsStatus {
  phase: 'planning' | 'exporting' | 'finishing' | 'done';
  /** Chats exported so far in this pass, over every page. */
  chatsDone: number;
  /** Chats listed so far (pages are listed one at a time, so this grows until the last page). */
  chatsTotal: number;
  /** Pages of chats listed so far. */
  pages: number;
}

/** Input of the plan activity. */
export interface PlanPassInput {
  userId: string;
}

/** Input of the activity that lists and names one page of chats. */
export interface PlanChatPageInput {
  userId: string;
  next?: string;
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
  totals: PassTotals;
  /** Why the pass could not plan or list the chats, when it could not. */
  failure?: string;
}

export type {
  ChatOutcome,
  ChatPagePlan,
  PassTotals,
  PlanResult,
  PlannedChat,
  TeamsPageResult,
  UsersPageResult,
};
