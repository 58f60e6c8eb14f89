import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { retryPolicies } from '@slack/web-api';
import type { SourceMessage } from '../../../core/model';
import { openSlackExport, type SlackSource } from '../../../core/sources/slack/export';
import {
  BASE_SCOPES,
  deltaSourceRef,
  openSlackApi,
  SlackApiError,
  slackApiScope,
  type SlackApiOptions,
} from '../../../core/sources/slack/webApi';
import { startSandbox, type SandboxHandle, type SlackApiOptions as StandInOptions } from '../../../sandbox';
import { assembleZulipExport, tempDir } from '../../support/fixtures';
import { SAMPLE_EXPORT } from '../../support/migration';

const TOKEN = 'xoxb-unit-test-token';

type Raw = Record<string, unknown>;

/** Every raw message of an export channel's day files, read straight from the files. */
function rawMessages(exportDir: string, channelId: string): Raw[] {
  const channels = JSON.parse(readFileSync(join(exportDir, 'channels.json'), 'utf8')) as Raw[];
  const folder = String(channels.find((c) => c.id === channelId)!.name);
  if (!existsSync(join(exportDir, folder))) return [];
  return readdirSync(join(exportDir, folder))
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => JSON.parse(readFileSync(join(exportDir, folder, f), 'utf8')) as Raw[]);
}

const isReply = (m: Raw): boolean => typeof m.thread_ts === 'string' && m.thread_ts !== m.ts;
const isBroadcast = (m: Raw): boolean => m.subtype === 'thread_broadcast' || m.subtype === 'reply_broadcast';

/** Every message a source yields for a channel, by key, in key order. */
async function messagesOf(source: SlackSource, channelId: string): Promise<SourceMessage[]> {
  const conversation = source.conversations.find((c) => c.sourceId === channelId)!;
  const out: SourceMessage[] = [];
  for await (const day of source.days(conversation)) out.push(...day.messages);
  return out.sort((a, b) => Number(a.ts) - Number(b.ts) || a.ts.localeCompare(b.ts));
}

/** The error a source that must not open rejects with. */
async function refusal(opening: Promise<SlackSource>): Promise<SlackApiError> {
  const got = await opening.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(got instanceof SlackApiError)) throw new Error(`expected a SlackApiError, got ${String(got)}`);
  return got;
}

/** Messages as the planner compares them: everything but where the files' bytes live in an export. */
const comparable = (messages: SourceMessage[]): unknown[] =>
  messages.map((m) => ({ ...m, files: m.files.map(({ exportPath: _p, urlHasToken: _t, ...f }) => f) }));

describe("a workspace read through Slack's Web API (against the sandbox's stand-in)", () => {
  let zulip: string;
  let sandbox: SandboxHandle;
  const open = (extra: Partial<SlackApiOptions> = {}): Promise<SlackSource> =>
    openSlackApi({ token: TOKEN, apiUrl: sandbox.slackApiUrl, pageSize: 2, ...extra });
  const start = async (options: Partial<StandInOptions> = {}): Promise<void> => {
    await sandbox?.stop();
    sandbox = await startSandbox({ slackApi: { export: zulip, token: TOKEN, ...options } });
  };

  beforeAll(() => {
    zulip = assembleZulipExport();
  });
  beforeEach(() => start());
  afterAll(async () => {
    await sandbox?.stop();
    rmSync(zulip, { recursive: true, force: true });
  });

  it('yields every channel message the export holds, following each page and each thread once', async () => {
    const exp = await openSlackExport(zulip);
    const api = await open();
    try {
      const channels = exp.conversations.filter((c) => c.kind === 'channel');
      expect(api.conversations.map((c) => c.sourceId).sort()).toEqual(channels.map((c) => c.sourceId).sort());
      expect(api.users).toEqual(exp.users);
      for (const channel of channels) {
        const viaApi = await messagesOf(api, channel.sourceId);
        expect(comparable(viaApi)).toEqual(comparable(await messagesOf(exp, channel.sourceId)));
        expect(api.conversations.find((c) => c.sourceId === channel.sourceId)!.members).toEqual(
          channel.members,
        );

        const raw = rawMessages(zulip, channel.sourceId);
        const listed = raw.filter((m) => !isReply(m) || isBroadcast(m)).length;
        const calls = sandbox.slackApiCalls().filter((c) => c.params.channel === channel.sourceId);
        const history = calls.filter((c) => c.method === 'conversations.history');
        expect(history).toHaveLength(Math.max(1, Math.ceil(listed / 2)));
        expect(history.slice(1).every((c) => c.params.cursor)).toBe(true);
        const threads = new Set(raw.filter(isReply).map((m) => m.thread_ts));
        const asked = new Set(
          calls.filter((c) => c.method === 'conversations.replies').map((c) => c.params.ts),
        );
        expect(asked).toEqual(threads);
      }
    } finally {
      await exp.close();
    }
  });

  it("reads a channel's window from its oldest on, with every reply of the threads started in it", async () => {
    const id = 'C0THREADS';
    const raw = rawMessages(zulip, id);
    const parents = raw.filter((m) => !isReply(m) && raw.some((r) => isReply(r) && r.thread_ts === m.ts));
    const oldest = String(parents.map((m) => m.ts).sort()[parents.length - 1]);
    const api = await open({ windows: { [id]: { oldest } } });
    const expected = raw
      .filter((m) => Number(isReply(m) ? m.thread_ts : m.ts) >= Number(oldest))
      .map((m) => m.ts)
      .sort();
    expect((await messagesOf(api, id)).map((m) => m.ts).sort()).toEqual(expected);
    expect(expected.length).toBeLessThan(raw.length);
    const history = sandbox.slackApiCalls().filter((c) => c.method === 'conversations.history');
    expect(history.filter((c) => c.params.channel === id).every((c) => c.params.oldest === oldest)).toBe(
      true,
    );
    expect(history.filter((c) => c.params.channel !== id).every((c) => c.params.oldest === undefined)).toBe(
      true,
    );
  });

  it('reads messages added while it runs, and a late reply through its thread when the window reaches the parent', async () => {
    const raw = rawMessages(zulip, 'C0THREADS');
    const parent = raw.find((m) => !isReply(m) && raw.some((r) => isReply(r) && r.thread_ts === m.ts))!;
    const newest = Math.max(...raw.map((m) => Number(m.ts)));
    const [fresh] = sandbox.addSlackMessages('threads', [{ user: 'U061A1R2R', text: 'a new message' }]);
    const [late] = sandbox.addSlackMessages('C0THREADS', [
      { user: 'U061A1R2R', text: 'a late reply', thread_ts: parent.ts },
    ]);
    expect(Number(fresh!.ts)).toBeGreaterThan(newest);

    const afterNewest = (newest + 0.000001).toFixed(6);
    const recent = (
      await messagesOf(await open({ windows: { C0THREADS: { oldest: afterNewest } } }), 'C0THREADS')
    ).map((m) => m.text);
    expect(recent).toEqual(['a new message']);

    const lookBack = await messagesOf(
      await open({ windows: { C0THREADS: { oldest: String(parent.ts) } } }),
      'C0THREADS',
    );
    expect(lookBack.filter((m) => m.ts === late!.ts).map((m) => [m.text, m.threadKey])).toEqual([
      ['a late reply', parent.ts],
    ]);
  });

  it('opens again from its directory with auth.test alone, and gives the same users, conversations and messages', async () => {
    const first = await open();
    const directory = JSON.parse(JSON.stringify(first.directory)) as typeof first.directory;
    expect(directory).toEqual(first.directory);
    const before = sandbox.slackApiCalls().length;
    const again = await open({ directory });
    expect(
      sandbox
        .slackApiCalls()
        .slice(before)
        .map((c) => c.method),
    ).toEqual(['auth.test']);
    expect(again.users).toEqual(first.users);
    expect(again.conversations).toEqual(first.conversations);
    expect([...again.botNames]).toEqual([...first.botNames]);
    expect(again.problems).toEqual(first.problems);
    expect(again.directory).toEqual(first.directory);
    for (const c of first.conversations)
      expect(comparable(await messagesOf(again, c.sourceId))).toEqual(
        comparable(await messagesOf(first, c.sourceId)),
      );
  });

  it("reads from a directory only the members of a selected channel it lacks, and a whole directory of another workspace's again", async () => {
    const exp = await openSlackExport(zulip);
    await exp.close();
    const [one, other] = exp.conversations.filter((c) => c.kind === 'channel');
    const narrow = await open({ channels: [one.name] });
    const calls = (from: number): string[] =>
      sandbox
        .slackApiCalls()
        .slice(from)
        .map((c) => `${c.method}${c.params.channel ? ` ${String(c.params.channel)}` : ''}`);
    let before = sandbox.slackApiCalls().length;
    const wider = await open({ channels: [one.name, other.name], directory: narrow.directory });
    // Two members a page: the stand-in pages them as Slack does.
    expect(new Set(calls(before))).toEqual(new Set(['auth.test', `conversations.members ${other.sourceId}`]));
    const fresh = await open({ channels: [one.name, other.name] });
    expect(wider.conversations).toEqual(fresh.conversations);

    before = sandbox.slackApiCalls().length;
    const foreign = await open({ directory: { ...narrow.directory!, teamId: 'T0ELSEWHERE', users: [] } });
    expect(calls(before)).toContain('users.list');
    expect(calls(before)).toContain('conversations.list');
    expect(foreign.users).toEqual(exp.users);
  });

  it('waits out a ratelimited answer (HTTP 429, Retry-After) and then reads the same page', async () => {
    await start({ rateLimits: [{ method: 'conversations.history', count: 2, retryAfterSeconds: 1 }] });
    const exp = await openSlackExport(zulip);
    try {
      const api = await open({ retryConfig: retryPolicies.rapidRetryPolicy });
      const id = exp.conversations.find((c) => c.kind === 'channel')!.sourceId;
      expect(comparable(await messagesOf(api, id))).toEqual(comparable(await messagesOf(exp, id)));
    } finally {
      await exp.close();
    }
    const history = sandbox.slackApiCalls().filter((c) => c.method === 'conversations.history');
    expect(history.slice(0, 3).map((c) => [c.status, c.error])).toEqual([
      [429, 'ratelimited'],
      [429, 'ratelimited'],
      [200, undefined],
    ]);
    expect(history[2]!.params).toEqual(history[0]!.params);
  });

  it('refuses a token without a scope the read needs before reading anything, naming the scope', async () => {
    await start({ scopes: BASE_SCOPES.filter((s) => s !== 'users:read.email') });
    const refused = await refusal(open());
    expect(refused.code).toBe('missing-scope');
    expect(refused.message).toMatch(/lacks the Slack scope users:read\.email \(it has /);
    expect(sandbox.slackApiCalls().map((c) => c.method)).toEqual(['auth.test']);

    await start({ scopes: [...BASE_SCOPES] });
    const privateRefused = await refusal(open({ includePrivate: true }));
    expect(privateRefused.message).toMatch(/lacks the Slack scopes groups:read, groups:history/);
  });

  it('refuses a token Slack does not accept, and one of another workspace, without repeating the token', async () => {
    const bad = await refusal(openSlackApi({ token: 'xoxb-wrong-token', apiUrl: sandbox.slackApiUrl }));
    expect(bad.code).toBe('invalid-auth');
    expect(bad.message).toContain('invalid_auth');
    expect(bad.message).not.toContain('xoxb-wrong-token');

    const team = JSON.parse(readFileSync(join(zulip, 'team_info.json'), 'utf8')) as {
      team: { id: string; name: string; domain: string };
    };
    const other = await refusal(open({ workspace: 'elsewhere' }));
    expect(other.code).toBe('wrong-workspace');
    expect(other.message).toContain(team.team.id);
    for (const workspace of [team.team.id, team.team.name, `${team.team.domain}.slack.com`])
      expect((await open({ workspace })).teamName).toBe(team.team.name);
  });
});

describe('private channels through the Web API', () => {
  let dir: string;
  let sandbox: SandboxHandle;

  beforeAll(async () => {
    dir = join(tempDir('slack-private-'), 'export');
    cpSync(SAMPLE_EXPORT, dir, { recursive: true });
    writeFileSync(
      join(dir, 'groups.json'),
      JSON.stringify([
        { id: 'G0SECRET', name: 'secret', created: 1452837318, creator: 'U0BMQB6JE', members: ['U0BMQB6JE'] },
      ]),
    );
    mkdirSync(join(dir, 'secret'));
    writeFileSync(
      join(dir, 'secret', '2016-01-15.json'),
      JSON.stringify([{ type: 'message', user: 'U0BMQB6JE', text: 'just us', ts: '1452837400.000002' }]),
    );
    sandbox = await startSandbox({ slackApi: { export: dir, token: TOKEN } });
  });
  afterAll(async () => {
    await sandbox.stop();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  it('lists and reads them only when asked', async () => {
    const without = await openSlackApi({ token: TOKEN, apiUrl: sandbox.slackApiUrl });
    expect(without.conversations.some((c) => c.sourceId === 'G0SECRET')).toBe(false);
    const listCall = sandbox.slackApiCalls().find((c) => c.method === 'conversations.list')!;
    expect(listCall.params.types).toBe('public_channel');

    const withPrivate = await openSlackApi({
      token: TOKEN,
      apiUrl: sandbox.slackApiUrl,
      includePrivate: true,
    });
    const secret = withPrivate.conversations.find((c) => c.sourceId === 'G0SECRET')!;
    expect(secret).toMatchObject({ kind: 'private', name: 'secret', members: ['U0BMQB6JE'] });
    expect((await messagesOf(withPrivate, 'G0SECRET')).map((m) => m.text)).toEqual(['just us']);
  });

  it('does not read the history of channels the options leave out', async () => {
    const before = sandbox.slackApiCalls().length;
    const api = await openSlackApi({
      token: TOKEN,
      apiUrl: sandbox.slackApiUrl,
      excludeChannels: ['#enrique'],
    });
    const enrique = api.conversations.find((c) => c.name === 'enrique')!;
    expect(await messagesOf(api, enrique.sourceId)).toEqual([]);
    expect(api.problems.map((p) => p.code)).toEqual(['channel-not-read']);
    const calls = sandbox.slackApiCalls().slice(before);
    expect(calls.some((c) => c.params.channel === enrique.sourceId)).toBe(false);
  });
});

describe('slackApiScope', () => {
  it("reads from since up to the earlier of until and the run's start, and keeps the source's windows", () => {
    const windows = { C1: { oldest: '1700000000.000100' } };
    expect(
      slackApiScope(
        { kind: 'slack-api', workspace: 'acme', includePrivate: true, windows },
        {
          channels: ['general'],
          since: '2024-01-01T00:00:00Z',
          until: '2024-02-01T00:00:00Z',
          now: '2024-03-01T00:00:00Z',
        },
      ),
    ).toEqual({
      workspace: 'acme',
      includePrivate: true,
      windows,
      channels: ['general'],
      oldest: String(Date.UTC(2024, 0, 1) / 1000) + '.000000',
      latest: String(Date.UTC(2024, 1, 1) / 1000) + '.000000',
    });
    expect(slackApiScope({ kind: 'slack-api' }, { now: '2024-03-01T00:00:00.5Z' })).toEqual({
      latest: `${Date.UTC(2024, 2, 1) / 1000}.500000`,
    });
  });
});

describe('deltaSourceRef', () => {
  it('reads each marked channel from its newest imported ts less the look-back, and the others whole', () => {
    const delta = deltaSourceRef(
      { kind: 'slack-api', workspace: 'acme' },
      { C1: '1700000000.000100', C2: '1700003600.000200#p2' },
      3600,
    );
    expect(delta).toEqual({
      kind: 'slack-api',
      workspace: 'acme',
      windows: { C1: { oldest: '1699996400.000100' }, C2: { oldest: '1700000000.000200' } },
    });
    expect(() => deltaSourceRef({ kind: 'slack-api' }, { C1: 'yesterday' })).toThrow(/not a Slack ts/);
  });
});
