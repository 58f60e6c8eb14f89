import type { PlannedMention, PlannedMessage } from '../model';
import type { ChannelRecord, UserRecord } from '../state/ledgerRecords';
import { rewriteMentions, type MentionTextReason } from '../transform/mentions';
import { reactionLineHtml, type ReactionTextReason } from '../transform/reactions';
import { mentionEntry, reactionEntry, type MentionEntry, type ReactionEntry } from './messageSize';

/** What the posting side knows of the tenant: the Entra users, channels and team that mentions can name. */
export interface TenantDirectory {
  /** The Entra object id of a source user the run matched, else undefined (bots never match). */
  user(sourceUserId: string): string | undefined;
  /** The Teams id of a channel of the plan (by plan key), when it exists in Teams already. */
  channel(channelKey: string): string | undefined;
  teamId: string;
  /** The channel the message is posted in. */
  channelId: string;
}

/**
 * The tenant as the ledger knows it when a channel's batch starts: matched users (never the fallback account,
 * which stands for others), the channels created so far, the team and the channel posted in.
 */
export function tenantDirectory(
  teamId: string,
  channelId: string,
  users: ReadonlyMap<string, UserRecord>,
  channels: readonly ChannelRecord[],
): TenantDirectory {
  const channelIds = new Map(
    channels.filter((c) => c.teamsChannelId).map((c) => [c.channelKey, c.teamsChannelId!]),
  );
  return {
    user: (id) => {
      const u = users.get(id);
      return u && u.matchedBy !== 'unmatched' && u.matchedBy !== 'fallback' ? u.entraId : undefined;
    },
    channel: (key) => channelIds.get(key),
    teamId,
    channelId,
  };
}

/** A planned message's mentions and reactions as the POST carries them, with the body they go with. */
export interface NativeContent {
  /** The planned HTML with unmapped mentions written as bold text and the reaction text line appended. */
  html: string;
  mentions: MentionEntry[];
  reactions: ReactionEntry[];
  /** Mentions and reactions the tenant could not take natively, by reason. */
  mentionText: Partial<Record<MentionTextReason, number>>;
  reactionText: Partial<Record<ReactionTextReason, number>>;
}

/**
 * Maps a planned message's mentions and reactions to the tenant: a mention whose user or channel the tenant
 * has stays an `<at>` tag (renumbered contiguously from 0 in body order) with its `mentions[]` entry, any
 * other becomes bold text; a reaction candidate whose reactor maps to an Entra user (once per user and emoji)
 * becomes a native reaction dated at the message, any other counts in the text line. `nativeReactions: false`
 * (the service refused them) writes every reaction as text. Pure: same input, same output.
 */
export function nativeContent(
  planned: Pick<PlannedMessage, 'html' | 'createdDateTime' | 'mentions' | 'reactions' | 'reactionLine'>,
  tenant: TenantDirectory,
  nativeReactions = true,
): NativeContent {
  const mentionText: NativeContent['mentionText'] = {};
  const reactionText: NativeContent['reactionText'] = {};
  const count = <K extends string>(into: Partial<Record<K, number>>, key: K): void => {
    into[key] = (into[key] ?? 0) + 1;
  };
  const targetOf = (m: PlannedMention): string | undefined => {
    switch (m.kind) {
      case 'user':
        return tenant.user(m.sourceUserId);
      case 'channel':
        return tenant.channel(m.channelKey);
      case 'thisChannel':
        return tenant.channelId;
      case 'team':
        return tenant.teamId;
    }
  };
  const targets = new Map<number, string>();
  const rewritten = rewriteMentions(planned.html, planned.mentions ?? [], (m) => {
    const target = targetOf(m);
    if (target) targets.set(m.id, target);
    else count(mentionText, m.kind === 'user' ? 'not-in-tenant' : 'channel-not-created');
    return !!target;
  });
  const mentions = rewritten.kept.map(({ planned: m, id }) => mentionEntry(m, id, targets.get(m.id)!));

  const line = (planned.reactionLine ?? []).map((e) => ({ ...e }));
  const reactions: ReactionEntry[] = [];
  const seen = new Set<string>();
  for (const r of planned.reactions ?? []) {
    const userId = nativeReactions ? tenant.user(r.sourceUserId) : undefined;
    const key = `${userId}\u0000${r.emoji}`;
    if (userId && !seen.has(key)) {
      seen.add(key);
      reactions.push(reactionEntry(r.emoji, planned.createdDateTime, userId, r.displayName));
      continue;
    }
    if (userId) continue;
    line[r.line].count++;
    count(reactionText, nativeReactions ? 'not-in-tenant' : 'refused');
  }
  return { html: rewritten.html + reactionLineHtml(line), mentions, reactions, mentionText, reactionText };
}

/** Whether a Graph error is the service refusing a message's native reactions (a 400 that names them). */
export function refusesReactions(status: number, message: string): boolean {
  return status === 400 && /reaction/i.test(message);
}
