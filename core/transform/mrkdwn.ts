import { withoutUrlToken } from '../sources/slack/messages';
import { renderEmoji, emojiFor } from './emoji';
import { channelRef, decodeSlackEntities, escapeHtml, escapeSlackText, link, mention } from './html';
import type { MentionRef } from './mentions';

/** What the converters need to name users and channels referenced in a message. */
export interface RenderNames {
  /** Display name of a Slack user id (`U...`), or undefined when unknown. */
  user(id: string): string | undefined;
  /** Teams name of a Slack channel id, or undefined when the channel is not in the plan. */
  channel(id: string): string | undefined;
  /** The HTML of a user, channel, broadcast or user-group mention; without it, mentions are bold text. */
  mention?(ref: MentionRef): string;
}

const TAGS: Record<string, string> = { '*': 'b', _: 'i', '~': 's' };
const WORD = /[\p{L}\p{N}]/u;
const EMOJI = /:([a-z0-9_+'-]+):(?::skin-tone-([2-6]):)?/y;
const FENCE = '```';
const MARKUP = /[<`*_~:]/g;

/**
 * Converts Slack mrkdwn (as stored in exports: `&amp; &lt; &gt;` encoded) to a list of top-level HTML
 * blocks (`<p>`, `<pre>`, `<blockquote>`, `<ul>`). Every character the user typed is escaped; only the
 * converter's own tags are markup.
 */
export function mrkdwnToBlocks(text: string, names: RenderNames): string[] {
  const blocks: string[] = [];
  let rest = text;
  while (rest.length > 0) {
    const open = rest.indexOf(FENCE);
    const close = open === -1 ? -1 : rest.indexOf(FENCE, open + FENCE.length);
    if (open === -1 || close === -1) {
      blocks.push(...lineBlocks(rest, names));
      break;
    }
    blocks.push(...lineBlocks(rest.slice(0, open), names));
    const code = rest.slice(open + FENCE.length, close).replace(/^\n/, '');
    blocks.push(`<pre>${escapeSlackText(replaceSpecials(code, plainSpecial(names)))}</pre>`);
    rest = rest.slice(close + FENCE.length);
  }
  return blocks;
}

/** Converts one line or span of mrkdwn to inline HTML (no block structure). */
export function mrkdwnInline(text: string, names: RenderNames): string {
  return inline(text, names);
}

/**
 * Converts text that Slack shows without mrkdwn styling (attachment text outside `mrkdwn_in`): its `<...>`
 * tokens (links, mentions, channels) are still converted, everything else is escaped, newlines become `<br>`.
 */
export function plainWithSpecials(text: string, names: RenderNames): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(/<([^<>\n]+)>/g)) {
    out += escapeSlackText(text.slice(last, m.index)) + special(m[1], names);
    last = m.index + m[0].length;
  }
  return (out + escapeSlackText(text.slice(last))).replace(/\n/g, '<br>');
}

function lineBlocks(text: string, names: RenderNames): string[] {
  const blocks: string[] = [];
  const lines = text.split('\n');
  let para: string[] = [];
  let quote: string[] = [];
  let list: string[] = [];
  let quoteRest = false;
  const flush = (): void => {
    if (para.length) blocks.push(`<p>${para.join('<br>')}</p>`);
    if (quote.length) blocks.push(`<blockquote>${quote.join('<br>')}</blockquote>`);
    if (list.length) blocks.push(`<ul>${list.map((l) => `<li>${l}</li>`).join('')}</ul>`);
    para = [];
    quote = [];
    list = [];
  };
  for (const line of lines) {
    if (quoteRest) {
      quote.push(inline(line, names));
      continue;
    }
    if (line.startsWith('&gt;&gt;&gt;')) {
      if (!quote.length) flush();
      quoteRest = true;
      quote.push(inline(line.slice(12).replace(/^ /, ''), names));
    } else if (line.startsWith('&gt;')) {
      if (!quote.length) flush();
      quote.push(inline(line.slice(4).replace(/^ /, ''), names));
    } else if (/^\s*[•◦▪] /.test(line)) {
      if (!list.length) flush();
      list.push(inline(line.replace(/^\s*[•◦▪] /, ''), names));
    } else if (line.trim() === '') {
      flush();
    } else {
      if (!para.length) flush();
      para.push(inline(line, names));
    }
  }
  flush();
  return blocks;
}

/**
 * The next index of one character in a string at or after a position, as `indexOf` answers it, remembering
 * the last answer: a run of queries that moves forward costs one scan of the string in all, and a query
 * behind the remembered span scans only up to it. This keeps the scans linear in the text however
 * many unmatched `<` or backticks it holds.
 */
class NextIndex {
  /** No `char` in [from, found); `found` holds one, or is -1 when none is in [from, end). */
  private from = -1;
  private found = -1;

  constructor(
    private readonly s: string,
    private readonly char: string,
  ) {}

  at(p: number): number {
    if (this.from >= 0 && p >= this.from) {
      if (this.found === -1 || p <= this.found) return this.found;
    } else if (this.from >= 0) {
      for (let q = p; q < this.from; q++) if (this.s[q] === this.char) return this.remember(p, q);
      return this.remember(p, this.found);
    }
    return this.remember(p, this.s.indexOf(this.char, p));
  }

  private remember(from: number, found: number): number {
    this.from = from;
    this.found = found;
    return found;
  }
}

/** The closing `>` and backtick finders of one string. */
interface Closers {
  gt: NextIndex;
  tick: NextIndex;
}

function inline(s: string, names: RenderNames): string {
  let out = '';
  let start = 0;
  const closers: Closers = { gt: new NextIndex(s, '>'), tick: new NextIndex(s, '`') };
  const noClose: Record<string, number> = {};
  const flushTo = (i: number): void => {
    if (i > start) out += escapeSlackText(s.slice(start, i));
  };
  let i = 0;
  while (i < s.length) {
    MARKUP.lastIndex = i;
    if (!MARKUP.exec(s)) break;
    i = MARKUP.lastIndex - 1;
    const c = s[i];
    if (c === '<') {
      const j = closers.gt.at(i + 1);
      if (j > i + 1) {
        flushTo(i);
        out += special(s.slice(i + 1, j), names);
        i = start = j + 1;
        continue;
      }
    } else if (c === '`') {
      const j = closers.tick.at(i + 1);
      if (j > i + 1) {
        flushTo(i);
        out += `<code>${escapeSlackText(replaceSpecials(s.slice(i + 1, j), plainSpecial(names)))}</code>`;
        i = start = j + 1;
        continue;
      }
    } else if (c in TAGS && !(noClose[c] !== undefined && i < noClose[c]) && opens(s, i)) {
      const j = findClose(s, i, c, closers);
      if (j > 0) {
        flushTo(i);
        out += `<${TAGS[c]}>${inline(s.slice(i + 1, j), names)}</${TAGS[c]}>`;
        i = start = j + 1;
        continue;
      }
      const nl = s.indexOf('\n', i);
      noClose[c] = nl === -1 ? s.length : nl;
    } else if (c === ':') {
      EMOJI.lastIndex = i;
      const m = EMOJI.exec(s);
      if (m && emojiFor(m[1])) {
        flushTo(i);
        out += renderEmoji(m[1], m[2] ? Number(m[2]) : undefined);
        i = start = i + m[0].length;
        continue;
      }
    }
    i++;
  }
  flushTo(s.length);
  return out;
}

function opens(s: string, i: number): boolean {
  const next = s[i + 1];
  if (next === undefined || /\s/.test(next)) return false;
  return i === 0 || !WORD.test(s[i - 1]);
}

function findClose(s: string, i: number, c: string, closers: Closers): number {
  for (let k = i + 2; k < s.length; k++) {
    const ch = s[k];
    if (ch === '\n') return -1;
    if (ch === '<' || ch === '`') {
      const end = (ch === '<' ? closers.gt : closers.tick).at(k + 1);
      if (end > k) {
        k = end;
        continue;
      }
    }
    if (ch === c && !/\s/.test(s[k - 1]) && (k + 1 === s.length || !WORD.test(s[k + 1]))) return k;
  }
  return -1;
}

function replaceSpecials(text: string, render: (inner: string) => string): string {
  return text.replace(/<([^<>\n]+)>/g, (_m, inner: string) => render(inner));
}

function plainSpecial(names: RenderNames): (inner: string) => string {
  return (inner) => {
    const [target, label] = splitLabel(inner);
    if (target.startsWith('@')) return `@${names.user(target.slice(1)) ?? label ?? target.slice(1)}`;
    if (target.startsWith('#')) return `#${names.channel(target.slice(1)) ?? label ?? target.slice(1)}`;
    if (target.startsWith('!')) return label ?? `@${target.slice(1)}`;
    return label ?? withoutUrlToken(target);
  };
}

function splitLabel(inner: string): [string, string | undefined] {
  const bar = inner.indexOf('|');
  return bar === -1 ? [inner, undefined] : [inner.slice(0, bar), inner.slice(bar + 1)];
}

function special(inner: string, names: RenderNames): string {
  const [target, rawLabel] = splitLabel(inner);
  const label = rawLabel === undefined ? undefined : decodeSlackEntities(rawLabel);
  if (target.startsWith('@')) {
    const id = target.slice(1);
    const ref = { type: 'user' as const, id, ...(label !== undefined ? { label } : {}) };
    return names.mention?.(ref) ?? mention(names.user(id) ?? label?.replace(/^@/, '') ?? id);
  }
  if (target.startsWith('#')) {
    const id = target.slice(1);
    const ref = { type: 'channel' as const, id, ...(label !== undefined ? { label } : {}) };
    return names.mention?.(ref) ?? channelRef(names.channel(id) ?? label ?? id);
  }
  if (target.startsWith('!')) {
    const cmd = target.slice(1);
    if (cmd === 'here' || cmd === 'channel' || cmd === 'everyone')
      return names.mention?.({ type: 'broadcast', range: cmd }) ?? mention(cmd);
    if (cmd.startsWith('subteam^')) {
      const ref = { type: 'usergroup' as const, id: cmd.slice(8), ...(label !== undefined ? { label } : {}) };
      return names.mention?.(ref) ?? mention((label ?? 'user group').replace(/^@/, ''));
    }
    return escapeHtml(label ?? cmd);
  }
  const url = decodeSlackEntities(target);
  return link(url, escapeHtml(label ?? url));
}
