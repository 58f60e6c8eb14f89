import { Client } from '@microsoft/microsoft-graph-client';
import { ConsentGoneError } from '../../../core/chatexport/consent';
import { GraphChatSource } from '../../../core/chatexport/graphSource';
import type { ChatSummary, GraphChatMessage } from '../../../core/chatexport/types';
import { chat, message } from './builders';
import { FakeGraph, json, type GraphCall } from './fakeGraph';

const CHAT_ID = '19:abc_def@unq.gbl.spaces';
const BASE = Date.UTC(2025, 0, 15);
const at = (minute: number) => new Date(BASE + minute * 60_000).toISOString();

function collect<T>(pages: AsyncIterable<T[]>): Promise<T[][]> {
  return (async () => {
    const all: T[][] = [];
    for await (const page of pages) all.push(page);
    return all;
  })();
}

/** Graph's real rules for chat messages: $top <= 50, desc order, the filter only with a matching orderby. */
function messagesRoute(origin: string, chatId: string, messages: GraphChatMessage[]) {
  return (call: GraphCall) => {
    if (call.method !== 'GET' || call.url.pathname !== `/v1.0/chats/${chatId}/messages`) return undefined;
    const params = call.url.searchParams;
    const top = Number(params.get('$top') ?? 20);
    if (top > 50) return json(400, { error: { code: 'BadRequest', message: '$top must be at most 50' } });
    if (params.get('$orderby') !== 'lastModifiedDateTime desc') {
      return json(400, {
        error: { code: 'BadRequest', message: 'orderby must be lastModifiedDateTime desc' },
      });
    }
    const filter = params.get('$filter');
    const since = filter ? /^lastModifiedDateTime gt (\S+)$/.exec(filter)?.[1] : undefined;
    if (filter && !since)
      return json(400, { error: { code: 'BadRequest', message: `bad filter ${filter}` } });
    const skip = Number(params.get('$skiptoken') ?? 0);
    const matching = messages
      .filter((m) => !since || Date.parse(m.lastModifiedDateTime!) > Date.parse(since))
      .sort((a, b) => Date.parse(b.lastModifiedDateTime!) - Date.parse(a.lastModifiedDateTime!));
    const value = matching.slice(skip, skip + top);
    const body: Record<string, unknown> = { '@odata.count': value.length, value };
    if (skip + top < matching.length) {
      const next = new URLSearchParams(params);
      next.set('$skiptoken', String(skip + top));
      body['@odata.nextLink'] = `${origin}/v1.0/chats/${chatId}/messages?${next.toString()}`;
    }
    return json(200, body);
  };
}

function chatsRoute(origin: string, prefix: string, chats: ChatSummary[]) {
  return (call: GraphCall) => {
    if (call.method !== 'GET' || call.url.pathname !== `${prefix}/chats`) return undefined;
    const top = Number(call.url.searchParams.get('$top') ?? 20);
    if (top > 50) return json(400, { error: { code: 'BadRequest', message: '$top must be at most 50' } });
    const skip = Number(call.url.searchParams.get('$skiptoken') ?? 0);
    const body: Record<string, unknown> = { value: chats.slice(skip, skip + top) };
    if (skip + top < chats.length)
      body['@odata.nextLink'] = `${origin}${prefix}/chats?$top=${top}&$skiptoken=${skip + top}`;
    return json(200, body);
  };
}

function setup(baseUrl = 'https://graph.microsoft.com') {
  const graph = new FakeGraph();
  const client = Client.initWithMiddleware({ baseUrl, middleware: graph });
  return { graph, client, source: new GraphChatSource(client, { graphBaseUrl: baseUrl }) };
}

describe('GraphChatSource', () => {
  const messages = Array.from({ length: 120 }, (_, i) => message(String(1000 + i), at(i), `<p>${i}</p>`));

  it('lists messages 50 per page, newest first, following @odata.nextLink until it is absent', async () => {
    const { graph, source } = setup();
    graph.route(messagesRoute('https://graph.microsoft.com', CHAT_ID, messages));

    const pages = await collect(source.listMessages(CHAT_ID));

    expect(pages.map((page) => page.length)).toEqual([50, 50, 20]);
    expect(pages[0][0].id).toBe('1119');
    expect(pages[2][19].id).toBe('1000');
    expect(graph.calls).toHaveLength(3);
    const first = graph.calls[0];
    expect(first.url.pathname).toBe(`/v1.0/chats/${CHAT_ID}/messages`);
    expect(first.url.searchParams.get('$top')).toBe('50');
    expect(first.url.searchParams.get('$orderby')).toBe('lastModifiedDateTime desc');
    expect(first.url.searchParams.has('$filter')).toBe(false);
    expect(first.headers.get('prefer')).toBe('include-unknown-enum-members');
    expect(graph.calls[2].url.searchParams.get('$skiptoken')).toBe('100');
  });

  it('asks only for messages modified after the watermark on a delta pass', async () => {
    const { graph, source } = setup();
    graph.route(messagesRoute('https://graph.microsoft.com', CHAT_ID, messages));

    const pages = await collect(source.listMessages(CHAT_ID, { since: at(109) }));

    expect(pages.flat().map((m) => m.id)).toEqual([
      '1119',
      '1118',
      '1117',
      '1116',
      '1115',
      '1114',
      '1113',
      '1112',
      '1111',
      '1110',
    ]);
    expect(graph.calls[0].url.searchParams.get('$filter')).toBe(`lastModifiedDateTime gt ${at(109)}`);
    await expect(collect(source.listMessages(CHAT_ID, { since: 'yesterday' }))).rejects.toThrow(
      /not a UTC ISO time/,
    );
    await expect(collect(source.listMessages(CHAT_ID, { since: "x' or 1 eq 1" }))).rejects.toThrow(
      /not a UTC ISO time/,
    );
  });

  it('fetches the next page only when the consumer asks for it', async () => {
    const { graph, source } = setup();
    graph.route(messagesRoute('https://graph.microsoft.com', CHAT_ID, messages));
    const iterator = source.listMessages(CHAT_ID)[Symbol.asyncIterator]();
    await iterator.next();
    expect(graph.calls).toHaveLength(1);
    await iterator.next();
    expect(graph.calls).toHaveLength(2);
    await iterator.return?.();
  });

  it('lists chats with members, paging through all of them, as /me or /users/{id}', async () => {
    const chats = Array.from({ length: 60 }, (_, i) => chat(`19:c${i}@thread.v2`));
    const { graph, source, client } = setup();
    graph.route(chatsRoute('https://graph.microsoft.com', '/v1.0/me', chats));
    const pages = await chatPages(source, 'ignored-for-me');
    expect(pages.map((page) => page.length)).toEqual([50, 10]);
    expect(graph.calls[0].url.searchParams.get('$expand')).toBe('members');
    expect(graph.calls[0].url.searchParams.get('$top')).toBe('50');

    graph.route(chatsRoute('https://graph.microsoft.com', '/v1.0/users/user%2F1', chats));
    const byUser = new GraphChatSource(client, { chatsRoute: 'users' });
    expect((await chatPages(byUser, 'user/1')).flat()).toHaveLength(60);
  });

  it('refuses a chat page link that is not on the Graph base URL', async () => {
    const { source } = setup();
    await expect(source.listChatsPage('u', 'https://evil.test/v1.0/me/chats?$skiptoken=x')).rejects.toThrow(
      /next page is not on https:\/\/graph\.microsoft\.com/,
    );
  });

  it('follows absolute nextLinks on a plain-http Graph base such as the local sandbox', async () => {
    const origin = 'http://127.0.0.1:7071';
    const { graph, source } = setup(origin);
    graph.route(messagesRoute(origin, CHAT_ID, messages));
    const pages = await collect(source.listMessages(CHAT_ID));
    expect(pages.map((page) => page.length)).toEqual([50, 50, 20]);
    expect(graph.calls.map((call) => call.url.origin)).toEqual([origin, origin, origin]);
  });

  it('refuses a nextLink that leaves the Graph base URL', async () => {
    const { graph, source } = setup();
    graph.route(() =>
      json(200, { value: [], '@odata.nextLink': 'https://evil.test/v1.0/chats/x/messages?$skiptoken=1' }),
    );
    await expect(collect(source.listMessages(CHAT_ID))).rejects.toThrow(
      /outside https:\/\/graph\.microsoft\.com.*GRAPH_URL/,
    );
    expect(graph.calls).toHaveLength(1);
  });

  it('treats a 401 as a lost consent and reports other errors with their status', async () => {
    const { graph, source } = setup();
    graph.route((call) =>
      call.url.pathname.includes('gone')
        ? json(401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token has expired.' } })
        : json(404, { error: { code: 'NotFound', message: 'Chat not found' } }),
    );
    await expect(collect(source.listMessages('gone'))).rejects.toBeInstanceOf(ConsentGoneError);
    await expect(collect(source.listMessages('missing'))).rejects.toThrow(
      /GET \/chats\/missing\/messages failed with 404 NotFound/,
    );
  });

  describe('hosted contents', () => {
    const url = (id: string) =>
      `https://graph.microsoft.com/v1.0/chats/${CHAT_ID}/messages/1/hostedContents/${id}/$value`;

    function hostedRoute(call: GraphCall): Response | undefined {
      const id = /hostedContents\/([^/]+)\/\$value$/.exec(call.url.pathname)?.[1];
      if (id === 'small')
        return new Response(Buffer.from('png-bytes'), {
          headers: { 'content-type': 'image/PNG; charset=binary' },
        });
      if (id === 'declared-big') {
        return new Response(Buffer.alloc(10), {
          headers: { 'content-type': 'image/png', 'content-length': String(5 * 1024 * 1024) },
        });
      }
      if (id === 'streamed-big') {
        const chunk = new Uint8Array(64 * 1024);
        let sent = 0;
        const stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            sent += chunk.length;
            controller.enqueue(chunk);
            if (sent > 8 * 1024 * 1024) controller.close();
          },
        });
        return new Response(stream, { headers: { 'content-type': 'image/png' } });
      }
      return json(404, { error: { code: 'NotFound', message: 'no such content' } });
    }

    it('returns the bytes and the bare content type', async () => {
      const { graph, source } = setup();
      graph.route(hostedRoute);
      const content = await source.getHostedContent(url('small'), 1024);
      expect(content).toEqual({ kind: 'ok', contentType: 'image/png', bytes: Buffer.from('png-bytes') });
    });

    it('stops at the size limit, whether declared up front or only seen while streaming', async () => {
      const { graph, source } = setup();
      graph.route(hostedRoute);
      await expect(source.getHostedContent(url('declared-big'), 4 * 1024 * 1024)).resolves.toEqual({
        kind: 'tooLarge',
        limitBytes: 4 * 1024 * 1024,
      });
      await expect(source.getHostedContent(url('streamed-big'), 1024 * 1024)).resolves.toEqual({
        kind: 'tooLarge',
        limitBytes: 1024 * 1024,
      });
    });

    it('reports missing contents and never sends a request off the Graph base URL', async () => {
      const { graph, source } = setup();
      graph.route(hostedRoute);
      await expect(source.getHostedContent(url('gone'), 1024)).resolves.toEqual({
        kind: 'unavailable',
        reason: 'Graph answered 404',
      });
      const calls = graph.calls.length;
      await expect(
        source.getHostedContent('https://evil.test/v1.0/chats/x/messages/1/hostedContents/h/$value', 1024),
      ).resolves.toMatchObject({
        kind: 'unavailable',
      });
      expect(graph.calls).toHaveLength(calls);
    });
  });
});

async function chatPages(source: GraphChatSource, userId: string): Promise<unknown[][]> {
  const pages: unknown[][] = [];
  let next: string | undefined;
  do {
    const page = await source.listChatsPage(userId, next);
    pages.push(page.chats);
    next = page.next;
  } while (next !== undefined);
  return pages;
}
