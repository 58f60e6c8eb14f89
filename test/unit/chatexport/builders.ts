import sanitizeHtml from 'sanitize-html';
import { toStoredMessage } from '../../../core/chatexport/conversation';
import type {
  ChatMember,
  ChatSummary,
  GraphChatMessage,
  StagedConversation,
  StagedImage,
} from '../../../core/chatexport/types';

export const ALICE = { userId: 'aad-alice', displayName: 'Alice Adams', email: 'alice@contoso.com' };
export const BOB = { userId: 'aad-bob', displayName: 'Bob Brown', email: 'bob@contoso.com' };
export const CAROL = { userId: 'aad-carol', displayName: 'Carol Chen', email: 'carol@contoso.com' };

/** A chat with Alice (the exporting user) and the given others. */
export function chat(
  id: string,
  others: ChatMember[] = [BOB],
  topic: string | null = null,
  chatType = 'group',
): ChatSummary {
  return { id, topic, chatType, members: [ALICE, ...others] };
}

/** A Graph chat message with sensible defaults: HTML body, from Alice, created at `at`. */
export function message(
  id: string,
  at: string,
  content: string,
  extra: Partial<GraphChatMessage> = {},
): GraphChatMessage {
  return {
    id,
    replyToId: null,
    messageType: 'message',
    createdDateTime: at,
    lastModifiedDateTime: at,
    lastEditedDateTime: null,
    deletedDateTime: null,
    subject: null,
    from: { user: { id: ALICE.userId, displayName: ALICE.displayName } },
    body: { contentType: 'html', content },
    attachments: [],
    reactions: [],
    eventDetail: null,
    ...extra,
  };
}

/** A staged conversation made of Graph messages. */
export function staged(
  summary: ChatSummary,
  messages: GraphChatMessage[],
  images: Record<string, StagedImage> = {},
): StagedConversation {
  return { version: 1, chat: summary, messages: messages.map(toStoredMessage), images };
}

/** One element of a parsed document. */
export interface Element {
  tag: string;
  attribs: Record<string, string>;
}

/** Parses HTML with a real HTML parser (htmlparser2, through sanitize-html) and lists every element. */
export function elements(html: string): Element[] {
  const found: Element[] = [];
  sanitizeHtml(html, {
    allowedTags: false,
    allowedAttributes: false,
    allowVulnerableTags: true,
    transformTags: {
      '*': (tag, attribs) => {
        found.push({ tag, attribs: { ...attribs } });
        return { tagName: tag, attribs };
      },
    },
  });
  return found;
}

/** The `<main>` part of a rendered page: what came from the conversation. */
export function mainOf(html: string): string {
  const start = html.indexOf('<main>');
  const end = html.indexOf('</main>');
  if (start < 0 || end < 0) throw new Error('rendered page has no <main>');
  return html.slice(start, end + '</main>'.length);
}
