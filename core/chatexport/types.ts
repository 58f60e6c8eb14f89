/**
 * The shapes the chat export reads from Graph and keeps in staging. Graph objects are narrowed to the fields
 * the export renders, so a staged conversation holds no more than the HTML file will show.
 */

/** An identity as Graph reports it inside `from`, reactions and event details. */
export interface GraphIdentity {
  id?: string | null;
  displayName?: string | null;
}

/** `from` of a chat message: a user, an application (bot) or a device; null for system events. */
export interface GraphIdentitySet {
  user?: GraphIdentity | null;
  application?: GraphIdentity | null;
  device?: GraphIdentity | null;
}

/** One member of a chat (`aadUserConversationMember`), as `$expand=members` returns it. */
export interface ChatMember {
  userId?: string | null;
  displayName?: string | null;
  email?: string | null;
}

/** A chat as listed by `GET /me/chats?$expand=members`. */
export interface ChatSummary {
  id: string;
  topic?: string | null;
  chatType?: string | null;
  createdDateTime?: string | null;
  lastUpdatedDateTime?: string | null;
  members?: ChatMember[] | null;
}

/** A message attachment: a file reference, a quoted message (`messageReference`) or a card. */
export interface ChatAttachment {
  id?: string | null;
  contentType?: string | null;
  contentUrl?: string | null;
  content?: string | null;
  name?: string | null;
}

/** A reaction on a message; `reactionType` is a Unicode emoji or a legacy name (`like`, `heart`, ...). */
export interface ChatReaction {
  reactionType?: string | null;
  displayName?: string | null;
  createdDateTime?: string | null;
  user?: GraphIdentitySet | null;
}

/** The `eventDetail` of a system event message, discriminated by `@odata.type`. */
export interface EventDetail {
  '@odata.type'?: string;
  initiator?: GraphIdentitySet | null;
  members?: GraphIdentity[] | null;
  chatDisplayName?: string | null;
  callDuration?: string | null;
  teamsAppDisplayName?: string | null;
  callRecordingDisplayName?: string | null;
  [key: string]: unknown;
}

/** A chat message as `GET /chats/{id}/messages` returns it (the fields the export uses). */
export interface GraphChatMessage {
  id: string;
  replyToId?: string | null;
  messageType?: string | null;
  createdDateTime?: string | null;
  lastModifiedDateTime?: string | null;
  lastEditedDateTime?: string | null;
  deletedDateTime?: string | null;
  subject?: string | null;
  from?: GraphIdentitySet | null;
  body?: { contentType?: string | null; content?: string | null } | null;
  attachments?: ChatAttachment[] | null;
  reactions?: ChatReaction[] | null;
  eventDetail?: EventDetail | null;
}

/** A message as staged: narrowed, with an empty body once deleted (the file shows only that it was deleted). */
export interface StoredMessage {
  id: string;
  replyToId?: string;
  messageType: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  lastEditedDateTime?: string;
  deletedDateTime?: string;
  subject?: string;
  authorId?: string;
  authorName?: string;
  bodyType: 'text' | 'html';
  body: string;
  attachments: ChatAttachment[];
  reactions: ChatReaction[];
  eventDetail?: EventDetail;
}

/** What the export knows about one inline image, keyed in staging by the image's hosted-content URL. */
export type StagedImage =
  | { kind: 'embedded'; contentType: string; base64: string }
  | { kind: 'tooLarge'; limitBytes: number }
  | { kind: 'unavailable'; reason: string };

/** One conversation as staged between passes; messages are sorted by id so the JSON is stable. */
export interface StagedConversation {
  version: 1;
  chat: ChatSummary;
  messages: StoredMessage[];
  images: Record<string, StagedImage>;
}
