import type { PlannedMention, PlannedMentionTarget } from '../model';
import { channelRef, escapeHtml, mention } from './html';

/** Why a mention is written as bold text instead of a Teams mention. */
export type MentionTextReason =
  /** The mentioned user is a bot or an app: Teams has no Entra user for it. */
  | 'bot'
  | 'deleted-user'
  /** Not in users.json: the export says nothing that could find them in the tenant. */
  | 'unknown-user'
  /** In users.json, but with no e-mail and no user-map line: the tenant lookup has nothing to go on. */
  | 'no-email'
  /** A channel that is not part of this migration. */
  | 'channel-not-imported'
  /** A Slack user group: Teams has no import form for it. */
  | 'user-group'
  /** More mentions than the size limit leaves room for. */
  | 'over-size'
  /** The tenant has no Entra user for the mentioned person (decided when posting). */
  | 'not-in-tenant'
  /** The mentioned channel did not exist in Teams yet when the message was posted. */
  | 'channel-not-created';

/** A mention as the source writes it, before the plan decides how it is shown. */
export type MentionRef =
  | { type: 'user'; id: string; label?: string }
  | { type: 'channel'; id: string; label?: string }
  | { type: 'broadcast'; range: string }
  | { type: 'usergroup'; id: string; label?: string };

/** What the plan knows about who and what can be mentioned natively. */
export interface MentionDirectory {
  /** Why a source user cannot be mentioned natively, or undefined when the tenant may have them. */
  userTextReason(id: string): MentionTextReason | undefined;
  /** The plan key of a channel of this migration, or undefined when the channel is not imported. */
  channelKey(id: string): string | undefined;
  /** The handle of a Slack user group (`S...`) from the user-group CSV, when it names one. */
  userGroup(id: string): string | undefined;
  /** The Teams names of the team and of the channel being planned. */
  teamName: string;
  channelName: string;
}

const AT = /<at id="(\d+)">([^<]*)<\/at>/g;

/**
 * Collects one message's mentions while its HTML is rendered: `render` writes `<at id="n">` for whatever can
 * be mentioned natively and records it, or bold text otherwise, counting why. Ids follow the calls; `finish`
 * renumbers them in body order.
 */
export class MessageMentions {
  readonly mentions: PlannedMention[] = [];
  readonly textReasons: Partial<Record<MentionTextReason, number>> = {};
  private readonly groups: Map<string, string>;
  private readonly channelLabels: Map<string, string>;

  constructor(
    private readonly directory: MentionDirectory,
    private readonly userName: (id: string) => string | undefined,
    private readonly channelName: (id: string) => string | undefined,
    /** The message's `text`: its `<!subteam^S..|@handle>` and `<#C..|name>` tokens name what its blocks refer to by id. */
    text: string,
  ) {
    const labels = (pattern: RegExp): Map<string, string> =>
      new Map([...text.matchAll(pattern)].map((m) => [m[1], m[2]] as [string, string]));
    this.groups = labels(/<!subteam\^([A-Z0-9]+)\|@?([^>]+)>/g);
    this.channelLabels = labels(/<#([A-Z0-9]+)\|([^>]+)>/g);
  }

  /** The HTML of a mention: a Teams `<at>` tag, or bold `@name` / `#name` text. */
  readonly render = (ref: MentionRef): string => {
    const d = this.directory;
    switch (ref.type) {
      case 'user': {
        const name = this.userName(ref.id) ?? ref.label?.replace(/^@/, '') ?? ref.id;
        const reason = d.userTextReason(ref.id);
        return reason
          ? this.text(mention(name), reason)
          : this.at({ kind: 'user', sourceUserId: ref.id }, name);
      }
      case 'channel': {
        const name = this.channelName(ref.id) ?? ref.label ?? this.channelLabels.get(ref.id) ?? ref.id;
        const key = d.channelKey(ref.id);
        return key
          ? this.at({ kind: 'channel', channelKey: key }, name)
          : this.text(channelRef(name), 'channel-not-imported');
      }
      case 'broadcast':
        if (ref.range === 'everyone') return this.at({ kind: 'team' }, d.teamName, ref.range);
        if (ref.range === 'here' || ref.range === 'channel')
          return this.at({ kind: 'thisChannel' }, d.channelName, ref.range);
        return mention(ref.range);
      case 'usergroup': {
        const handle = ref.label?.replace(/^@/, '') ?? this.groups.get(ref.id) ?? d.userGroup(ref.id);
        return this.text(mention(handle ?? 'user group'), 'user-group');
      }
    }
  };

  /** The rendered blocks with their `<at>` ids renumbered from 0 in body order, and the matching mentions. */
  finish(blocks: readonly string[]): { blocks: string[]; mentions: PlannedMention[] } {
    const byId = new Map(this.mentions.map((m) => [m.id, m]));
    const mentions: PlannedMention[] = [];
    const out = blocks.map((block) =>
      block.replace(AT, (_all, id: string, text: string) => {
        mentions.push({ ...byId.get(Number(id))!, id: mentions.length });
        return `<at id="${mentions.length - 1}">${text}</at>`;
      }),
    );
    return { blocks: out, mentions };
  }

  private at(target: PlannedMentionTarget, text: string, label?: string): string {
    const id = this.mentions.length;
    this.mentions.push({ ...target, id, text, ...(label !== undefined ? { label } : {}) });
    return `<at id="${id}">${escapeHtml(text)}</at>`;
  }

  private text(html: string, reason: MentionTextReason): string {
    this.textReasons[reason] = (this.textReasons[reason] ?? 0) + 1;
    return html;
  }
}

/**
 * Keeps the mentions `html` holds as `<at id>` tags, renumbered 0, 1, ... in body order, so the body and the
 * list stay one-to-one (a split part keeps only its own).
 */
export function renumberMentions(
  html: string,
  mentions: readonly PlannedMention[],
): { html: string; mentions: PlannedMention[] } {
  const rewritten = rewriteMentions(html, mentions, () => true);
  return { html: rewritten.html, mentions: rewritten.kept.map((k) => ({ ...k.planned, id: k.id })) };
}

/**
 * Rewrites the body's mentions: `keep(m)` true leaves the tag (renumbered in body order, contiguous from 0),
 * false writes the mention as bold text. The kept mentions come back in body order with their new ids.
 */
export function rewriteMentions(
  html: string,
  mentions: readonly PlannedMention[],
  keep: (m: PlannedMention) => boolean,
): { html: string; kept: Array<{ planned: PlannedMention; id: number }> } {
  const byId = new Map(mentions.map((m) => [m.id, m]));
  const kept: Array<{ planned: PlannedMention; id: number }> = [];
  const out = html.replace(AT, (all, id: string) => {
    const m = byId.get(Number(id));
    if (!m) return all;
    if (!keep(m)) return mentionAsText(m);
    kept.push({ planned: m, id: kept.length });
    return `<at id="${kept.length - 1}">${escapeHtml(m.text)}</at>`;
  });
  return { html: out, kept };
}

/** Writes the mentions `keep` rejects as bold text; the other tags stay as they are, ids unchanged. */
export function demoteMentions(
  html: string,
  mentions: readonly PlannedMention[],
  keep: (m: PlannedMention) => boolean,
): string {
  const byId = new Map(mentions.map((m) => [m.id, m]));
  return html.replace(AT, (all, id: string) => {
    const m = byId.get(Number(id));
    return m && !keep(m) ? mentionAsText(m) : all;
  });
}

/** A mention written as text, as it is when it cannot be native: bold `#channel`, else bold `@name`. */
export function mentionAsText(m: PlannedMention): string {
  return m.kind === 'channel' ? channelRef(m.text) : mention(m.label ?? m.text);
}
