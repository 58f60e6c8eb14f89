import {
  decideFault,
  parseFaults,
  refusesMessage,
  startSandbox,
  type FaultKind,
  type SandboxHandle,
} from '../../../sandbox';
import {
  TOKEN,
  USERS,
  call,
  createMigrationChannel,
  createMigrationTeam,
  daysAgo,
  importMessage,
  messagesPath,
} from './client';

const ALL = '429:0.1,429noretry:0.1,503:0.1@2,504:0.1,latency:0.1@20,lost:0.1';

type Outcome = { status: number; retryAfter: string | null } | 'lost';

async function outcome(sb: SandboxHandle, path: string): Promise<Outcome> {
  try {
    const res = await fetch(`${sb.url}/v1.0${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    await res.arrayBuffer();
    return { status: res.status, retryAfter: res.headers.get('retry-after') };
  } catch {
    return 'lost';
  }
}

function expected(kind: FaultKind | undefined, param: number | undefined): Outcome {
  if (kind === 'latency') return { status: 200, retryAfter: null };
  switch (kind) {
    case '429':
      return { status: 429, retryAfter: String(param ?? 1) };
    case '429noretry':
      return { status: 429, retryAfter: null };
    case '503':
      return { status: 503, retryAfter: param === undefined ? null : String(param) };
    case '504':
      return { status: 504, retryAfter: null };
    case 'lost':
      return 'lost';
    default:
      return { status: 200, retryAfter: null };
  }
}

describe('sandbox: injected faults', () => {
  let sb: SandboxHandle;
  afterEach(async () => {
    await sb?.stop();
  });

  it('parses the grammar and names what is wrong', () => {
    expect(parseFaults('429:0.05, latency:0.1@200,lost:0.02')).toEqual([
      { kind: '429', probability: 0.05, param: undefined },
      { kind: 'latency', probability: 0.1, param: 200 },
      { kind: 'lost', probability: 0.02, param: undefined },
    ]);
    expect(() => parseFaults('500:0.1')).toThrow(/unknown kind '500'/);
    expect(() => parseFaults('429:1.5')).toThrow(/between 0 and 1/);
    expect(() => parseFaults('lost:0.1@3')).toThrow(/takes no parameter/);
    expect(() => parseFaults('refuse:0.2@3')).toThrow(/takes no parameter/);
    expect(parseFaults('429long:0.01@120,teamlistlag:1@30,refuse:0.2')).toEqual([
      { kind: '429long', probability: 0.01, param: 120 },
      { kind: 'teamlistlag', probability: 1, param: 30 },
      { kind: 'refuse', probability: 0.2, param: undefined },
    ]);
    expect(() => parseFaults('429')).toThrow(/kind:probability/);
  });

  it('replays the same faults for the same seed, and a seed that triggers every kind does', async () => {
    const spec = parseFaults(ALL);
    const n = 60;
    const seed = Array.from({ length: 500 }, (_, s) => s + 1).find((s) => {
      const kinds = new Set<string | undefined>(
        Array.from({ length: n }, (_, i) => decideFault(spec, s, i).failure?.kind),
      );
      return ['429', '429noretry', '503', '504', 'lost'].every((k) => kinds.has(k));
    });
    expect(seed).toBeDefined();
    const predicted = Array.from({ length: n }, (_, i) => {
      const d = decideFault(spec, seed!, i);
      return expected(d.failure?.kind, d.failure?.param);
    });
    for (let run = 0; run < 2; run++) {
      sb = await startSandbox({ users: USERS, faults: ALL, seed });
      const seen: Outcome[] = [];
      for (let i = 0; i < n; i++) seen.push(await outcome(sb, `/users/${USERS[0]!.id}`));
      expect(seen).toEqual(predicted);
      const latencies = sb.requestLog().filter((e) => e.fault === 'latency');
      expect(latencies.length).toBe(
        Array.from({ length: n }, (_, i) => decideFault(spec, seed!, i)).filter(
          (d) => d.latencyMs > 0 && !d.failure,
        ).length,
      );
      expect(latencies.every((e) => e.ms >= 19)).toBe(true);
      if (run === 0) await sb.stop();
    }
  });

  it.each([
    ['429', 429, 'TooManyRequests', '1'],
    ['429:1@7', 429, 'TooManyRequests', '7'],
    ['429noretry', 429, 'TooManyRequests', null],
    ['503', 503, 'ServiceUnavailable', null],
    ['503:1@5', 503, 'ServiceUnavailable', '5'],
    ['504', 504, 'GatewayTimeout', null],
  ])(
    'answers %s with the status and Graph error, and the request has no effect',
    async (rule, status, code, retryAfter) => {
      sb = await startSandbox({ users: USERS });
      const team = await createMigrationTeam(sb);
      const channel = await createMigrationChannel(sb, team, 'faulty');
      sb.setFaults(rule.includes(':') ? rule : `${rule}:1`);
      const res = await call(
        sb,
        'POST',
        messagesPath(team, channel),
        importMessage(daysAgo(100), 'never stored'),
      );
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(res.headers.get('retry-after')).toBe(retryAfter);
      expect(sb.dump().teams[0]!.channels[1]!.messages).toHaveLength(0);
      expect(sb.requestLog().at(-1)).toMatchObject({ status, fault: rule.split(':')[0] });
    },
  );

  it('delays an answer by the latency rule', async () => {
    sb = await startSandbox({ users: USERS, faults: 'latency:1@150' });
    const res = await call(sb, 'GET', `/users/${USERS[1]!.id}`);
    expect(res.status).toBe(200);
    expect(sb.requestLog().at(-1)).toMatchObject({ fault: 'latency', status: 200 });
    expect(sb.requestLog().at(-1)!.ms).toBeGreaterThanOrEqual(149);
  });

  it('commits a "lost" request and drops the connection: the client errors, the state has the message', async () => {
    sb = await startSandbox({ users: USERS });
    const team = await createMigrationTeam(sb);
    const channel = await createMigrationChannel(sb, team, 'lossy');
    const time = daysAgo(100);
    sb.setFaults('lost:1');
    await expect(
      call(sb, 'POST', messagesPath(team, channel), importMessage(time, 'committed, unanswered')),
    ).rejects.toThrow();
    const stored = sb.dump().teams[0]!.channels[1]!.messages;
    expect(stored.map((m) => [m.id, m.body.content])).toEqual([
      [String(Date.parse(time)), 'committed, unanswered'],
    ]);
    expect(sb.requestLog().at(-1)).toMatchObject({ status: 201, fault: 'lost' });
    sb.setFaults('');
    const retry = await call(
      sb,
      'POST',
      messagesPath(team, channel),
      importMessage(time, 'committed, unanswered'),
    );
    expect(retry.status).toBe(409);
    const lookup = await call(sb, 'GET', `${messagesPath(team, channel)}/${Date.parse(time)}`);
    expect(lookup.body.body.content).toBe('committed, unanswered');
  });

  it('answers a long throttle with its Retry-After shortened by the time scale, and the request has no effect', async () => {
    sb = await startSandbox({ users: USERS, timeScale: 10 });
    const team = await createMigrationTeam(sb);
    const channel = await createMigrationChannel(sb, team, 'throttled');
    sb.setFaults('429long:1@120');
    const res = await call(sb, 'POST', messagesPath(team, channel), importMessage(daysAgo(100), 'later'));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('12');
    expect(res.headers.get('x-ms-retry-after-ms')).toBe('12000');
    expect(sb.dump().teams[0]!.channels[1]!.messages).toHaveLength(0);
    expect(sb.requestLog().at(-1)).toMatchObject({ status: 429, fault: '429long' });
  });

  it('lists a new team only after the team-list lag, while the team itself answers at once', async () => {
    sb = await startSandbox({ users: USERS, faults: 'teamlistlag:1@3600' });
    const team = await createMigrationTeam(sb, 'Late listing');
    const byId = await call(sb, 'GET', `/teams/${team}`);
    expect(byId.body).toMatchObject({ id: team, migrationMode: 'inProgress' });
    const filter = encodeURIComponent("displayName eq 'Late listing'");
    expect((await call(sb, 'GET', `/teams?$filter=${filter}`)).body.value).toEqual([]);
    expect((await call(sb, 'GET', '/teams')).body.value).toEqual([]);

    sb.setFaults('teamlistlag:1@0.05');
    const soon = await createMigrationTeam(sb, 'Soon listed');
    let listed: { id: string }[] = [];
    for (let i = 0; i < 100 && listed.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      listed = (await call(sb, 'GET', '/teams')).body.value;
    }
    expect(listed.map((t) => t.id)).toEqual([soon]);
  });

  it('refuses the same messages on every attempt under a refuse rule, and takes the others', async () => {
    const seed = 3;
    const spec = parseFaults('refuse:0.5');
    const base = Date.parse(daysAgo(100));
    const times = Array.from({ length: 12 }, (_, i) => base + i * 1000);
    const refused = times.filter((t) => refusesMessage(spec, seed, t));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThan(times.length);
    sb = await startSandbox({ users: USERS, faults: 'refuse:0.5', seed, ratePerChannel: 0 });
    const team = await createMigrationTeam(sb);
    const channel = await createMigrationChannel(sb, team, 'picky');
    for (let attempt = 0; attempt < 2; attempt++)
      for (const t of times) {
        const res = await call(
          sb,
          'POST',
          messagesPath(team, channel),
          importMessage(new Date(t).toISOString(), `at ${t}`),
        );
        const expectedStatus = refused.includes(t) ? 400 : attempt === 0 ? 201 : 409;
        expect({ t, status: res.status }).toEqual({ t, status: expectedStatus });
      }
    const stored = sb.dump().teams[0]!.channels[1]!.messages.map((m) => Number(m.id));
    expect(stored.sort()).toEqual(times.filter((t) => !refused.includes(t)));
    expect(sb.requestLog().filter((e) => e.fault === 'refuse')).toHaveLength(refused.length * 2);
  });

  it('never faults the inspection routes', async () => {
    sb = await startSandbox({ users: USERS, faults: 'lost:1' });
    const state = await fetch(`${sb.url}/_sandbox/state`);
    expect(state.status).toBe(200);
    expect((await fetch(`${sb.url}/_sandbox/requests`)).status).toBe(200);
  });
});
