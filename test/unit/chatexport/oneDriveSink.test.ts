import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Client } from '@microsoft/microsoft-graph-client';
import { OneDriveSink, SIMPLE_UPLOAD_LIMIT, UPLOAD_CHUNK_UNIT } from '../../../core/chatexport/oneDriveSink';
import { ObjectStoreStaging, stagedConversationName } from '../../../core/chatexport/staging';
import type { ObjectStore } from '../../../core/state/objectStore';
import { chat, message, staged } from './builders';
import { FakeGraph, json, type GraphCall } from './fakeGraph';

const UPLOAD_URL = 'https://upload.test/sessions/abc?tempauth=pre-authenticated';
const KEY = randomBytes(32);

class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Buffer>();
  async put(name: string, data: Buffer | string | Readable): Promise<void> {
    if (data instanceof Readable) throw new Error('streams not used here');
    this.objects.set(name, Buffer.from(data));
  }
  async get(name: string): Promise<Buffer> {
    const value = this.objects.get(name);
    if (!value) throw new Error(`missing ${name}`);
    return value;
  }
  async stream(name: string): Promise<Readable> {
    return Readable.from(await this.get(name));
  }
  async exists(name: string): Promise<boolean> {
    return this.objects.has(name);
  }
  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((name) => name.startsWith(prefix)).sort();
  }
  async delete(name: string): Promise<void> {
    this.objects.delete(name);
  }
}

interface ChunkCall {
  method: string;
  headers: Headers;
  size: number;
}

/** A OneDrive drive in memory: simple PUT and upload sessions, files kept by path (replace on conflict). */
function fakeDrive(graph: FakeGraph) {
  const files = new Map<string, Buffer>();
  const sessions: { path: string; body: unknown }[] = [];
  const chunks: ChunkCall[] = [];
  let received: Buffer[] = [];
  let sessionPath = '';
  let failNext = 0;
  graph.route((call: GraphCall) => {
    const match = /^\/v1\.0\/users\/([^/]+)\/drive\/root:\/(.+):\/(content|createUploadSession)$/.exec(
      call.url.pathname,
    );
    if (!match) return undefined;
    const path = `${decodeURIComponent(match[1])}/${decodeURIComponent(match[2])}`;
    if (match[3] === 'content' && call.method === 'PUT') {
      if (call.url.searchParams.get('@microsoft.graph.conflictBehavior') !== 'replace' && files.has(path)) {
        return json(409, { error: { code: 'nameAlreadyExists', message: 'exists' } });
      }
      files.set(path, Buffer.from(call.body as Uint8Array));
      return json(201, {
        id: `item:${path}`,
        name: path.split('/').pop(),
        size: (call.body as Uint8Array).length,
      });
    }
    sessions.push({ path, body: call.body });
    sessionPath = path;
    received = [];
    return json(200, { uploadUrl: UPLOAD_URL, expirationDateTime: '2030-01-01T00:00:00Z' });
  });
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers as ConstructorParameters<typeof Headers>[0]);
    const body = init?.body as Uint8Array | undefined;
    chunks.push({ method: init?.method ?? 'GET', headers, size: body?.length ?? 0 });
    expect(String(input)).toBe(UPLOAD_URL);
    if (init?.method === 'DELETE') return new Response(null, { status: 204 });
    if (failNext > 0) {
      failNext -= 1;
      return new Response('busy', { status: 503 });
    }
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(headers.get('content-range') ?? '');
    if (!range || !body) return json(400, { error: { code: 'invalidRange' } });
    const [start, end, total] = range.slice(1).map(Number);
    expect(start).toBe(Buffer.concat(received).length);
    expect(end - start + 1).toBe(body.length);
    received.push(Buffer.from(body));
    if (end + 1 < total) return json(202, { nextExpectedRanges: [`${end + 1}-`] });
    files.set(sessionPath, Buffer.concat(received));
    return json(201, { id: `item:${sessionPath}`, name: sessionPath.split('/').pop(), size: total });
  }) as typeof fetch;
  return { files, sessions, chunks, fetchImpl, failNextChunks: (n: number) => (failNext = n) };
}

function setup() {
  const graph = new FakeGraph();
  const client = Client.initWithMiddleware({ middleware: graph });
  const drive = fakeDrive(graph);
  const store = new MemoryStore();
  const sleeps: number[] = [];
  const sink = new OneDriveSink({
    client,
    staging: new ObjectStoreStaging(store, KEY),
    fetch: drive.fetchImpl,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { graph, drive, store, sink, sleeps };
}

describe('OneDriveSink', () => {
  it('uploads a small file with one PUT into TeamsHistory, replacing an existing file of that name', async () => {
    const { graph, drive, sink } = setup();
    const name = 'Bob Brown #1-0a1b2c3d.html';
    const first = await sink.uploadFile('target-user', name, Buffer.from('<p>v1</p>'));
    const second = await sink.uploadFile('target-user', name, Buffer.from('<p>v2</p>'));

    expect(first).toEqual({ id: `item:target-user/TeamsHistory/${name}`, name, size: 9 });
    expect(second.size).toBe(9);
    expect(drive.files.get(`target-user/TeamsHistory/${name}`)?.toString()).toBe('<p>v2</p>');
    expect(drive.files.size).toBe(1);
    expect(graph.calls[0].url.pathname).toBe(
      '/v1.0/users/target-user/drive/root:/TeamsHistory/Bob%20Brown%20%231-0a1b2c3d.html:/content',
    );
    expect(graph.calls[0].headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(drive.sessions).toEqual([]);
  });

  it('uploads a large file through an upload session in sequential 320 KiB-multiple chunks without the token', async () => {
    const { drive, sink } = setup();
    const content = Buffer.alloc(SIMPLE_UPLOAD_LIMIT + 1_234_567);
    for (let i = 0; i < content.length; i += 1) content[i] = i % 251;

    const uploaded = await sink.uploadFile('target-user', 'Big-01234567.html', content);

    expect(uploaded).toMatchObject({ name: 'Big-01234567.html', size: content.length });
    expect(drive.sessions).toEqual([
      {
        path: 'target-user/TeamsHistory/Big-01234567.html',
        body: { item: { '@microsoft.graph.conflictBehavior': 'replace' } },
      },
    ]);
    expect(drive.files.get('target-user/TeamsHistory/Big-01234567.html')?.equals(content)).toBe(true);
    const puts = drive.chunks.filter((chunk) => chunk.method === 'PUT');
    expect(puts.length).toBe(Math.ceil(content.length / (10 * UPLOAD_CHUNK_UNIT)));
    for (const put of puts.slice(0, -1)) expect(put.size % UPLOAD_CHUNK_UNIT).toBe(0);
    for (const put of puts) {
      expect(put.headers.has('authorization')).toBe(false);
      expect(put.headers.get('content-length')).toBe(String(put.size));
      expect(put.headers.get('content-range')).toMatch(new RegExp(`^bytes \\d+-\\d+/${content.length}$`));
    }
  });

  it('retries a chunk that got a 5xx with backoff', async () => {
    const { drive, sink, sleeps } = setup();
    const content = Buffer.alloc(SIMPLE_UPLOAD_LIMIT + 10, 1);
    drive.failNextChunks(2);
    await sink.uploadFile('target-user', 'Retry-00000000.html', content);
    expect(sleeps).toEqual([1000, 2000]);
    expect(drive.files.get('target-user/TeamsHistory/Retry-00000000.html')?.equals(content)).toBe(true);
  });

  it('gives up after the last attempt, cancels the session, and names the file but not the upload URL', async () => {
    const { drive, sink } = setup();
    drive.failNextChunks(100);
    const failure = await sink
      .uploadFile('target-user', 'Down-00000000.html', Buffer.alloc(SIMPLE_UPLOAD_LIMIT + 10))
      .catch((error: unknown) => error as Error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(
      /Upload of TeamsHistory\/Down-00000000\.html of user target-user failed.*503/,
    );
    expect((failure as Error).message).not.toContain('tempauth');
    expect(drive.chunks.at(-1)?.method).toBe('DELETE');
  });

  it('refuses a chunk size that is not a multiple of 320 KiB', () => {
    const graph = new FakeGraph();
    const client = Client.initWithMiddleware({ middleware: graph });
    expect(
      () =>
        new OneDriveSink({
          client,
          staging: new ObjectStoreStaging(new MemoryStore(), KEY),
          chunkSize: 1_000_000,
        }),
    ).toThrow(/multiple of 327680/);
  });

  it('stages conversations encrypted under hashed names; a copy under another chat reads as missing and is deleted', async () => {
    const { sink, store } = setup();
    const conversation = staged(chat('19:s@thread.v2'), [
      message('1', '2025-01-15T09:00:00.000Z', '<p>private words</p>'),
    ]);
    await sink.saveConversation('user-1', '19:s@thread.v2', conversation);
    const name = stagedConversationName('user-1', '19:s@thread.v2');
    expect(name).toMatch(/^chat-export\/[0-9a-f]{32}\/[0-9a-f]{32}\.json$/);
    expect([...store.objects.keys()]).toEqual([name]);
    const raw = store.objects.get(name)!.toString('utf8');
    expect(raw).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(raw).not.toContain('private words');
    await expect(sink.loadConversation('user-1', '19:s@thread.v2')).resolves.toEqual(conversation);
    await expect(sink.loadConversation('user-1', '19:other@thread.v2')).resolves.toBeUndefined();
    const other = stagedConversationName('user-1', '19:other@thread.v2');
    store.objects.set(other, store.objects.get(name)!);
    await expect(sink.loadConversation('user-1', '19:other@thread.v2')).resolves.toBeUndefined();
    expect(store.objects.has(other)).toBe(false);
  });
});
