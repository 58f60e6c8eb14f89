import type { PlannedMention } from '../model';

/** The service's message size limit: about 28 KB, read as 28 × 1024 bytes (see {@link messageSize}). */
export const MESSAGE_SIZE_LIMIT = 28 * 1024;

/**
 * The size the 28 KB rule is judged on: the UTF-8 byte length of `JSON.stringify({ body, mentions, reactions })`
 * over the request's own values (missing lists as `[]`). Hosted contents and attachments are not counted: they
 * travel beside the post, not inside it. The planner, the poster and the sandbox all measure with this.
 */
export function messageSize(body: unknown, mentions: unknown, reactions: unknown): number {
  return Buffer.byteLength(
    JSON.stringify({ body, mentions: mentions ?? [], reactions: reactions ?? [] }),
    'utf8',
  );
}

/** A `mentions[]` entry as the import POST sends it. */
export interface MentionEntry {
  id: number;
  mentionText: string;
  mentioned:
    | { user: { id: string; displayName: string; userIdentityType: 'aadUser' } }
    | {
        conversation: {
          id: string;
          displayName: string;
          conversationIdentityType: 'channel' | 'team';
        };
      };
}

/** A `reactions[]` entry as the import POST sends it. */
export interface ReactionEntry {
  reactionType: string;
  createdDateTime: string;
  user: { user: { id: string; displayName: string; userIdentityType: 'aadUser' } };
}

/** The entry for a planned mention whose target has the tenant id `targetId` (a user, channel or team id). */
export function mentionEntry(m: PlannedMention, id: number, targetId: string): MentionEntry {
  const mentioned: MentionEntry['mentioned'] =
    m.kind === 'user'
      ? { user: { id: targetId, displayName: m.text, userIdentityType: 'aadUser' } }
      : {
          conversation: {
            id: targetId,
            displayName: m.text,
            conversationIdentityType: m.kind === 'team' ? 'team' : 'channel',
          },
        };
  return { id, mentionText: m.text, mentioned };
}

/** The entry for one reaction by the Entra user `userId`. */
export function reactionEntry(
  emoji: string,
  createdDateTime: string,
  userId: string,
  displayName: string,
): ReactionEntry {
  return {
    reactionType: emoji,
    createdDateTime,
    user: { user: { id: userId, displayName, userIdentityType: 'aadUser' } },
  };
}

/**
 * The longest tenant id an entry can carry, for sizing entries before the tenant is known: an Entra object id
 * is a 36-character GUID; a channel id (`19:...@thread.tacv2`) is longer, so channel mentions reserve 96.
 */
const MAX_ID = { user: 36, team: 36, channel: 96 } as const;
const SAMPLE_TIME = '2000-01-01T00:00:00.000Z';

/** Bytes a mention adds to {@link messageSize} at most, its separating comma included. */
export function mentionEntryBytes(m: PlannedMention): number {
  const width = m.kind === 'user' ? MAX_ID.user : m.kind === 'team' ? MAX_ID.team : MAX_ID.channel;
  return Buffer.byteLength(JSON.stringify(mentionEntry(m, 9999, 'x'.repeat(width))), 'utf8') + 1;
}

/** Bytes a reaction adds to {@link messageSize}, its separating comma included. */
export function reactionEntryBytes(emoji: string, displayName: string): number {
  return (
    Buffer.byteLength(
      JSON.stringify(reactionEntry(emoji, SAMPLE_TIME, 'x'.repeat(MAX_ID.user), displayName)),
      'utf8',
    ) + 1
  );
}
