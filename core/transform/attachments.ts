import { escapeHtml, link } from './html';
import { mrkdwnInline, mrkdwnToBlocks, type RenderNames } from './mrkdwn';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);

/**
 * Renders Slack message `attachments` (bot cards and link unfurls) as readable HTML blocks: the pretext
 * above a quoted card with author, linked title, text, fields, image link and footer. Fields listed in
 * `mrkdwn_in` are converted as mrkdwn, the others shown as plain text; with nothing else, the fallback.
 */
export function attachmentsToHtml(attachments: unknown[], names: RenderNames): string[] {
  const out: string[] = [];
  for (const a of attachments.filter(isObj)) {
    const md = new Set(Array.isArray(a.mrkdwn_in) ? a.mrkdwn_in : []);
    const inline = (field: string): string | undefined => {
      const v = str(a[field]);
      if (!v) return undefined;
      return md.has(field) ? mrkdwnInline(v, names) : escapeHtml(v).replace(/\n/g, '<br>');
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
          : escapeHtml(text).replace(/\n/g, '<br>'),
      );
    for (const f of Array.isArray(a.fields) ? a.fields.filter(isObj) : []) {
      const t = str(f.title);
      const v = str(f.value);
      if (t || v) card.push(`${t ? `<b>${escapeHtml(t)}</b>: ` : ''}${v ? mrkdwnInline(v, names) : ''}`);
    }
    const image = str(a.image_url);
    if (image) card.push(link(image, escapeHtml(str(a.image_alt) ?? 'image')));
    const footer = str(a.footer);
    if (footer) card.push(`<em>${md.has('footer') ? mrkdwnInline(footer, names) : escapeHtml(footer)}</em>`);
    if (card.length === 0 && !pretext) {
      const fallback = str(a.fallback);
      if (fallback) card.push(mrkdwnInline(fallback, names));
    }
    if (card.length) out.push(`<blockquote>${card.join('<br>')}</blockquote>`);
  }
  return out;
}

function maybeLink(url: string | undefined, label: string): string {
  return url ? link(url, label) : label;
}

function unwrapP(block: string): string {
  return block.startsWith('<p>') && block.endsWith('</p>') ? block.slice(3, -4) : block;
}
