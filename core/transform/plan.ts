import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type {
  DmTarget,
  NotImportedConversation,
  PlannedChat,
  PlanManifest,
  PlannedChannel,
  PlannedFileCounts,
  PlannedFileLink,
  PlannedHostedContent,
  PlannedMention,
  PlannedMessage,
  Problem,
  SkipReason,
  SourceMessage,
  SourceUser,
} from '../model';
import type { ArchiveLimits } from '../sources/archive';
import { openSlackExport, type SlackConversation, type SlackSource } from '../sources/slack/export';
import type { ObjectStore } from '../state/objectStore';
import { assignTeamsNames } from './channelNames';
import type { RenderNames } from './mrkdwn';
import { ProblemLog, type ProblemLogState } from './problems';
import { FileNamer } from '../files/names';
import { reactionEntryBytes } from '../graph/messageSize';
import type { MentionDirectory, MentionTextReason } from './mentions';
import {
  fullReactionLine,
  reactionLineHtml,
  type PlannedReactions,
  type ReactionContext,
  type ReactionTextReason,
} from './reactions';
import { ORPHAN_NOTE_HTML, renderMessage, type RenderedMessage, type RenderOptions } from './render';
import { BODY_BUDGET_BYTES, bodySize, fitMessage, fitsWhole, mentionsSize, type FittedPart } from './split';
import { Column, PairRows } from './column';
import { SpillFile } from './spill';
import { nextTime, postingOrder, timeOfPair, tsOfPair, tsPair, type TsPair } from './timestamps';
import { parseUserGroups, parseUserMap, planUsers } from './users';

/** What to plan and how. `now` is required: planning never reads the clock, so re-runs are identical. */
export interface PlanOptions {
  /** The instant nothing may be planned after (epoch ms or Date). */
  now: number | Date;
  /** Import only these channels (Slack names or ids). */
  channels?: string[];
  /** Leave these channels out (Slack names or ids). */
  excludeChannels?: string[];
  /** Only messages at or after this instant. */
  since?: number | Date;
  /** Only messages before this instant. */
  until?: number | Date;
  /** Render joins, topic changes, pins... as small notices instead of skipping them. */
  includeSystemEvents?: boolean;
  teamName?: string;
  teamDescription?: string;
  /** A Slack bot token (`SLACK_TOKEN`) is configured for downloads; planning never sees the token itself. */
  slackBotToken?: boolean;
  /** Files larger than this (bytes) become a notice with their size; default 250 MiB. */
  maxFileBytes?: number;
  /** User map CSV text and its name for messages. */
  userMap?: { text: string; source: string };
  /** User-group CSV text (`S...,handle`) and its name for messages: names `<!subteam^S...>` mentions. */
  userGroups?: { text: string; source: string };
  /** Reactions as native Teams reactions where the reactor maps (default), or all as the text line. */
  reactions?: 'native' | 'text';
  /**
   * Plan Slack private channels too (`groups.json`), as Teams private channels; one with no member who can map
   * to an Entra user (by the user map or an e-mail; not a bot or deleted) is not imported, with the reason.
   */
  privateChannels?: boolean;
  limits?: ArchiveLimits;
  bodyBudgetBytes?: number;
  /**
   * What becomes of DMs and group DMs: `chats` and `onedrive` plan them (`chats/<id>.ndjson`, listed in the
   * manifest's `chats`), `skip` (the default) lists them as not imported.
   */
  dms?: DmTarget;
  /** Teams channel names by Slack channel (name, `#name` or id), in place of names derived from Slack's. */
  channelNames?: Record<string, string>;
}

const MAX_DESCRIPTION = 1024;
const toMs = (v: number | Date): number => (typeof v === 'number' ? v : v.getTime());
const DAY_MS = 86_400_000;
const YEAR_10000_MS = 253_402_300_800_000;
let isoDay = NaN;
let isoDate = '';
const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const iso = (ms: number): string => {
  if (!(ms >= 0 && ms < YEAR_10000_MS && Number.isInteger(ms))) return new Date(ms).toISOString();
  const day = Math.floor(ms / DAY_MS);
  if (day !== isoDay) {
    isoDay = day;
    isoDate = new Date(day * DAY_MS).toISOString().slice(0, 11);
  }
  const t = ms - day * DAY_MS;
  const hms = `${pad(Math.floor(t / 3_600_000), 2)}:${pad(Math.floor(t / 60_000) % 60, 2)}:${pad(Math.floor(t / 1000) % 60, 2)}`;
  return `${isoDate}${hms}.${pad(t % 1000, 3)}Z`;
};
const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Plans the import of a Slack export (ZIP or folder path) or an opened source (an export, Slack's Web API):
 * reads each public channel once, streaming, and writes `channels/<id>.ndjson` (one PlannedMessage per line,
 * posting order) and `manifest.json` to `store` when one is given. Same input and options give byte-identical
 * output. It is {@link indexPlan}, {@link planItem} for each item in turn and {@link assemblePlan}: the steps a
 * staging runs apart, one item per activity.
 */
export async function planExport(
  input: string | SlackSource,
  options: PlanOptions,
  store?: ObjectStore,
): Promise<PlanManifest> {
  const exp = typeof input === 'string' ? await openSlackExport(input, { limits: options.limits }) : input;
  try {
    const index = indexPlan(exp, options);
    const summaries: ItemSummary[] = [];
    for (let item = 0; item < index.items.length; item++)
      summaries.push(await planItem(exp, options, index, item, store));
    return await assemblePlan(exp, options, index, summaries, store);
  } finally {
    if (typeof input === 'string') await exp.close();
  }
}

/**
 * One work item of a plan: an imported channel, a DM or group DM planned as a chat, or a conversation not
 * imported (its messages only counted). `conversation` is its position in the source's `conversations`.
 */
export type PlanItemRef =
  | { kind: 'channel'; conversation: number; sourceId: string; teamsName: string; isGeneral: boolean }
  | { kind: 'chat'; conversation: number; sourceId: string }
  | {
      kind: 'not-imported';
      conversation: number;
      sourceId: string;
      reason: string;
      code?: NotImportedConversation['code'];
    };

/**
 * What a plan decides before it reads any message: the selection, General, the Teams names, the items in
 * planning order (channels, then chats, then the conversations not imported), the team's name and the
 * problems found so far. JSON-serializable, with nothing per message.
 */
export interface PlanIndex {
  formatVersion: 1;
  teamName: string;
  items: PlanItemRef[];
  problems: ProblemLogState;
}

/** An author missing from users.json, as one item first saw them: the name and message, and where its warning falls. */
export interface UnknownAuthor {
  id: string;
  name: string;
  ts: string;
  where?: string;
  /** The item's kept problems before the warning: the `user-missing` warning goes before `problems.kept[at]`. */
  at: number;
}

/**
 * What planning one item found, JSON-serializable and small: its planned channel or chat (or the conversation
 * not imported), its problems (capped per code as the manifest's are), the authors missing from users.json it
 * met (their `user-missing` warnings are given once per author when the items are assembled), the newest
 * message it read and the workspace's address when its files gave it.
 */
export type ItemSummary = {
  item: number;
  problems: ProblemLogState;
  unknownAuthors: UnknownAuthor[];
  newest?: { micros: number; ts: string };
  workspaceUrl?: string;
} & (
  | { kind: 'channel'; channel: PlannedChannel }
  | { kind: 'chat'; chat: PlannedChat }
  | { kind: 'not-imported'; notImported: NotImportedConversation }
);

/** What {@link assemblePlan} needs of the source besides the items: its name, ids, address and users. */
export type PlanSourceMeta = Pick<SlackSource, 'name' | 'teamId' | 'workspaceUrl' | 'users'>;

interface Context {
  exp: SlackSource;
  options: PlanOptions;
  now: number;
  since?: number;
  until?: number;
  log: ProblemLog;
  names: RenderNames;
  users: Map<string, SourceUser>;
  /** Authors missing from users.json, by id, as this item first met them. */
  unknownAuthors: Map<string, UnknownAuthor>;
  /** Bot names from this item's `bot_add` messages. */
  learnedBots: Map<string, string>;
  /** Names this item's messages carry (`user_profile`) for authors missing from users.json. */
  profileNames: Map<string, string>;
  /** Rendered messages of the item being planned, between reading and writing in posting order. */
  spill: SpillFile;
  /** Why a source user cannot be mentioned or react natively (undefined: the tenant may have them). */
  textReason(id: string): MentionTextReason | undefined;
  /**
   * The source ids of the standard channels this plan imports (a channel's plan key is its source id): the ones
   * a mention can name natively. A private channel is created after the others have posted, and only its
   * members could open it, so a mention of it stays text.
   */
  imported: Set<string>;
  userGroups: Map<string, string>;
  teamName: string;
  /** The newest message read from the item: its microseconds and ts. */
  newest: { micros: number; ts?: string };
  /** The workspace's address, as the export or its files' permalinks give it. */
  workspaceUrl?: string;
}

/** The Teams name a channel map gives a channel (by its id, name or `#name`), if any. */
function mappedName(names: Record<string, string> | undefined, c: SlackConversation): string | undefined {
  if (!names) return undefined;
  return [c.sourceId, c.name, `#${c.name}`]
    .map((k) => (Object.hasOwn(names, k) ? names[k] : undefined))
    .find((n) => n !== undefined);
}

/** What every step derives from the source's users and the options alone, computed once per source and options. */
interface Prepared {
  now: number;
  users: Map<string, SourceUser>;
  userMap?: ReturnType<typeof parseUserMap>;
  userGroups?: ReturnType<typeof parseUserGroups>;
  resolution: Map<string, string>;
  slackNames: Map<string, string>;
}

const preparedCache = new WeakMap<SlackSource, { options: PlanOptions; prepared: Prepared }>();

function prepare(exp: SlackSource, options: PlanOptions): Prepared {
  const cached = preparedCache.get(exp);
  if (cached?.options === options) return cached.prepared;
  const now = toMs(options.now);
  if (!Number.isFinite(now)) throw new Error('planExport: options.now must be a valid time');
  const userMap = options.userMap ? parseUserMap(options.userMap.text, options.userMap.source) : undefined;
  const prepared: Prepared = {
    now,
    users: new Map(exp.users.map((u) => [u.sourceId, u])),
    ...(userMap ? { userMap } : {}),
    ...(options.userGroups
      ? { userGroups: parseUserGroups(options.userGroups.text, options.userGroups.source) }
      : {}),
    resolution: new Map(
      planUsers(exp.users, userMap?.map ?? new Map()).users.map((u) => [u.sourceId, u.resolution]),
    ),
    slackNames: new Map(exp.conversations.map((c) => [c.sourceId, c.name])),
  };
  preparedCache.set(exp, { options, prepared });
  return prepared;
}

/**
 * The first step of a plan: selects the conversations, finds General, names the channels in Teams and lists
 * the items in planning order, without reading a message.
 */
export function indexPlan(exp: SlackSource, options: PlanOptions): PlanIndex {
  const { users, resolution, userGroups } = prepare(exp, options);
  const log = new ProblemLog();
  log.add(...exp.problems);
  const wanted = (c: SlackConversation, list?: string[]): boolean =>
    !!list?.some((x) => x === c.name || x === c.sourceId || x === `#${c.name}`);
  const selected: SlackConversation[] = [];
  const chatConvs: SlackConversation[] = [];
  const notImported: Array<{
    conv: SlackConversation;
    reason: string;
    code?: NotImportedConversation['code'];
  }> = [];
  const privateImported = (c: SlackConversation): boolean =>
    c.kind === 'private' && !c.unlisted && options.privateChannels === true;
  for (const c of exp.conversations) {
    const listedPrivate = c.kind === 'private' && !c.unlisted;
    const mappable = listedPrivate && hasMappableMember(c, resolution);
    const noMappedMember = {
      conv: c,
      reason: noMappedMemberReason(c, users),
      code: 'no-mapped-member' as const,
    };
    if (isDirect(c) && options.dms && options.dms !== 'skip') chatConvs.push(c);
    else if (c.kind !== 'channel' && !privateImported(c))
      notImported.push(
        listedPrivate && !mappable
          ? noMappedMember
          : {
              conv: c,
              reason: notImportedReason(c),
              ...(mappable ? { code: 'private-channels-off' as const } : {}),
            },
      );
    else if (options.channels?.length && !wanted(c, options.channels))
      notImported.push({ conv: c, reason: 'not among the channels selected for import' });
    else if (wanted(c, options.excludeChannels)) notImported.push({ conv: c, reason: 'excluded by option' });
    else if (listedPrivate && !mappable) notImported.push(noMappedMember);
    else selected.push(c);
  }
  for (const name of [...(options.channels ?? []), ...(options.excludeChannels ?? [])]) {
    if (!exp.conversations.some((c) => wanted(c, [name])))
      log.add({
        severity: 'warning',
        code: 'channel-not-found',
        message: `channel '${name}' given in the options is not in the export.`,
      });
  }
  const general =
    selected
      .filter((c) => c.isGeneral && c.kind === 'channel')
      .sort((a, b) => byString(a.sourceId, b.sourceId))[0] ??
    selected.find((c) => c.kind === 'channel' && c.name.toLowerCase() === 'general');
  const naming = [...selected].sort(
    (a, b) => (a.createdMs ?? Infinity) - (b.createdMs ?? Infinity) || byString(a.sourceId, b.sourceId),
  );
  const { names: teamsNames, problems: nameProblems } = assignTeamsNames(
    naming.map((c) => ({
      sourceId: c.sourceId,
      name: mappedName(options.channelNames, c) ?? c.name,
      isGeneral: c === general,
    })),
  );
  log.add(...nameProblems);
  if (userGroups) log.add(...userGroups.problems);
  const ordered = [...selected].sort((a, b) =>
    a === general
      ? -1
      : b === general
        ? 1
        : byString(teamsNames.get(a.sourceId)!.toLowerCase(), teamsNames.get(b.sourceId)!.toLowerCase()) ||
          byString(a.sourceId, b.sourceId),
  );
  const position = new Map(exp.conversations.map((c, i) => [c, i]));
  const items: PlanItemRef[] = [
    ...ordered.map((c) => ({
      kind: 'channel' as const,
      conversation: position.get(c)!,
      sourceId: c.sourceId,
      teamsName: teamsNames.get(c.sourceId)!,
      isGeneral: c === general,
    })),
    ...[...chatConvs]
      .sort((a, b) => byString(a.sourceId, b.sourceId))
      .map((c) => ({ kind: 'chat' as const, conversation: position.get(c)!, sourceId: c.sourceId })),
    ...notImported.map(({ conv, reason, code }) => ({
      kind: 'not-imported' as const,
      conversation: position.get(conv)!,
      sourceId: conv.sourceId,
      reason,
      ...(code ? { code } : {}),
    })),
  ];
  return {
    formatVersion: 1,
    teamName: options.teamName ?? exp.teamName ?? exp.name.replace(/\.zip$/i, ''),
    items,
    problems: log.state(),
  };
}

/** What planning an item needs of the index, derived once per index. */
interface IndexNames {
  teamsNames: Map<string, string>;
  imported: Set<string>;
}

const indexCache = new WeakMap<PlanIndex, { exp: SlackSource; names: IndexNames }>();

function indexNames(exp: SlackSource, index: PlanIndex): IndexNames {
  const cached = indexCache.get(index);
  if (cached?.exp === exp) return cached.names;
  const teamsNames = new Map<string, string>();
  const imported = new Set<string>();
  for (const item of index.items) {
    if (item.kind !== 'channel') continue;
    teamsNames.set(item.sourceId, item.teamsName);
    if (exp.conversations[item.conversation]?.kind === 'channel') imported.add(item.sourceId);
  }
  const names = { teamsNames, imported };
  indexCache.set(index, { exp, names });
  return names;
}

/**
 * Plans one item of the index: writes its NDJSON (a channel's or a chat's) to `store` when one is given, and
 * returns its summary. An item's plan depends only on the index, the options and its own messages, so items
 * can be planned in any order, apart, in different processes; {@link assemblePlan} merges them in item order.
 */
export async function planItem(
  exp: SlackSource,
  options: PlanOptions,
  index: PlanIndex,
  itemNumber: number,
  store?: ObjectStore,
): Promise<ItemSummary> {
  const item = index.items[itemNumber];
  if (!item)
    throw new Error(
      `planItem: the plan's index has no item ${itemNumber} (it has ${index.items.length}): index the source again.`,
    );
  const conv = exp.conversations[item.conversation];
  if (conv?.sourceId !== item.sourceId)
    throw new Error(
      `planItem: conversation ${item.conversation} of '${exp.name}' is '${conv?.sourceId ?? 'missing'}', the index says '${item.sourceId}': the source changed since it was indexed; stage it again.`,
    );
  const prepared = prepare(exp, options);
  const { users, userMap, userGroups, resolution, slackNames } = prepared;
  const log = new ProblemLog();
  if (item.kind === 'not-imported') {
    let messages = 0;
    for await (const day of exp.days(conv)) messages += day.messages.length + day.unreadable;
    return {
      item: itemNumber,
      kind: 'not-imported',
      notImported: {
        sourceId: conv.sourceId,
        name: conv.name,
        kind: conv.kind,
        reason: item.reason,
        messages,
        ...(item.code ? { code: item.code } : {}),
      },
      problems: log.state(),
      unknownAuthors: [],
    };
  }
  const { teamsNames, imported } = indexNames(exp, index);
  const profileNames = new Map<string, string>();
  const ctx: Context = {
    exp,
    spill: new SpillFile(),
    options,
    now: prepared.now,
    ...(options.since !== undefined ? { since: toMs(options.since) } : {}),
    ...(options.until !== undefined ? { until: toMs(options.until) } : {}),
    log,
    users,
    unknownAuthors: new Map(),
    learnedBots: new Map(),
    profileNames,
    names: {
      user: (id) => users.get(id)?.displayName ?? profileNames.get(id),
      channel: (id) => teamsNames.get(id) ?? slackNames.get(id),
    },
    textReason: (id) => {
      const user = users.get(id);
      if (!user) return userMap?.map.has(id) ? undefined : 'unknown-user';
      if (resolution.get(id) !== 'fallback') return undefined;
      return user.isBot ? 'bot' : user.isDeleted ? 'deleted-user' : 'no-email';
    },
    imported,
    userGroups: userGroups?.groups ?? new Map(),
    teamName: index.teamName,
    newest: { micros: -Infinity },
    ...(exp.workspaceUrl ? { workspaceUrl: exp.workspaceUrl } : {}),
  };
  const learned = (): Pick<ItemSummary, 'problems' | 'unknownAuthors' | 'newest' | 'workspaceUrl'> => ({
    problems: log.state(),
    unknownAuthors: [...ctx.unknownAuthors.values()],
    ...(ctx.newest.ts ? { newest: { micros: ctx.newest.micros, ts: ctx.newest.ts } } : {}),
    ...(ctx.workspaceUrl && !exp.workspaceUrl ? { workspaceUrl: ctx.workspaceUrl } : {}),
  });
  try {
    if (item.kind === 'channel') {
      const channel = await planChannel(ctx, conv, item.teamsName, item.isGeneral, store);
      return { item: itemNumber, kind: 'channel', channel, ...learned() };
    }
    for (const id of conv.members.filter((m) => !users.has(m)))
      log.add({
        severity: 'warning',
        code: 'dm-member-unknown',
        message: `member '${id}' of ${conv.kind === 'dm' ? 'direct message' : 'group direct message'} '${conv.name}' is not in users.json, so it cannot be matched to an Entra user: the conversation cannot become a Teams chat and goes to the OneDrive of its matched members instead (add the person to users.json or the user map to import it as a chat).`,
        where: conv.name,
      });
    const label = conv.members.map((m) => users.get(m)?.displayName ?? m).join(', ');
    const planned = await planChannel(ctx, conv, label, false, store, 'chats');
    return {
      item: itemNumber,
      kind: 'chat',
      chat: { ...planned, kind: conv.kind as PlannedChat['kind'] },
      ...learned(),
    };
  } finally {
    ctx.spill.close();
  }
}

/** The warning an author missing from users.json gets, once, for the first message the plan met them in. */
function userMissing(author: UnknownAuthor): Problem {
  return {
    severity: 'warning',
    code: 'user-missing',
    message: `author '${author.id}' of message ${author.ts} is not in users.json; their posts go to the fallback user under the name '${author.name}'.`,
    where: author.where,
  };
}

/**
 * The last step of a plan: merges the items' summaries in item order (an author missing from users.json
 * takes the first name an item saw, and gets one `user-missing` warning, the first item's), plans the users
 * and writes `manifest.json` to `store` when one is given. Needs one summary per item of the index.
 */
export async function assemblePlan(
  exp: PlanSourceMeta,
  options: PlanOptions,
  index: PlanIndex,
  summaries: ItemSummary[],
  store?: ObjectStore,
): Promise<PlanManifest> {
  const now = toMs(options.now);
  if (!Number.isFinite(now)) throw new Error('planExport: options.now must be a valid time');
  const byItem = new Map(summaries.map((s) => [s.item, s]));
  const missing = index.items.map((_, i) => i).filter((i) => !byItem.has(i));
  if (missing.length > 0 || byItem.size !== summaries.length || summaries.length !== index.items.length)
    throw new Error(
      `assemblePlan: the index has ${index.items.length} item(s) and ${summaries.length} summaries were given${missing.length ? ` (missing item(s) ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''})` : ''}: plan every item once, then assemble.`,
    );
  const log = new ProblemLog(index.problems.perCode);
  log.merge(index.problems);
  const unknownAuthors = new Map<string, string>();
  const newest: { micros: number; ts?: string } = { micros: -Infinity };
  let workspaceUrl = exp.workspaceUrl;
  const channels: PlannedChannel[] = [];
  const chats: PlannedChat[] = [];
  const skippedConvs: NotImportedConversation[] = [];
  for (let i = 0; i < index.items.length; i++) {
    const s = byItem.get(i)!;
    const fresh = s.unknownAuthors.filter((a) => !unknownAuthors.has(a.id));
    for (const a of fresh) unknownAuthors.set(a.id, a.name);
    log.merge(
      s.problems,
      fresh.map((a) => ({ at: a.at, problem: userMissing(a) })),
    );
    if (s.newest && s.newest.micros > newest.micros) Object.assign(newest, s.newest);
    workspaceUrl ??= s.workspaceUrl;
    if (s.kind === 'channel') channels.push(s.channel);
    else if (s.kind === 'chat') chats.push(s.chat);
    else skippedConvs.push(s.notImported);
  }
  if (channels.length === 0)
    log.add({
      severity: 'error',
      code: 'nothing-to-import',
      message: options.privateChannels
        ? 'the export has no channel to import (check channels.json, groups.json and the channel options).'
        : 'the export has no public channel to import (check channels.json and the channel options).',
    });
  const unknown: SourceUser[] = [...unknownAuthors].map(([id, name]) => ({
    sourceId: id,
    name: id,
    displayName: name,
    isBot: false,
    isDeleted: false,
    isAdmin: false,
  }));
  const userMap = options.userMap ? parseUserMap(options.userMap.text, options.userMap.source) : undefined;
  if (userMap) log.add(...userMap.problems);
  const plannedUsers = planUsers(
    [...exp.users, ...unknown],
    userMap?.map ?? new Map(),
    options.userMap?.source,
  );
  log.add(...plannedUsers.problems);
  const earliest = Math.min(now, ...channels.map((c) => Date.parse(c.createdDateTime)));
  const totals = planTotals(channels);
  const manifest: PlanManifest = {
    formatVersion: 1,
    source: {
      kind: 'slack',
      name: exp.name,
      ...(exp.teamId ? { teamId: exp.teamId } : {}),
      ...(workspaceUrl ? { workspaceUrl } : {}),
      ...(newest.ts ? { newestMessage: newest.ts } : {}),
    },
    team: {
      displayName: index.teamName,
      description: options.teamDescription ?? `Imported from the Slack workspace ${index.teamName}`,
      createdDateTime: iso(earliest - 1),
    },
    channels,
    ...(chats.length ? { chats } : {}),
    notImported: skippedConvs,
    users: plannedUsers.users,
    problems: log.list(),
    totals,
    importable: !log.hasErrors,
  };
  if (store) await store.put('manifest.json', JSON.stringify(manifest, null, 2) + '\n', 'application/json');
  return manifest;
}

/** A 1:1 or group direct message. */
function isDirect(c: SlackConversation): boolean {
  return c.kind === 'dm' || c.kind === 'groupDm';
}

/** Whether some member (or the creator) of a conversation can map to an Entra user: by the user map or an e-mail. */
function hasMappableMember(c: SlackConversation, resolution: Map<string, string>): boolean {
  return [...c.members, ...(c.creatorId ? [c.creatorId] : [])].some((id) => {
    const how = resolution.get(id);
    return how === 'map' || how === 'email';
  });
}

/** Why a private channel is not created: none of its members can map to an Entra user; names them. */
function noMappedMemberReason(c: SlackConversation, users: Map<string, SourceUser>): string {
  const names = c.members.map((id) => users.get(id)?.displayName ?? id);
  const listed = names.length
    ? `its members (${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}) are bots, deleted or have no e-mail and no user-map line`
    : 'the export lists no member for it';
  return `private channel with no member mapped to an Entra user: ${listed}; a Teams private channel needs an owner among its members. Map a member with --user-map to import it.`;
}

function notImportedReason(c: SlackConversation): string {
  if (c.unlisted) return 'folder listed by no channels/groups/dms/mpims entry';
  switch (c.kind) {
    case 'private':
      return 'private channel: not imported without --private-channels (they are created as Teams private channels once the team is completed)';
    case 'dm':
      return 'direct message: not imported by default (run --dms chats or --dms onedrive to move it)';
    case 'groupDm':
      return 'group direct message: not imported by default (run --dms chats or --dms onedrive to move it)';
    default:
      return 'not imported';
  }
}

const DELETED = 1;
const EMPTY = 2;
/** Read but not planned (date filter, system event): kept as a row only so that a later copy is a duplicate. */
const FILTERED = 4;
/** Some reply planned in the channel names this message as its thread. */
const HAS_REPLIES = 8;
/** A skipped system event (join, huddle) kept as a short notice when a reply names it as its thread. */
const NOTICE = 16;
/** The message has no thread. */
const NO_THREAD = -1;
/** The thread is not a Slack ts, so no message of the channel can be its parent (kept aside as a string). */
const ODD_THREAD = -2;
const CHUNK_CHARS = 65_536;

/**
 * How a message is spilled between the passes: an empty first line when it fits in one part, followed by
 * its body, hosted contents and files as JSON lines, ready for the plan line. The first line is JSON
 * instead when the message may need splitting (its blocks, then the same lines) or mentions someone not yet
 * named when read (the message alone, rendered when written, after the whole channel has been read).
 */
interface SpillExtra {
  b?: string[];
  m?: SourceMessage;
}

const jsonList = (list: unknown[]): string => (list.length ? JSON.stringify(list) : '[]');
const jsonListLength = (json: string): number => (json === '[]' ? 0 : (JSON.parse(json) as unknown[]).length);

/** The distinct authors of a channel's messages (kind, tombstone, id, name), numbered as first seen. */
class AuthorTable {
  readonly list: Array<Pick<SourceMessage, 'authorId' | 'authorName' | 'deleted' | 'kind'>> = [];
  private readonly index = new Map<string, Map<string | undefined, Map<string | undefined, number>>>();

  numberOf(m: SourceMessage): number {
    const group = m.deleted ? `${m.kind}!` : m.kind;
    let byId = this.index.get(group);
    if (!byId) this.index.set(group, (byId = new Map()));
    let byName = byId.get(m.authorId);
    if (!byName) byId.set(m.authorId, (byName = new Map()));
    let n = byName.get(m.authorName);
    if (n === undefined) {
      n = this.list.length;
      byName.set(m.authorName, n);
      this.list.push({ authorId: m.authorId, authorName: m.authorName, deleted: m.deleted, kind: m.kind });
    }
    return n;
  }
}

/** One line's fields that vary with the message, already serialized as JSON. */
interface LineBody {
  html: string;
  hostedContents: string;
  files: string;
  part?: { index: number; of: number };
  mentions?: string;
  reactions?: string;
  reactionLine?: string;
}

/** A message's mentions and reactions as spilled (the fifth line; empty when it has neither). */
interface SpillExtras {
  mentions: PlannedMention[];
  reactions: PlannedReactions;
  mentionText: Partial<Record<MentionTextReason, number>>;
}

/** How many mentions and reactions a channel's plan makes native, and how many are text and why. */
interface Fidelity {
  mentions: { native: number; text: Partial<Record<MentionTextReason, number>> };
  reactions: { native: number; text: Partial<Record<ReactionTextReason, number>> };
}

/** A planned message's lines, with its counts. */
interface PlannedBodies {
  bodies: LineBody[];
  files: number;
  images: number;
  fidelity: Fidelity;
}

function spillExtras(rendered: RenderedMessage): string {
  const { mentions, reactions, mentionText } = rendered;
  if (!mentions.length && !reactions.line.length && !Object.keys(mentionText).length) return '';
  return JSON.stringify({ mentions, reactions, mentionText } satisfies SpillExtras);
}

function reactionFields(
  reactions: PlannedReactions | undefined,
): Pick<LineBody, 'reactions' | 'reactionLine'> {
  if (!reactions?.line.length) return {};
  return {
    ...(reactions.candidates.length ? { reactions: JSON.stringify(reactions.candidates) } : {}),
    reactionLine: JSON.stringify(reactions.line),
  };
}

function fidelityOf(
  extras: Pick<SpillExtras, 'mentionText'> | undefined,
  nativeMentions: number,
  reactions: PlannedReactions | undefined,
): Fidelity {
  return {
    mentions: { native: nativeMentions, text: extras?.mentionText ?? {} },
    reactions: { native: reactions?.candidates.length ?? 0, text: reactions?.textReasons ?? {} },
  };
}

/** What a fitted part adds to the service's measure beyond the envelope (see split.ts). */
function partSize(part: FittedPart): number {
  const candidates = part.reactions?.candidates ?? [];
  return (
    bodySize(part.html) +
    mentionsSize(part.mentions) +
    bodySize(reactionLineHtml(part.reactions ? fullReactionLine(part.reactions) : [])) +
    candidates.reduce((n, c) => n + reactionEntryBytes(c.emoji, c.displayName), 0)
  );
}

type AuthorSource = Pick<
  SourceMessage,
  'authorId' | 'authorName' | 'deleted' | 'kind' | 'ts' | 'conversationId'
>;

async function planChannel(
  ctx: Context,
  conv: SlackConversation,
  teamsName: string,
  isGeneral: boolean,
  store?: ObjectStore,
  folder: 'channels' | 'chats' = 'channels',
): Promise<PlannedChannel> {
  const { log, options, spill } = ctx;
  const skipped: Partial<Record<SkipReason, number>> = {};
  const skip = (r: SkipReason, n = 1): void => {
    if (n > 0) skipped[r] = (skipped[r] ?? 0) + n;
  };
  spill.clear();
  let unresolved = false;
  const trackedNames: RenderNames = {
    user: (id) => {
      const name = ctx.names.user(id);
      if (name === undefined) unresolved = true;
      return name;
    },
    channel: ctx.names.channel,
  };
  const directory: MentionDirectory = {
    userTextReason: ctx.textReason,
    channelKey: (id) => (ctx.imported.has(id) ? id : undefined),
    userGroup: (id) => ctx.userGroups.get(id),
    teamName: ctx.teamName,
    channelName: teamsName,
  };
  const reactionContext: ReactionContext = {
    native: options.reactions !== 'text',
    reactorTextReason: ctx.textReason,
    displayName: (id) => trackedNames.user(id) ?? id,
  };
  const renderOptions: RenderOptions = {
    canDownloadFiles: !!options.slackBotToken,
    channelKey: conv.sourceId,
    ...(options.maxFileBytes !== undefined ? { maxFileBytes: options.maxFileBytes } : {}),
    fileNames: new FileNamer(),
    mentions: directory,
    reactions: reactionContext,
  };
  const fileCounts: PlannedFileCounts = { inline: 0, sharepoint: 0, fallback: {} };
  const budget = options.bodyBudgetBytes ?? BODY_BUDGET_BYTES;
  const bodies = (spilled: string, orphan: boolean): PlannedBodies => {
    const [first, html, hostedContents, files, extrasJson] = spilled.split('\n');
    const extras = extrasJson ? (JSON.parse(extrasJson) as SpillExtras) : undefined;
    if (!first) {
      const body = orphan ? JSON.stringify(ORPHAN_NOTE_HTML + (JSON.parse(html) as string)) : html;
      const reactions = extras?.reactions;
      return {
        bodies: [
          {
            html: body,
            hostedContents,
            files,
            ...(extras?.mentions.length ? { mentions: JSON.stringify(extras.mentions) } : {}),
            ...reactionFields(reactions),
          },
        ],
        files: jsonListLength(files),
        images: jsonListLength(hostedContents),
        fidelity: fidelityOf(extras, extras?.mentions.length ?? 0, reactions),
      };
    }
    const extra = JSON.parse(first) as SpillExtra;
    const rendered: Pick<RenderedMessage, 'blocks' | 'hostedContents' | 'files' | 'mentions' | 'reactions'> &
      Partial<SpillExtras> = extra.m
      ? renderMessage(extra.m, ctx.names, renderOptions, { broadcast: extra.m.broadcast })
      : {
          blocks: extra.b!,
          hostedContents: JSON.parse(hostedContents) as PlannedHostedContent[],
          files: JSON.parse(files) as PlannedFileLink[],
          mentions: extras?.mentions ?? [],
          reactions: extras?.reactions ?? { candidates: [], line: [], textReasons: {} },
          mentionText: extras?.mentionText ?? {},
        };
    const { parts, demoted } = fitMessage(
      {
        blocks: orphan ? [ORPHAN_NOTE_HTML, ...rendered.blocks] : rendered.blocks,
        mentions: rendered.mentions,
        reactions: rendered.reactions,
      },
      budget,
    );
    warnOversize(parts);
    const split = parts.length > 1;
    const last = parts[parts.length - 1];
    const mentionText = { ...rendered.mentionText };
    if (demoted) mentionText['over-size'] = (mentionText['over-size'] ?? 0) + demoted;
    return {
      bodies: parts.map(({ html: part, mentions, reactions }, p) => ({
        html: JSON.stringify(part),
        hostedContents: jsonList(
          split
            ? rendered.hostedContents.filter((h) =>
                part.includes(`../hostedContents/${h.temporaryId}/$value`),
              )
            : rendered.hostedContents,
        ),
        files: jsonList(
          split
            ? rendered.files.filter((f) => part.includes(`<attachment id="${f.attachmentId}">`))
            : rendered.files,
        ),
        ...(split ? { part: { index: p + 1, of: parts.length } } : {}),
        ...(mentions.length ? { mentions: JSON.stringify(mentions) } : {}),
        ...reactionFields(reactions),
      })),
      files: rendered.files.length,
      images: rendered.hostedContents.length,
      fidelity: fidelityOf(
        { mentionText },
        parts.reduce((n, p) => n + p.mentions.length, 0),
        last.reactions,
      ),
    };
  };
  const warnOversize = (parts: FittedPart[]): void => {
    const over = parts.filter((p) => partSize(p) > budget).length;
    if (over)
      log.add({
        severity: 'warning',
        code: 'message-too-large',
        message: `a message of '${conv.name}' stays over the size limit after splitting (${over} part(s) hold an element that cannot be cut, such as a very long link); it will fail with the reason when posted.`,
        where: conv.name,
      });
  };
  const authors = new AuthorTable();
  // The index keeps no string per message: keys and threads are Slack ts encoded as two exact numbers.
  const rows = new PairRows();
  const pair: TsPair = { hi: 0, lo: 0 };
  const oddThreads = new Map<number, string>();
  const columns = {
    threadHi: new Column((n) => new Float64Array(n)),
    threadLo: new Column((n) => new Float64Array(n)),
    author: new Column((n) => new Int32Array(n)),
    flags: new Column((n) => new Uint8Array(n)),
    offset: new Column((n) => new Float64Array(n)),
    length: new Column((n) => new Int32Array(n)),
    fingerprint: new Column((n) => new Float64Array(n)),
  };
  let sourceMessages = 0;
  for await (const day of ctx.exp.days(conv)) {
    log.add(...day.problems);
    const dayFile = day.path.split('/').slice(-2).join('/');
    sourceMessages += day.messages.length + day.unreadable;
    skip('unreadable', day.unreadable);
    for (const m of day.messages) {
      if (!tsPair(m.key, pair))
        throw new Error(`planExport: message key ${JSON.stringify(m.key)} is not a Slack ts`);
      const row = rows.add(pair.hi, pair.lo);
      if (row < 0) {
        skip('duplicate-ts');
        log.add({
          severity: 'warning',
          code: 'duplicate-ts',
          message: `message ${m.ts} appears more than once in '${conv.name}' (again in '${day.path}'); the later copy is skipped.`,
          where: day.path,
        });
        continue;
      }
      if (m.subtype === 'bot_add') learnBot(ctx, m.text);
      if (
        m.kind !== 'bot' &&
        m.authorId &&
        m.authorName &&
        !ctx.users.has(m.authorId) &&
        !ctx.profileNames.has(m.authorId)
      )
        ctx.profileNames.set(m.authorId, m.authorName);
      const time = timeOfPair(pair.hi, pair.lo);
      if (time.micros > ctx.newest.micros) {
        ctx.newest.micros = time.micros;
        ctx.newest.ts = m.ts;
      }
      ctx.workspaceUrl ??= workspaceOfFiles(m.files);
      let filtered = false;
      let notice = false;
      if (
        (ctx.since !== undefined && time.ms < ctx.since) ||
        (ctx.until !== undefined && time.ms >= ctx.until)
      ) {
        skip('filtered-by-date');
        filtered = true;
      } else if (m.kind === 'system' && !options.includeSystemEvents) {
        filtered = true;
        notice = !m.threadKey;
        if (!notice) skip('system-event');
      }
      if (filtered || !m.threadKey) {
        columns.threadHi.push(NO_THREAD);
        columns.threadLo.push(0);
      } else if (tsPair(m.threadKey, pair)) {
        columns.threadHi.push(pair.hi);
        columns.threadLo.push(pair.lo);
      } else {
        oddThreads.set(row, m.threadKey);
        columns.threadHi.push(ODD_THREAD);
        columns.threadLo.push(0);
      }
      if (filtered && !notice) {
        columns.author.push(-1);
        columns.flags.push(FILTERED);
        columns.offset.push(-1);
        columns.length.push(0);
        columns.fingerprint.push(-1);
        continue;
      }
      columns.fingerprint.push(m.deleted ? DELETED_FINGERPRINT : fingerprintOf(m));
      unresolved = false;
      for (const f of m.files) f.dayFile = dayFile;
      const rendered = renderMessage(m, trackedNames, renderOptions, { broadcast: m.broadcast });
      if (rendered.fileCounts) addFileCounts(fileCounts, rendered.fileCounts);
      columns.author.push(authors.numberOf(m));
      columns.flags.push(
        (notice ? FILTERED | NOTICE : 0) | (m.deleted ? DELETED : 0) | (rendered.empty ? EMPTY : 0),
      );
      if (rendered.empty) {
        columns.offset.push(-1);
        columns.length.push(0);
        continue;
      }
      let ref;
      if (unresolved) ref = spill.append(JSON.stringify({ m }));
      else {
        const whole = rendered.blocks.join('');
        const fits = fitsWhole(
          {
            blocks: m.threadKey ? [ORPHAN_NOTE_HTML, whole] : [whole],
            mentions: rendered.mentions,
            reactions: rendered.reactions,
          },
          budget,
        );
        const first = fits ? '' : JSON.stringify({ b: rendered.blocks });
        const files = `${jsonList(rendered.hostedContents)}\n${jsonList(rendered.files)}`;
        ref = spill.append(`${first}\n${JSON.stringify(whole)}\n${files}\n${spillExtras(rendered)}`);
      }
      columns.offset.push(ref.offset);
      columns.length.push(ref.length);
    }
  }
  const fingerprints = columns.fingerprint.values();
  const [keyHi, keyLo, threadHi, threadLo, authorOfMessage, flags, offsets, lengths] = [
    rows.his(),
    rows.los(),
    columns.threadHi.values(),
    columns.threadLo.values(),
    columns.author.values(),
    columns.flags.values(),
    columns.offset.values(),
    columns.length.values(),
  ];
  const keyOfRow = (c: number): string => tsOfPair(keyHi[c], keyLo[c]);
  const threadOfRow = (c: number): string =>
    threadHi[c] === ODD_THREAD ? oddThreads.get(c)! : tsOfPair(threadHi[c], threadLo[c]);
  // The row each reply's thread names (-1: none in the channel); rows are distinct keys, as the sets were.
  const threadRow = new Int32Array(rows.size).fill(-1);
  for (let c = 0; c < rows.size; c++) {
    if (threadHi[c] < 0) continue;
    const t = rows.find(threadHi[c], threadLo[c]);
    threadRow[c] = t;
    if (t >= 0) flags[t] |= HAS_REPLIES;
  }
  const keptColumn = new Column((n) => new Int32Array(n));
  const keptIndex = new Int32Array(rows.size).fill(-1);
  for (let c = 0; c < rows.size; c++) {
    if (flags[c] & NOTICE && !(flags[c] & HAS_REPLIES && !(flags[c] & EMPTY))) {
      skip('system-event');
      continue;
    }
    if (flags[c] & FILTERED && !(flags[c] & NOTICE)) continue;
    if (flags[c] & DELETED && !(flags[c] & HAS_REPLIES)) skip('deleted');
    else if (flags[c] & EMPTY) skip('empty');
    else {
      keptIndex[c] = keptColumn.values().length;
      keptColumn.push(c);
    }
  }
  const kept = keptColumn.values();
  const parents = new Int32Array(kept.length).fill(-1);
  const orphans = new Uint8Array(kept.length);
  kept.forEach((c, j) => {
    if (threadHi[c] === NO_THREAD) return;
    const t = threadRow[c];
    const parent = t >= 0 && threadHi[t] === NO_THREAD ? keptIndex[t] : -1;
    if (parent >= 0) {
      parents[j] = parent;
      return;
    }
    orphans[j] = 1;
    log.add({
      severity: 'info',
      code: 'orphan-reply',
      message: `reply ${keyOfRow(c)} in '${conv.name}' belongs to thread ${threadOfRow(c)}, which is not in the import; it is posted as a top-level message with a note.`,
      where: conv.name,
    });
  });
  const msOf = (c: number): number => timeOfPair(keyHi[c], keyLo[c]).ms;
  let firstMs: number | undefined;
  for (const c of kept) {
    const ms = msOf(c);
    if (firstMs === undefined || ms < firstMs) firstMs = ms;
  }
  let created = conv.createdMs ?? (firstMs !== undefined ? firstMs - 1 : ctx.now);
  if (firstMs !== undefined && created >= firstMs) {
    if (conv.createdMs !== undefined && conv.createdMs > firstMs)
      log.add({
        severity: 'info',
        code: 'channel-backdated',
        message: `channel '${conv.name}' is dated ${iso(conv.createdMs)} in Slack, after its first message; it is created at ${iso(firstMs - 1)}.`,
        where: conv.name,
      });
    created = firstMs - 1;
  }
  created = Math.min(created, ctx.now);
  const keptKey = (j: number): string => keyOfRow(kept[j]);
  const order = postingOrder({
    micros: Float64Array.from(kept, (c) => timeOfPair(keyHi[c], keyLo[c]).micros),
    keyOf: keptKey,
    parents,
  });
  const fidelity: Fidelity = { mentions: { native: 0, text: {} }, reactions: { native: 0, text: {} } };
  const partCounts = new Int32Array(kept.length);
  const counts = { posts: 0, replies: 0, split: 0, splitExtraParts: 0, bumps: 0, files: 0, inlineImages: 0 };
  let future = 0;
  let lineCount = 0;
  const firstKey = (j: number): string => (partCounts[j] > 1 ? `${keptKey(j)}#p1` : keptKey(j));
  const authorJson: string[] = [];
  function* lines(write: boolean): Generator<string> {
    let last = -Infinity;
    let seq = 0;
    let chunk = '';
    for (let r = 0; r < order.length; r++) {
      const j = order[r];
      const c = kept[j];
      const message = bodies(spill.read(offsets[c], lengths[c]), orphans[j] === 1);
      const parts = message.bodies.length;
      const ms = msOf(c);
      const first = nextTime(ms, last, created + 1);
      last = first + parts - 1;
      if (last > ctx.now) {
        future = order.length - r;
        break;
      }
      partCounts[j] = parts;
      if (first !== ms) counts.bumps++;
      if (parts > 1) {
        counts.split++;
        counts.splitExtraParts += parts - 1;
      }
      lineCount += parts;
      if (parents[j] >= 0) counts.replies += parts;
      else counts.posts += parts;
      counts.files += message.files;
      counts.inlineImages += message.images;
      addFidelity(fidelity, message.fidelity);
      const a = authorOfMessage[c];
      authorJson[a] ??= JSON.stringify(
        authorOf(ctx, { ...authors.list[a], ts: keyOfRow(c), conversationId: conv.sourceId }),
      );
      const author = authorJson[a];
      if (!write) continue;
      const parentKey = parents[j] >= 0 ? firstKey(parents[j]) : undefined;
      const messageKey = keyOfRow(c);
      const fingerprint = fingerprintText(fingerprints[c]);
      message.bodies.forEach((body, p) => {
        const key = parts > 1 ? `${messageKey}#p${p + 1}` : messageKey;
        chunk += planLine(seq++, key, parentKey, iso(first + p), author, body, fingerprint) + '\n';
      });
      if (chunk.length >= CHUNK_CHARS) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
  }
  const planPath = `${folder}/${conv.sourceId}.ndjson`;
  if (store)
    await store.put(planPath, Readable.from(lines(true), { objectMode: false }), 'application/x-ndjson');
  else for (const chunk of lines(false)) void chunk;
  if (future > 0) {
    skip('in-future', future);
    log.add({
      severity: 'warning',
      code: 'in-future',
      message: `${future} message(s) of '${conv.name}' would be dated after ${iso(ctx.now)}; they are left out: plan again later.`,
      where: conv.name,
    });
  }
  const baseDescription = conv.purpose || conv.topic;
  const description = (
    conv.isArchived ? `${baseDescription ? `${baseDescription} ` : ''}(archived in Slack)` : baseDescription
  ).slice(0, MAX_DESCRIPTION);
  return {
    key: conv.sourceId,
    sourceId: conv.sourceId,
    sourceName: conv.name,
    teamsName,
    description,
    isGeneral,
    createdDateTime: iso(created),
    planPath,
    posts: counts.posts,
    replies: counts.replies,
    messages: lineCount,
    skipped,
    split: counts.split,
    splitExtraParts: counts.splitExtraParts,
    sourceMessages,
    isArchived: conv.isArchived,
    timestampBumps: counts.bumps,
    files: counts.files,
    inlineImages: counts.inlineImages,
    fileCounts,
    fidelity,
    members: conv.members,
    ...(conv.creatorId ? { creatorId: conv.creatorId } : {}),
    ...(conv.kind === 'private' ? { membershipType: 'private' as const } : {}),
  };
}

/** The fingerprint column's value for a tombstone (a deleted message kept for its replies). */
const DELETED_FINGERPRINT = -2;

/** A message's content as a 48-bit number: its text, its files and its edit stamp. */
function fingerprintOf(m: SourceMessage): number {
  const digest = createHash('sha256')
    .update(JSON.stringify([m.text, m.files.map((f) => f.sourceId), m.editedTs ?? '']))
    .digest();
  return digest.readUIntBE(0, 6);
}

/** The fingerprint a plan line carries: 12 hex digits, or `deleted`. */
function fingerprintText(value: number): string {
  return value === DELETED_FINGERPRINT ? 'deleted' : value.toString(16).padStart(12, '0');
}

/** The workspace's address from a file's permalink (`https://acme.slack.com/files/...`), if any. */
function workspaceOfFiles(files: SourceMessage['files']): string | undefined {
  for (const f of files) {
    const m =
      f.permalink && /^(https:\/\/[a-z0-9-]+(?:\.enterprise)?\.slack\.com)\/files\//i.exec(f.permalink);
    if (m) return m[1].toLowerCase();
  }
  return undefined;
}

/** Adds one message's file outcomes to a channel's. */
function addFileCounts(total: PlannedFileCounts, add: PlannedFileCounts): void {
  total.inline += add.inline;
  total.sharepoint += add.sharepoint;
  for (const [reason, n] of Object.entries(add.fallback) as [keyof PlannedFileCounts['fallback'], number][])
    total.fallback[reason] = (total.fallback[reason] ?? 0) + n;
}

/** `JSON.stringify` of a {@link PlannedMessage}, from its fields serialized beforehand. */
function planLine(
  seq: number,
  key: string,
  parentKey: string | undefined,
  createdDateTime: string,
  authorJson: string,
  body: LineBody,
  fingerprint: string,
): string {
  const parent = parentKey === undefined ? '' : `,"parentKey":${JSON.stringify(parentKey)}`;
  const part = body.part ? `,"part":{"index":${body.part.index},"of":${body.part.of}}` : '';
  const mentions = body.mentions ? `,"mentions":${body.mentions}` : '';
  const reactions = body.reactions ? `,"reactions":${body.reactions}` : '';
  const line = body.reactionLine ? `,"reactionLine":${body.reactionLine}` : '';
  return (
    `{"seq":${seq},"key":${JSON.stringify(key)}${parent},"createdDateTime":"${createdDateTime}",` +
    `"author":${authorJson},"html":${body.html},"hostedContents":${body.hostedContents},"files":${body.files}${part}` +
    `${mentions}${reactions}${line},"fingerprint":"${fingerprint}"}`
  );
}

function addFidelity(into: Fidelity, from: Fidelity): void {
  into.mentions.native += from.mentions.native;
  into.reactions.native += from.reactions.native;
  addCounts(into.mentions.text, from.mentions.text);
  addCounts(into.reactions.text, from.reactions.text);
}

function addCounts<K extends string>(
  into: Partial<Record<K, number>>,
  from: Partial<Record<K, number>>,
): void {
  for (const [k, n] of Object.entries(from) as Array<[K, number]>) into[k] = (into[k] ?? 0) + n;
}

function learnBot(ctx: Context, text: string): void {
  const m = /<https?:\/\/[^|>]*\/services\/(B[A-Z0-9]+)\|([^>]+)>/.exec(text);
  if (m && !ctx.learnedBots.has(m[1])) ctx.learnedBots.set(m[1], m[2]);
}

function authorOf(ctx: Context, msg: AuthorSource): PlannedMessage['author'] {
  const id = msg.authorId;
  if (msg.deleted) return { displayName: 'Slack', kind: 'system' };
  if (msg.kind === 'bot') {
    const name =
      msg.authorName ??
      (id
        ? (ctx.exp.botNames.get(id) ?? ctx.learnedBots.get(id) ?? ctx.users.get(id)?.displayName)
        : undefined) ??
      `Integration ${id ?? ''}`.trim();
    return { ...(id ? { sourceUserId: id } : {}), displayName: name, kind: 'bot' };
  }
  if (!id) return { displayName: msg.authorName ?? 'Unknown author', kind: msg.kind };
  const user = ctx.users.get(id);
  if (!user && !ctx.unknownAuthors.has(id))
    ctx.unknownAuthors.set(id, {
      id,
      name: msg.authorName ?? id,
      ts: msg.ts,
      where: msg.conversationId,
      at: ctx.log.size,
    });
  return {
    sourceUserId: id,
    displayName: user?.displayName ?? ctx.unknownAuthors.get(id)?.name ?? id,
    kind: msg.kind,
  };
}

/** A plan's totals over its channels: posts, replies, messages and the messages skipped. */
export function planTotals(channels: PlannedChannel[]): PlanManifest['totals'] {
  const totals = { posts: 0, replies: 0, messages: 0, skipped: 0 };
  for (const c of channels) {
    totals.posts += c.posts;
    totals.replies += c.replies;
    totals.messages += c.messages;
    totals.skipped += Object.values(c.skipped).reduce((a, b) => a + (b ?? 0), 0);
  }
  return totals;
}
