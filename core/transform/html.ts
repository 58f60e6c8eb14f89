import { withoutUrlToken } from '../sources/slack/messages';

/** Escapes text for HTML element content and attribute values: `& < > " '`. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** `escapeHtml(decodeSlackEntities(text))` in one pass: Slack's own entities stay, everything else is escaped. */
export function escapeSlackText(text: string): string {
  return text.replace(/&(?!lt;|gt;|amp;)|[<>"']/g, (c) => ESCAPES[c]);
}

/** Decodes the three entities Slack writes in message text (`&amp; &lt; &gt;`), `&amp;` last. */
export function decodeSlackEntities(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** URL schemes kept as links; anything else is shown as text. */
const SAFE_SCHEMES = /^(https?:|mailto:|tel:)/i;

/**
 * A link when the URL is safe (http, https, mailto, tel), else the escaped label alone. A token in the URL
 * (`?t=`, `?token=`) is left out, of the address and of a label that shows it.
 */
export function link(url: string, labelHtml: string): string {
  const href = url.trim();
  if (!SAFE_SCHEMES.test(href)) return labelHtml;
  const clean = withoutUrlToken(href);
  const label = clean === href ? labelHtml : labelHtml.split(escapeHtml(href)).join(escapeHtml(clean));
  return `<a href="${escapeHtml(clean)}">${label}</a>`;
}

/** How a mention is shown: bold `@Name` (the import API's mentions array is not used; see render.ts). */
export function mention(label: string): string {
  return `<strong>@${escapeHtml(label)}</strong>`;
}

/** A channel reference, shown as bold `#name`. */
export function channelRef(name: string): string {
  return `<strong>#${escapeHtml(name)}</strong>`;
}
