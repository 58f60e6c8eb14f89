/**
 * The canonical model: what every source reader produces (users, conversations, messages) and what the
 * planner writes for the posting side (a manifest plus one NDJSON plan per channel, in posting order).
 * Plans are pure data: re-planning the same export with the same options yields byte-identical files.
 */

/** A person or bot of the source workspace. */
export interface SourceUser {
  /** The source platform's id (Slack `U...`/`W...`, or `B...` for bots known only by id). */
  sourceId: string;
  /** The handle (`name` in Slack). */
  name: string;
  /** What people saw next to the message: display name, else real name, else handle. */
  displayName: string;
  realName?: string;
  email?: string;
  isBot: boolean;
  isDeleted: boolean;
  /** Workspace admin or owner: such users become Teams owners where the migration adds owners. */
  isAdmin: boolean;
  /** IANA time zone, when the export has one. */
  timeZone?: string;
}

/** Conversation kinds of the source: public channel, private channel, 1:1 DM, group DM. */
export type ConversationKind = 'channel' | 'private' | 'dm' | 'groupDm';

/** A conversation of the source workspace. */
export interface SourceConversation {
  sourceId: string;
  /** The name as the source shows it (`general`, `mpdm-a--b-1`, ...). */
  name: string;
  kind: ConversationKind;
  /** The workspace's default channel (Slack `is_general`): it becomes the Teams General channel. */
  isGeneral: boolean;
  isArchived: boolean;
  topic: string;
  purpose: string;
  /** Source user ids of the members, as listed by the export. */
  members: string[];
  creatorId?: string;
  /** Creation time, epoch milliseconds; undefined when the export does not say. */
  createdMs?: number;
}

/** What a message is: written by a person, posted by an integration, or a system event. */
export type MessageKind = 'user' | 'bot' | 'system';

/** A file attached to a source message. */
export interface SourceFile {
  sourceId: string;
  name: string;
  title?: string;
  mimeType?: string;
  size?: number;
  /** Where the source serves the bytes (may need the source's token). */
  url?: string;
  /** A human-facing page for the file in the source. */
  permalink?: string;
  /** The path of the bytes inside the export, when the export carries them. */
  exportPath?: string;
  isImage: boolean;
  /** Slack's `mode`: `hosted`, `snippet`, `post`, `external`, `tombstone`, `hidden_by_limit`, `quip`/`canvas`, ... */
  mode?: string;
  /** A snippet's first lines as Slack showed them (`preview`). */
  preview?: string;
  /** Where an `external` file lives (Google Drive, Dropbox, ...): its `url_private` or `permalink_public`. */
  externalUrl?: string;
  /** The export's day file that lists this file: where the posting side reads its tokenized URL. */
  dayFile?: string;
  /** The file's position in its message's `files` list (with `dayFile` and the message `ts`, its locator). */
  index?: number;
  /** The URL in the export carries Slack's file token (`t` or `token`); the token itself is never kept. */
  urlHasToken?: boolean;
}

/** One reaction on a source message. */
export interface SourceReaction {
  /** The emoji name as the source spells it, skin tone suffix included (`+1::skin-tone-2`). */
  name: string;
  count: number;
  users: string[];
}

/** One message of a source conversation, as read. */
export interface SourceMessage {
  /** Unique within its conversation; for Slack, the `ts` string. */
  key: string;
  conversationId: string;
  /** The source timestamp as written, with its full precision (Slack: seconds with six decimals). */
  ts: string;
  /** The key of the thread's parent, when this message is a reply (Slack `thread_ts` != `ts`). */
  threadKey?: string;
  kind: MessageKind;
  /** The source's subtype (`bot_message`, `channel_join`, `thread_broadcast`, ...). */
  subtype?: string;
  authorId?: string;
  /** The author name the message itself carries (bot `username`, `user_profile`), when any. */
  authorName?: string;
  text: string;
  /** The source's structured rich text (Slack `blocks`), kept raw for the converter. */
  blocks?: unknown[];
  /** Bot cards and link unfurls (Slack `attachments`), kept raw for the converter. */
  attachments?: unknown[];
  files: SourceFile[];
  reactions: SourceReaction[];
  editedTs?: string;
  /** A tombstone: the parent of a thread that was deleted while its replies remain. */
  deleted: boolean;
  /** A reply also shown in the channel (Slack `thread_broadcast`). */
  broadcast: boolean;
  /** A huddle (Slack `huddle_thread` with its `room`): when it ran and who took part. */
  huddle?: { startMs?: number; endMs?: number; participants: string[] };
}

/** A problem found while reading or planning, with what to do about it. */
export interface Problem {
  severity: 'error' | 'warning' | 'info';
  /** A stable code for scripts (`day-file-not-array`, `user-unmatched`, ...). */
  code: string;
  /** What broke, where, and what to do. */
  message: string;
  /** The export path or conversation it concerns, when there is one. */
  where?: string;
}

/** An inline image to send as hosted content with its message. */
export interface PlannedHostedContent {
  /** The `@microsoft.graph.temporaryId` the body references (`../hostedContents/{id}/$value`). */
  temporaryId: string;
  contentType: string;
  /** Where to read the bytes: a path inside the export, or a source URL to download. */
  exportPath?: string;
  url?: string;
  size?: number;
  name: string;
}

/** A file to upload to the channel's files folder and link from its message. */
export interface PlannedFileLink {
  /** The `<attachment id="...">` the body references; stable across re-plans. */
  attachmentId: string;
  name: string;
  mimeType?: string;
  size?: number;
  exportPath?: string;
  url?: string;
  /** The source's page for the file, used as the link when the bytes cannot be had. */
  permalink?: string;
  /** The source file id (Slack `F...`): the key of the file's ledger row, so each file moves once. */
  sourceId?: string;
  /**
   * Where the posting side finds the file's tokenized URL in the export: the day file, the message `ts` and
   * the file's index in its `files` list. The plan never holds the token itself.
   */
  locator?: { dayFile: string; ts: string; index: number };
  /**
   * The name the file gets in the channel's files folder: the source name made valid for SharePoint, and
   * unique in the channel (a later file with the same name gets ` (2)`, ` (3)`, ... in read order).
   */
  uploadName?: string;
  /** The source says the file is an image: the posting side checks the bytes before sending it inline. */
  image?: boolean;
  /**
   * The message comments on or mentions a file uploaded earlier (`file_comment`, `file_mention`): it links to
   * that upload when this channel has it, and to the source's page otherwise; it never uploads the file again.
   */
  earlier?: boolean;
}

/**
 * What a planned `<at id="n">` stands for. The plan decides who or what is mentioned; the posting side maps
 * users and channels to the tenant and writes a mention it cannot map as bold text instead.
 */
export type PlannedMentionTarget =
  /** A person of the source workspace (not a bot, not deleted, with an e-mail or a user-map line). */
  | { kind: 'user'; sourceUserId: string }
  /** A channel of this migration, by its plan key. */
  | { kind: 'channel'; channelKey: string }
  /** The channel the message is posted in (Slack `<!channel>` and `<!here>`). */
  | { kind: 'thisChannel' }
  /** The team (Slack `<!everyone>`). */
  | { kind: 'team' };

/** One mention of a planned message: the body's `<at id="{id}">{text}</at>`. */
export type PlannedMention = PlannedMentionTarget & {
  /** The tag's id: contiguous from 0 in body order within the planned line. */
  id: number;
  /** The tag's text, which Teams shows highlighted (a display name, a channel or team name). */
  text: string;
  /** What the text fallback shows after `@` or `#` when the mention is not native, when it differs from `text`. */
  label?: string;
};

/** A reaction the posting side sends natively when the reactor maps to an Entra user. */
export interface PlannedReaction {
  /** The Unicode emoji (skin tone included): the `reactionType`. */
  emoji: string;
  sourceUserId: string;
  /** The reactor's name as the source shows it. */
  displayName: string;
  /** The entry of `reactionLine` that counts this reaction when it is not sent natively. */
  line: number;
}

/** One emoji of a message's reaction text line, in the source's order. */
export interface PlannedReactionText {
  /** The emoji as shown: Unicode, or `:name:` for a custom emoji. */
  label: string;
  /** Reactions of this emoji that are text whatever the tenant (custom emoji, over the cap or the size). */
  count: number;
}

/** One message the posting side sends, in posting order. One NDJSON line of a channel plan. */
export interface PlannedMessage {
  /** Position in the channel's posting order, from 0. */
  seq: number;
  /** Unique within the channel: the source key, with `#pN` for the N-th part of a split message. */
  key: string;
  /** For a reply: the `key` of the planned top-level message of its thread (always earlier in order). */
  parentKey?: string;
  /** The planned `createdDateTime`: ISO 8601 with milliseconds, unique per channel to the millisecond. */
  createdDateTime: string;
  /** The source author; the posting side maps it to an Entra user or the fallback user. */
  author: { sourceUserId?: string; displayName: string; kind: MessageKind };
  /** The final body HTML, sanitized, within the service's size limit. */
  html: string;
  hostedContents: PlannedHostedContent[];
  files: PlannedFileLink[];
  /** Set when a long source message was split: this part's index from 1, and the number of parts. */
  part?: { index: number; of: number };
  /** The mentions `html` holds as `<at id="n">`, ids contiguous from 0 in body order; absent when none. */
  mentions?: PlannedMention[];
  /**
   * Native reaction candidates in the source's order (its `reactions[]`, then each one's `users[]`), at most
   * 250 and only as many as fit the size limit; each is dated at the message's `createdDateTime`. On the last
   * part of a split message only.
   */
  reactions?: PlannedReaction[];
  /**
   * The reaction text line below the body, one entry per source emoji in order; the posting side adds the
   * candidates it does not send natively to their entry's count. Absent when the message has no reactions.
   */
  reactionLine?: PlannedReactionText[];
  /**
   * A digest of the source message's content (text, files, edit stamp; `deleted` for a tombstone): a later
   * snapshot whose message has another digest was edited in the source after the import.
   */
  fingerprint?: string;
}

/** Why a source file is not moved into Teams as its bytes (inline image or SharePoint file). */
export type FileFallback =
  /** Deleted in Slack (`mode: tombstone`). */
  | 'deleted'
  /** Hidden by the free plan's storage limit (`mode: hidden_by_limit`). */
  | 'hidden-by-limit'
  /** Lives outside Slack (Google Drive, Dropbox, ...): a link to it. */
  | 'external'
  /** A Slack canvas or post: its title and a link. */
  | 'canvas'
  /** A comment on or mention of a file uploaded earlier: a link to that upload. */
  | 'earlier-upload'
  /** Larger than the size limit (`TEAMS_IMPORT_MAX_FILE_MB`). */
  | 'too-large'
  /** Slack gives its size as 0 bytes. */
  | 'empty'
  /** The export has neither its bytes nor a URL to download them. */
  | 'missing'
  /** The export's URL carries no file token and no `SLACK_TOKEN` is set. */
  | 'no-token';

/** How a channel's files are planned to arrive: natively (inline or in SharePoint) or as a notice, and why. */
export interface PlannedFileCounts {
  /** Images Slack sized at 4 MiB or less: inline when their bytes parse as an image, else a SharePoint file. */
  inline: number;
  /** Files uploaded to the channel's files folder and attached as reference attachments. */
  sharepoint: number;
  /** Files that arrive as a notice or a link, by reason. */
  fallback: Partial<Record<FileFallback, number>>;
}

/** Why a source message is not posted. */
export type SkipReason =
  | 'system-event'
  | 'filtered-by-date'
  | 'empty'
  | 'deleted'
  | 'duplicate-ts'
  | 'orphan-reply'
  /** An element of a day file that is not a readable message (reported as a problem). */
  | 'unreadable'
  /** Planned later than the `now` the plan was made for (re-plan later to include it). */
  | 'in-future';

/** What the plan does with a source conversation. */
export type ConversationAction = 'import' | 'not-imported';

/** One channel of the target team, as planned. */
export interface PlannedChannel {
  /** Stable key of the channel in this plan (the source conversation id). */
  key: string;
  sourceId: string;
  sourceName: string;
  /** The Teams channel name: valid and unique in the team ("General" for the general channel). */
  teamsName: string;
  description: string;
  isGeneral: boolean;
  /** The planned channel `createdDateTime`, not after its first message, not before the team's. */
  createdDateTime: string;
  /** The plan file, relative to the plan's root (`channels/<key>.ndjson`). */
  planPath: string;
  /**
   * Where the channel's planned messages are once later passes have added to them: the plan files in posting
   * order, each relative to the run's root (`plan/channels/<key>.ndjson`, `passes/2/channels/<key>.ndjson`),
   * their `seq` numbers running on from file to file. Absent: `planPath` holds them all.
   */
  segments?: PlanSegment[];
  /** Top-level posts (parts of split messages count once each). */
  posts: number;
  replies: number;
  /** Lines in the plan file (posts + replies). */
  messages: number;
  skipped: Partial<Record<SkipReason, number>>;
  /** Source messages split into several parts, and the extra parts that made. */
  split: number;
  /** Extra lines that splitting added (a message in 3 parts adds 2). */
  splitExtraParts: number;
  /**
   * Messages read from the channel's day files. Accounting invariant:
   * `sourceMessages = messages - splitExtraParts + sum(skipped)`.
   */
  sourceMessages: number;
  /** Slack had archived the channel (noted in the description; imported like the others). */
  isArchived: boolean;
  /** Collisions resolved by moving a message 1 ms later. */
  timestampBumps: number;
  files: number;
  inlineImages: number;
  /** The channel's source files by planned outcome (counted once per file per message). */
  fileCounts?: PlannedFileCounts;
  /**
   * Mentions and reactions the plan makes native (when the tenant has the user) and those written as text, by
   * reason. Absent in plans made before mentions and reactions were native.
   */
  fidelity?: {
    mentions: { native: number; text: Partial<Record<string, number>> };
    reactions: { native: number; text: Partial<Record<string, number>> };
  };
  /** Source user ids of the members. */
  members: string[];
  /** Source user id of the channel's creator, when known. */
  creatorId?: string;
  /**
   * `private`: a Slack private channel, created as a Teams private channel once the team is completed (only
   * standard channels can be created in migration mode), with its mapped members. Absent: a standard channel.
   */
  membershipType?: 'private';
}

/** One plan file of a channel: what one pass planned for it. */
export interface PlanSegment {
  /** The file, relative to the run's root. */
  path: string;
  /** The pass that planned it (1: the first). */
  pass: number;
  messages: number;
}

/** Where DMs and group DMs go: Teams chats, HTML files in the members' OneDrive, or nowhere (the default). */
export type DmTarget = 'chats' | 'onedrive' | 'skip';

/**
 * A DM or group DM as planned: its messages planned like a channel's (`chats/<id>.ndjson`, replies after
 * their parent, planned times unique to the millisecond), `teamsName` the members' names, `members` the
 * Slack members (the chat's members once matched to Entra users).
 */
export interface PlannedChat extends PlannedChannel {
  kind: 'dm' | 'groupDm';
}

/** A source conversation that is not imported, and why. */
export interface NotImportedConversation {
  sourceId: string;
  name: string;
  kind: ConversationKind;
  reason: string;
  messages: number;
  /**
   * For a private channel: `private-channels-off` (it would be imported with `--private-channels`) or
   * `no-mapped-member` (no member can map to an Entra user, so it cannot be created).
   */
  code?: 'private-channels-off' | 'no-mapped-member';
}

/** How a source user maps to the target tenant, as far as planning can tell (no tenant lookups). */
export interface PlannedUser {
  sourceId: string;
  displayName: string;
  email?: string;
  isBot: boolean;
  isDeleted: boolean;
  isAdmin: boolean;
  /** An Entra object id or UPN from the user map, when one names this user. */
  mappedTo?: string;
  /** How the posting side should resolve the user. */
  resolution: 'map' | 'email' | 'fallback';
}

/** The manifest of a plan: everything the pipeline needs except the message lines. */
export interface PlanManifest {
  formatVersion: 1;
  source: {
    kind: 'slack';
    name: string;
    /** The workspace (Slack team id), when the export says. */
    teamId?: string;
    /** The workspace's web address, when known: Slack permalinks of its messages start with it. */
    workspaceUrl?: string;
    /** The newest message read from the imported channels (Slack ts): how snapshots of a workspace are ordered. */
    newestMessage?: string;
  };
  team: { displayName: string; description: string; createdDateTime: string };
  channels: PlannedChannel[];
  /** DMs and group DMs planned for `--dms chats` or `--dms onedrive` (absent when none). */
  chats?: PlannedChat[];
  notImported: NotImportedConversation[];
  users: PlannedUser[];
  problems: Problem[];
  totals: { posts: number; replies: number; messages: number; skipped: number };
  /** False when any problem has severity 'error': the plan should not be posted as it stands. */
  importable: boolean;
  /** Later passes whose snapshots this plan holds (their segments), in order. */
  stagedPasses?: number[];
}
