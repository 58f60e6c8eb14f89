import { extractImageSources } from './sanitize';
import type { ChatSummary, GraphChatMessage, StagedConversation, StoredMessage } from './types';

const EPOCH = '1970-01-01T00:00:00.000Z';

function present(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}

function time(iso: string | undefined): number {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

/** A new, empty staged conversation for a chat. */
export function emptyConversation(chat: ChatSummary): StagedConversation {
  return { version: 1, chat, messages: [], images: {} };
}

/** Narrows a Graph message to what the file shows; a deleted message keeps only its metadata. */
export function toStoredMessage(raw: GraphChatMessage): StoredMessage {
  const created = present(raw.createdDateTime) ?? present(raw.lastModifiedDateTime) ?? EPOCH;
  const deleted = present(raw.deletedDateTime);
  const author = raw.from?.user ?? raw.from?.application ?? raw.from?.device ?? undefined;
  const message: StoredMessage = {
    id: raw.id,
    messageType: present(raw.messageType) ?? 'message',
    createdDateTime: created,
    lastModifiedDateTime: present(raw.lastModifiedDateTime) ?? created,
    bodyType: raw.body?.contentType === 'html' ? 'html' : 'text',
    body: deleted ? '' : (raw.body?.content ?? ''),
    attachments: deleted ? [] : (raw.attachments ?? []),
    reactions: deleted ? [] : (raw.reactions ?? []),
  };
  const optional: Partial<StoredMessage> = {
    replyToId: present(raw.replyToId),
    lastEditedDateTime: present(raw.lastEditedDateTime),
    deletedDateTime: deleted,
    subject: deleted ? undefined : present(raw.subject),
    authorId: present(raw.from?.user?.id),
    authorName: present(author?.displayName?.trim()),
    eventDetail: raw.eventDetail ?? undefined,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (message as unknown as Record<string, unknown>)[key] = value;
  }
  return message;
}

/** The outcome of merging one fetched message into the staged set. */
export type MergeOutcome = 'added' | 'updated' | 'kept';

/** Merges a message by id: the later `lastModifiedDateTime` wins (a tie takes the fetched copy). */
export function mergeMessage(messages: Map<string, StoredMessage>, incoming: StoredMessage): MergeOutcome {
  const existing = messages.get(incoming.id);
  if (!existing) {
    messages.set(incoming.id, incoming);
    return 'added';
  }
  if (time(incoming.lastModifiedDateTime) < time(existing.lastModifiedDateTime)) return 'kept';
  messages.set(incoming.id, incoming);
  return JSON.stringify(existing) === JSON.stringify(incoming) ? 'kept' : 'updated';
}

/** The later of two watermarks (ISO times); undefined only when both are. */
export function laterWatermark(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return time(b) > time(a) ? b : a;
}

/** True for a Graph hosted-content URL (`.../messages/{id}/hostedContents/{id}/$value`), the only images fetched. */
export function isHostedContentUrl(src: string): boolean {
  try {
    const url = new URL(src);
    return (
      (url.protocol === 'https:' || url.protocol === 'http:') &&
      /\/messages\/[^/]+\/hostedContents\/[^/]+\/\$value$/.test(url.pathname)
    );
  } catch {
    return false;
  }
}

/** The hosted-content URLs a message's HTML body shows (none for text or deleted messages). */
export function hostedImagesOf(message: StoredMessage): string[] {
  if (message.bodyType !== 'html' || message.deletedDateTime || !message.body.includes('<img')) return [];
  return extractImageSources(message.body).filter(isHostedContentUrl);
}

/** Drops staged images no live message shows any more (for example after a deletion). */
export function pruneImages(conversation: StagedConversation): void {
  const used = new Set(conversation.messages.flatMap(hostedImagesOf));
  for (const url of Object.keys(conversation.images)) {
    if (!used.has(url)) delete conversation.images[url];
  }
}
