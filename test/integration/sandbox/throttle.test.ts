import { startSandbox, type RequestLogEntry, type SandboxHandle } from '../../../sandbox';
import {
  USERS,
  call,
  createMigrationChannel,
  createMigrationTeam,
  daysAgo,
  importMessage,
  messagesPath,
  type Answer,
} from './client';

const isMessagePost = (e: RequestLogEntry): boolean =>
  e.method === 'POST' && /\/messages(\/[^/]+\/replies)?$/.test(e.path.split('?')[0] ?? '');

/** The most admissions (non-429 answers) any sliding window (t - windowMs, t] holds, per group. */
function busiestWindow(
  entries: RequestLogEntry[],
  windowMs: number,
  group: (e: RequestLogEntry) => string,
): number {
  const admitted = entries.filter((e) => e.status !== 429).sort((a, b) => a.t - b.t);
  let worst = 0;
  for (const e of admitted) {
    const key = group(e);
    const inWindow = admitted.filter((o) => group(o) === key && o.t > e.t - windowMs && o.t <= e.t).length;
    worst = Math.max(worst, inWindow);
  }
  return worst;
}

const channelOf = (e: RequestLogEntry): string => /\/channels\/([^/]+)\//.exec(e.path)?.[1] ?? '';

let clock = 0;
const uniqueTime = (): string => daysAgo(200, ++clock);

describe('sandbox: throttling', () => {
  let sb: SandboxHandle;
  afterEach(async () => {
    await sb.stop();
  });

  it('admits at most 5 message POSTs per channel in any sliding second under 40 concurrent posts', async () => {
    sb = await startSandbox({ users: USERS, ratePerChannel: 5, rateGlobal: 50 });
    const team = await createMigrationTeam(sb);
    const channel = await createMigrationChannel(sb, team, 'busy');
    const answers = await Promise.all(
      Array.from({ length: 40 }, () =>
        call(sb, 'POST', messagesPath(team, channel), importMessage(uniqueTime(), 'load')),
      ),
    );
    const log = sb.requestLog().filter(isMessagePost);
    expect(log).toHaveLength(40);
    const admitted = log.filter((e) => e.status === 201);
    const throttled = log.filter((e) => e.status === 429);
    expect(admitted.length + throttled.length).toBe(40);
    expect(admitted.length).toBeGreaterThan(0);
    expect(busiestWindow(log, 1000, channelOf)).toBeLessThanOrEqual(5);
    const spanSeconds = Math.ceil(
      (Math.max(...log.map((e) => e.t)) - Math.min(...log.map((e) => e.t))) / 1000,
    );
    expect(admitted.length).toBeLessThanOrEqual(5 * (spanSeconds + 1));
    for (const res of answers.filter((a: Answer) => a.status === 429)) {
      expect(res.body.error.code).toBe('TooManyRequests');
      expect(res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    }
    expect(throttled.every((e) => e.throttled === 'channel')).toBe(true);
    expect(sb.dump().teams[0]!.channels[1]!.messages).toHaveLength(admitted.length);
  });

  it('holds the per-app limit across channels', async () => {
    sb = await startSandbox({ users: USERS, ratePerChannel: 5, rateGlobal: 8 });
    const team = await createMigrationTeam(sb);
    const channels = await Promise.all(['a', 'b', 'c', 'd'].map((n) => createMigrationChannel(sb, team, n)));
    const answers = await Promise.all(
      channels.flatMap((channel) =>
        Array.from({ length: 10 }, () =>
          call(sb, 'POST', messagesPath(team, channel), importMessage(uniqueTime(), 'load')),
        ),
      ),
    );
    const log = sb.requestLog().filter(isMessagePost);
    expect(log).toHaveLength(40);
    expect(busiestWindow(log, 1000, () => 'app')).toBeLessThanOrEqual(8);
    expect(busiestWindow(log, 1000, channelOf)).toBeLessThanOrEqual(5);
    const globalRefusals = answers.filter((a) => a.status === 429 && /per app/.test(a.body.error.message));
    expect(globalRefusals.length).toBe(log.filter((e) => e.throttled === 'global').length);
    expect(
      answers.filter((a) => a.status === 429).every((a) => Number(a.headers.get('retry-after')) >= 1),
    ).toBe(true);
  });

  it('throttles message POSTs inside $batch the same way, with Retry-After on each refused item', async () => {
    sb = await startSandbox({ users: USERS, ratePerChannel: 5 });
    const team = await createMigrationTeam(sb);
    const channel = await createMigrationChannel(sb, team, 'batched');
    const res = await call(sb, 'POST', '/$batch', {
      requests: Array.from({ length: 20 }, (_, i) => ({
        id: String(i + 1),
        method: 'POST',
        url: messagesPath(team, channel),
        headers: { 'Content-Type': 'application/json' },
        body: importMessage(uniqueTime(), `batched ${i}`),
      })),
    });
    expect(res.status).toBe(200);
    const items = res.body.responses as { status: number; headers: Record<string, string> }[];
    const log = sb.requestLog().filter((e) => e.via?.startsWith('$batch:'));
    expect(log).toHaveLength(20);
    expect(busiestWindow(log, 1000, channelOf)).toBeLessThanOrEqual(5);
    expect(items.filter((i) => i.status === 201).length).toBe(log.filter((e) => e.status === 201).length);
    for (const item of items.filter((i) => i.status === 429))
      expect(Number(item.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('scales the window with timeScale and lets a client that honours the retry hint post everything', async () => {
    sb = await startSandbox({ users: USERS, ratePerChannel: 5, timeScale: 10 });
    const team = await createMigrationTeam(sb);
    const channel = await createMigrationChannel(sb, team, 'fast');
    const post = async (time: string): Promise<void> => {
      for (;;) {
        const res = await call(sb, 'POST', messagesPath(team, channel), importMessage(time, 'paced'));
        if (res.status === 201) return;
        expect(res.status).toBe(429);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        const hintMs = Number(res.headers.get('x-ms-retry-after-ms'));
        expect(hintMs).toBeGreaterThan(0);
        expect(hintMs).toBeLessThanOrEqual(100);
        await new Promise((r) => setTimeout(r, hintMs));
      }
    };
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 6; i++) await post(uniqueTime());
      }),
    );
    const log = sb.requestLog().filter(isMessagePost);
    expect(log.filter((e) => e.status === 201)).toHaveLength(24);
    expect(busiestWindow(log, 100, channelOf)).toBeLessThanOrEqual(5);
  });

  it('admits at most 20 channel creations per app in any sliding 10 seconds (scaled), then 429 with the wait', async () => {
    sb = await startSandbox({ users: USERS, timeScale: 10 });
    const team = await createMigrationTeam(sb);
    const create = (i: number): Promise<Answer> =>
      call(sb, 'POST', `/teams/${team}/channels`, {
        '@microsoft.graph.channelCreationMode': 'migration',
        displayName: `c${i}`,
        description: '',
        membershipType: 'standard',
        createdDateTime: daysAgo(300),
      });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => create(i)));
    const log = sb.requestLog().filter((e) => e.method === 'POST' && /\/channels$/.test(e.path));
    expect(busiestWindow(log, 1000, () => 'app')).toBeLessThanOrEqual(20);
    const refused = answers.filter((a) => a.status === 429);
    expect(answers.filter((a) => a.status === 201).length + refused.length).toBe(30);
    expect(refused.length).toBeGreaterThan(0);
    for (const res of refused) {
      expect(res.body.error.message).toMatch(/at most 20 channel creations per 10 seconds per app/);
      expect(Number(res.headers.get('x-ms-retry-after-ms'))).toBeGreaterThan(0);
    }
    expect(log.filter((e) => e.status === 429).every((e) => e.throttled === 'channel-creation')).toBe(true);
  });

  it('admits at most 10 team creations per app in any sliding second', async () => {
    sb = await startSandbox({ users: USERS });
    const answers = await Promise.all(
      Array.from({ length: 14 }, (_, i) =>
        call(sb, 'POST', '/teams', {
          '@microsoft.graph.teamCreationMode': 'migration',
          'template@odata.bind': "https://graph.microsoft.com/v1.0/teamsTemplates('standard')",
          displayName: `Team ${i}`,
          createdDateTime: daysAgo(400),
        }),
      ),
    );
    const log = sb.requestLog().filter((e) => e.method === 'POST' && /\/teams$/.test(e.path));
    expect(busiestWindow(log, 1000, () => 'app')).toBeLessThanOrEqual(10);
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThan(0);
    expect(log.filter((e) => e.status === 429).every((e) => e.throttled === 'team-creation')).toBe(true);
  });

  it('disables a scope with a limit of 0', async () => {
    sb = await startSandbox({ users: USERS, ratePerChannel: 0, rateGlobal: 0 });
    const team = await createMigrationTeam(sb);
    const channel = await createMigrationChannel(sb, team, 'open');
    const answers = await Promise.all(
      Array.from({ length: 30 }, () =>
        call(sb, 'POST', messagesPath(team, channel), importMessage(uniqueTime(), 'free')),
      ),
    );
    expect(answers.every((a) => a.status === 201)).toBe(true);
  });
});
