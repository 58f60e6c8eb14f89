import { createHash } from 'node:crypto';
import { ConsentGoneError } from './consent';
import {
  emptyConversation,
  hostedImagesOf,
  laterWatermark,
  mergeMessage,
  pruneImages,
  toStoredMessage,
} from './conversation';
import { assignFileName } from './names';
import type { ChatSource, ExportSink, UploadedFile } from './ports';
import { conversationTitle, otherMemberNames, renderConversation, RENDER_VERSION } from './render';
import { EMBEDDABLE_IMAGE_TYPES } from './sanitize';
import type { ChatSummary, StagedConversation, StagedImage, StoredMessage } from './types';
import { failedChatResult } from './passTotals';

/** The default cap on one inline image; larger ones become a visible placeholder. */
export const DEFAULT_MAX_IMAGE_BYTES = 4 * 1024 * 1024;

/** Per chat, what the previous passes recorded: the file name (fixed after the first export) and the watermark. */
export interface ChatCursor {
  fileName: string;
  watermark?: string;
  renderedSha256?: string;
  fingerprint?: string;
}

/** Whose chats to export, where to, in which time zone, and what earlier passes recorded (by chat id). */
export interface ExportUserInput {
  sourceUserId: string;
  targetUserId: string;
  timeZone?: string;
  cursors?: Record<string, ChatCursor>;
}

/** A chat to export with its title and its file name, fixed before any chat is exported. */
export interface PlannedChat {
  chat: ChatSummary;
  title: string;
  fileName: string;
  cursor?: ChatCursor;
}

/** The outcome of one chat: uploaded, unchanged (nothing uploaded), empty (no messages), or failed. */
export interface ChatExportResult {
  chatId: string;
  title: string;
  fileName: string;
  status: 'uploaded' | 'unchanged' | 'empty' | 'failed';
  fetchedMessages: number;
  addedMessages: number;
  updatedMessages: number;
  /** Messages in the staged conversation; absent when nothing changed and staging was not read. */
  totalMessages?: number;
  cursor?: ChatCursor;
  uploaded?: UploadedFile;
  error?: string;
}

/** The outcome of a user's pass: per chat results and the cursors to record for the next pass. */
export interface ExportUserResult {
  sourceUserId: string;
  chats: ChatExportResult[];
  cursors: Record<string, ChatCursor>;
}

/** What the exporter works with: the chat source, the staging and upload sink, and limits. */
export interface ChatExporterDeps {
  source: ChatSource;
  sink: ExportSink;
  maxImageBytes?: number;
}

interface Collected {
  counts: { fetchedMessages: number; addedMessages: number; updatedMessages: number };
  watermark?: string;
  staged?: StagedConversation;
  messages?: Map<string, StoredMessage>;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function fingerprint(chat: ChatSummary, title: string, timeZone: string): string {
  const members = otherMemberNames(chat);
  return sha256(JSON.stringify([RENDER_VERSION, timeZone, title, chat.chatType ?? '', members])).slice(0, 32);
}

function sortedConversation(
  chat: ChatSummary,
  messages: Map<string, StoredMessage>,
  images: StagedConversation['images'],
) {
  const conversation: StagedConversation = {
    version: 1,
    chat,
    messages: [...messages.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    images,
  };
  pruneImages(conversation);
  return conversation;
}

/**
 * Exports a user's chats: lists them, fixes each chat's file name once, and for each chat streams the
 * messages modified since its watermark page by page into the staged conversation, fetches new inline
 * images, re-renders, and uploads only when the file's bytes change. Cursors advance only after an upload
 * (or a confirmed no-change), so a failed pass is simply repeated; a chat whose staged copy is missing is
 * listed in full again rather than uploaded with only its delta.
 */
export class ChatExporter {
  private readonly maxImageBytes: number;

  constructor(private readonly deps: ChatExporterDeps) {
    this.maxImageBytes = deps.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  }

  /** Lists the user's chats and gives each a file name: the recorded one, or a new one unique among the user's files. */
  async planChats(sourceUserId: string, cursors: Record<string, ChatCursor> = {}): Promise<PlannedChat[]> {
    const chats: ChatSummary[] = [];
    let next: string | undefined;
    do {
      const page = await this.deps.source.listChatsPage(sourceUserId, next);
      chats.push(...page.chats);
      next = page.next;
    } while (next !== undefined);
    chats.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return this.name(chats, sourceUserId, cursors);
  }

  /**
   * Plans one page of the user's chats (a pass that continues page by page keeps its history bounded however
   * many chats the user has). Names are fixed against the recorded cursors, so the caller records the new
   * names before the next page is planned.
   */
  async planChatPage(
    sourceUserId: string,
    cursors: Record<string, ChatCursor>,
    next?: string,
  ): Promise<{ planned: PlannedChat[]; next?: string }> {
    const page = await this.deps.source.listChatsPage(sourceUserId, next);
    const chats = [...page.chats].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { planned: this.name(chats, sourceUserId, cursors), ...(page.next ? { next: page.next } : {}) };
  }

  private name(
    chats: ChatSummary[],
    sourceUserId: string,
    cursors: Record<string, ChatCursor>,
  ): PlannedChat[] {
    const taken = new Set(Object.values(cursors).map((cursor) => cursor.fileName.toLowerCase()));
    const seen = new Set<string>();
    const planned: PlannedChat[] = [];
    for (const chat of chats) {
      if (seen.has(chat.id)) continue;
      seen.add(chat.id);
      const title = conversationTitle(chat, sourceUserId);
      const cursor = Object.prototype.hasOwnProperty.call(cursors, chat.id) ? cursors[chat.id] : undefined;
      const fileName = cursor?.fileName ?? assignFileName(title, chat.id, taken);
      taken.add(fileName.toLowerCase());
      planned.push({ chat, title, fileName, ...(cursor ? { cursor } : {}) });
    }
    return planned;
  }

  /** Exports one planned chat (see the class docblock); ConsentGoneError and sink errors propagate. */
  async exportChat(
    planned: PlannedChat,
    input: { sourceUserId: string; targetUserId: string; timeZone?: string },
  ): Promise<ChatExportResult> {
    const { chat, title, fileName, cursor } = planned;
    const timeZone = input.timeZone ?? 'UTC';
    const print = fingerprint(chat, title, timeZone);
    let pass = await this.collect(chat, input.sourceUserId, cursor?.watermark);
    if (pass === 'stagingLost') pass = await this.collect(chat, input.sourceUserId, undefined);
    if (pass === 'stagingLost')
      throw new Error(
        `Chat '${chat.id}' could not be listed in full: its staged copy is missing; re-run the pass`,
      );
    const { counts, watermark } = pass;

    const base = { chatId: chat.id, title, fileName, ...counts };
    if (!pass.staged && cursor?.renderedSha256 && cursor.fingerprint === print) {
      return { ...base, status: 'unchanged', cursor: { ...cursor, ...(watermark ? { watermark } : {}) } };
    }
    let staged = pass.staged;
    let messages = pass.messages;
    if (!staged || !messages) {
      const loaded = await this.deps.sink.loadConversation(input.sourceUserId, chat.id);
      if (!loaded && cursor?.watermark) {
        return this.exportChat({ chat, title, fileName }, input);
      }
      staged = loaded ?? emptyConversation(chat);
      messages = new Map(staged.messages.map((message) => [message.id, message]));
    }
    const conversation = sortedConversation(chat, messages, staged.images);
    messages.clear();
    const totalMessages = conversation.messages.length;
    if (totalMessages === 0) return { ...base, status: 'empty', totalMessages };

    await this.deps.sink.saveConversation(input.sourceUserId, chat.id, conversation);
    const html = Buffer.from(
      renderConversation(conversation, { timeZone, ownerUserId: input.sourceUserId }),
      'utf8',
    );
    const renderedSha256 = createHash('sha256').update(html).digest('hex');
    const next: ChatCursor = {
      fileName,
      ...(watermark ? { watermark } : {}),
      renderedSha256,
      fingerprint: print,
    };
    if (cursor?.renderedSha256 === renderedSha256) {
      return { ...base, status: 'unchanged', totalMessages, cursor: next };
    }
    const uploaded = await this.deps.sink.uploadFile(input.targetUserId, fileName, html);
    return { ...base, status: 'uploaded', totalMessages, cursor: next, uploaded };
  }

  /** Runs a whole pass for one user, chat after chat; a chat's failure is reported, a lost consent stops the pass. */
  async exportUser(input: ExportUserInput): Promise<ExportUserResult> {
    const cursors: Record<string, ChatCursor> = { ...(input.cursors ?? {}) };
    const results: ChatExportResult[] = [];
    for (const planned of await this.planChats(input.sourceUserId, cursors)) {
      try {
        const result = await this.exportChat(planned, input);
        if (result.cursor) cursors[planned.chat.id] = result.cursor;
        results.push(result);
      } catch (error) {
        if (error instanceof ConsentGoneError) throw error;
        results.push({ ...failedChatResult(planned, error), totalMessages: 0 });
      }
    }
    return { sourceUserId: input.sourceUserId, chats: results, cursors };
  }

  private async collect(
    chat: ChatSummary,
    ownerId: string,
    since: string | undefined,
  ): Promise<Collected | 'stagingLost'> {
    const counts = { fetchedMessages: 0, addedMessages: 0, updatedMessages: 0 };
    let watermark = since;
    let staged: StagedConversation | undefined;
    let messages: Map<string, StoredMessage> | undefined;
    for await (const page of this.deps.source.listMessages(chat.id, since ? { since } : {})) {
      if (page.length === 0) continue;
      if (!staged || !messages) {
        const loaded = await this.deps.sink.loadConversation(ownerId, chat.id);
        if (!loaded && since) return 'stagingLost';
        staged = loaded ?? emptyConversation(chat);
        messages = new Map(staged.messages.map((message) => [message.id, message]));
        staged.messages = [];
      }
      for (const raw of page) {
        counts.fetchedMessages += 1;
        const message = toStoredMessage(raw);
        watermark = laterWatermark(watermark, message.lastModifiedDateTime);
        const outcome = mergeMessage(messages, message);
        if (outcome === 'kept') continue;
        if (outcome === 'added') counts.addedMessages += 1;
        else counts.updatedMessages += 1;
        await this.fetchImages(message, staged.images);
      }
    }
    return { counts, watermark, staged, messages };
  }

  private async fetchImages(message: StoredMessage, images: Record<string, StagedImage>): Promise<void> {
    for (const url of hostedImagesOf(message)) {
      if (Object.prototype.hasOwnProperty.call(images, url)) continue;
      const content = await this.deps.source.getHostedContent(url, this.maxImageBytes);
      if (content.kind !== 'ok') {
        images[url] = content;
      } else if (!EMBEDDABLE_IMAGE_TYPES.has(content.contentType)) {
        images[url] = { kind: 'unavailable', reason: `unsupported image type ${content.contentType}` };
      } else {
        images[url] = {
          kind: 'embedded',
          contentType: content.contentType,
          base64: content.bytes.toString('base64'),
        };
      }
    }
  }
}
