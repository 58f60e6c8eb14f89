import { ResponseType, type Client } from '@microsoft/microsoft-graph-client';
import { ConsentGoneError } from './consent';
import {
  GRAPH_PAGE_SIZE,
  type ChatPage,
  type ChatSource,
  type HostedContent,
  type ListMessagesOptions,
} from './ports';
import type { ChatSummary, GraphChatMessage } from './types';

/** The default Graph base URL (the `GRAPH_URL` setting overrides it, e.g. for national clouds or the sandbox). */
export const DEFAULT_GRAPH_URL = 'https://graph.microsoft.com';

/** How GraphChatSource addresses Graph: its base URL, and whether chats are listed as `/me` (delegated) or `/users/{id}`. */
export interface GraphChatSourceOptions {
  graphBaseUrl?: string;
  chatsRoute?: 'me' | 'users';
}

interface Page<T> {
  value?: T[];
  '@odata.nextLink'?: string;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$/;

/** Encodes a path segment, keeping ':' and '@' (valid in paths, and part of every chat id) readable. */
export function encodePathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%3A/gi, ':').replace(/%40/g, '@');
}

function errorStatus(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

/**
 * The ChatSource over a Graph SDK client authenticated with the user's delegated token. It follows Graph's
 * rules: `$top=50`, messages `$orderby=lastModifiedDateTime desc` with `$filter=lastModifiedDateTime gt
 * <watermark>` for deltas, `@odata.nextLink` followed until absent (only on the Graph base URL), one page in
 * flight at a time. A 401 means the consent is gone (ConsentGoneError).
 */
export class GraphChatSource implements ChatSource {
  private readonly base: URL;
  private readonly chatsRoute: 'me' | 'users';

  constructor(
    private readonly client: Client,
    options: GraphChatSourceOptions = {},
  ) {
    this.base = new URL(options.graphBaseUrl ?? DEFAULT_GRAPH_URL);
    this.chatsRoute = options.chatsRoute ?? 'me';
  }

  async listChatsPage(userId: string, next?: string): Promise<ChatPage> {
    const owner = this.chatsRoute === 'me' ? '/me' : `/users/${encodePathSegment(userId)}`;
    const target =
      next === undefined
        ? { path: `${owner}/chats?$expand=members&$top=${GRAPH_PAGE_SIZE}` }
        : this.onGraph(next);
    if (!target)
      throw new Error(
        `The chat listing's next page is not on ${this.base.origin}: check the GRAPH_URL setting matches the Graph endpoint in use`,
      );
    const page = await this.page<ChatSummary>(target, {});
    return { chats: page.items, ...(page.next ? { next: page.next } : {}) };
  }

  async *listMessages(chatId: string, options: ListMessagesOptions = {}): AsyncIterable<GraphChatMessage[]> {
    const query = [`$top=${GRAPH_PAGE_SIZE}`, `$orderby=${encodeURIComponent('lastModifiedDateTime desc')}`];
    if (options.since !== undefined) {
      if (!ISO_TIME.test(options.since)) {
        throw new Error(
          `Watermark '${options.since}' of chat '${chatId}' is not a UTC ISO time: reset the chat's cursor to re-export it fully`,
        );
      }
      query.push(`$filter=${encodeURIComponent(`lastModifiedDateTime gt ${options.since}`)}`);
    }
    yield* this.pages<GraphChatMessage>(`/chats/${encodePathSegment(chatId)}/messages?${query.join('&')}`, {
      Prefer: 'include-unknown-enum-members',
    });
  }

  async getHostedContent(url: string, maxBytes: number): Promise<HostedContent> {
    const target = this.onGraph(url);
    if (!target) return { kind: 'unavailable', reason: 'not a Graph hosted content' };
    let response: Response;
    try {
      response = (await this.request(target).responseType(ResponseType.RAW).get()) as Response;
    } catch (error) {
      this.rethrow(error, 'GET hosted content');
    }
    if (response.status === 401) {
      await response.body?.cancel();
      throw new ConsentGoneError('Graph answered 401 to a delegated request', 'unauthorized');
    }
    if (!response.ok) {
      await response.body?.cancel();
      return { kind: 'unavailable', reason: `Graph answered ${response.status}` };
    }
    const contentType = (response.headers.get('content-type') ?? 'application/octet-stream')
      .split(';')[0]
      .trim()
      .toLowerCase();
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) {
      await response.body?.cancel();
      return { kind: 'tooLarge', limitBytes: maxBytes };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > maxBytes) {
          await reader.cancel();
          return { kind: 'tooLarge', limitBytes: maxBytes };
        }
        chunks.push(Buffer.from(value));
      }
    }
    return { kind: 'ok', contentType, bytes: Buffer.concat(chunks) };
  }

  private async *pages<T>(first: string, headers: Record<string, string>): AsyncIterable<T[]> {
    let target: { path: string; version?: string } | undefined = { path: first };
    while (target) {
      const page: { items: T[]; next?: string } = await this.page<T>(target, headers);
      target = page.next === undefined ? undefined : this.onGraph(page.next);
      yield page.items;
    }
  }

  /** One page; its `@odata.nextLink` is followed only on the Graph base URL. */
  private async page<T>(
    target: { path: string; version?: string },
    headers: Record<string, string>,
  ): Promise<{ items: T[]; next?: string }> {
    let page: Page<T>;
    try {
      page = (await this.request(target).headers(headers).get()) as Page<T>;
    } catch (error) {
      this.rethrow(error, `GET ${target.path.split('?')[0]}`);
    }
    const link = page['@odata.nextLink'];
    if (link && !this.onGraph(link)) {
      throw new Error(
        `Graph returned an @odata.nextLink outside ${this.base.origin}: check the GRAPH_URL setting matches the Graph endpoint in use`,
      );
    }
    return { items: page.value ?? [], ...(link ? { next: link } : {}) };
  }

  private request(target: { path: string; version?: string }) {
    const request = this.client.api(target.path);
    return target.version ? request.version(target.version) : request;
  }

  private onGraph(url: string): { path: string; version: string } | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    if (parsed.origin !== this.base.origin) return undefined;
    const basePath = this.base.pathname.replace(/\/+$/, '');
    if (!parsed.pathname.startsWith(`${basePath}/`)) return undefined;
    const match = /^\/([^/]+)(\/.*)$/.exec(parsed.pathname.slice(basePath.length));
    if (!match) return undefined;
    return { version: match[1], path: `${match[2]}${parsed.search}` };
  }

  private rethrow(error: unknown, what: string): never {
    const status = errorStatus(error);
    if (status === 401)
      throw new ConsentGoneError('Graph answered 401 to a delegated request', 'unauthorized');
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Graph ${what} failed${status ? ` with ${status}` : ''}${typeof code === 'string' ? ` ${code}` : ''}: ${message}`,
    );
  }
}
