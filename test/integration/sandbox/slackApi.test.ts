import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startSandbox, type SandboxHandle } from '../../../sandbox';
import { SAMPLE_EXPORT } from '../../support/migration';

const TOKEN = 'xoxb-stand-in';
type Raw = Record<string, unknown>;

/** The sample's `enrique` channel as its files hold it: id and messages in ts order. */
function enrique(): { id: string; ts: string[] } {
  const channels = JSON.parse(readFileSync(path.join(SAMPLE_EXPORT, 'channels.json'), 'utf8')) as Raw[];
  const dir = path.join(SAMPLE_EXPORT, 'enrique');
  const messages = readdirSync(dir).flatMap(
    (f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Raw[],
  );
  return {
    id: String(channels.find((c) => c.name === 'enrique')!.id),
    ts: messages.map((m) => String(m.ts)).sort((a, b) => Number(a) - Number(b)),
  };
}

describe("the sandbox's Slack Web API stand-in", () => {
  let sandbox: SandboxHandle;
  const call = async (
    method: string,
    params: Record<string, string> = {},
    token: string | null = TOKEN,
  ): Promise<{ status: number; headers: Headers; body: Raw }> => {
    const res = await fetch(`${sandbox.slackApiUrl}${method}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: new URLSearchParams(params).toString(),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Raw };
  };

  beforeAll(async () => {
    sandbox = await startSandbox({
      slackApi: { export: SAMPLE_EXPORT, token: TOKEN, scopes: ['channels:read', 'channels:history'] },
    });
  });
  afterAll(() => sandbox.stop());

  it('pages a channel history newest first with has_more and next_cursor', async () => {
    const { id, ts } = enrique();
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; ; page++) {
      const { body } = await call('conversations.history', {
        channel: id,
        limit: '40',
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...(body.messages as Raw[]).map((m) => String(m.ts)));
      cursor = String((body.response_metadata as Raw).next_cursor);
      expect(body.has_more).toBe(cursor !== '');
      if (!cursor) break;
      expect(page).toBeLessThan(10);
    }
    expect(seen).toEqual([...ts].reverse());
  });

  it('keeps oldest and latest out of the window unless inclusive', async () => {
    const { id, ts } = enrique();
    const [oldest, latest] = [ts[2]!, ts[5]!];
    const window = async (inclusive: boolean): Promise<string[]> =>
      (
        (
          await call('conversations.history', {
            channel: id,
            oldest,
            latest,
            ...(inclusive ? { inclusive: 'true' } : {}),
          })
        ).body.messages as Raw[]
      ).map((m) => String(m.ts));
    expect(await window(false)).toEqual([ts[4], ts[3]]);
    expect(await window(true)).toEqual([ts[5], ts[4], ts[3], ts[2]]);
  });

  it("answers Slack's refusals: no token, a wrong one, a missing scope, an unknown channel, a rate limit", async () => {
    expect((await call('auth.test', {}, null)).body).toEqual({ ok: false, error: 'not_authed' });
    expect((await call('auth.test', {}, 'xoxb-other')).body).toEqual({ ok: false, error: 'invalid_auth' });
    const users = await call('users.list');
    expect(users.body).toMatchObject({
      ok: false,
      error: 'missing_scope',
      needed: 'users:read',
      provided: 'channels:read,channels:history',
    });
    expect(users.headers.get('x-oauth-scopes')).toBe('channels:read,channels:history');
    expect((await call('conversations.history', { channel: 'C0NOPE' })).body).toEqual({
      ok: false,
      error: 'channel_not_found',
    });
    const res = await fetch(`${sandbox.url}/_sandbox/slack-api/ratelimit`, {
      method: 'POST',
      body: JSON.stringify({ method: 'auth.test', count: 1, retryAfterSeconds: 7 }),
    });
    expect(res.status).toBe(200);
    const limited = await call('auth.test');
    expect([limited.status, limited.headers.get('retry-after'), limited.body.error]).toEqual([
      429,
      '7',
      'ratelimited',
    ]);
    expect((await call('auth.test')).body).toMatchObject({ ok: true, team: 'slack-sample' });
  });

  it('takes new messages while it runs and records every call without the token', async () => {
    const { id, ts } = enrique();
    const res = await fetch(`${sandbox.url}/_sandbox/slack-api/messages`, {
      method: 'POST',
      body: JSON.stringify({ channel: 'enrique', messages: [{ user: 'U0BMQB6JE', text: 'later' }] }),
    });
    const [added] = ((await res.json()) as { messages: Raw[] }).messages;
    expect(Number(added!.ts)).toBeGreaterThan(Number(ts[ts.length - 1]));
    const newest = await call('conversations.history', { channel: id, limit: '1' });
    expect((newest.body.messages as Raw[]).map((m) => m.text)).toEqual(['later']);
    const calls = (await (await fetch(`${sandbox.url}/_sandbox/slack-api/calls`)).json()) as {
      calls: unknown[];
    };
    expect(calls.calls.length).toBe(sandbox.slackApiCalls().length);
    expect(JSON.stringify(calls)).not.toContain(TOKEN);
    expect(sandbox.slackApiCalls().at(-1)).toMatchObject({
      method: 'conversations.history',
      params: { channel: id, limit: '1' },
      served: [added!.ts],
    });
  });
});
