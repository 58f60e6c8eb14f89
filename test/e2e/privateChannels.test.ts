import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SANDBOX_FALLBACK } from '../../cli/run';
import type { MigrationReport } from '../../core/pipeline/report';
import {
  sandboxUserFor,
  startSandbox,
  type RequestLogEntry,
  type SandboxDump,
  type SandboxHandle,
} from '../../sandbox';
import { exitedWithin, FAST_RATES, spawnCli, testRunArgs } from '../support/migration';
import { msg, writeExport } from '../support/slackExport';

/**
 * An export with two public channels and three private ones: `secret-plans` (created by Bob, with Cy, who is
 * in no public channel, and Dee, who has no e-mail), `ghost-room` (only Eve, whose e-mail the tenant lacks)
 * and `lonely` (only Dee).
 */
const PEOPLE = {
  U1: { name: 'ann', display: 'Ann', email: 'ann@example.com' },
  U2: { name: 'bob', display: 'Bob', email: 'bob@example.com' },
  U3: { name: 'cy', display: 'Cy', email: 'cy@example.com' },
  U4: { name: 'dee', display: 'Dee', email: undefined },
  U5: { name: 'eve', display: 'Eve', email: 'eve@example.com' },
} as const;
type Person = keyof typeof PEOPLE;
const IN_TENANT: Person[] = ['U1', 'U2', 'U3'];
const CREATED = 1_704_150_000;
const START = 1_704_190_000;

interface Line {
  ts: number;
  user: Person;
  text: string;
  thread?: number;
}

/** `n` lines a second apart from `start`, authors in turn from `authors`; every fourth replies to the one before. */
function lines(prefix: string, n: number, start: number, authors: Person[]): Line[] {
  const out: Line[] = [];
  let parent: number | undefined;
  for (let i = 0; i < n; i++) {
    const ts = start + i;
    const line: Line = { ts, user: authors[i % authors.length], text: `${prefix} ${i}` };
    if (i % 4 === 3 && parent !== undefined) line.thread = parent;
    else parent = ts;
    out.push(line);
  }
  return out;
}

const DAYS: Record<string, Line[]> = {
  general: lines('general', 6, START, ['U1', 'U2']),
  random: lines('random', 6, START + 100, ['U2', 'U1']),
  'secret-plans': lines('secret', 40, START + 200, ['U2', 'U3', 'U2', 'U4', 'U3']),
  'ghost-room': lines('ghost', 3, START + 300, ['U5']),
  lonely: lines('lonely', 2, START + 400, ['U4']),
};

function writePrivateExport(): string {
  const slackDay = (l: Line): object =>
    msg(`${l.ts}.000000`, l.text, {
      user: l.user,
      ...(l.thread !== undefined ? { thread_ts: `${l.thread}.000000` } : {}),
    });
  const conv = (
    id: string,
    name: string,
    members: Person[],
    creator: Person,
    extra: object = {},
  ): object => ({
    id,
    name,
    created: CREATED,
    creator,
    members,
    ...extra,
  });
  return writeExport({
    users: Object.entries(PEOPLE).map(([id, p]) => ({
      id,
      name: p.name,
      real_name: p.display,
      profile: { display_name: p.display, ...(p.email ? { email: p.email } : {}) },
    })),
    channels: [
      conv('C1', 'general', ['U1', 'U2'], 'U1', { is_general: true }),
      conv('C2', 'random', ['U1', 'U2'], 'U1'),
    ],
    extra: {
      'groups.json': JSON.stringify([
        conv('G1', 'secret-plans', ['U2', 'U3', 'U4'], 'U2'),
        conv('G2', 'ghost-room', ['U5'], 'U5'),
        conv('G3', 'lonely', ['U4'], 'U4'),
      ]),
    },
    days: Object.fromEntries(
      Object.entries(DAYS).map(([name, day]) => [name, { '2024-01-02': day.map(slackDay) }]),
    ),
  });
}

const users = [
  ...IN_TENANT.map((id) => sandboxUserFor(PEOPLE[id].email!, PEOPLE[id].display)),
  SANDBOX_FALLBACK,
];
const entraId = (p: Person): string =>
  IN_TENANT.includes(p) ? sandboxUserFor(PEOPLE[p].email!).id : SANDBOX_FALLBACK.id;
const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();

/** A channel as its members see it: kind, mode, creation, members, and each message with its author, time and replies. */
interface SeenChannel {
  displayName: string;
  membershipType: string;
  migrationMode: string | null;
  createdDateTime: string;
  members?: string[];
  messages: {
    at: string;
    from?: string;
    text: string;
    replies: { at: string; from?: string; text: string }[];
  }[];
}

const textOf = (html: string): string => html.replace(/<[^>]*>/g, '').trim();

function seenChannels(dump: SandboxDump): { team: string[]; channels: SeenChannel[] } {
  expect(dump.teams).toHaveLength(1);
  const team = dump.teams[0];
  return {
    team: team.members.map((m) => `${m.userId}:${[...m.roles].sort().join('+')}`).sort(),
    channels: team.channels
      .filter((c) => !c.deleted)
      .map((c) => ({
        displayName: c.displayName,
        membershipType: c.membershipType,
        migrationMode: c.migrationMode,
        createdDateTime: c.createdDateTime,
        ...(c.members
          ? { members: c.members.map((m) => `${m.userId}:${[...m.roles].sort().join('+')}`).sort() }
          : {}),
        messages: c.messages
          .map((m) => ({
            at: m.createdDateTime,
            from: m.from?.user?.id,
            text: textOf(m.body.content),
            replies: m.replies
              .map((r) => ({ at: r.createdDateTime, from: r.from?.user?.id, text: textOf(r.body.content) }))
              .sort((a, b) => a.at.localeCompare(b.at)),
          }))
          .sort((a, b) => a.at.localeCompare(b.at)),
      }))
      .sort((a, b) => a.displayName.localeCompare(b.displayName)),
  };
}

/** A line's text as Teams shows it: under the author's name, or the fallback account's naming the author. */
const shown = (l: Line): string =>
  IN_TENANT.includes(l.user) ? l.text : `Originally posted by ${PEOPLE[l.user].display}${l.text}`;

/** What a Slack channel's lines should look like in Teams: each once, at its time, by its author, in its thread. */
function expectedMessages(day: Line[]): { at: string; from: string; text: string; replies: string[] }[] {
  return day
    .filter((l) => l.thread === undefined)
    .map((l) => ({
      at: iso(l.ts),
      from: entraId(l.user),
      text: shown(l),
      replies: day.filter((r) => r.thread === l.ts).map((r) => `${iso(r.ts)} ${entraId(r.user)} ${shown(r)}`),
    }));
}

const isPost = (r: RequestLogEntry): boolean =>
  r.method === 'POST' && /\/messages(\/[^/]+\/replies)?$/.test(r.path) && r.status < 300;
const teamCompletedAt = (log: RequestLogEntry[]): number =>
  log.findIndex(
    (r) => r.method === 'POST' && /\/teams\/[^/]+\/completeMigration$/.test(r.path) && r.status < 300,
  );

const KILL_POINTS = [
  {
    name: 'right after the private channel is created',
    reached: (log: RequestLogEntry[]): boolean => {
      const at = teamCompletedAt(log);
      return (
        at >= 0 &&
        log.slice(at).some((r) => r.method === 'POST' && /\/channels$/.test(r.path) && r.status < 300)
      );
    },
  },
  {
    name: "mid-way through the private channel's messages",
    reached: (log: RequestLogEntry[]): boolean => {
      const opened = log.findIndex((r) => /\/startMigration$/.test(r.path) && r.status < 300);
      return opened >= 0 && log.slice(opened).filter(isPost).length >= 12;
    },
  },
];

describe('run --private-channels: Slack private channels become Teams private channels', () => {
  let exportDir: string;
  const dirs: string[] = [];
  const sandboxes: SandboxHandle[] = [];
  let reference: ReturnType<typeof seenChannels>;
  let report: MigrationReport;
  let referenceExit: number | string;
  const freshDir = (): string => {
    const d = mkdtempSync(path.join(tmpdir(), 'e2e-private-'));
    dirs.push(d);
    return d;
  };
  const freshSandbox = async (): Promise<SandboxHandle> => {
    const s = await startSandbox({ users, timeScale: 10 });
    sandboxes.push(s);
    return s;
  };
  const args = (stateDir: string, graphUrl: string): string[] =>
    testRunArgs(exportDir, { graphUrl, stateDir, runId: 'private' }, [
      '--private-channels',
      '--team-name',
      'Acme',
    ]);

  beforeAll(async () => {
    exportDir = writePrivateExport();
    dirs.push(exportDir);
    const sandbox = await freshSandbox();
    const stateDir = freshDir();
    const child = spawnCli(args(stateDir, sandbox.url), FAST_RATES);
    referenceExit = await exitedWithin(child, 120_000);
    reference = seenChannels(sandbox.dump());
    report = JSON.parse(
      readFileSync(path.join(stateDir, 'reports', 'private.json'), 'utf8'),
    ) as MigrationReport;
  }, 150_000);
  afterAll(async () => {
    await Promise.all(sandboxes.map((s) => s.stop()));
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('creates the private channel as private, after the team, at the Slack creation, with its mapped members', () => {
    const secret = reference.channels.find((c) => c.displayName === 'secret-plans');
    expect(secret).toMatchObject({
      membershipType: 'private',
      migrationMode: 'completed',
      createdDateTime: iso(CREATED),
      members: [`${entraId('U2')}:owner`, `${entraId('U3')}:`].sort(),
    });
    expect(reference.team).toContain(`${entraId('U3')}:`);
    expect(
      reference.channels.filter((c) => c.membershipType === 'standard').map((c) => c.displayName),
    ).toEqual(['General', 'random']);
  });

  it('imports every message of every created channel once, with its author, time and thread', () => {
    const byName = new Map(reference.channels.map((c) => [c.displayName, c]));
    for (const [slack, teams] of [
      ['general', 'General'],
      ['random', 'random'],
      ['secret-plans', 'secret-plans'],
    ]) {
      const seen = byName.get(teams)!.messages.map((m) => ({
        at: m.at,
        from: m.from,
        text: m.text,
        replies: m.replies.map((r) => `${r.at} ${r.from} ${r.text}`),
      }));
      expect({ channel: teams, messages: seen }).toEqual({
        channel: teams,
        messages: expectedMessages(DAYS[slack]),
      });
    }
  });

  it('does not create a private channel with no mapped member, and says why, with the unmapped members', () => {
    expect(reference.channels.map((c) => c.displayName)).not.toContain('ghost-room');
    expect(reference.channels.map((c) => c.displayName)).not.toContain('lonely');
    const ghost = report.channels.find((c) => c.source === 'ghost-room')!;
    expect(ghost).toMatchObject({ membershipType: 'private', posted: 0, planned: DAYS['ghost-room'].length });
    expect(ghost.notCreated).toMatch(/no member .* maps to an Entra user \(Eve\)/);
    expect(ghost.why.join(' ')).toMatch(/not created/);
    const lonely = report.notImported.find((c) => c.name === 'lonely')!;
    expect(lonely).toMatchObject({ kind: 'private', messages: DAYS.lonely.length });
    expect(lonely.reason).toMatch(/no member mapped to an Entra user.*Dee/);
    const secret = report.channels.find((c) => c.source === 'secret-plans')!;
    expect(secret.unmappedMembers).toEqual(['Dee']);
    expect(report.summary.notMoved.join('\n')).toMatch(/secret-plans \(private\).*Dee/);
    expect(report.phase).toBe('completed');
    expect(referenceExit).toBe(1);
  });

  it.each(KILL_POINTS)(
    'killed $name and run again, ends exactly as the uninterrupted run',
    async (point) => {
      const sandbox = await freshSandbox();
      const stateDir = freshDir();
      const first = spawnCli(args(stateDir, sandbox.url), FAST_RATES);
      let killed = false;
      const watcher = setInterval(() => {
        if (!killed && point.reached(sandbox.requestLog())) {
          killed = true;
          first.kill('SIGKILL');
        }
      }, 2);
      const firstExit = await exitedWithin(first, 120_000);
      clearInterval(watcher);
      expect({ killed, firstExit }).toEqual({ killed: true, firstExit: 'SIGKILL' });
      expect(seenChannels(sandbox.dump())).not.toEqual(reference);

      const second = spawnCli(args(stateDir, sandbox.url), FAST_RATES);
      const secondExit = await exitedWithin(second, 120_000);
      expect({ secondExit, output: secondExit === referenceExit ? '' : second.output() }).toEqual({
        secondExit: referenceExit,
        output: '',
      });
      expect(seenChannels(sandbox.dump())).toEqual(reference);
      const privateCreations = sandbox
        .requestLog()
        .filter((r, i, log) => i > teamCompletedAt(log) && r.method === 'POST' && /\/channels$/.test(r.path));
      expect(privateCreations.filter((r) => r.status < 300)).toHaveLength(1);
    },
    300_000,
  );
});

/** Creates an ordinary team (not in migration mode) as an admin would, with `owner` as its owner, and answers its id. */
async function ordinaryTeam(sandbox: SandboxHandle, name: string, channels: string[]): Promise<string> {
  const request = async (method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(path.startsWith('http') ? path : `${sandbox.url}/v1.0${path}`, {
      method,
      headers: { authorization: 'Bearer tenant-admin', 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  const created = await request('POST', '/teams', {
    'template@odata.bind': "https://graph.microsoft.com/v1.0/teamsTemplates('standard')",
    displayName: name,
  });
  expect(created.status).toBe(202);
  const location = created.headers.get('location')!;
  let teamId: string | undefined;
  while (!teamId) {
    const op = (await (await request('GET', location)).json()) as {
      status: string;
      targetResourceId: string;
    };
    if (op.status === 'succeeded') teamId = op.targetResourceId;
  }
  const added = await request('POST', `/teams/${teamId}/members/add`, {
    values: [
      {
        '@odata.type': '#microsoft.graph.aadUserConversationMember',
        roles: ['owner'],
        'user@odata.bind': `https://graph.microsoft.com/v1.0/users('${entraId('U1')}')`,
      },
    ],
  });
  expect(added.status).toBe(200);
  for (const displayName of channels)
    expect((await request('POST', `/teams/${teamId}/channels`, { displayName })).status).toBe(201);
  return teamId;
}

describe('run --team-id: into an existing, completed team', () => {
  let exportDir: string;
  const dirs: string[] = [];
  const sandboxes: SandboxHandle[] = [];
  beforeAll(() => {
    exportDir = writePrivateExport();
    dirs.push(exportDir);
  });
  afterAll(async () => {
    await Promise.all(sandboxes.map((s) => s.stop()));
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });
  const run = async (sandbox: SandboxHandle, teamId: string, runId: string) => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'e2e-existing-'));
    dirs.push(stateDir);
    const child = spawnCli(
      testRunArgs(exportDir, { graphUrl: sandbox.url, stateDir, runId }, [
        '--private-channels',
        '--team-id',
        teamId,
      ]),
      FAST_RATES,
    );
    const code = await exitedWithin(child, 120_000);
    return { code, output: child.output() };
  };

  it("creates no team, completes none, adds only private channels' members, and fills new channels and General through startMigration", async () => {
    const sandbox = await startSandbox({ users, timeScale: 10 });
    sandboxes.push(sandbox);
    const teamId = await ordinaryTeam(sandbox, 'Existing', ['announcements']);
    const before = sandbox.dump().teams[0];
    const { code, output } = await run(sandbox, teamId, 'existing');
    expect({ code, output: code === 1 ? '' : output }).toEqual({ code: 1, output: '' });
    const dump = sandbox.dump();
    expect(dump.teams.map((t) => t.id)).toEqual([teamId]);
    expect(dump.teams[0].migrationMode).toBeNull();
    const seen = seenChannels(dump);
    expect(seen.team).toEqual([`${entraId('U1')}:owner`, `${entraId('U2')}:`, `${entraId('U3')}:`].sort());
    const byName = new Map(seen.channels.map((c) => [c.displayName, c]));
    expect(byName.get('announcements')).toMatchObject({ migrationMode: null, messages: [] });
    for (const [slack, teams] of [
      ['general', 'General'],
      ['random', 'random'],
      ['secret-plans', 'secret-plans'],
    ]) {
      const channel = byName.get(teams)!;
      expect({ teams, mode: channel.migrationMode, created: channel.createdDateTime }).toEqual({
        teams,
        mode: 'completed',
        created: iso(CREATED),
      });
      expect(
        channel.messages.map((m) => ({
          at: m.at,
          from: m.from,
          text: m.text,
          replies: m.replies.map((r) => `${r.at} ${r.from} ${r.text}`),
        })),
      ).toEqual(expectedMessages(DAYS[slack]));
    }
    expect(byName.get('secret-plans')!.membershipType).toBe('private');
    expect(byName.get('random')!.membershipType).toBe('standard');
    expect(before.channels.find((c) => c.isGeneral)!.createdDateTime).not.toBe(iso(CREATED));
    const log = sandbox.requestLog();
    expect(
      log.filter((r) => r.method === 'POST' && /\/teams\/[^/]+\/completeMigration$/.test(r.path)),
    ).toEqual([]);
  }, 150_000);

  it('refuses, naming it, a channel whose name the team has, before creating anything', async () => {
    const sandbox = await startSandbox({ users, timeScale: 10 });
    sandboxes.push(sandbox);
    const teamId = await ordinaryTeam(sandbox, 'Taken', ['Random']);
    const requestsBefore = sandbox.requestLog().length;
    const { code, output } = await run(sandbox, teamId, 'taken');
    expect(code).not.toBe(0);
    expect(output).toMatch(
      /already has a channel named 'random'.*--exclude-channels random; nothing was created/s,
    );
    const writes = sandbox
      .requestLog()
      .slice(requestsBefore)
      .filter((r) => r.method !== 'GET' && !r.path.endsWith('/$batch'));
    expect(writes).toEqual([]);
  }, 150_000);
});

describe('run --private-channels --prestage, then cutover', () => {
  const dirs: string[] = [];
  const sandboxes: SandboxHandle[] = [];
  afterAll(async () => {
    await Promise.all(sandboxes.map((s) => s.stop()));
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('creates private channels only at the cutover, once the team is completed, ending as one run would', async () => {
    const exportDir = writePrivateExport();
    dirs.push(exportDir);
    const runOnce = async (extra: string[], sandbox: SandboxHandle, stateDir: string, runId: string) => {
      const child = spawnCli(
        testRunArgs(exportDir, { graphUrl: sandbox.url, stateDir, runId }, ['--private-channels', ...extra]),
        FAST_RATES,
      );
      return { code: await exitedWithin(child, 120_000), output: child.output() };
    };
    const fresh = async (): Promise<{ sandbox: SandboxHandle; stateDir: string }> => {
      const sandbox = await startSandbox({ users, timeScale: 10 });
      sandboxes.push(sandbox);
      const stateDir = mkdtempSync(path.join(tmpdir(), 'e2e-private-prestage-'));
      dirs.push(stateDir);
      return { sandbox, stateDir };
    };
    const once = await fresh();
    expect((await runOnce([], once.sandbox, once.stateDir, 'once')).code).toBe(1);
    const reference = seenChannels(once.sandbox.dump());

    const staged = await fresh();
    const prestaged = await runOnce(['--prestage'], staged.sandbox, staged.stateDir, 'staged');
    expect({ code: prestaged.code, output: prestaged.code === 0 ? '' : prestaged.output }).toEqual({
      code: 0,
      output: '',
    });
    const staging = JSON.parse(
      readFileSync(path.join(staged.stateDir, 'reports', 'staged.json'), 'utf8'),
    ) as MigrationReport;
    const waiting = staging.channels.find((c) => c.source === 'secret-plans')!;
    expect({ posted: waiting.posted, why: waiting.why.join(' ') }).toEqual({
      posted: 0,
      why: expect.stringMatching(new RegExp(`${DAYS['secret-plans'].length} messages wait for the cutover`)),
    });
    const before = staged.sandbox.dump();
    expect(before.teams[0].migrationMode).toBe('inProgress');
    expect(before.teams[0].channels.map((c) => c.membershipType)).toEqual(['standard', 'standard']);

    const cutover = spawnCli(
      [
        'cutover',
        '--run-id',
        'staged',
        '--graph-url',
        staged.sandbox.url,
        '--state-dir',
        staged.stateDir,
        '--json',
      ],
      FAST_RATES,
    );
    expect(await exitedWithin(cutover, 120_000)).toBe(1);
    expect(seenChannels(staged.sandbox.dump())).toEqual(reference);
  }, 300_000);
});
