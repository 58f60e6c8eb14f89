/**
 * The migration's step contracts: inputs and results of each durable step, shared by the orchestrators
 * (which see them through activities/names) and the core steps that implement them.
 */
import type { DmTarget, Problem } from '../model';

/**
 * Where the source is: an export at a path on the host (local runs) or in a blob of the app's storage
 * (uploads), or the workspace itself through Slack's Web API.
 */
export type SourceRef =
  { kind: 'path'; path: string } | { kind: 'blob'; container: string; name: string } | SlackApiSourceRef;

/**
 * A workspace read through Slack's Web API with the app's `SLACK_TOKEN`, at `SLACK_API_URL` (settings of the
 * app, never of the request: the token goes only where the app is configured to send it).
 */
export interface SlackApiSourceRef {
  kind: 'slack-api';
  /** The workspace the token must belong to (team id, domain or name); checked before anything is read. */
  workspace?: string;
  /** Private channels too (the token needs `groups:read` and `groups:history`). */
  includePrivate?: boolean;
  /**
   * Per channel (Slack channel id, the plan's channel key): only messages from `oldest` on (a Slack `ts`,
   * inclusive), with every reply of the threads they start. A delta pass's window; channels not named are read
   * whole.
   */
  windows?: Record<string, { oldest: string }>;
}

/** Choices of one migration that shape the plan and the run. */
export interface MigrationOptions {
  /** Slack channel names to import (all when absent). */
  channels?: string[];
  excludeChannels?: string[];
  /** ISO dates bounding the messages imported. */
  since?: string;
  until?: string;
  includeSystemEvents: boolean;
  /** Entra object id or UPN of the account that posts for unmatched, deleted and bot authors. */
  fallbackUser?: string;
  /** A user map (CSV `slackId|slackEmail,entraIdOrUpn`) as text. */
  userMapCsv?: string;
  /** A user-group CSV (`S...,handle`) as text: names `<!subteam^S...>` mentions the export leaves unnamed. */
  userGroupsCsv?: string;
  /** Reactions as native Teams reactions where the reactor maps (default), or all as a text line. */
  reactions?: 'native' | 'text';
  /** Channels posted at once: the tenant budget over the per-channel budget (50/5 = 10). */
  channelConcurrency: number;
  /** How long one postMessages activity posts before checkpointing back to its orchestrator. */
  batchSeconds: number;
  /** Batches per migrateChannel execution before it continues as new, bounding its history. */
  batchesPerExecution: number;
  /** Seconds between polls of the team creation operation (Microsoft asks for at least 30). */
  operationPollSeconds: number;
  /** Completes channels and the team even when some messages failed (they can never be imported after). */
  completeOnErrors: boolean;
  /** Pre-stage: import everything and complete nothing (no channel, no team, no member) until the cutover. */
  prestage?: boolean;
  /** The timer applies snapshots dropped into the migration's inbox after its cutover too. */
  deltaSync?: boolean;
  /**
   * The Teams channel name of each selected Slack channel (keyed by the Slack name, `#name` or id, as a
   * channel map gives it), in place of the name derived from Slack's; the workspace's general channel is
   * always General.
   */
  channelNames?: Record<string, string>;
  /** DMs and group DMs: Teams chats after the channels, HTML files in the members' OneDrive, or skipped (default). */
  dms?: DmTarget;
  /** Chats imported at once under `--dms chats` (the chat posting slots; 4 by default). */
  chatConcurrency?: number;
  /**
   * Slack private channels become Teams private channels of the team, created once the team is completed, with
   * their mapped members (`run --private-channels`).
   */
  privateChannels?: boolean;
}

/** A migration's passes: its first import, a delta from a newer snapshot, the cutover. */
export type PassKind = 'initial' | 'delta' | 'cutover';

/** Which pass an execution of the migration's orchestration runs. */
export interface PassRequest {
  kind: PassKind;
  /** Cutover: keep delta sync on after it (the timer applies newer snapshots from the inbox). */
  deltaSync?: boolean;
  /** The snapshot came from the migration's inbox: it is moved to `processed/` once its pass ends. */
  fromInbox?: boolean;
}

/** The defaults of a migration's run options, declared once for the start request, the CLI and the docs. */
export const RUN_OPTION_DEFAULTS = {
  includeSystemEvents: false,
  channelConcurrency: 10,
  batchSeconds: 60,
  batchesPerExecution: 10,
  operationPollSeconds: 30,
  completeOnErrors: false,
  reactions: 'native',
} as const satisfies Partial<MigrationOptions>;

/** The migrateTeam orchestrator's input. */
export interface MigrateTeamInput {
  migrationId: string;
  /** The export: the first pass's, a delta's newer snapshot, or a cutover's final one (absent: none). */
  source?: SourceRef;
  /**
   * The team to create, or (`id`) an existing, completed team to import into: nothing is created or completed
   * for the team, members are not added (but those of private channels), and channels are created normally and
   * filled through startMigration.
   */
  team: { displayName?: string; description?: string; visibility: 'private' | 'public'; id?: string };
  options: MigrationOptions;
  /** The pass to run; absent: the first (`initial`). */
  pass?: PassRequest;
}

/** One channel's work, as the plan defines it. */
export interface ChannelWork {
  key: string;
  sourceName: string;
  teamsName: string;
  description: string;
  isGeneral: boolean;
  createdDateTime: string;
  messages: number;
  /** A private channel: created normally once the team is completed, then opened with startMigration. */
  private?: boolean;
}

/** beginPass: checks that the pass may run now, then opens its record in the ledger (or resumes it). */
export interface BeginPassInput {
  migrationId: string;
  kind: PassKind;
  /** The pass's snapshot (described without secrets in its record). */
  source?: SourceRef;
  prestage?: boolean;
  deltaSync?: boolean;
  now: string;
}
export type BeginPassResult =
  | {
      ok: true;
      pass: number;
      /** The team, once the first pass has created it. */
      teamId?: string;
      /** The team is completed: channels with new content are opened again with startMigration. */
      live: boolean;
    }
  | { ok: false; error: string };

/** stageDelta: plans a newer snapshot and adds what the ledger does not hold to the migration's plan. */
export interface StageDeltaInput {
  migrationId: string;
  pass: number;
  /** The snapshot; absent (a cutover without a final export): nothing is added. */
  source?: SourceRef;
  now: string;
}
export type StageDeltaResult =
  | {
      ok: true;
      /** Every channel of the migration's plan; `behind`: the ledger does not hold all its messages yet. */
      channels: (ChannelWork & { behind: boolean })[];
      newMessages: number;
      editedInSlack: number;
      deletedInSlack: number;
    }
  | { ok: false; problems: Problem[] };

/** finishPass: records how the pass ended, its counts and where the migration now stands. */
export interface FinishPassInput {
  migrationId: string;
  pass: number;
  outcome: 'prestaged' | 'completed' | 'needs-attention' | 'refused' | 'failed';
  /** The migration's stage after the pass, when the pass changes it. */
  stage?: 'prestaged' | 'completed';
  error?: string;
  /** The inbox snapshot to move to `processed/`. */
  processed?: SourceRef;
}
export interface FinishPassResult {
  posted: number;
  failed: number;
}

/** stageIndex (and stageSource, the same steps in one process): what a staging plans, and for which pass. */
export interface StageSourceInput {
  migrationId: string;
  source: SourceRef;
  team: MigrateTeamInput['team'];
  options: MigrationOptions;
  /** The orchestration's start time: nothing is planned after it. */
  now: string;
  /** The pass (its number in the ledger) the staging belongs to. */
  pass?: number;
}
export type StageSourceResult =
  | {
      ok: true;
      team: {
        displayName: string;
        description: string;
        createdDateTime: string;
        visibility: 'private' | 'public';
      };
      channels: ChannelWork[];
      totalMessages: number;
      problems: Problem[];
    }
  | { ok: false; problems: Problem[] };

/**
 * stageIndex: indexes the export into the run's plan area (`plan/index.json`, with the request and the time it
 * plans up to), or finds a staged plan or index to reuse. Small: the count of items to plan, never the plan.
 */
export type StageIndexInput = StageSourceInput;
export type StageIndexResult =
  | {
      ok: true;
      /** Items to plan with stageItem, numbered from 0 (0 when a staged manifest is reused). */
      items: number;
      /** A staged, importable manifest is reused: nothing is planned again. */
      reused: boolean;
      /** Items planned at once (TEAMS_IMPORT_STAGE_CONCURRENCY). */
      concurrency: number;
    }
  | { ok: false; problems: Problem[] };

/** stageItem: plans one item of the staged index (its NDJSON, then its summary `plan/items/<n>.json`). */
export interface StageItemInput {
  migrationId: string;
  item: number;
}
/** An acknowledgement: `planned` false when the item's summary was there already (a resumed staging). */
export type StageItemResult =
  { ok: true; item: number; planned: boolean } | { ok: false; problems: Problem[] };

/**
 * assemblePlan: merges the items' summaries into `manifest.json`, then refuses the plan (removing the plan area)
 * or records the run's source and request; `failed`: an item could not be planned, so the plan area is removed
 * and the staging refused with these problems.
 */
export interface AssemblePlanInput {
  migrationId: string;
  team: MigrateTeamInput['team'];
  pass?: number;
  failed?: Problem[];
}

/** resolveUsers: maps every planned author and member to an Entra user, recorded in the ledger. */
export interface ResolveUsersInput {
  migrationId: string;
  fallbackUser?: string;
}
export interface ResolveUsersResult {
  ok: boolean;
  matched: number;
  unmatched: number;
  problems: Problem[];
}

/** ensureTeam: finds the run's team (ledger, then the service's team list by the run's mark) or creates it. */
export interface EnsureTeamInput {
  migrationId: string;
  displayName: string;
  description: string;
  createdDateTime: string;
  visibility: 'private' | 'public';
  /**
   * After a creation whose answer was lost, how long the service's team list (eventually consistent) is
   * given to show the team before it is asked for again.
   */
  listWaitSeconds: number;
}
export type EnsureTeamResult =
  | {
      kind: 'team';
      teamId: string;
      /** Set while the creation operation runs; poll it with checkTeamOperation. */
      operationUrl?: string;
      /** The team was found (a resume), not created by this call: poll its operation at once. */
      found: boolean;
    }
  /** The creation was asked for but its answer was lost, and the team list does not show it yet: look again later. */
  | { kind: 'unconfirmed'; requestedAt: string }
  | { kind: 'refused'; error: string };

/** adoptTeam: checks an existing team for `--team-id` (ordinary, no channel name of the plan taken) and records it. */
export interface AdoptTeamInput {
  migrationId: string;
  teamId: string;
  channels: ChannelWork[];
}
export type AdoptTeamResult = { ok: true } | { ok: false; error: string };

/** checkTeamOperation: one poll of the team creation operation. */
export interface CheckTeamOperationInput {
  migrationId: string;
  teamId: string;
  operationUrl: string;
}
export interface CheckTeamOperationResult {
  status: 'running' | 'succeeded' | 'failed';
  error?: string;
}

/** The migrateChannel orchestrator's input; `execution` counts its continue-as-new generations. */
export interface MigrateChannelInput {
  migrationId: string;
  teamId: string;
  channel: ChannelWork;
  /** The posting pass: its team orchestration's start time, the same across continue-as-new generations. */
  pass: string;
  batchSeconds: number;
  batchesPerExecution: number;
  execution: number;
  /** Complete the channel once its pass has posted everything (never General: its parent completes it last). */
  complete?: boolean;
  /** Set after the first execution has ensured the channel. */
  channelId?: string;
  /** 429 answers seen by earlier executions. */
  throttled: number;
  completeOnErrors: boolean;
}
export interface MigrateChannelResult {
  key: string;
  channelId: string;
  posted: number;
  failed: number;
  /** Planned messages the channel can no longer take: it was completed before they were posted. */
  missing: number;
  throttled: number;
  /** True when the channel is completed (General never is here: its parent completes it last). */
  completed: boolean;
}

/** ensureChannel: finds the channel (ledger, then service by name) or creates it; General is the primary channel. */
export interface EnsureChannelInput {
  migrationId: string;
  teamId: string;
  channel: ChannelWork;
  /**
   * The team is completed: a missing channel is created normally, and the channel is opened for import with
   * startMigration (its planned creation time given when it is earlier than the channel's).
   */
  reopen?: boolean;
}
export interface EnsureChannelResult {
  channelId: string;
}

/** ensurePrivateChannel: adds a private channel's mapped members to the team, creates it with them, opens it. */
export interface EnsurePrivateChannelInput {
  migrationId: string;
  teamId: string;
  channel: ChannelWork;
}
export type EnsurePrivateChannelResult =
  /** Created (or found), with its members, and open for import; `unmapped`: Slack members left out. */
  | { kind: 'ready'; channelId: string; unmapped: string[] }
  /** Not created: no member maps to an Entra user (the ledger keeps the reason for the report). */
  | { kind: 'not-created'; reason: string; unmapped: string[] };

/** postMessages: posts the channel's plan from the pass's cursor for at most `timeBudgetMs`. */
export interface PostMessagesInput {
  migrationId: string;
  teamId: string;
  channelId: string;
  channelKey: string;
  /** The posting pass (MigrateChannelInput.pass): each failed message is tried once per pass. */
  pass: string;
  timeBudgetMs: number;
  /** The channel's planned messages: with its cursor, its priority for a posting slot (most left first). */
  planned?: number;
}
export interface PostMessagesResult {
  /** True when the pass has tried every planned message (or the channel's completed state is read back). */
  done: boolean;
  /** The service asked for a longer wait than a request waits: wait on a durable timer until then (ISO). */
  waitUntil?: string;
  /** The wait is for a posting slot of the tenant budget (none was free for this channel), not for the service. */
  budgetWait?: boolean;
  /** Teams shows the channel completed: it was read back into the ledger and is never posted into. */
  channelCompleted: boolean;
  /** Totals for the channel so far (from the ledger). */
  posted: number;
  failed: number;
  missing: number;
  /** 429 answers seen in this batch. */
  throttled: number;
}

/** completeChannel / completeTeam: ends migration mode; "already completed" counts as done. */
export interface CompleteChannelInput {
  migrationId: string;
  teamId: string;
  channelId: string;
  channelKey: string;
}
export interface CompleteTeamInput {
  migrationId: string;
  teamId: string;
}
export interface CompleteResult {
  alreadyCompleted: boolean;
}

/** addMembers: adds the planned members (owners where the source says so) in bulk. */
export interface AddMembersInput {
  migrationId: string;
  teamId: string;
}
export interface AddMembersResult {
  added: number;
  alreadyMembers: number;
  failed: number;
}

/** writeReport: records the channels whose import failed, then writes the run's report (JSON and HTML). */
export interface WriteReportInput {
  migrationId: string;
  phase: MigrationPhase;
  /** Channels whose orchestration failed, with its error. */
  channelErrors?: { key: string; error: string }[];
  /** How each DM and group DM of `--dms chats` ended. */
  chats?: MigrateChatResult[];
}
export interface WriteReportResult {
  jsonName: string;
  htmlName: string;
  posted: number;
  failed: number;
  /** Planned messages that can no longer be posted (their channel was completed first). */
  missing: number;
  planned: number;
}

/** The migrateTeam orchestrator's output. */
export interface MigrateTeamResult {
  phase: 'completed' | 'needs-attention' | 'prestaged';
  /** The pass this execution ran. */
  pass?: { number: number; kind: PassKind };
  teamId: string;
  planned: number;
  posted: number;
  failed: number;
  missing: number;
  report: WriteReportResult;
}

/** Phases of a migration, in order, as the portal and the API show them. */
export type MigrationPhase =
  | 'staging'
  | 'resolving-users'
  | 'creating-team'
  | 'creating-channels'
  | 'importing'
  | 'completing'
  | 'adding-members'
  | 'importing-chats'
  | 'private-channels'
  | 'reporting'
  | 'completed'
  | 'prestaged'
  | 'needs-attention'
  | 'failed';

/** What the portal shows for a migration (kept far under the 16 KB custom status cap). */
export interface MigrationStatus {
  phase: MigrationPhase;
  /** The pass running: its kind and number. */
  pass?: { kind: PassKind; number: number };
  channelsDone: number;
  channelsTotal: number;
  messagesPosted: number;
  messagesTotal: number;
  throttled: number;
  failed: number;
  /** Planned messages their channel, completed first, can no longer take. */
  missing: number;
  /** While the export is staged: its channels and conversations, and how many of them are planned. */
  staging?: { items: number; planned: number };
  lastError?: string;
}

/** One DM or group DM of `--dms chats`: where it goes (a Teams chat, or the OneDrive way and why). */
export interface ChatWork {
  /** The Slack conversation id: the chat's key in the plan and the ledger. */
  key: string;
  /** The members' names, as the report shows the conversation. */
  label: string;
  kind: 'dm' | 'groupDm';
  messages: number;
  /** The conversation's planned creation: the chat's `conversationCreationDateTime`. */
  createdDateTime: string;
  way: 'chat' | 'onedrive';
  /** Why it cannot be a chat (`way: 'onedrive'`). */
  reason?: string;
  /** The members' Entra object ids (every one an owner of the chat). */
  memberIds: string[];
}

/** planChats: where each planned DM and group DM goes. */
export interface PlanChatsInput {
  migrationId: string;
  /** `onedrive`: every conversation goes the OneDrive way. */
  target: 'chats' | 'onedrive';
}
export interface PlanChatsResult {
  chats: ChatWork[];
}

/** ensureChat: the Teams chat of a conversation, created (or found) and recorded. */
export interface EnsureChatInput {
  migrationId: string;
  chat: ChatWork;
}
export interface EnsureChatResult {
  chatId: string;
}

/** postChat: one time-bounded batch of a chat's import, under a chat posting slot. */
export interface PostChatInput {
  migrationId: string;
  chatKey: string;
  chatId: string;
  /** The posting pass (its start time): each message is tried once per pass. */
  pass: string;
  timeBudgetMs: number;
  planned: number;
}
export interface PostChatResult {
  done: boolean;
  /** Call again after this instant (a long throttle, or no chat posting slot free: `budgetWait`). */
  waitUntil?: string;
  budgetWait?: boolean;
  /** The service refused the chat import: the conversation goes the OneDrive way, for this reason. */
  diverted?: string;
  /** The chat is completed in Teams. */
  completed: boolean;
  posted: number;
  failed: number;
  missing: number;
}

/** completeChat: ends a chat's import. */
export interface CompleteChatInput {
  migrationId: string;
  chatKey: string;
  chatId: string;
}

/** The migrateChats orchestrator's input: the chats of a migration, after its channels. */
export interface MigrateChatsInput {
  migrationId: string;
  target: 'chats' | 'onedrive';
  pass: string;
  batchSeconds: number;
  batchesPerExecution: number;
  completeOnErrors: boolean;
  /** Chats imported at once (the chat posting slots). */
  concurrency: number;
}

/** How each conversation of `--dms chats` ended. */
export interface MigrateChatsResult {
  chats: MigrateChatResult[];
}

/** The migrateChat orchestrator's input: one conversation's chat import (continued as new every few batches). */
export interface MigrateChatInput {
  migrationId: string;
  chat: ChatWork;
  chatId?: string;
  pass: string;
  batchSeconds: number;
  batchesPerExecution: number;
  completeOnErrors: boolean;
  execution: number;
}
export interface MigrateChatResult {
  key: string;
  label: string;
  way: 'chat' | 'onedrive';
  reason?: string;
  chatId?: string;
  planned: number;
  posted: number;
  failed: number;
  missing: number;
  completed: boolean;
  /** The members whose OneDrive holds the conversation's HTML file, and those who got none (no Entra user). */
  oneDrive?: { delivered: string[]; undelivered: string[] };
  /** Why the chat's import itself failed (its orchestration's error). */
  error?: string;
}

/** exportChatToOneDrive: one conversation as an HTML file in each mapped member's OneDrive `SlackHistory/`. */
export interface ExportChatInput {
  migrationId: string;
  chatKey: string;
}
export interface ExportChatResult {
  key: string;
  /** Members whose OneDrive received the file, and those with no Entra user (no OneDrive to write to). */
  delivered: string[];
  undelivered: string[];
}

/** One team of a workspace migration: its key in the channel map (`t1`, ...), name and team migration. */
export interface WorkspaceTeam {
  key: string;
  /** The new team's name, or the existing team's id as the map names it. */
  name: string;
  /** The existing team the map names by id, imported into as `--team-id` does. */
  existingTeamId?: string;
  /**
   * The team's migration (its pass, for a later pass): its id is `<workspace migration id>.<key>`, its
   * channels those the map gives it.
   */
  input: MigrateTeamInput;
  /** A workspace cutover run again: this team's cutover ended already, so it is reported, not run. */
  done?: boolean;
}

/** A later pass of a workspace migration: the same pass of every team of it. */
export interface WorkspacePass {
  kind: 'delta' | 'cutover';
  /** The snapshot came from the workspace's inbox: moved to `processed/` once every team's pass ended. */
  fromInbox?: boolean;
}

/** The migrateWorkspace orchestrator's input: a workspace split across teams by a channel map. */
export interface MigrateWorkspaceInput {
  migrationId: string;
  /** The export (the first pass), or the pass's snapshot when it has one. */
  source?: SourceRef;
  /** The channel map's CSV text, checked against the export before any team is created. */
  channelMapCsv: string;
  teams: WorkspaceTeam[];
  /** A delta or cutover of every team; absent: the first pass. */
  pass?: WorkspacePass;
}

/** How one team of a workspace migration ended. */
export interface WorkspaceTeamOutcome {
  key: string;
  name: string;
  migrationId: string;
  /** Not run by this pass (its cutover ended before): its figures are read from its own report. */
  carried?: boolean;
  phase: MigrateTeamResult['phase'] | 'failed';
  teamId?: string;
  planned: number;
  posted: number;
  failed: number;
  missing: number;
  error?: string;
}

/** The migrateWorkspace orchestrator's output: every team's outcome, the totals, and the workspace report. */
export interface MigrateWorkspaceResult {
  phase: 'completed' | 'needs-attention' | 'prestaged' | 'failed';
  teams: WorkspaceTeamOutcome[];
  planned: number;
  posted: number;
  failed: number;
  missing: number;
  report: { jsonName: string; htmlName: string };
}

/** checkChannelMap: reads the export's channels and checks the channel map against them. */
export interface CheckChannelMapInput {
  migrationId: string;
  source: SourceRef;
  channelMapCsv: string;
}
export interface CheckChannelMapResult {
  ok: boolean;
  problems: Problem[];
}

/** writeWorkspaceReport: the workspace's report from its teams' outcomes; the ledger's migration row ends. */
export interface WriteWorkspaceReportInput {
  migrationId: string;
  teams: WorkspaceTeamOutcome[];
  /** The pass that ends (absent: the first). */
  pass?: PassKind;
  /** An inbox snapshot every team applied: moved to the workspace's `processed/` folder. */
  processed?: SourceRef;
}
