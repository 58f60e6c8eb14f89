import { withoutUrlToken } from '../sources/slack/messages';
import { emojiFromCodepoints, renderEmoji } from './emoji';
import { channelRef, escapeHtml, link, mention } from './html';
import { mrkdwnInline, mrkdwnToBlocks, type RenderNames } from './mrkdwn';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Converts Slack `blocks` (rich_text, and the readable Block Kit blocks: section, header, context, image,
 * divider) to top-level HTML blocks. Returns an empty list when nothing readable is there, so the caller
 * falls back to the message `text`.
 */
export function blocksToHtml(blocks: unknown[], names: RenderNames): string[] {
  const out: string[] = [];
  for (const block of blocks.filter(isObj)) {
    switch (block.type) {
      case 'rich_text':
        out.push(...richText(arr(block.elements), names));
        break;
      case 'section':
        if (isObj(block.text)) out.push(...textObject(block.text, names));
        for (const f of arr(block.fields).filter(isObj)) out.push(...textObject(f, names));
        break;
      case 'header':
        if (isObj(block.text)) out.push(`<p><b>${escapeHtml(str(block.text.text) ?? '')}</b></p>`);
        break;
      case 'context': {
        const parts = arr(block.elements)
          .filter(isObj)
          .map((e) =>
            e.type === 'mrkdwn' ? mrkdwnInline(str(e.text) ?? '', names) : escapeHtml(str(e.text) ?? ''),
          )
          .filter((p) => p);
        if (parts.length) out.push(`<p><em>${parts.join(' ')}</em></p>`);
        break;
      }
      case 'image': {
        const url = str(block.image_url);
        const label = escapeHtml(
          str(block.alt_text) ?? str(isObj(block.title) ? block.title.text : undefined) ?? 'image',
        );
        if (url) out.push(`<p>${link(url, label)}</p>`);
        break;
      }
      case 'divider':
        out.push('<hr>');
        break;
      default:
        break;
    }
  }
  return out;
}

function textObject(t: Json, names: RenderNames): string[] {
  const text = str(t.text) ?? '';
  if (!text) return [];
  return t.type === 'mrkdwn'
    ? mrkdwnToBlocks(text, names)
    : [`<p>${escapeHtml(text).replace(/\n/g, '<br>')}</p>`];
}

function richText(elements: unknown[], names: RenderNames): string[] {
  const out: string[] = [];
  const lists: Json[] = [];
  const flushLists = (): void => {
    if (lists.length) out.push(nestLists(lists, names));
    lists.length = 0;
  };
  for (const el of elements.filter(isObj)) {
    if (el.type === 'rich_text_list') {
      if (arr(el.elements).some(isObj)) lists.push(el);
      continue;
    }
    flushLists();
    const inner = inlineElements(arr(el.elements), names, el.type === 'rich_text_preformatted');
    if (el.type === 'rich_text_preformatted') out.push(`<pre>${inner}</pre>`);
    else if (el.type === 'rich_text_quote') out.push(`<blockquote>${trimBreak(inner)}</blockquote>`);
    else if (trimBreak(inner)) out.push(`<p>${trimBreak(inner)}</p>`);
  }
  flushLists();
  return out;
}

function trimBreak(html: string): string {
  return html.replace(/(<br>)+$/, '');
}

function nestLists(lists: Json[], names: RenderNames): string {
  let html = '';
  const open: string[] = [];
  for (const list of lists) {
    const depth = typeof list.indent === 'number' ? Math.max(0, Math.min(8, Math.floor(list.indent))) : 0;
    const tag = list.style === 'ordered' ? 'ol' : 'ul';
    while (open.length > depth + 1) html += `</li></${open.pop()}>`;
    if (open.length === depth + 1) html += open[depth] === tag ? '</li>' : `</li></${open.pop()}>`;
    let created = 0;
    while (open.length < depth + 1) {
      if (created > 0) html += '<li>';
      const t = open.length === depth ? tag : 'ul';
      const offset = t === 'ol' && typeof list.offset === 'number' && list.offset > 0 ? list.offset : 0;
      html += offset ? `<ol start="${offset + 1}">` : `<${t}>`;
      open.push(t);
      created++;
    }
    html += arr(list.elements)
      .filter(isObj)
      .map((item) => `<li>${trimBreak(inlineElements(arr(item.elements), names, false))}`)
      .join('</li>');
  }
  while (open.length) html += `</li></${open.pop()}>`;
  return html;
}

function inlineElements(elements: unknown[], names: RenderNames, plain: boolean): string {
  return elements
    .filter(isObj)
    .map((e) => inlineElement(e, names, plain))
    .join('');
}

function inlineElement(e: Json, names: RenderNames, plain: boolean): string {
  const style = isObj(e.style) ? e.style : {};
  let html: string;
  switch (e.type) {
    case 'text':
      html = escapeHtml(str(e.text) ?? '');
      if (!plain) html = html.replace(/\n/g, '<br>');
      break;
    case 'link': {
      const url = withoutUrlToken(str(e.url) ?? '');
      const label = escapeHtml(str(e.text) || url);
      html = plain ? label : link(url, label);
      break;
    }
    case 'emoji': {
      const name = str(e.name) ?? '';
      const tone = typeof e.skin_tone === 'number' ? e.skin_tone : undefined;
      const fromCodes = str(e.unicode) ? emojiFromCodepoints(str(e.unicode)!) : undefined;
      html = fromCodes ?? renderEmoji(name, tone);
      html = escapeHtml(html);
      break;
    }
    case 'user': {
      const id = str(e.user_id) ?? '';
      const label = names.user(id) ?? id;
      html = plain ? escapeHtml(`@${label}`) : (names.mention?.({ type: 'user', id }) ?? mention(label));
      break;
    }
    case 'usergroup': {
      const id = str(e.usergroup_id) ?? '';
      html = plain
        ? escapeHtml('@user group')
        : (names.mention?.({ type: 'usergroup', id }) ?? mention('user group'));
      break;
    }
    case 'channel': {
      const id = str(e.channel_id) ?? '';
      const label = names.channel(id) ?? id;
      html = plain
        ? escapeHtml(`#${label}`)
        : (names.mention?.({ type: 'channel', id }) ?? channelRef(label));
      break;
    }
    case 'broadcast': {
      const range = str(e.range) ?? 'here';
      html = plain
        ? escapeHtml(`@${range}`)
        : (names.mention?.({ type: 'broadcast', range }) ?? mention(range));
      break;
    }
    case 'date':
      html = escapeHtml(str(e.fallback) ?? String(e.timestamp ?? ''));
      break;
    case 'color':
      html = escapeHtml(str(e.value) ?? '');
      break;
    default:
      return '';
  }
  if (plain || !html) return html;
  if (style.code) html = `<code>${html}</code>`;
  if (style.underline) html = `<u>${html}</u>`;
  if (style.strike) html = `<s>${html}</s>`;
  if (style.italic) html = `<i>${html}</i>`;
  if (style.bold) html = `<b>${html}</b>`;
  return html;
}
