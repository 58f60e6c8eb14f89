import type { ChatSummary, GraphChatMessage, StagedConversation } from './types';

/** Graph's largest page for chats and chat messages: no request of the export asks for more. */
export const GRAPH_PAGE_SIZE = 50;

/** A fetched inline image, or why it was left out. */
export type HostedContent =
  | { kind: 'ok'; contentType: string; bytes: Buffer }
  | { kind: 'tooLarge'; limitBytes: number }
  | { kind: 'unavailable'; reason: string };

/** A page of chats and where the next one is. */
export interface ChatPage {
  chats: ChatSummary[];
  next?: string;
}

/** Options of a message listing: `since` is a watermark (ISO time); only messages modified after it come back. */
export interface ListMessagesOptions {
  since?: string;
}

/**
 * Where chats come from (Graph with the user's delegated token, or a fake). Listings are async iterables of
 * pages of at most GRAPH_PAGE_SIZE items, fetched lazily: the next page is requested only when the consumer
 * asks for it. Messages come newest-modified first.
 */
export interface ChatSource {
  /** One page of the user's chats; `next` (opaque) asks for the following page and is absent on the last. */
  listChatsPage(userId: string, next?: string): Promise<ChatPage>;
  listMessages(chatId: string, options?: ListMessagesOptions): AsyncIterable<GraphChatMessage[]>;
  /** Fetches an inline image's bytes; never reads more than `maxBytes` of it. */
  getHostedContent(url: string, maxBytes: number): Promise<HostedContent>;
}

/** The stored result of an upload. */
export interface UploadedFile {
  id?: string;
  name: string;
  size: number;
}

/** Where conversations are staged between passes (keyed by the exporting user and the chat). */
export interface ConversationStaging {
  loadConversation(ownerId: string, chatId: string): Promise<StagedConversation | undefined>;
  saveConversation(ownerId: string, chatId: string, conversation: StagedConversation): Promise<void>;
}

/** Staging plus the destination of the rendered files: `TeamsHistory/<fileName>` in the target user's drive, replaced on conflict. */
export interface ExportSink extends ConversationStaging {
  uploadFile(targetUserId: string, fileName: string, content: Buffer): Promise<UploadedFile>;
}
