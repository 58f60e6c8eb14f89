import { describeEvent, type NameLookup } from './events';
import { escapeHtml } from '../transform/html';
import { sanitizeMessageHtml, type ImageResolution } from './sanitize';
import type { ChatAttachment, ChatReaction, ChatSummary, StagedConversation, StoredMessage } from './types';

/** The Content-Security-Policy every rendered file carries: nothing loads, only embedded images and inline CSS. */
export const EXPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

/** Bumped when the HTML layout changes, so unchanged conversations are re-uploaded once in the new layout. */
export const RENDER_VERSION = 1;

/** How to render: the viewer's time zone (IANA, default UTC), the Intl locale, and whose export it is. */
export interface RenderOptions {
  timeZone?: string;
  locale?: string;
  ownerUserId?: string;
}

const LEGACY_REACTIONS: Record<string, string> = {
  like: '👍',
  heart: '❤️',
  laugh: '😆',
  surprised: '😮',
  sad: '😢',
  angry: '😠',
};

const MAX_TITLE_NAMES = 4;

const STYLE = `
:root{color-scheme:light}
body{font:15px/1.45 "Segoe UI",system-ui,-apple-system,sans-serif;color:#242424;background:#f5f5f5;margin:0}
.page{max-width:860px;margin:0 auto;padding:24px 16px;background:#fff}
header{border-bottom:1px solid #e0e0e0;margin-bottom:16px}
h1{font-size:22px;margin:0 0 4px}
.meta{color:#616161;font-size:13px;margin:0 0 12px}
h2.day{font-size:13px;color:#616161;text-align:center;margin:24px 0 8px;font-weight:600}
.msg{margin:8px 0;padding:8px 12px;border-radius:6px;background:#f0f0f8;break-inside:avoid}
.replies{margin:8px 0 0 20px;border-left:3px solid #c5c5e0;padding-left:8px}
.replies .msg{background:#fafafa}
.head{font-size:13px;color:#424242;margin-bottom:4px}
.author{font-weight:600;color:#242424}
.edited,.orphan{color:#757575;font-style:italic;margin-left:6px}
.subject{font-weight:600}
.body{overflow-wrap:anywhere}
.body img{max-width:100%;height:auto}
.deleted{color:#757575;font-style:italic}
.event{font-size:12px;color:#616161;text-align:center;margin:6px 0}
.attachments{margin:6px 0 0;padding-left:18px;font-size:13px}
.quote{margin:4px 0;padding:4px 8px;border-left:3px solid #8b8cc7;background:#fff;color:#424242;font-size:13px}
.reactions{margin-top:4px}
.reaction{display:inline-block;font-size:12px;border:1px solid #d1d1d1;border-radius:10px;padding:0 6px;margin-right:4px;background:#fff}
.mention{color:#4f52b2;font-weight:600}
.image-placeholder{display:inline-block;color:#a4262c;font-size:12px;border:1px dashed #a4262c;padding:2px 6px}
table{border-collapse:collapse}td,th{border:1px solid #d1d1d1;padding:2px 6px}
pre{white-space:pre-wrap;background:#f5f5f5;padding:6px}
footer{margin-top:24px;color:#757575;font-size:12px;border-top:1px solid #e0e0e0;padding-top:8px}
@media print{body{background:#fff}.page{max-width:none;padding:0}.msg{background:none;border:1px solid #e0e0e0}a{color:inherit}}
`
  .trim()
  .replace(/\n/g, '');

function displayName(name: string | null | undefined): string | undefined {
  const trimmed = name?.trim();
  return trimmed ? trimmed : undefined;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The names of the chat's members other than the owner, sorted, for titles and file names. */
export function otherMemberNames(chat: ChatSummary, ownerUserId?: string): string[] {
  return (chat.members ?? [])
    .filter((member) => !ownerUserId || member.userId !== ownerUserId)
    .map((member) => displayName(member.displayName) ?? displayName(member.email) ?? 'Unknown user')
    .sort((a, b) => a.localeCompare(b, 'en') || compareText(a, b));
}

/** The conversation's title: its topic, else the other members' names (at most four, then "and N more"). */
export function conversationTitle(chat: ChatSummary, ownerUserId?: string): string {
  const topic = displayName(chat.topic);
  if (topic) return topic;
  const names = otherMemberNames(chat, ownerUserId);
  if (names.length === 0) {
    const own = (chat.members ?? []).map((member) => displayName(member.displayName)).find(Boolean);
    return own ?? 'Chat';
  }
  if (names.length <= MAX_TITLE_NAMES) return names.join(', ');
  return `${names.slice(0, MAX_TITLE_NAMES).join(', ')} and ${names.length - MAX_TITLE_NAMES} more`;
}

function formatters(options: RenderOptions) {
  const timeZone = options.timeZone ?? 'UTC';
  const locale = options.locale ?? 'en-GB';
  try {
    return {
      timeZone,
      day: new Intl.DateTimeFormat(locale, {
        timeZone,
        weekday: 'long',
        day: 'numeric',
        month: 'long',
        year: 'numeric',
      }),
      time: new Intl.DateTimeFormat(locale, {
        timeZone,
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }),
      full: new Intl.DateTimeFormat(locale, {
        timeZone,
        day: 'numeric',
        month: 'short',
        year: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }),
    };
  } catch (error) {
    throw new RangeError(
      `Cannot render chat times in time zone '${timeZone}' with locale '${locale}': pass an IANA time zone such as 'Europe/Paris' and a BCP 47 locale (${(error as Error).message})`,
    );
  }
}

type Formatters = ReturnType<typeof formatters>;

function timestamp(iso: string): number {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? 0 : ms;
}

function byTime(a: StoredMessage, b: StoredMessage): number {
  return timestamp(a.createdDateTime) - timestamp(b.createdDateTime) || compareText(a.id, b.id);
}

function isSystemEvent(message: StoredMessage): boolean {
  return (
    message.messageType === 'systemEventMessage' ||
    message.messageType === 'unknownFutureValue' ||
    message.eventDetail !== undefined
  );
}

function megabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return Number.isInteger(mb) ? String(mb) : mb.toFixed(1);
}

function timeElement(iso: string, text: string): string {
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(text)}</time>`;
}

function safeHref(url: string | null | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

interface Context {
  conv: StagedConversation;
  fmt: Formatters;
  lookup: NameLookup;
  ids: ReadonlySet<string>;
}

function resolveImage(conv: StagedConversation, src: string): ImageResolution {
  const image = Object.prototype.hasOwnProperty.call(conv.images, src) ? conv.images[src] : undefined;
  if (!image) return { kind: 'placeholder', text: 'image not included: external image' };
  if (image.kind === 'tooLarge') {
    return { kind: 'placeholder', text: `image not included: over ${megabytes(image.limitBytes)} MB` };
  }
  if (image.kind === 'unavailable')
    return { kind: 'placeholder', text: `image not included: ${image.reason}` };
  return { kind: 'data', uri: `data:${image.contentType};base64,${image.base64}` };
}

function renderBody(message: StoredMessage, ctx: Context): string {
  if (message.bodyType === 'text') {
    return escapeHtml(message.body).replace(/\r?\n/g, '<br>');
  }
  return sanitizeMessageHtml(message.body, (src) => resolveImage(ctx.conv, src));
}

function parseJson(content: string | null | undefined): Record<string, unknown> | undefined {
  if (!content) return undefined;
  try {
    const value: unknown = JSON.parse(content);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function quotedSender(reference: Record<string, unknown>, lookup: NameLookup): string {
  const sender = reference.messageSender as
    { user?: { id?: string; displayName?: string }; application?: { displayName?: string } } | undefined;
  return (
    displayName(sender?.user?.displayName) ??
    lookup(sender?.user?.id) ??
    displayName(sender?.application?.displayName) ??
    'Unknown user'
  );
}

function renderAttachment(attachment: ChatAttachment, ctx: Context): { quote?: string; item?: string } {
  const type = attachment.contentType ?? '';
  if (type === 'messageReference' || type === 'forwardedMessageReference') {
    const reference = parseJson(attachment.content) ?? {};
    const preview = typeof reference.messagePreview === 'string' ? reference.messagePreview : '';
    const id = typeof reference.messageId === 'string' ? reference.messageId : undefined;
    const label = type === 'forwardedMessageReference' ? 'Forwarded from' : 'Replying to';
    const sender = `${label} ${escapeHtml(quotedSender(reference, ctx.lookup))}`;
    const head = id && ctx.ids.has(id) ? `<a href="#m-${escapeHtml(id)}">${sender}</a>` : sender;
    return { quote: `<blockquote class="quote">${head}: ${escapeHtml(preview)}</blockquote>` };
  }
  const name =
    displayName(attachment.name) ??
    (type.startsWith('application/vnd.microsoft.card') ? 'Card' : 'Attachment');
  const href = safeHref(attachment.contentUrl);
  if (href) {
    return {
      item: `<li><a href="${escapeHtml(href)}" rel="noopener noreferrer" target="_blank">${escapeHtml(name)}</a></li>`,
    };
  }
  if (type.startsWith('application/vnd.microsoft.card')) return { item: `<li>[${escapeHtml(name)}]</li>` };
  return { item: `<li>${escapeHtml(name)}</li>` };
}

function reactionEmoji(reaction: ChatReaction): string {
  const type = reaction.reactionType ?? '';
  return (
    LEGACY_REACTIONS[type] ?? (type === 'custom' ? (displayName(reaction.displayName) ?? '?') : type || '?')
  );
}

function renderReactions(reactions: ChatReaction[], lookup: NameLookup): string {
  if (reactions.length === 0) return '';
  const groups = new Map<string, string[]>();
  for (const reaction of reactions) {
    const emoji = reactionEmoji(reaction);
    const who = displayName(reaction.user?.user?.displayName) ?? lookup(reaction.user?.user?.id) ?? '';
    const people = groups.get(emoji);
    if (people) people.push(who);
    else groups.set(emoji, [who]);
  }
  const chips = [...groups].map(([emoji, people]) => {
    const names = people.filter(Boolean).join(', ');
    const title = names ? ` title="${escapeHtml(names)}"` : '';
    return `<span class="reaction"${title}>${escapeHtml(emoji)} ${people.length}</span>`;
  });
  return `<div class="reactions">${chips.join('')}</div>`;
}

function renderMessage(
  message: StoredMessage,
  ctx: Context,
  replies: StoredMessage[],
  nested: boolean,
): string {
  const when = new Date(timestamp(message.createdDateTime));
  const timeText = nested ? ctx.fmt.full.format(when) : ctx.fmt.time.format(when);
  if (isSystemEvent(message)) {
    const text = describeEvent(message.eventDetail, ctx.lookup);
    return `<p class="event" id="m-${escapeHtml(message.id)}">${timeElement(message.createdDateTime, timeText)} · ${escapeHtml(text)}</p>`;
  }
  const author = message.authorName ?? ctx.lookup(message.authorId) ?? 'Unknown user';
  const parts: string[] = [
    `<div class="head"><span class="author">${escapeHtml(author)}</span> ${timeElement(message.createdDateTime, timeText)}`,
  ];
  if (message.lastEditedDateTime && !message.deletedDateTime) {
    const edited = ctx.fmt.full.format(new Date(timestamp(message.lastEditedDateTime)));
    parts.push(`<span class="edited" title="edited ${escapeHtml(edited)}">edited</span>`);
  }
  if (message.replyToId && !nested) {
    parts.push('<span class="orphan">reply to a message not in this export</span>');
  }
  parts.push('</div>');
  if (message.deletedDateTime) {
    parts.push('<div class="body deleted">This message was deleted</div>');
  } else {
    const rendered = message.attachments.map((attachment) => renderAttachment(attachment, ctx));
    parts.push(...rendered.flatMap((part) => (part.quote ? [part.quote] : [])));
    if (message.subject) parts.push(`<div class="subject">${escapeHtml(message.subject)}</div>`);
    parts.push(`<div class="body">${renderBody(message, ctx)}</div>`);
    const items = rendered.flatMap((part) => (part.item ? [part.item] : []));
    if (items.length > 0) parts.push(`<ul class="attachments">${items.join('')}</ul>`);
    parts.push(renderReactions(message.reactions, ctx.lookup));
  }
  if (replies.length > 0) {
    const inner = replies.map((reply) => renderMessage(reply, ctx, [], true)).join('');
    parts.push(`<div class="replies">${inner}</div>`);
  }
  return `<article class="msg" id="m-${escapeHtml(message.id)}">${parts.join('')}</article>`;
}

function threadRoot(
  message: StoredMessage,
  byId: ReadonlyMap<string, StoredMessage>,
): StoredMessage | undefined {
  const seen = new Set<string>([message.id]);
  let current = message;
  while (current.replyToId) {
    const parent = byId.get(current.replyToId);
    if (!parent || seen.has(parent.id)) return current === message ? undefined : current;
    seen.add(parent.id);
    current = parent;
  }
  return current === message ? undefined : current;
}

function chatKind(chatType: string | null | undefined): string {
  switch (chatType) {
    case 'oneOnOne':
      return '1:1 chat';
    case 'group':
      return 'Group chat';
    case 'meeting':
      return 'Meeting chat';
    default:
      return 'Chat';
  }
}

/**
 * Renders one conversation to a self-contained HTML page (strict CSP, inline CSS, images as data: URIs).
 * Deterministic: the same conversation and options give the same string; nothing reads the clock.
 */
export function renderConversation(conv: StagedConversation, options: RenderOptions = {}): string {
  const fmt = formatters(options);
  const names = new Map<string, string>();
  for (const member of conv.chat.members ?? []) {
    const name = displayName(member.displayName);
    if (member.userId && name) names.set(member.userId, name);
  }
  const lookup: NameLookup = (id) => (id ? names.get(id) : undefined);
  const byId = new Map(conv.messages.map((message) => [message.id, message]));
  const ctx: Context = { conv, fmt, lookup, ids: new Set(byId.keys()) };

  const sorted = [...conv.messages].sort(byTime);
  const replies = new Map<string, StoredMessage[]>();
  const topLevel: StoredMessage[] = [];
  for (const message of sorted) {
    const root = threadRoot(message, byId);
    if (!root) topLevel.push(message);
    else if (replies.has(root.id)) replies.get(root.id)?.push(message);
    else replies.set(root.id, [message]);
  }

  const body: string[] = [];
  let currentDay = '';
  for (const message of topLevel) {
    const day = fmt.day.format(new Date(timestamp(message.createdDateTime)));
    if (day !== currentDay) {
      body.push(`<h2 class="day">${escapeHtml(day)}</h2>`);
      currentDay = day;
    }
    body.push(renderMessage(message, ctx, replies.get(message.id) ?? [], false));
  }

  const title = conversationTitle(conv.chat, options.ownerUserId);
  const members = otherMemberNames(conv.chat);
  const count = conv.messages.filter((message) => !isSystemEvent(message)).length;
  const meta = [
    chatKind(conv.chat.chatType),
    members.length > 0 ? `${members.length} members: ${members.join(', ')}` : '',
    `${count} ${count === 1 ? 'message' : 'messages'}`,
    `times in ${fmt.timeZone}`,
  ].filter(Boolean);
  const last = sorted.length > 0 ? sorted[sorted.length - 1].createdDateTime : undefined;
  const footer = last
    ? `Exported from Microsoft Teams. Latest message: ${timeElement(last, fmt.full.format(new Date(timestamp(last))))}.`
    : 'Exported from Microsoft Teams. This conversation has no messages.';

  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${EXPORT_CSP}">`,
    '<meta name="referrer" content="no-referrer">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<div class="page">',
    `<header><h1>${escapeHtml(title)}</h1><p class="meta">${meta.map(escapeHtml).join(' · ')}</p></header>`,
    `<main>${body.join('\n')}</main>`,
    `<footer>${footer}</footer>`,
    '</div>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
