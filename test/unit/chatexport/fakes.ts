import type {
  ChatSource,
  ChatPage,
  ExportSink,
  HostedContent,
  ListMessagesOptions,
  UploadedFile,
} from '../../../core/chatexport/ports';
import type { ChatSummary, GraphChatMessage, StagedConversation } from '../../../core/chatexport/types';

/** One listMessages call as the fake Graph saw it. */
export interface MessageRequest {
  chatId: string;
  since?: string;
  pageSizes: number[];
}

function modified(message: GraphChatMessage): number {
  return Date.parse(message.lastModifiedDateTime ?? message.createdDateTime ?? '');
}

/**
 * A ChatSource in memory that behaves like Graph: pages of at most 50, newest-modified first, `since` as
 * `lastModifiedDateTime gt`. Messages may be given as a generator function so a huge chat is produced page
 * by page and never held whole by the fake itself.
 */
export class FakeChatSource implements ChatSource {
  readonly chats: ChatSummary[] = [];
  readonly messages = new Map<string, GraphChatMessage[]>();
  readonly generated = new Map<string, (index: number) => GraphChatMessage>();
  readonly generatedCount = new Map<string, number>();
  readonly hosted = new Map<string, { contentType: string; bytes: Buffer }>();
  readonly requests: MessageRequest[] = [];
  readonly hostedRequests: string[] = [];
  onPage?: (chatId: string, pageIndex: number, page: GraphChatMessage[]) => void;
  /** Lets the event loop turn before each page, as real network I/O does (WeakRefs are released then). */
  yieldBetweenPages = false;
  failWith?: Error;

  async listChatsPage(_userId: string, next?: string): Promise<ChatPage> {
    const start = next === undefined ? 0 : Number(next);
    const end = start + 50;
    return { chats: this.chats.slice(start, end), ...(end < this.chats.length ? { next: String(end) } : {}) };
  }

  async *listMessages(chatId: string, options: ListMessagesOptions = {}): AsyncIterable<GraphChatMessage[]> {
    if (this.failWith) throw this.failWith;
    const request: MessageRequest = {
      chatId,
      ...(options.since ? { since: options.since } : {}),
      pageSizes: [],
    };
    this.requests.push(request);
    const make = this.generated.get(chatId);
    if (make) {
      const count = this.generatedCount.get(chatId) ?? 0;
      for (let start = count - 1, pageIndex = 0; start >= 0; start -= 50, pageIndex += 1) {
        const page: GraphChatMessage[] = [];
        for (let index = start; index > start - 50 && index >= 0; index -= 1) {
          const message = make(index);
          if (!options.since || modified(message) > Date.parse(options.since)) page.push(message);
        }
        if (page.length === 0) break;
        if (this.yieldBetweenPages) await new Promise((resolve) => setImmediate(resolve));
        request.pageSizes.push(page.length);
        this.onPage?.(chatId, pageIndex, page);
        yield page;
      }
      return;
    }
    const all = (this.messages.get(chatId) ?? [])
      .filter((message) => !options.since || modified(message) > Date.parse(options.since))
      .sort((a, b) => modified(b) - modified(a));
    for (let start = 0, pageIndex = 0; start < all.length; start += 50, pageIndex += 1) {
      const page = all.slice(start, start + 50).map((message) => structuredClone(message));
      request.pageSizes.push(page.length);
      this.onPage?.(chatId, pageIndex, page);
      yield page;
    }
  }

  async getHostedContent(url: string, maxBytes: number): Promise<HostedContent> {
    this.hostedRequests.push(url);
    const content = this.hosted.get(url);
    if (!content) return { kind: 'unavailable', reason: 'Graph answered 404' };
    if (content.bytes.length > maxBytes) return { kind: 'tooLarge', limitBytes: maxBytes };
    return { kind: 'ok', ...content };
  }

  fetched(): number {
    return this.requests.reduce((sum, request) => sum + request.pageSizes.reduce((a, b) => a + b, 0), 0);
  }
}

/** An ExportSink in memory: staging round-trips through JSON (as a blob would), files are kept by path. */
export class MemorySink implements ExportSink {
  readonly staged = new Map<string, string>();
  readonly files = new Map<string, string>();
  readonly uploads: { targetUserId: string; fileName: string; size: number }[] = [];
  loads = 0;
  failUploadsOf?: string;

  async loadConversation(ownerId: string, chatId: string): Promise<StagedConversation | undefined> {
    this.loads += 1;
    const text = this.staged.get(`${ownerId}/${chatId}`);
    return text ? (JSON.parse(text) as StagedConversation) : undefined;
  }

  async saveConversation(ownerId: string, chatId: string, conversation: StagedConversation): Promise<void> {
    this.staged.set(`${ownerId}/${chatId}`, JSON.stringify(conversation));
  }

  async uploadFile(targetUserId: string, fileName: string, content: Buffer): Promise<UploadedFile> {
    if (this.failUploadsOf === fileName)
      throw new Error(`Upload of TeamsHistory/${fileName} failed with 503`);
    this.uploads.push({ targetUserId, fileName, size: content.length });
    this.files.set(`${targetUserId}/TeamsHistory/${fileName}`, content.toString('utf8'));
    return { id: `item-${this.files.size}`, name: fileName, size: content.length };
  }

  file(targetUserId: string, fileName: string): string {
    const html = this.files.get(`${targetUserId}/TeamsHistory/${fileName}`);
    if (html === undefined) throw new Error(`no file ${fileName} for ${targetUserId}`);
    return html;
  }
}
