import { mentionEntryBytes, reactionEntryBytes } from '../graph/messageSize';
import type { PlannedMention } from '../model';
import { demoteMentions, renumberMentions } from './mentions';
import { fitReactions, fullReactionLine, reactionLineHtml, type PlannedReactions } from './reactions';

/**
 * The budget for one planned message: what it adds to the service's measure (`messageSize` in
 * core/graph/messageSize.ts: the UTF-8 JSON of body, mentions and reactions) beyond the fixed envelope, that is
 * the body HTML as it appears inside the request's JSON string, plus each mention and reaction entry. 24,000
 * leaves about 4 KB under the service's 28,672 for the posting side's attribution line.
 */
export const BODY_BUDGET_BYTES = 24_000;

/** Bytes one code point takes inside a JSON string, UTF-8 encoded (escapes included). */
function jsonBytes(cp: number): number {
  if (cp === 0x22 || cp === 0x5c) return 2;
  if (cp === 0x08 || cp === 0x0c || cp === 0x0a || cp === 0x0d || cp === 0x09) return 2;
  if (cp < 0x20) return 6;
  if (cp < 0x80) return 1;
  if (cp < 0x800) return 2;
  if (cp >= 0xd800 && cp <= 0xdfff) return 6;
  if (cp < 0x10000) return 3;
  return 4;
}

/** The body measure: `Buffer.byteLength(JSON.stringify(html)) - 2`, computed without building the string. */
export function bodySize(html: string): number {
  let n = 0;
  for (const ch of html) n += jsonBytes(ch.codePointAt(0)!);
  return n;
}

/** Whether a body fits in one part: `bodySize(html) <= budget`, without measuring short bodies. */
export function fitsBudget(html: string, budget: number = BODY_BUDGET_BYTES): boolean {
  return html.length * 6 <= budget || bodySize(html) <= budget;
}

/**
 * Splits top-level HTML blocks into parts whose {@link bodySize}, plus `extra` of each block (the bytes its
 * mentions add to the request), is at most `budget`, packing whole blocks
 * greedily; `parts.join('')` equals `blocks.join('')` unless a single block exceeds the budget, in which
 * case that block is cut between characters (never inside a tag or an entity) and its open tags are closed
 * at the end of a part and reopened at the start of the next, so the text content is unchanged. An element
 * that cannot be cut (a tag larger than the budget, such as a link to a 30 KB URL) stays whole in a part over
 * the budget: the planner reports it, and the service refuses that part with the reason.
 */
export function splitBlocks(
  blocks: string[],
  budget: number = BODY_BUDGET_BYTES,
  extra: (block: string) => number = () => 0,
): string[] {
  const whole = blocks.join('');
  const extras = blocks.map(extra);
  const extraTotal = extras.reduce((a, b) => a + b, 0);
  if (extraTotal <= budget && fitsBudget(whole, budget - extraTotal)) return [whole];
  const parts: string[] = [];
  let cur = '';
  let curSize = 0;
  for (const [i, block] of blocks.entries()) {
    const size = bodySize(block) + extras[i];
    if (curSize + size <= budget) {
      cur += block;
      curSize += size;
      continue;
    }
    if (cur) parts.push(cur);
    cur = '';
    curSize = 0;
    if (size <= budget) {
      cur = block;
      curSize = size;
      continue;
    }
    const pieces = splitBlock(block, Math.max(budget - extras[i], Math.floor(budget / 2)));
    parts.push(...pieces.slice(0, -1));
    cur = pieces[pieces.length - 1];
    curSize = bodySize(cur) + extra(cur);
  }
  if (cur) parts.push(cur);
  return parts;
}

const VOID = new Set(['br', 'hr', 'img', 'wbr']);
const TOKEN = /<[^>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);|[^<&]+|[<&]/g;

function tagName(tag: string): string {
  return /^<\/?([a-zA-Z0-9]+)/.exec(tag)?.[1].toLowerCase() ?? '';
}

function splitBlock(block: string, budget: number): string[] {
  const parts: string[] = [];
  const stack: string[] = [];
  const closers = (): string =>
    stack
      .map((t) => `</${tagName(t)}>`)
      .reverse()
      .join('');
  let cur = '';
  let curSize = 0;
  /** Ends the part and reopens its tags in the next; refused (false) when the open tags alone fill a part. */
  const newPart = (): boolean => {
    const reopened = stack.join('');
    if (bodySize(reopened) + bodySize(closers()) >= budget) return false;
    parts.push(cur + closers());
    cur = reopened;
    curSize = bodySize(cur);
    return true;
  };
  for (const token of block.match(TOKEN) ?? []) {
    const isTag = token.startsWith('<') && token.length > 1;
    const isText = !isTag && !(token.startsWith('&') && token.length > 1);
    if (!isText) {
      const size = bodySize(token);
      const closing = token.startsWith('</');
      const opening = isTag && !closing && !VOID.has(tagName(token)) && !token.endsWith('/>');
      const nextStack = closing ? stack.slice(0, -1) : opening ? [...stack, token] : stack;
      const reserve = bodySize(nextStack.map((t) => `</${tagName(t)}>`).join(''));
      if (!closing && curSize + size + reserve > budget && cur !== stack.join('')) newPart();
      cur += token;
      curSize += size;
      if (closing) stack.pop();
      else if (opening) stack.push(token);
      continue;
    }
    let rest = token;
    while (rest) {
      const avail = budget - curSize - bodySize(closers());
      let take = 0;
      let used = 0;
      for (const ch of rest) {
        const b = jsonBytes(ch.codePointAt(0)!);
        if (used + b > avail) break;
        used += b;
        take += ch.length;
      }
      if (take === 0) {
        if (newPart()) continue;
        take = rest.length;
        used = bodySize(rest);
      }
      cur += rest.slice(0, take);
      curSize += used;
      rest = rest.slice(take);
      if (rest) newPart();
    }
  }
  parts.push(cur);
  return parts.filter((p) => p !== '');
}

/** A rendered message to fit into the budget: its blocks, the mentions they hold, its reactions. */
export interface MessageToFit {
  blocks: string[];
  mentions: PlannedMention[];
  reactions: PlannedReactions;
}

/** One part of a fitted message: its HTML, its own mentions (ids from 0), and on the last part the reactions. */
export interface FittedPart {
  html: string;
  mentions: PlannedMention[];
  reactions?: PlannedReactions;
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
const AT_ID = /<at id="(\d+)">/g;

/** Bytes the mentions add to the service's measure, at most (their tenant ids are not known yet). */
export function mentionsSize(mentions: readonly PlannedMention[]): number {
  return sum(mentions.map(mentionEntryBytes));
}

/** Whether the message fits whole with every mention and every native reaction candidate. */
export function fitsWhole(message: MessageToFit, budget: number = BODY_BUDGET_BYTES): boolean {
  const extra =
    mentionsSize(message.mentions) +
    bodySize(reactionLineHtml(fullReactionLine(message.reactions))) +
    sum(message.reactions.candidates.map((c) => reactionEntryBytes(c.emoji, c.displayName)));
  return extra <= budget && fitsBudget(message.blocks.join(''), budget - extra);
}

/**
 * Fits a message into parts within `budget` as the service measures them: each part's body plus its own
 * mentions (renumbered from 0), and on the last part the reaction text line (sized as if every candidate were
 * text) plus as many native reactions as still fit. A block whose mentions alone would take more than a quarter
 * of the budget keeps that much of them and writes the rest as bold text (`demoted` counts them).
 */
export function fitMessage(
  message: MessageToFit,
  budget: number = BODY_BUDGET_BYTES,
): { parts: FittedPart[]; demoted: number } {
  const { mentions } = message;
  const byId = new Map(mentions.map((m) => [m.id, m]));
  const idsIn = (html: string): number[] => [...html.matchAll(AT_ID)].map((m) => Number(m[1]));
  const weight = (html: string): number =>
    idsIn(html).reduce((n, id) => n + (byId.has(id) ? mentionEntryBytes(byId.get(id)!) : 0), 0);
  const allowed = Math.floor(budget / 4);
  let demoted = 0;
  const blocks = message.blocks.map((block) => {
    if (weight(block) <= allowed) return block;
    const keep = new Set<number>();
    let used = 0;
    for (const id of idsIn(block)) {
      used += mentionEntryBytes(byId.get(id)!);
      if (used > allowed) break;
      keep.add(id);
    }
    demoted += idsIn(block).length - keep.size;
    return demoteMentions(block, mentions, (m) => keep.has(m.id));
  });
  const lineSize = bodySize(reactionLineHtml(fullReactionLine(message.reactions)));
  const htmlParts = splitBlocks(blocks, Math.max(budget - lineSize, Math.floor(budget / 2)), weight);
  const parts: FittedPart[] = htmlParts.map((html) => renumberMentions(html, mentions));
  const last = parts[parts.length - 1];
  const room = budget - bodySize(last.html) - mentionsSize(last.mentions) - lineSize;
  last.reactions = fitReactions(message.reactions, Math.max(0, room));
  return { parts, demoted };
}
