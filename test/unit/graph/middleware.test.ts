import {
  GraphAuthError,
  GraphCounters,
  GraphError,
  GraphNetworkError,
  MaybeCommittedError,
  Pacer,
  createGraphClient,
  credentialTokenProvider,
  type GraphClientOptions,
} from '../../../core/graph';
import type { Context } from '@microsoft/microsoft-graph-client';
import { staticTokenProvider } from '../../../core/graph/auth';
import { AuthMiddleware } from '../../../core/graph/middleware/auth';
import { GraphCaller } from '../../../core/graph/request';
import { startCannedServer, type CannedResponse, type CannedServer } from './cannedServer';

const NOW = Date.parse('2024-03-01T12:00:00Z');
const TOKEN = 'sEcReT-tOkEn-123';

describe('Graph client middleware', () => {
  let server: CannedServer;
  let answers: CannedResponse[];
  let sleeps: number[];
  let counters: GraphCounters;

  beforeAll(async () => {
    server = await startCannedServer(
      (req) => (req.url.startsWith('/v1.0/') ? answers.shift() : undefined) ?? { body: { ok: true } },
    );
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
    answers = [];
    sleeps = [];
    counters = new GraphCounters();
  });

  const caller = (extra: Partial<GraphClientOptions> = {}): GraphCaller =>
    new GraphCaller(
      createGraphClient({
        baseUrl: server.url,
        staticToken: TOKEN,
        retry: { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 5000 },
        telemetry: counters.sink,
        random: () => 0.5,
        now: () => NOW,
        sleep: (ms) => {
          sleeps.push(ms);
          return Promise.resolve();
        },
        ...extra,
      }),
    );

  it('sends the bearer token over plain http', async () => {
    await caller().call('getTeam', 'GET', '/teams/t1');
    expect(server.requests[0].url).toBe('/v1.0/teams/t1');
    expect(server.requests[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('sends no token to another origin', async () => {
    const seen: (string | undefined)[] = [];
    const auth = new AuthMiddleware(staticTokenProvider(TOKEN), 'https://graph.microsoft.com');
    auth.setNext({
      execute: (context: Context) => {
        seen.push(new Headers(context.options?.headers).get('authorization') ?? undefined);
        return Promise.resolve();
      },
    });
    await auth.execute({
      request: 'https://tenant.sharepoint.com/upload?x=1',
      options: { method: 'PUT', headers: {} },
    });
    await auth.execute({
      request: 'https://graph.microsoft.com/v1.0/me',
      options: { method: 'GET', headers: {} },
    });
    expect(seen).toEqual([undefined, `Bearer ${TOKEN}`]);
    expect(() => caller().apiPath('https://evil.example/v1.0/teams')).toThrow(
      /bound to http:\/\/127\.0\.0\.1/,
    );
  });

  it('waits the Retry-After seconds of a 429, then succeeds, and counts it', async () => {
    answers = [
      { status: 429, headers: { 'Retry-After': '2' }, body: { error: { code: 'TooManyRequests' } } },
    ];
    const answer = await caller().call<{ ok: boolean }>('getTeam', 'GET', '/teams/t1');
    expect(answer.body.ok).toBe(true);
    expect(sleeps).toEqual([2000]);
    expect(server.requests).toHaveLength(2);
    expect(counters).toMatchObject({ requests: 2, throttled: 1, retries: 1 });
    expect(counters.routes.get('GET /v1.0/teams/{id}')).toMatchObject({
      requests: 2,
      throttled: 1,
      retries: 1,
    });
  });

  it('honours a Retry-After HTTP date relative to the injected clock', async () => {
    answers = [{ status: 429, headers: { 'Retry-After': new Date(NOW + 4000).toUTCString() } }];
    await caller().call('getTeam', 'GET', '/teams/t1');
    expect(sleeps).toEqual([4000]);
  });

  it('prefers retry-after-ms and x-ms-retry-after-ms over Retry-After', async () => {
    answers = [
      { status: 429, headers: { 'retry-after-ms': '250', 'Retry-After': '9' } },
      { status: 503, headers: { 'x-ms-retry-after-ms': '40' } },
    ];
    await caller().call('getTeam', 'GET', '/teams/t1');
    expect(sleeps).toEqual([250, 40]);
  });

  it('backs off exponentially with full jitter when no wait is named, within [0, min(cap, base*2^n))', async () => {
    const randoms = [0, 0.999, 0.5];
    answers = [{ status: 429 }, { status: 429 }, { status: 429 }];
    await caller({
      random: () => randoms.shift()!,
      retry: { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 300 },
    }).call('getTeam', 'GET', '/teams/t1');
    expect(sleeps).toHaveLength(3);
    expect(sleeps[0]).toBe(0);
    expect(sleeps[1]).toBeCloseTo(199.8);
    expect(sleeps[2]).toBeCloseTo(150);
    sleeps.forEach((ms, n) => expect(ms).toBeLessThan(Math.min(300, 100 * 2 ** n)));
  });

  it('retries a 503 and returns the later success', async () => {
    answers = [{ status: 503 }];
    const answer = await caller().call<{ ok: boolean }>('listChannels', 'GET', '/teams/t1/channels');
    expect(answer.body.ok).toBe(true);
    expect(server.requests).toHaveLength(2);
  });

  it('gives up after maxRetries with a GraphError that names the call and the retries', async () => {
    answers = Array.from({ length: 4 }, () => ({
      status: 429,
      headers: { 'Retry-After': '1' },
      body: {
        error: { code: 'TooManyRequests', message: 'Slow down', innerError: { 'request-id': 'req-9' } },
      },
    }));
    const error = await caller()
      .call('postMessage', 'POST', '/teams/t/channels/c/messages', { body: { a: 1 } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    expect(error).toMatchObject({
      status: 429,
      code: 'TooManyRequests',
      call: 'postMessage',
      retries: 3,
      requestId: 'req-9',
    });
    expect((error as Error).message).toMatch(
      /^postMessage failed with 429 TooManyRequests: Slow down \(request-id req-9\)\. Throttled after 3 retries/,
    );
    expect(server.requests).toHaveLength(4);
  });

  it('surfaces a Retry-After longer than the cap at once instead of waiting it out in-process', async () => {
    answers = [{ status: 429, headers: { 'Retry-After': '120' } }];
    const error = await caller()
      .call('getTeam', 'GET', '/teams/t1')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 120_000, retries: 0, longWait: true });
    expect((error as Error).message).toMatch(/asked for a wait of 120 s, longer than a request waits/);
    expect(sleeps).toEqual([]);
  });

  it('marks only a wait beyond the cap as long, not retries that ran out', async () => {
    answers = Array.from({ length: 4 }, () => ({ status: 429, headers: { 'Retry-After': '1' } }));
    const error = await caller()
      .call('getTeam', 'GET', '/teams/t1')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 429, retries: 3 });
    expect((error as { longWait?: boolean }).longWait).toBeFalsy();
  });

  it('never resends a POST after a dropped connection: MaybeCommittedError, one request', async () => {
    answers = [{ drop: true }];
    const error = await caller()
      .call('postMessage', 'POST', '/teams/t/channels/c/messages', { body: { a: 1 } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaybeCommittedError);
    expect((error as MaybeCommittedError).route).toBe('POST /v1.0/teams/{id}/channels/{id}/messages');
    expect((error as Error).message).toMatch(/may have been committed.*messageIdFor/);
    expect(server.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('treats a 504 on a POST as maybe committed too', async () => {
    answers = [{ status: 504 }];
    const error = await caller()
      .call('createTeamInMigration', 'POST', '/teams', { body: {} })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaybeCommittedError);
    expect(server.requests).toHaveLength(1);
  });

  it('resends a POST marked idempotent after a dropped connection', async () => {
    answers = [{ drop: true }];
    await caller().call('completeChannel', 'POST', '/teams/t/channels/c/completeMigration', {
      idempotent: true,
    });
    expect(server.requests).toHaveLength(2);
    expect(sleeps).toEqual([50]);
  });

  it('retries a GET after dropped connections, then reports GraphNetworkError', async () => {
    answers = [{ drop: true }];
    await expect(caller().call('getTeam', 'GET', '/teams/t1')).resolves.toBeDefined();
    answers = Array.from({ length: 4 }, () => ({ drop: true }));
    const error = await caller()
      .call('getTeam', 'GET', '/teams/t1')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphNetworkError);
    expect(counters.networkErrors).toBe(5);
  });

  it('keeps the token out of every error message', async () => {
    answers = [
      {
        status: 401,
        body: { error: { code: 'InvalidAuthenticationToken', message: 'Access token is invalid' } },
      },
    ];
    const unauthorized = (await caller()
      .call('getTeam', 'GET', '/teams/t1')
      .catch((e: unknown) => e)) as Error;
    expect(unauthorized.message).toMatch(/getTeam failed with 401.*check the credential settings/);
    answers = [{ drop: true }];
    const dropped = (await caller()
      .call('postMessage', 'POST', '/teams/t/channels/c/messages', { body: {} })
      .catch((e: unknown) => e)) as Error;
    for (const error of [unauthorized, dropped]) {
      expect(error.message).not.toContain(TOKEN);
      expect(JSON.stringify(error)).not.toContain(TOKEN);
      expect(String(error.stack)).not.toContain(TOKEN);
    }
  });

  it('reports a credential that yields no token as GraphAuthError, sending nothing', async () => {
    const failing = {
      getToken: () => Promise.reject(new Error('AADSTS7000215: Invalid client secret provided')),
    };
    const error = await caller({ staticToken: undefined, credential: failing })
      .call('getTeam', 'GET', '/teams/t1')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphAuthError);
    expect((error as Error).message).toMatch(
      /Could not get a Graph access token \(AADSTS7000215.*check AZURE_TENANT_ID/,
    );
    expect(server.requests).toHaveLength(0);
  });

  it('tells what to do for 403s: permission, initiator mismatch', async () => {
    answers = [
      { status: 403, body: { error: { code: 'Forbidden', message: 'Missing role' } } },
      {
        status: 403,
        body: {
          error: {
            code: 'Forbidden',
            message: 'Request Initiator does not match the import session initiator',
          },
        },
      },
      {
        status: 413,
        body: { error: { code: 'RequestEntityTooLarge', message: 'Request Entity too large' } },
      },
    ];
    const messages: string[] = [];
    for (const call of ['addMembers', 'postMessage', 'postMessage'])
      messages.push(
        (
          (await caller()
            .call(call, 'POST', '/teams/t/x', {})
            .catch((e: unknown) => e)) as Error
        ).message,
      );
    expect(messages[0]).toMatch(/grant the application permission TeamMember\.ReadWrite\.All/);
    expect(messages[1]).toMatch(/same app registration that created the team/);
    expect(messages[2]).toMatch(/413.*split the message/);
  });

  it('reports 429s to the pacer hook, which pauses that channel only', async () => {
    const now = 0;
    const pacer = new Pacer(
      { perChannelPerSecond: 1, marginMs: 0 },
      { now: () => now, sleep: () => Promise.resolve() },
    );
    const paused: string[] = [];
    const hook = pacer.throttleHook();
    answers = [{ status: 429, headers: { 'Retry-After': '3' } }];
    await caller({
      onThrottled: (signal) => {
        paused.push(`${signal.method} ${signal.url} ${signal.delayMs}`);
        hook(signal);
      },
    }).call('postMessage', 'POST', '/teams/t1/channels/19%3Ac%40thread/messages', { body: {} });
    expect(paused).toEqual([`POST ${server.url}/v1.0/teams/t1/channels/19%3Ac%40thread/messages 3000`]);
    expect(pacer.waitMs('t1/19:c@thread')).toBe(4000);
    expect(pacer.waitMs('t1/other')).toBe(0);
  });
});

describe('credentialTokenProvider', () => {
  it('caches the token until shortly before it expires and shares one refresh between callers', async () => {
    let now = 0;
    let calls = 0;
    const provider = credentialTokenProvider(
      {
        getToken: () => {
          calls++;
          return Promise.resolve({ token: `t${calls}`, expiresOnTimestamp: now + 3600_000 });
        },
      },
      ['https://graph.microsoft.com/.default'],
      { now: () => now, refreshMarginMs: 300_000 },
    );
    expect(await Promise.all([provider.getToken(), provider.getToken()])).toEqual(['t1', 't1']);
    now = 3600_000 - 300_001;
    expect(await provider.getToken()).toBe('t1');
    now = 3600_000 - 299_999;
    expect(await provider.getToken()).toBe('t2');
    expect(calls).toBe(2);
  });
});
