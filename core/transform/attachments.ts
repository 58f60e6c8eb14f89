import { escapeHtml, link } from './html';
import { mrkdwnInline, mrkdwnToBlocks, plainWithSpecials, type RenderNames } from './mrkdwn';
import { blocksToHtml } from './richText';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);

/**
 * Renders Slack message `attachments` (bot cards and link unfurls) as readable HTML blocks: the pretext
 * above a quoted card with author, linked title, text, fields (a small table), the card's own Block Kit
 * `blocks`, image link and footer. Fields listed in `mrkdwn_in` are converted as mrkdwn, the others as plain
 * text whose links and mentions are still converted; with nothing else, the fallback.
 */
export function attachmentsToHtml(attachments: unknown[], names: RenderNames): string[] {
  const out: string[] = [];
  for (const a of attachments.filter(isObj)) {
    const md = new Set(Array.isArray(a.mrkdwn_in) ? a.mrkdwn_in : []);
    const inline = (field: string): string | undefined => {
      const v = str(a[field]);
      if (!v) return undefined;
      return md.has(field) ? mrkdwnInline(v, names) : plainWithSpecials(v, names);
    };
    const pretext = inline('pretext');
    if (pretext) out.push(`<p>${pretext}</p>`);
    const card: string[] = [];
    const author = str(a.author_name);
    if (author) card.push(`<b>${maybeLink(str(a.author_link), escapeHtml(author))}</b>`);
    const title = str(a.title);
    if (title) card.push(`<b>${maybeLink(str(a.title_link), escapeHtml(title))}</b>`);
    const text = str(a.text);
    if (text)
      card.push(
        md.has('text')
          ? mrkdwnToBlocks(text, names).map(unwrapP).join('<br>')
          : plainWithSpecials(text, names),
      );
    const rows = (Array.isArray(a.fields) ? a.fields.filter(isObj) : [])
      .map((f) => [str(f.title), str(f.value)] as const)
      .filter(([t, v]) => t || v)
      .map(
        ([t, v]) => `<tr><th>${t ? escapeHtml(t) : ''}</th><td>${v ? mrkdwnInline(v, names) : ''}</td></tr>`,
      );
    if (rows.length) card.push(`<table>${rows.join('')}</table>`);
    const blocks = Array.isArray(a.blocks) ? blocksToHtml(a.blocks, names) : [];
    if (blocks.length) card.push(blocks.join(''));
    const image = str(a.image_url);
    if (image) card.push(link(image, escapeHtml(str(a.image_alt) ?? 'image')));
    const footer = str(a.footer);
    if (footer) card.push(`<em>${md.has('footer') ? mrkdwnInline(footer, names) : escapeHtml(footer)}</em>`);
    if (card.length === 0 && !pretext) {
      const fallback = str(a.fallback);
      if (fallback) card.push(mrkdwnInline(fallback, names));
    }
    if (card.length) out.push(`<blockquote>${joinCard(card)}</blockquote>`);
  }
  return out;
}

const BLOCK_START = /^<(p|ul|ol|pre|blockquote|table|hr)\b/;

/** Card lines joined by `<br>`, except next to block elements (tables, paragraphs), which break lines already. */
function joinCard(items: string[]): string {
  return items.reduce((html, item, i) => {
    const blockish = BLOCK_START.test(item) || (i > 0 && BLOCK_START.test(items[i - 1]));
    return i === 0 ? item : `${html}${blockish ? '' : '<br>'}${item}`;
  }, '');
}

function maybeLink(url: string | undefined, label: string): string {
  return url ? link(url, label) : label;
}

function unwrapP(block: string): string {
  return block.startsWith('<p>') && block.endsWith('</p>') ? block.slice(3, -4) : block;
}
