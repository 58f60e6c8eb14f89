import {
  ErrorCode,
  LogLevel,
  retryPolicies,
  WebClient,
  type RetryOptions,
  type WebAPICallResult,
} from '@slack/web-api';
import { isLoopbackUrl } from '../../graph/auth';
import type { ConversationKind, Problem, SourceConversation, SourceUser } from '../../model';
import type { SlackApiSourceRef } from '../../pipeline/contracts';
import type { SourceScope } from '../../pipeline/deps';
import {
  invalidConversationId,
  readConversation,
  readMessageElements,
  readUsers,
  SLACK_ID,
  type SlackConversation,
  type SlackDay,
  type SlackSource,
} from './export';
import { TS_PATTERN } from './messages';

/** Slack's Web API, where `SLACK_API_URL` points by default. */
export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

/** Messages asked for per page: Slack's advice for `conversations.history`, `conversations.replies` and lists. */
export const PAGE_SIZE = 200;

/**
 * Whether `SLACK_TOKEN` may be sent to a Web API base: an https URL, or plain http to this machine only (a
 * rehearsal's stand-in).
 */
export function isSafeSlackApiUrl(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const { protocol } = new URL(url);
  return protocol === 'https:' || (protocol === 'http:' && isLoopbackUrl(url));
}

/** Scopes every read needs: channels, their history and members, users with their e-mail, and file downloads. */
export const BASE_SCOPES: readonly string[] = [
  'channels:read',
  'channels:history',
  'users:read',
  'users:read.email',
  'files:read',
];
/** Scopes private channels need on top of {@link BASE_SCOPES}. */
export const PRIVATE_SCOPES: readonly string[] = ['groups:read', 'groups:history'];

/** The scopes a token needs to read a workspace, private channels included or not. */
export function scopesNeeded(includePrivate: boolean): string[] {
  return [...BASE_SCOPES, ...(includePrivate ? PRIVATE_SCOPES : [])];
}

/** How to read a workspace through Slack's Web API. */
export interface SlackApiOptions {
  /** A user (`xoxp-`) or bot (`xoxb-`) token of an app installed in the workspace: sent to `apiUrl` only. */
  token: string;
  /** The Web API's base (`SLACK_API_URL`); default {@link DEFAULT_SLACK_API_URL}. */
  apiUrl?: string;
  /** The workspace the token must belong to: its team id, domain (`acme`, `acme.slack.com`) or name. */
  workspace?: string;
  /** Read private channels too (the token needs {@link PRIVATE_SCOPES}). */
  includePrivate?: boolean;
  /** Channel names or ids to read (all when absent), and to leave out: the others' history is not read. */
  channels?: string[];
  excludeChannels?: string[];
  /** Slack `ts` bounds of every channel's history, both inclusive. */
  oldest?: string;
  latest?: string;
  /** Per channel id: a later `oldest` (a delta pass's window, inclusive). */
  windows?: Record<string, { oldest: string }>;
  /** The client's retries; default Slack's own ten retries in about thirty minutes. Retry-After is always honoured. */
  retryConfig?: RetryOptions;
  /** Messages per page; default {@link PAGE_SIZE}. */
  pageSize?: number;
  /**
   * What an earlier opening of the same workspace read (its `directory`): users, channels and members are
   * taken from it instead of `users.list`, `conversations.list` and `conversations.members`. One of another
   * workspace, or without the private channels asked for, is not used; a selected channel it has no members
   * for has them read.
   */
  directory?: SourceDirectory;
}

/**
 * What opening a workspace through the Web API read, JSON-serializable, so the workspace can be opened again
 * (by each channel's step of a migration) without reading it again: `auth.test` and its scope checks still run
 * every time.
 */
export interface SourceDirectory {
  /** The workspace's Slack team id (`auth.test`): the directory is used only for the same workspace. */
  teamId: string;
  /** Whether private channels were listed. */
  includePrivate: boolean;
  /** The workspace's users (`users.list`). */
  users: SourceUser[];
  /** Bot ids -> names, from bot users' profiles. */
  botNames: Record<string, string>;
  /** The workspace's channels (`conversations.list`), members as the list gave them. */
  conversations: SourceConversation[];
  /** Channel id -> its members (`conversations.members`), for the channels whose members were read. */
  members: Record<string, string[]>;
  /** What the list answered that could not be used (ids that are not Slack ids). */
  problems: Problem[];
}

/** Slack refused the token or the workspace: nothing can be read, and the message says what to do. */
export class SlackApiError extends Error {
  constructor(
    message: string,
    /** `invalid-auth`, `missing-scope`, `wrong-workspace`, or `refused` (any other `ok: false`). */
    readonly code: 'invalid-auth' | 'missing-scope' | 'wrong-workspace' | 'refused',
  ) {
    super(message);
    this.name = 'SlackApiError';
  }
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** `auth.test`'s answers that mean the token itself is no good. */
const BAD_TOKEN = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
]);

/** The Slack error code of a refused call (`ok: false`), or undefined for any other failure. */
function slackError(err: unknown): { error: string; needed?: string; provided?: string } | undefined {
  if (!isObj(err) || err.code !== ErrorCode.PlatformError || !isObj(err.data)) return undefined;
  const { error, needed, provided } = err.data;
  return typeof error === 'string' ? { error, needed: str(needed), provided: str(provided) } : undefined;
}

/** A Slack `ts` for an instant given in epoch milliseconds (microseconds, as Slack writes them). */
export function tsOfMs(ms: number): string {
  return (ms / 1000).toFixed(6);
}

/** The later of two Slack `ts` bounds (either may be absent). */
function laterTs(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Number(a) >= Number(b) ? a : b;
}

/**
 * The read a migration asks of a Slack API source: the source's workspace, private channels and per-channel
 * windows, and the run's channel choice and time bounds (`since` on, up to `until` or the run's start).
 */
export function slackApiScope(
  source: SlackApiSourceRef,
  scope: SourceScope = {},
): Omit<SlackApiOptions, 'token' | 'apiUrl' | 'retryConfig' | 'pageSize' | 'directory'> {
  const ms = (iso: string | undefined): number | undefined => (iso ? Date.parse(iso) : undefined);
  const until = [ms(scope.until), ms(scope.now)].filter((v): v is number => v !== undefined && !isNaN(v));
  const since = ms(scope.since);
  return {
    ...(source.workspace !== undefined ? { workspace: source.workspace } : {}),
    ...(source.includePrivate ? { includePrivate: true } : {}),
    ...(source.windows ? { windows: source.windows } : {}),
    ...(scope.channels?.length ? { channels: scope.channels } : {}),
    ...(scope.excludeChannels?.length ? { excludeChannels: scope.excludeChannels } : {}),
    ...(since !== undefined && !isNaN(since) ? { oldest: tsOfMs(since) } : {}),
    ...(until.length ? { latest: tsOfMs(Math.min(...until)) } : {}),
  };
}

/** How far before a channel's newest imported message a delta pass reads again, for late thread replies. */
export const DELTA_LOOK_BACK_SECONDS = 7 * 24 * 3600;

/**
 * A delta pass's source: the migration's Slack API source with, per channel (Slack id), a window from its
 * high-water mark (the newest Slack `ts` imported; a split message's `#pN` suffix is ignored) minus the
 * look-back, so threads started in the look-back bring their late replies. Channels without a mark are read
 * whole. Messages read again are ones the ledger already holds.
 */
export function deltaSourceRef(
  source: SlackApiSourceRef,
  highWaterMarks: Record<string, string>,
  lookBackSeconds = DELTA_LOOK_BACK_SECONDS,
): SlackApiSourceRef {
  const windows: Record<string, { oldest: string }> = {};
  for (const [channel, mark] of Object.entries(highWaterMarks)) {
    const ts = mark.replace(/#p\d+$/, '');
    if (!TS_PATTERN.test(ts))
      throw new Error(`deltaSourceRef: '${mark}' of channel ${channel} is not a Slack ts`);
    windows[channel] = { oldest: Math.max(0, Number(ts) - lookBackSeconds).toFixed(6) };
  }
  return { ...source, windows };
}

/** A workspace name as people write it, reduced for comparison: `https://Acme.slack.com/` -> `acme`. */
function workspaceKey(value: string): string {
  return value
    .trim()
    .toLowerCase()
    .replace(/^https?:\/\//, '')
    .replace(/\/+$/, '')
    .replace(/\.slack\.com$/, '');
}

/** The workspace as `auth.test` names it. */
interface Workspace {
  teamId: string;
  team: string;
  domain: string;
}

/**
 * Checks the token before anything is read: Slack accepts it (`auth.test`), it carries every scope the read
 * needs (Slack lists a token's scopes in the `x-oauth-scopes` header of every answer), and it belongs to the
 * workspace named. Throws {@link SlackApiError} naming what is missing; the token never appears in a message.
 */
async function checkToken(client: WebClient, options: SlackApiOptions): Promise<Workspace> {
  let auth: WebAPICallResult & Json;
  try {
    auth = (await client.auth.test()) as WebAPICallResult & Json;
  } catch (err) {
    const refused = slackError(err);
    if (refused && BAD_TOKEN.has(refused.error))
      throw new SlackApiError(
        `Slack refused SLACK_TOKEN (${refused.error}): set SLACK_TOKEN to a current user or bot token of the ` +
          "workspace's Slack app (OAuth & Permissions in the app's settings).",
        'invalid-auth',
      );
    if (refused) throw new SlackApiError(`Slack answered auth.test with '${refused.error}'.`, 'refused');
    throw err;
  }
  const granted = new Set(auth.response_metadata?.scopes ?? []);
  const missing = scopesNeeded(!!options.includePrivate).filter((s) => !granted.has(s));
  if (missing.length > 0)
    throw new SlackApiError(
      `SLACK_TOKEN lacks the Slack scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` +
        (granted.size ? ` (it has ${[...granted].sort().join(', ')})` : ' (Slack named no scope for it)') +
        `: add ${missing.length > 1 ? 'them' : 'it'} to the Slack app's scopes (OAuth & Permissions), ` +
        'reinstall the app to the workspace and set SLACK_TOKEN to the new token. Nothing was read or created.',
      'missing-scope',
    );
  const url = str(auth.url) ?? '';
  const workspace: Workspace = {
    teamId: str(auth.team_id) ?? '',
    team: str(auth.team) ?? '',
    domain: url ? workspaceKey(url) : '',
  };
  if (options.workspace !== undefined) {
    const wanted = workspaceKey(options.workspace);
    const names = [workspace.teamId, workspace.team, workspace.domain].map(workspaceKey);
    if (!names.includes(wanted))
      throw new SlackApiError(
        `SLACK_TOKEN belongs to the Slack workspace '${workspace.team}' (${workspace.teamId}` +
          `${workspace.domain ? `, ${workspace.domain}.slack.com` : ''}), not '${options.workspace}': ` +
          "use that workspace's token, or name the workspace the token is for.",
        'wrong-workspace',
      );
  }
  return workspace;
}

/** Whether a list of channel names or ids names the conversation (`general`, `#general` or `C0123`). */
function names(list: string[] | undefined, c: { name: string; sourceId: string }): boolean {
  return !!list?.some((x) => x === c.name || x === c.sourceId || x === `#${c.name}`);
}

/** A client of the Web API at `options.apiUrl` with the token, honouring Retry-After. */
function clientFor(options: SlackApiOptions): WebClient {
  return new WebClient(options.token, {
    slackApiUrl: options.apiUrl ?? DEFAULT_SLACK_API_URL,
    retryConfig: options.retryConfig ?? retryPolicies.tenRetriesInAboutThirtyMinutes,
    rejectRateLimitedCalls: false,
    logLevel: LogLevel.WARN,
  });
}

/** The workspace's users (`users.list`), after the same token checks as {@link openSlackApi}. */
export async function readSlackApiUsers(options: SlackApiOptions): Promise<SourceUser[]> {
  const client = clientFor(options);
  await checkToken(client, options);
  const members: unknown[] = [];
  for await (const page of pages(client, 'users.list', {}, 'members', options.pageSize ?? PAGE_SIZE))
    members.push(...page);
  return readUsers(members.filter(isObj)).users;
}

/** The `field` list of every page of a cursor-paginated method, page by page (the client follows the cursors). */
async function* pages(
  client: WebClient,
  method: string,
  args: Json,
  field: string,
  pageSize: number,
): AsyncGenerator<unknown[]> {
  for await (const page of client.paginate(method, { ...args, limit: pageSize })) {
    const got = (page as WebAPICallResult & Json)[field];
    yield Array.isArray(got) ? got : [];
  }
}

/**
 * Opens a workspace through Slack's Web API as a {@link SlackSource} the planner reads like an export: the
 * token is checked first (accepted, every scope the read needs, the workspace named), then users
 * (`users.list`), channels (`conversations.list`: public, and private ones when asked) and the selected
 * channels' members (`conversations.members`) are read; each channel's history is read when the planner
 * asks for it (`conversations.history` by time window, every thread's replies through
 * `conversations.replies`), as the same JSON an export's day files hold, through the export's reader. Paging
 * and rate limits are the official client's (`paginate`, `retryConfig`, Retry-After honoured).
 */
export async function openSlackApi(options: SlackApiOptions): Promise<SlackSource> {
  const client = clientFor(options);
  const pageSize = options.pageSize ?? PAGE_SIZE;
  const workspace = await checkToken(client, options);
  const all = async (method: string, args: Json, field: string): Promise<unknown[]> => {
    const items: unknown[] = [];
    for await (const page of pages(client, method, args, field, pageSize)) items.push(...page);
    return items;
  };

  const listed = usableDirectory(options.directory, workspace, options) ?? {
    ...(await readDirectory(all, workspace, !!options.includePrivate)),
    members: {},
  };
  const { users } = listed;
  const botNames = new Map(Object.entries(listed.botNames));
  const botUsers = new Set(users.filter((u) => u.isBot).map((u) => u.sourceId));
  const authors = { isBotUser: (id: string) => botUsers.has(id) };
  const problems: Problem[] = [...listed.problems];
  const members: Record<string, string[]> = { ...listed.members };
  const conversations: SlackConversation[] = [];
  const selected = new Set<string>();
  const unread: string[] = [];
  for (const listedConv of listed.conversations) {
    const id = listedConv.sourceId;
    const conv: SlackConversation = { ...listedConv, folder: listedConv.name, dayFiles: [] };
    if (
      (!options.channels?.length || names(options.channels, conv)) &&
      !names(options.excludeChannels, conv)
    ) {
      selected.add(id);
      members[id] ??= (await all('conversations.members', { channel: id }, 'members')).filter(
        (m): m is string => typeof m === 'string',
      );
      conv.members = [...members[id]];
    } else unread.push(conv.name);
    conversations.push(conv);
  }
  const directory: SourceDirectory = {
    teamId: listed.teamId,
    includePrivate: listed.includePrivate,
    users: listed.users,
    botNames: listed.botNames,
    conversations: listed.conversations,
    members,
    problems: listed.problems,
  };
  if (unread.length)
    problems.push({
      severity: 'info',
      code: 'channel-not-read',
      message:
        `${unread.length} channel(s) left out by the channel options were not read from Slack, so the report ` +
        `counts no messages for them: ${unread.map((n) => `#${n}`).join(', ')}.`,
    });

  /**
   * A channel's messages in the window, a history page at a time (newest first, as Slack pages them) with the
   * replies of the threads the page starts. A reply also sent to the channel comes once, from the history.
   */
  async function* days(conv: SlackConversation): AsyncGenerator<SlackDay> {
    if (!selected.has(conv.sourceId)) return;
    const channel = conv.sourceId;
    const oldest = laterTs(options.oldest, options.windows?.[channel]?.oldest);
    const latest = options.latest;
    const bounds = { ...(latest ? { latest } : {}), inclusive: true };
    const broadcasts = new Set<string>();
    let n = 0;
    try {
      for await (const page of pages(
        client,
        'conversations.history',
        { channel, ...(oldest ? { oldest } : {}), ...bounds },
        'messages',
        pageSize,
      )) {
        n++;
        const messages = page.filter(isObj);
        for (const m of messages) {
          const ts = str(m.ts);
          if (ts && str(m.thread_ts) && m.thread_ts !== ts) broadcasts.add(ts);
        }
        const replies: Json[] = [];
        for (const parent of messages.filter(startsThread))
          for await (const got of pages(
            client,
            'conversations.replies',
            { channel, ts: parent.ts, ...bounds },
            'messages',
            pageSize,
          ))
            for (const r of got.filter(isObj))
              if (r.ts !== parent.ts && !broadcasts.has(String(r.ts))) replies.push(r);
        const first = str(messages[0]?.ts);
        const date =
          first && TS_PATTERN.test(first) ? new Date(Number(first) * 1000).toISOString().slice(0, 10) : '';
        yield* readMessageElements(
          `#${conv.name} (conversations.history page ${n})`,
          date,
          channel,
          authors,
          [...messages, ...replies],
        );
      }
    } catch (err) {
      const refused = slackError(err);
      if (!refused) throw err;
      yield {
        path: `#${conv.name}`,
        date: '',
        messages: [],
        unreadable: 0,
        problems: [
          {
            severity: 'error',
            code: 'slack-api-refused',
            message: refusalMessage(conv, refused),
            where: conv.name,
          },
        ],
      };
    }
  }

  return {
    name: workspace.domain ? `${workspace.domain}.slack.com` : workspace.teamId,
    ...(workspace.team ? { teamName: workspace.team } : {}),
    users,
    conversations,
    problems,
    botNames,
    directory,
    days,
    close: () => Promise.resolve(),
  };
}

/** The workspace's users and channels as `users.list` and `conversations.list` answer them. */
async function readDirectory(
  all: (method: string, args: Json, field: string) => Promise<unknown[]>,
  workspace: Workspace,
  includePrivate: boolean,
): Promise<Omit<SourceDirectory, 'members'>> {
  const { users, botNames } = readUsers((await all('users.list', {}, 'members')).filter(isObj));
  const problems: Problem[] = [];
  const conversations: SourceConversation[] = [];
  const types = includePrivate ? 'public_channel,private_channel' : 'public_channel';
  for (const raw of (await all('conversations.list', { types, exclude_archived: false }, 'channels')).filter(
    isObj,
  )) {
    const id = str(raw.id);
    if (!id) continue;
    const name = str(raw.name) ?? id;
    if (!SLACK_ID.test(id)) {
      problems.push(
        invalidConversationId('conversations.list', name, id, 'Slack answered an id it never makes.'),
      );
      continue;
    }
    const kind: ConversationKind = raw.is_private === true ? 'private' : 'channel';
    conversations.push(readConversation(raw, id, name, kind));
  }
  return {
    teamId: workspace.teamId,
    includePrivate,
    users,
    botNames: Object.fromEntries(botNames),
    conversations,
    problems,
  };
}

/**
 * The directory to open from, when it fits: made by {@link openSlackApi} (its shape), of the workspace the token
 * belongs to, and listing private channels when they are asked for (those it lists are left out when not).
 */
function usableDirectory(
  directory: SourceDirectory | undefined,
  workspace: Workspace,
  options: SlackApiOptions,
): SourceDirectory | undefined {
  if (
    !isObj(directory) ||
    directory.teamId !== workspace.teamId ||
    !Array.isArray(directory.users) ||
    !Array.isArray(directory.conversations) ||
    !Array.isArray(directory.problems) ||
    !isObj(directory.botNames) ||
    !isObj(directory.members)
  )
    return undefined;
  if (options.includePrivate && !directory.includePrivate) return undefined;
  if (options.includePrivate || !directory.includePrivate) return directory;
  return {
    ...directory,
    includePrivate: false,
    conversations: directory.conversations.filter((c) => c.kind !== 'private'),
  };
}

/** A message that starts a thread with replies (Slack gives the parent `thread_ts` = `ts` and a `reply_count`). */
function startsThread(m: Json): boolean {
  return (
    typeof m.ts === 'string' &&
    m.thread_ts === m.ts &&
    ((typeof m.reply_count === 'number' && m.reply_count > 0) || typeof m.latest_reply === 'string')
  );
}

/** Why Slack would not let a channel be read, and what to do about it. */
function refusalMessage(conv: SlackConversation, refused: { error: string; needed?: string }): string {
  const what = `Slack refused to read #${conv.name} (${refused.error})`;
  switch (refused.error) {
    case 'not_in_channel':
      return `${what}: the app's bot is not a member of the channel; invite the app to it (/invite @app) or use a user token, or leave the channel out.`;
    case 'missing_scope':
      return `${what}: the token lacks ${refused.needed ?? 'a scope'}; add it to the Slack app, reinstall it and set SLACK_TOKEN to the new token.`;
    case 'channel_not_found':
      return `${what}: the channel was deleted, or the token cannot see it; leave it out or use a token that can.`;
    default:
      return `${what}; its messages are not imported.`;
  }
}
