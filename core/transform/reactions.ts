import { reactionEntryBytes } from '../graph/messageSize';
import type { PlannedReaction, PlannedReactionText, SourceReaction } from '../model';
import { unicodeEmoji } from './emoji';
import { escapeHtml } from './html';
import type { MentionTextReason } from './mentions';

/** The service's cap on reactions per message. */
export const MAX_REACTIONS = 250;

/** Why a reaction stays in the text line instead of being sent natively. */
export type ReactionTextReason =
  /** A custom (workspace) emoji: Teams takes only Unicode emoji. */
  | 'custom-emoji'
  /** The reactor cannot be an Entra user (bot, deleted, unknown, or no e-mail and no map line). */
  | 'reactor-unmatched'
  /** Slack counted more reactors than it listed. */
  | 'reactor-not-listed'
  /** Past the 250 the service takes. */
  | 'over-cap'
  /** Past what the ~28 KB size limit leaves room for. */
  | 'over-size'
  /** The run asked for reactions as text (`--reactions text`). */
  | 'text-mode'
  /** The tenant has no Entra user for the reactor (decided when posting). */
  | 'not-in-tenant'
  /** The service refused the message's native reactions (decided when posting). */
  | 'refused';

/** What planning reactions needs to know. */
export interface ReactionContext {
  /** Native reactions (`--reactions native`), or all as text. */
  native: boolean;
  /** Why a reactor cannot be an Entra user, or undefined when the tenant may have them. */
  reactorTextReason(id: string): MentionTextReason | undefined;
  /** The reactor's name as the source shows it. */
  displayName(id: string): string;
}

/** A message's reactions as planned before the size limit is applied. */
export interface PlannedReactions {
  candidates: PlannedReaction[];
  line: PlannedReactionText[];
  textReasons: Partial<Record<ReactionTextReason, number>>;
}

/**
 * Plans a message's reactions: one native candidate per (Unicode emoji, reactor who may be an Entra user) in
 * the source's order (its `reactions[]`, then each one's `users[]`), at most {@link MAX_REACTIONS}; everything
 * else (custom emoji, unmatched or unlisted reactors, past the cap) counts in the text line, so nothing is lost.
 */
export function planReactions(reactions: readonly SourceReaction[], ctx: ReactionContext): PlannedReactions {
  const candidates: PlannedReaction[] = [];
  const line: PlannedReactionText[] = [];
  const textReasons: Partial<Record<ReactionTextReason, number>> = {};
  const text = (entry: PlannedReactionText, reason: ReactionTextReason, n = 1): void => {
    if (n <= 0) return;
    entry.count += n;
    textReasons[reason] = (textReasons[reason] ?? 0) + n;
  };
  for (const r of reactions) {
    const users = [...new Set(r.users)];
    const total = Math.max(r.count, users.length);
    if (total <= 0) continue;
    const emoji = unicodeEmoji(r.name);
    const entry: PlannedReactionText = { label: emoji ?? `:${r.name}:`, count: 0 };
    const index = line.push(entry) - 1;
    if (!emoji) {
      text(entry, 'custom-emoji', total);
      continue;
    }
    for (const user of users) {
      if (!ctx.native) text(entry, 'text-mode');
      else if (ctx.reactorTextReason(user)) text(entry, 'reactor-unmatched');
      else if (candidates.length >= MAX_REACTIONS) text(entry, 'over-cap');
      else candidates.push({ emoji, sourceUserId: user, displayName: ctx.displayName(user), line: index });
    }
    text(entry, ctx.native ? 'reactor-not-listed' : 'text-mode', total - users.length);
  }
  return { candidates, line, textReasons };
}

/**
 * Keeps the candidates that fit in `room` bytes of {@link messageSize} (in order, stopping at the first that
 * does not fit) and counts the rest in the text line as `over-size`.
 */
export function fitReactions(planned: PlannedReactions, room: number): PlannedReactions {
  let used = 0;
  let kept = 0;
  for (const c of planned.candidates) {
    const bytes = reactionEntryBytes(c.emoji, c.displayName);
    if (used + bytes > room) break;
    used += bytes;
    kept++;
  }
  if (kept === planned.candidates.length) return planned;
  const line = planned.line.map((e) => ({ ...e }));
  for (const c of planned.candidates.slice(kept)) line[c.line].count++;
  const overSize = planned.candidates.length - kept;
  return {
    candidates: planned.candidates.slice(0, kept),
    line,
    textReasons: { ...planned.textReasons, 'over-size': (planned.textReasons['over-size'] ?? 0) + overSize },
  };
}

/** The text line's HTML (`<p>👍 3 · :party: 1</p>`), or '' when no emoji has a count. */
export function reactionLineHtml(line: readonly PlannedReactionText[]): string {
  const items = line.filter((e) => e.count > 0).map((e) => `${escapeHtml(e.label)} ${e.count}`);
  return items.length ? `<p>${items.join(' · ')}</p>` : '';
}

/** The text line as it is when every candidate is text too: the most room the line can take. */
export function fullReactionLine(planned: PlannedReactions): PlannedReactionText[] {
  const line = planned.line.map((e) => ({ ...e }));
  for (const c of planned.candidates) line[c.line].count++;
  return line;
}
