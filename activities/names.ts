/**
 * Names and input/result types of the migration's durable functions: the one module orchestrators import
 * from activities/ (types and constants only, no I/O), so call sites never spell a function name.
 */

/** Registered activity names. */
export const Activity = {
  stageIndex: 'stageIndex',
  stageItem: 'stageItem',
  assemblePlan: 'assemblePlan',
  resolveUsers: 'resolveUsers',
  ensureTeam: 'ensureTeam',
  adoptTeam: 'adoptTeam',
  checkTeamOperation: 'checkTeamOperation',
  ensureChannel: 'ensureChannel',
  ensurePrivateChannel: 'ensurePrivateChannel',
  postMessages: 'postMessages',
  completeChannel: 'completeChannel',
  completeTeam: 'completeTeam',
  addMembers: 'addMembers',
  writeReport: 'writeReport',
  beginPass: 'beginPass',
  stageDelta: 'stageDelta',
  finishPass: 'finishPass',
  planChats: 'planChats',
  ensureChat: 'ensureChat',
  postChat: 'postChat',
  completeChat: 'completeChat',
  exportChatToOneDrive: 'exportChatToOneDrive',
  checkChannelMap: 'checkChannelMap',
  writeWorkspaceReport: 'writeWorkspaceReport',
} as const;

/** Registered orchestrator names. */
export const Orchestrator = {
  migrateTeam: 'migrateTeam',
  migrateChannel: 'migrateChannel',
  migrateChats: 'migrateChats',
  migrateChat: 'migrateChat',
  migrateWorkspace: 'migrateWorkspace',
} as const;

export type * from '../core/pipeline/contracts';
