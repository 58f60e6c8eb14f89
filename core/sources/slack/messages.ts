import type { MessageKind, SourceFile, SourceMessage, SourceReaction } from '../../model';

/** Slack subtypes that are channel events rather than something a person wrote. */
export const SYSTEM_SUBTYPES: ReadonlySet<string> = new Set([
  'channel_join',
  'channel_leave',
  'channel_topic',
  'channel_purpose',
  'channel_name',
  'channel_archive',
  'channel_unarchive',
  'channel_convert_to_private',
  'channel_convert_to_public',
  'channel_posting_permissions',
  'group_join',
  'group_leave',
  'group_topic',
  'group_purpose',
  'group_name',
  'group_archive',
  'group_unarchive',
  'pinned_item',
  'unpinned_item',
  'bot_add',
  'bot_remove',
  'bot_enable',
  'bot_disable',
  'reminder_add',
  'reminder_delete',
  'sh_room_created',
  'huddle_thread',
  'joiner_notification',
  'slackbot_response',
  'app_conversation_join',
]);

/** Subtypes imported as ordinary messages (their text is what people saw). */
export const MESSAGE_SUBTYPES: ReadonlySet<string> = new Set([
  'bot_message',
  'file_share',
  'file_comment',
  'file_mention',
  'me_message',
  'thread_broadcast',
  'reply_broadcast',
  'tombstone',
  'message_replied',
]);

/** The text Slack leaves in place of a deleted thread parent. */
export const TOMBSTONE_TEXT = 'This message was deleted.';

/** What the reader needs to know about authors to classify a message. */
export interface AuthorDirectory {
  isBotUser(id: string): boolean;
}

/** Result of reading one element of a day file: a message, or a reason it is not one. */
export type RawMessageResult =
  { ok: true; message: SourceMessage; unknownSubtype?: string } | { ok: false; reason: string };

type Json = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Slack `ts` strings: seconds, optionally a dot and up to six (or more) digits. */
export const TS_PATTERN = /^\d{1,12}(\.\d{1,9})?$/;

/**
 * Converts one element of a Slack day file to a canonical {@link SourceMessage}. `fileBytes` finds a
 * file's bytes inside the export by file id, when the export carries them.
 */
export function readSlackMessage(
  raw: unknown,
  conversationId: string,
  authors: AuthorDirectory,
  fileBytes: (fileId: string, name: string) => string | undefined,
): RawMessageResult {
  if (!isObj(raw)) return { ok: false, reason: 'is not a JSON object' };
  const ts = str(raw.ts);
  if (!ts) return { ok: false, reason: "has no 'ts'" };
  if (!TS_PATTERN.test(ts)) return { ok: false, reason: `has an invalid 'ts' ${JSON.stringify(ts)}` };
  const subtype = str(raw.subtype);
  const threadTs = str(raw.thread_ts);
  const comment = isObj(raw.comment) ? raw.comment : undefined;
  const user = str(raw.user) ?? str(comment?.user);
  const botId = str(raw.bot_id);
  const deleted =
    subtype === 'tombstone' || (raw.hidden === true && str(raw.text) === TOMBSTONE_TEXT && !!threadTs);
  let kind: MessageKind = 'user';
  if (subtype && SYSTEM_SUBTYPES.has(subtype)) kind = 'system';
  else if (subtype === 'bot_message' || (botId && !user) || (user && authors.isBotUser(user))) kind = 'bot';
  const profile = isObj(raw.user_profile) ? raw.user_profile : undefined;
  const botProfile = isObj(raw.bot_profile) ? raw.bot_profile : undefined;
  const authorName =
    nonEmpty(str(raw.username)) ??
    nonEmpty(str(botProfile?.name)) ??
    nonEmpty(str(profile?.display_name)) ??
    nonEmpty(str(profile?.real_name));
  const rawFiles = Array.isArray(raw.files) ? raw.files : isObj(raw.file) ? [raw.file] : [];
  const edited = isObj(raw.edited) ? str(raw.edited.ts) : undefined;
  const message: SourceMessage = {
    key: ts,
    conversationId,
    ts,
    kind,
    text: str(raw.text) ?? '',
    files: rawFiles.flatMap((f, index) => (isObj(f) ? [readFile(f, index, fileBytes)] : [])),
    reactions: Array.isArray(raw.reactions) ? raw.reactions.filter(isObj).map(readReaction) : [],
    deleted,
    broadcast: subtype === 'thread_broadcast' || subtype === 'reply_broadcast',
  };
  if (threadTs && threadTs !== ts) message.threadKey = threadTs;
  if (subtype) message.subtype = subtype;
  const room = subtype === 'huddle_thread' && isObj(raw.room) ? raw.room : undefined;
  if (room) message.huddle = readHuddle(room);
  if (kind === 'bot') message.authorId = botId ?? user;
  else if (room && str(room.created_by)) message.authorId = str(room.created_by);
  else if (user) message.authorId = user;
  if (authorName) message.authorName = authorName;
  if (Array.isArray(raw.blocks) && raw.blocks.length > 0) message.blocks = raw.blocks;
  if (Array.isArray(raw.attachments) && raw.attachments.length > 0) message.attachments = raw.attachments;
  if (edited) message.editedTs = edited;
  const known = !subtype || SYSTEM_SUBTYPES.has(subtype) || MESSAGE_SUBTYPES.has(subtype);
  return { ok: true, message, ...(known ? {} : { unknownSubtype: subtype }) };
}

function readHuddle(room: Json): NonNullable<SourceMessage['huddle']> {
  const seconds = (v: unknown): number | undefined =>
    typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v * 1000) : undefined;
  const ids = (v: unknown): string[] =>
    Array.isArray(v) ? v.filter((u): u is string => typeof u === 'string') : [];
  const history = ids(room.participant_history);
  const participants = [...new Set(history.length ? history : ids(room.participants))];
  const startMs = seconds(room.date_start);
  const endMs = seconds(room.date_end);
  return {
    ...(startMs !== undefined ? { startMs } : {}),
    ...(endMs !== undefined ? { endMs } : {}),
    participants,
  };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s && s.trim() ? s : undefined;
}

function readReaction(r: Json): SourceReaction {
  const users = Array.isArray(r.users) ? r.users.filter((u): u is string => typeof u === 'string') : [];
  return {
    name: str(r.name) ?? '?',
    count: typeof r.count === 'number' ? r.count : users.length,
    users,
  };
}

const TOKEN_PARAM = /^(t|token)$/i;

function paramName(pair: string): string {
  const name = pair.split('=', 1)[0];
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

/**
 * A URL without the token query parameters (`t`, `token`) that Slack puts in permalinks and file links,
 * every other character as it was; the same string when it carries none. Plans hold no such secret.
 */
export function withoutUrlToken(url: string): string {
  const query = url.indexOf('?');
  if (query === -1) return url;
  const hash = url.indexOf('#', query);
  const end = hash === -1 ? url.length : hash;
  const pairs = url.slice(query + 1, end).split('&');
  const kept = pairs.filter((pair) => !TOKEN_PARAM.test(paramName(pair)));
  if (kept.length === pairs.length) return url;
  return `${url.slice(0, query)}${kept.length ? `?${kept.join('&')}` : ''}${url.slice(end)}`;
}

/** Removes token query parameters (`t`, `token`) that Slack embeds in file URLs, so plans hold no secrets. */
export function stripUrlToken(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    u.searchParams.delete('t');
    u.searchParams.delete('token');
    return u.toString();
  } catch {
    return undefined;
  }
}

function readFile(
  f: Json,
  index: number,
  fileBytes: (fileId: string, name: string) => string | undefined,
): SourceFile {
  const id = str(f.id) ?? '';
  const name = str(f.name) ?? str(f.title) ?? id;
  const mimeType = str(f.mimetype);
  const mode = str(f.mode);
  const external = mode === 'external' || f.is_external === true;
  const rawUrl = str(f.url_private_download) ?? str(f.url_private);
  const url = external ? undefined : stripUrlToken(rawUrl);
  const externalUrl = external ? (str(f.url_private) ?? str(f.permalink_public)) : undefined;
  const permalink = str(f.permalink) && withoutUrlToken(str(f.permalink)!);
  const exportPath = id && !external ? fileBytes(id, name) : undefined;
  const preview = str(f.preview);
  const gone = mode === 'tombstone' || mode === 'hidden_by_limit';
  return {
    sourceId: id,
    name,
    ...(str(f.title) ? { title: str(f.title) } : {}),
    ...(mimeType ? { mimeType } : {}),
    ...(typeof f.size === 'number' ? { size: f.size } : {}),
    ...(url ? { url, urlHasToken: hasUrlToken(rawUrl) } : {}),
    ...(permalink ? { permalink } : {}),
    ...(exportPath ? { exportPath } : {}),
    isImage: !!mimeType?.startsWith('image/') && !gone && !external,
    ...(mode ? { mode } : {}),
    ...(preview ? { preview } : {}),
    ...(externalUrl ? { externalUrl } : {}),
    index,
  };
}

function hasUrlToken(url: string | undefined): boolean {
  try {
    const params = new URL(url ?? '').searchParams;
    return !!(params.get('t') || params.get('token'));
  } catch {
    return false;
  }
}
