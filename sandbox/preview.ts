import sanitizeHtml from 'sanitize-html';
import { chatsOf, GRAPH_ROOT_PLACEHOLDER, type ChatMessageRecord, type ChatRecord } from './chatState';
import type { ChannelRecord, MessageRecord, SandboxStore, TeamRecord } from './state';
import { escapeHtml } from '../core/transform/html';

/** Tags Teams renders in a message body; anything else is stripped by Teams (and by the preview). */
export const TEAMS_TAGS = [
  'p',
  'div',
  'span',
  'br',
  'b',
  'strong',
  'i',
  'em',
  'u',
  's',
  'strike',
  'del',
  'sub',
  'sup',
  'a',
  'ul',
  'ol',
  'li',
  'blockquote',
  'pre',
  'code',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'table',
  'thead',
  'tbody',
  'tfoot',
  'tr',
  'th',
  'td',
  'img',
  'at',
  'attachment',
  'emoji',
  'font',
];

const COLOR = [/^#[0-9a-f]{3,8}$/i, /^rgba?\([\d\s.,%]+\)$/i, /^[a-z]+$/i];
const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: TEAMS_TAGS,
  allowedAttributes: {
    a: ['href', 'title', 'target', 'rel'],
    img: ['src', 'alt', 'title', 'width', 'height', 'style'],
    span: ['class', 'data-id', 'style', 'title'],
    td: ['colspan', 'rowspan', 'style'],
    th: ['colspan', 'rowspan', 'style'],
    p: ['style'],
    div: ['style'],
    font: ['color'],
  },
  allowedStyles: {
    '*': {
      color: COLOR,
      'background-color': COLOR,
      'font-weight': [/^(bold|normal|\d{3})$/],
      'font-style': [/^(italic|normal)$/],
      'text-decoration': [/^(underline|line-through|none)$/],
      width: [/^\d+(\.\d+)?(px|%)$/],
      height: [/^\d+(\.\d+)?(px|%)$/],
      'vertical-align': [/^(bottom|middle|top|baseline)$/],
    },
  },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesAppliedToAttributes: ['href', 'src'],
  transformTags: {
    at: (_tag, attribs) => ({ tagName: 'span', attribs: { class: 'mention', 'data-id': attribs.id ?? '' } }),
    emoji: (_tag, attribs) => ({
      tagName: 'span',
      attribs: { class: 'emoji', title: attribs.title ?? '' },
      text: attribs.alt ?? '',
    }),
    attachment: (_tag, attribs) => ({
      tagName: 'span',
      attribs: { class: 'attachment-ref', 'data-id': attribs.id ?? '' },
    }),
    a: (_tag, attribs) => ({
      tagName: 'a',
      attribs: { ...attribs, target: '_blank', rel: 'noopener noreferrer' },
    }),
  },
};

const HOSTED_URL =
  /https:\/\/graph\.microsoft\.com\/v1\.0\/teams\/([^/"']+)\/channels\/([^/"']+)\/messages\/([^/"']+)(?:\/replies\/([^/"']+))?\/hostedContents\/([^/"']+)\/\$value/g;

function textOf(html: string): string {
  return sanitizeHtml(html, { allowedTags: [], allowedAttributes: {} })
    .replace(/&nbsp;/g, ' ')
    .trim();
}

/**
 * What in a stored message would not come out in Teams as the author meant it: missing author, empty body,
 * tags Teams strips, images that are not this message's hosted contents, mentions or attachment references
 * without their list entries, HTML sent as text, and Slack markup left unconverted.
 */
export function reviewMessage(message: MessageRecord): string[] {
  const warnings: string[] = [];
  const html = message.body.content;
  if (!message.from) warnings.push('no author (from.user is missing): Teams cannot attribute this message');
  const hasImage = /<img\b/i.test(html);
  if (textOf(html) === '' && !hasImage && message.attachments.length === 0) {
    warnings.push('empty body: Teams shows an empty message');
  }
  const tags = new Set([...html.matchAll(/<\s*([a-zA-Z][\w:-]*)/g)].map((m) => (m[1] ?? '').toLowerCase()));
  const stripped = [...tags].filter((t) => !TEAMS_TAGS.includes(t));
  if (stripped.length > 0 && message.body.contentType === 'html') {
    warnings.push(`Teams strips ${stripped.map((t) => `<${t}>`).join(', ')}`);
  }
  if (message.body.contentType === 'text' && tags.size > 0) {
    warnings.push('contentType is text but the content has HTML tags: Teams shows the tags as text');
  }
  const hostedIds = new Set(message.hostedContents.map((h) => h.id));
  for (const m of html.matchAll(/<img\b[^>]*\bsrc\s*=\s*["']([^"']*)["']/gi)) {
    const src = m[1] ?? '';
    const hosted = [...src.matchAll(HOSTED_URL)][0];
    if (!hosted)
      warnings.push(
        `image '${src.slice(0, 80)}' is not a hosted content: Teams does not show external images`,
      );
    else if (!hostedIds.has(hosted[5] ?? ''))
      warnings.push(`image refers to hosted content '${hosted[5]}' that this message does not have`);
  }
  const mentionIds = new Set(message.mentions.map((m) => String((m as { id?: unknown }).id)));
  for (const m of html.matchAll(/<at\b[^>]*\bid\s*=\s*["']([^"']*)["']/gi)) {
    if (!mentionIds.has(m[1] ?? ''))
      warnings.push(`<at id="${m[1]}"> has no mentions[] entry: Teams shows plain text`);
  }
  for (const a of message.attachments as {
    contentType?: string;
    contentUrl?: string | null;
    name?: string | null;
  }[]) {
    if (a.contentType === 'reference' && !/^https?:\/\//i.test(a.contentUrl ?? '')) {
      warnings.push(`file attachment '${a.name ?? ''}' has no web URL Teams can open`);
    }
  }
  if (/(&lt;|<)[@#!][A-Z0-9]/.test(html) || /(&lt;|<)!(here|channel|everyone)/.test(html)) {
    warnings.push('Slack markup left in the body (<@U…>, <#C…>, <!here>): Teams shows it verbatim');
  }
  return warnings;
}

function formatTime(iso: string): string {
  return iso.replace('T', ' ').replace(/Z$/, ' UTC');
}

function initials(name: string): string {
  const parts = name.split(/[\s._-]+/).filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts[1]?.[0] ?? '')).toUpperCase();
}

function hue(id: string): number {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) % 360;
  return h;
}

function renderBody(message: MessageRecord): string {
  if (message.body.contentType === 'text') {
    return `<div class="body text">${escapeHtml(message.body.content)}</div>`;
  }
  const local = message.body.content.replace(
    HOSTED_URL,
    (_all, teamId: string, channelId: string, messageId: string, replyId: string | undefined, hcId: string) =>
      `/_sandbox/hosted/${teamId}/${channelId}/${replyId ?? messageId}/${hcId}`,
  );
  return `<div class="body">${sanitizeHtml(local, SANITIZE)}</div>`;
}

/** Reactions as Teams draws them under a message: each emoji once, in first-seen order, with its count. */
function renderReactions(message: MessageRecord): string {
  const counts = new Map<string, number>();
  for (const r of message.reactions as { reactionType?: string }[]) {
    const type = r.reactionType ?? '';
    counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  if (counts.size === 0) return '';
  const pills = [...counts]
    .map(([type, n]) => `<span class="reaction" title="${escapeHtml(type)}">${escapeHtml(type)} ${n}</span>`)
    .join('');
  return `<div class="reactions">${pills}</div>`;
}

function renderMessage(store: SandboxStore, message: MessageRecord, reply: boolean): string {
  const user = message.from ? store.user(message.from.user.id) : undefined;
  const author =
    message.from?.user.displayName ??
    user?.displayName ??
    (message.from ? message.from.user.id : 'Unknown author');
  const warnings = reviewMessage(message);
  const attachments = (
    message.attachments as {
      id?: string;
      contentType?: string;
      name?: string | null;
      contentUrl?: string | null;
    }[]
  )
    .map((a) => fileCard(a))
    .join('');
  const reactions = renderReactions(message);
  return `<div class="message${reply ? ' reply' : ''}${warnings.length > 0 ? ' warn' : ''}" data-message-id="${escapeHtml(message.id)}">
  <div class="avatar" style="background:hsl(${hue(message.from?.user.id ?? '?')},55%,45%)">${escapeHtml(initials(author))}</div>
  <div class="content">
    <div class="meta"><span class="author${message.from ? '' : ' missing'}">${escapeHtml(author)}</span><time datetime="${message.createdDateTime}">${formatTime(message.createdDateTime)}</time>${message.importance !== 'normal' ? `<span class="importance">${escapeHtml(message.importance)}</span>` : ''}</div>
    ${message.subject ? `<div class="subject">${escapeHtml(message.subject)}</div>` : ''}
    ${renderBody(message)}
    ${attachments ? `<div class="files">${attachments}</div>` : ''}${reactions}
    ${warnings.length > 0 ? `<ul class="warnings">${warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>` : ''}
  </div>
</div>`;
}

const FILE_KINDS: [RegExp, string, string][] = [
  [/\.pdf$/i, 'PDF', '#c4314b'],
  [/\.(docx?|rtf|odt)$/i, 'W', '#185abd'],
  [/\.(xlsx?|csv|ods)$/i, 'X', '#107c41'],
  [/\.(pptx?|odp|key)$/i, 'P', '#c43e1c'],
  [/\.(png|jpe?g|gif|bmp|webp|svg|tiff?|heic)$/i, 'IMG', '#8764b8'],
  [/\.(zip|gz|tgz|7z|rar)$/i, 'ZIP', '#6e6e6e'],
  [/\.(js|ts|py|json|java|go|rb|sh|c|cpp|cs|html?|css|md|txt|log|ya?ml)$/i, '</>', '#5c5c5c'],
];

/** A file attachment as Teams draws it: a card with the file type's badge and name, opening the file. */
function fileCard(a: {
  id?: string;
  contentType?: string;
  name?: string | null;
  contentUrl?: string | null;
}): string {
  const name = a.name ?? a.id ?? 'file';
  const [, badge, color] = FILE_KINDS.find(([re]) => re.test(name)) ?? [/./, 'FILE', '#6264a7'];
  const inner = `<span class="file-icon" style="background:${color}">${escapeHtml(badge)}</span><span class="file-text"><span class="file-name">${escapeHtml(name)}</span><span class="file-where">${a.contentType === 'reference' ? 'SharePoint · channel files' : escapeHtml(a.contentType ?? '')}</span></span>`;
  return a.contentUrl && /^https?:\/\//i.test(a.contentUrl)
    ? `<a class="file-card" href="${escapeHtml(a.contentUrl)}" target="_blank" rel="noopener noreferrer">${inner}</a>`
    : `<span class="file-card missing">${inner}</span>`;
}

function renderChannel(store: SandboxStore, channel: ChannelRecord): string {
  const threads = channel.messages
    .map(
      (m) => `<article class="thread">
${renderMessage(store, m, false)}
${m.replies.length > 0 ? `<div class="replies">${m.replies.map((r) => renderMessage(store, r, true)).join('\n')}</div>` : ''}
</article>`,
    )
    .join('\n');
  const mode = channel.migrationMode ?? 'not migrated';
  return `<section class="channel" id="${escapeHtml(channel.id)}">
<h2>${channel.membershipType === 'private' ? '<span class="lock" role="img" aria-label="private channel" title="private channel">🔒</span>' : '#'} ${escapeHtml(channel.displayName)} <span class="badge ${channel.migrationMode ?? 'none'}">${escapeHtml(mode)}</span></h2>
<p class="channel-meta">created ${formatTime(channel.createdDateTime)}${channel.description ? ` · ${escapeHtml(channel.description)}` : ''}</p>
${threads || '<p class="empty">No messages.</p>'}
</section>`;
}

const STYLE = `
body{margin:0;font:14px/1.45 "Segoe UI",system-ui,-apple-system,sans-serif;background:#f5f5f5;color:#242424}
header{background:#464775;color:#fff;padding:16px 24px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.85}
main{max-width:960px;margin:0 auto;padding:16px 24px}
.legend{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:8px 12px;margin-bottom:16px;font-size:13px}
.channel{background:#fff;border:1px solid #e0e0e0;border-radius:6px;margin-bottom:20px;padding:12px 16px}
.channel h2{margin:0;font-size:17px;color:#464775}
.channel-meta{margin:2px 0 12px;color:#616161;font-size:12px}
.badge{font-size:11px;font-weight:600;border-radius:10px;padding:1px 8px;margin-left:6px;vertical-align:middle;background:#e0e0e0;color:#424242}
.badge.inProgress{background:#fff4ce;color:#835b00}.badge.completed{background:#dff6dd;color:#0e700e}
.thread{border-top:1px solid #eee;padding:10px 0}
.message{display:flex;gap:10px;padding:6px 8px;border-radius:4px}
.message.warn{background:#fff8e1;box-shadow:inset 4px 0 0 #e3a400}
.replies{margin-left:48px;border-left:2px solid #e1dfdd;padding-left:8px}
.avatar{flex:none;width:32px;height:32px;border-radius:50%;color:#fff;font-size:12px;font-weight:600;display:flex;align-items:center;justify-content:center}
.content{min-width:0;flex:1}
.meta{display:flex;gap:8px;align-items:baseline}
.author{font-weight:600}.author.missing{color:#c4314b}
time{color:#616161;font-size:12px}
.importance{color:#c4314b;font-size:11px;font-weight:600;text-transform:uppercase}
.subject{font-weight:600;font-size:15px}
.body{overflow-wrap:anywhere}.body.text{white-space:pre-wrap}
.body img{max-width:100%;height:auto}
.body pre,.body code{background:#f0f0f0;border-radius:3px;font-family:Consolas,monospace;font-size:13px}
.body pre{padding:8px;overflow:auto}
.body blockquote{border-left:3px solid #c8c6c4;margin:4px 0;padding-left:8px;color:#484644}
.mention{color:#6264a7;font-weight:600;background:#e8ebfa;border-radius:3px;padding:0 2px}
.files{display:flex;gap:8px;flex-wrap:wrap;margin-top:4px}
.file-card{display:flex;align-items:center;gap:10px;min-width:240px;max-width:360px;border:1px solid #e0e0e0;border-radius:6px;padding:8px 10px;color:#242424;text-decoration:none;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.file-card:hover{background:#f5f5f5}.file-card.missing{opacity:.6}
.file-icon{flex:none;width:32px;height:32px;border-radius:4px;color:#fff;font-size:10px;font-weight:700;display:flex;align-items:center;justify-content:center}
.file-text{display:flex;flex-direction:column;min-width:0}
.file-name{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.file-where{font-size:11px;color:#616161}
.reactions{display:flex;gap:4px;flex-wrap:wrap;margin-top:4px}
.reaction{font-size:12px;border:1px solid #e0e0e0;border-radius:10px;padding:0 8px;background:#fafafa;color:#424242}
.warnings{margin:6px 0 0;padding:0;list-style:none;color:#835b00;font-size:12px}
.warnings li::before{content:"⚠ "}
.empty{color:#616161;font-style:italic}
`;

/** A Content-Security-Policy that lets the preview show its own images and styles and run no script at all. */
export const PREVIEW_CSP =
  "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Renders a team as a Teams user would read it: channels (General first), threads with replies indented,
 * authors, original times, sanitized formatting, inline images from the stored hosted contents, and every
 * `reviewMessage` warning highlighted. Message HTML goes through an allow-list; the page runs no script.
 */
export function renderTeamPreview(store: SandboxStore, team: TeamRecord): string {
  const channels = team.channels
    .filter((c) => c.deletedAt === null)
    .sort((a, b) => Number(b.isGeneral) - Number(a.isGeneral));
  const messages = channels.flatMap((c) => c.messages.flatMap((m) => [m, ...m.replies]));
  const warned = messages.filter((m) => reviewMessage(m).length > 0).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${PREVIEW_CSP}">
<title>${escapeHtml(team.displayName)} · Teams sandbox preview</title>
<style>${STYLE}</style></head>
<body>
<header><h1>${escapeHtml(team.displayName)}</h1>
<p>${team.description ? `${escapeHtml(team.description)} · ` : ''}created ${formatTime(team.createdDateTime)} · migration ${escapeHtml(team.migrationMode ?? 'not used')} · ${channels.length} channel(s), ${messages.length} message(s), ${team.members.length} member(s)</p></header>
<main>
<div class="legend">${warned > 0 ? `<strong>${warned} message(s) highlighted</strong>: they would not come out in Teams as written (see the ⚠ notes).` : 'Nothing highlighted: every message should come out in Teams as written.'}</div>
${channels.map((c) => renderChannel(store, c)).join('\n')}
</main></body></html>`;
}

/** A chat message as Teams draws it: author, original time, sanitized body with its inline images, files, reactions. */
function renderChatMessage(store: SandboxStore, chat: ChatRecord, message: ChatMessageRecord): string {
  const author = store.user(message.fromUserId)?.displayName ?? message.fromUserId;
  const prefix = `${GRAPH_ROOT_PLACEHOLDER}/chats/${encodeURIComponent(chat.id)}/messages/`;
  const local = message.body.content
    .split(prefix)
    .join(`/_sandbox/chats/${encodeURIComponent(chat.id)}/hosted/`)
    .replace(/\/hostedContents\/([^/"']+)\/\$value/g, '/$1');
  const body =
    message.body.contentType === 'text'
      ? `<div class="body text">${escapeHtml(message.body.content)}</div>`
      : `<div class="body">${sanitizeHtml(local, SANITIZE)}</div>`;
  const files = (message.attachments as Parameters<typeof fileCard>[0][]).map((a) => fileCard(a)).join('');
  const counts = new Map<string, number>();
  for (const r of message.reactions as { reactionType?: string }[])
    counts.set(r.reactionType ?? '', (counts.get(r.reactionType ?? '') ?? 0) + 1);
  const reactions = counts.size
    ? `<div class="reactions">${[...counts].map(([type, n]) => `<span class="reaction">${escapeHtml(type)} ${n}</span>`).join('')}</div>`
    : '';
  return `<div class="message" data-message-id="${escapeHtml(message.id)}">
  <div class="avatar" style="background:hsl(${hue(message.fromUserId)},55%,45%)">${escapeHtml(initials(author))}</div>
  <div class="content">
    <div class="meta"><span class="author">${escapeHtml(author)}</span><time datetime="${message.createdDateTime}">${formatTime(message.createdDateTime)}</time></div>
    ${body}
    ${files ? `<div class="files">${files}</div>` : ''}${reactions}
  </div>
</div>`;
}

/** The title Teams gives a chat: its topic, else its members' names. */
function chatTitle(store: SandboxStore, chat: ChatRecord): string {
  return chat.topic ?? chat.memberIds.map((id) => store.user(id)?.displayName ?? id).join(', ');
}

/**
 * Renders a chat as its members read it in Teams: members, kind, migration mode (a banner while it is in
 * migration, as Teams shows one), and its messages in time order with their authors, times and images.
 */
export function renderChatPreview(store: SandboxStore, chat: ChatRecord): string {
  const title = chatTitle(store, chat);
  const banner =
    chat.migrationMode === 'inProgress'
      ? '<div class="legend"><strong>This conversation is being imported.</strong> Teams shows this banner until the import is completed.</div>'
      : '';
  const messages = [...chat.messages].sort((a, b) => Number(a.id) - Number(b.id));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${PREVIEW_CSP}">
<title>${escapeHtml(title)} · Teams sandbox preview</title>
<style>${STYLE}</style></head>
<body>
<header><h1>${escapeHtml(title)}</h1>
<p>${chat.chatType === 'oneOnOne' ? '1:1 chat' : 'group chat'} · created ${formatTime(chat.createdDateTime)} · migration ${escapeHtml(chat.migrationMode ?? 'not used')} · ${messages.length} message(s)</p></header>
<main>${banner}
<section class="channel">
${messages.map((m) => `<article class="thread">${renderChatMessage(store, chat, m)}</article>`).join('\n') || '<p class="empty">No messages.</p>'}
</section>
</main></body></html>`;
}

/** A page listing the sandbox's teams and chats with links to their previews. */
export function renderIndex(store: SandboxStore): string {
  const teams = store.data.teams
    .map(
      (t) =>
        `<li><a href="/_sandbox/teams/${encodeURIComponent(t.id)}/preview">${escapeHtml(t.displayName)}</a> · ${t.channels.length} channel(s) · migration ${escapeHtml(t.migrationMode ?? 'not used')}</li>`,
    )
    .join('');
  const chats = chatsOf(store)
    .map(
      (c) =>
        `<li><a href="/_sandbox/chats/${encodeURIComponent(c.id)}/preview">${escapeHtml(chatTitle(store, c))}</a> · ${c.chatType === 'oneOnOne' ? '1:1' : 'group'} · ${c.messages.length} message(s) · migration ${escapeHtml(c.migrationMode ?? 'not used')}</li>`,
    )
    .join('');
  const rows = teams + chats;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Teams sandbox</title><style>${STYLE}</style></head>
<body><header><h1>Teams sandbox</h1><p>${store.data.users.length} user(s), ${store.data.teams.length} team(s) · <a style="color:#fff" href="/_sandbox/state">state</a> · <a style="color:#fff" href="/_sandbox/requests">requests</a></p></header>
<main><ul>${rows || '<li class="empty">No teams yet.</li>'}</ul></main></body></html>`;
}
