import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runMigration, runPass, sandboxUsersFromExport } from '../../cli/run';
import { sandboxUserFor, startSandbox, type SandboxHandle } from '../../sandbox';
import { tempDir } from '../support/fixtures';
import {
  capturedIo,
  createOrdinaryTeam,
  FAST_RATES,
  messageCount,
  SAMPLE_EXPORT,
  seenTeams,
  SLACK_EVENTS,
  testRunOptions,
  type SeenTeam,
} from '../support/migration';
import { snapshotAt } from '../support/snapshots';

/**
 * Messages of a channel of the sample (written before `before`, epoch seconds, when given), counted from its
 * day files: what its Teams channel must hold.
 */
function sampleMessages(channel: string, before = Infinity): number {
  const dir = path.join(SAMPLE_EXPORT, channel);
  return readdirSync(dir)
    .flatMap(
      (day) => JSON.parse(readFileSync(path.join(dir, day), 'utf8')) as { subtype?: string; ts: string }[],
    )
    .filter((m) => !SLACK_EVENTS.has(m.subtype ?? '') && Number(m.ts) < before).length;
}

/** Each team's channels with their migration mode and how many messages (replies counted) they hold. */
function channelCounts(teams: SeenTeam[]): Record<string, [string, string | null, number][]> {
  return Object.fromEntries(
    teams.map((t) => [
      t.displayName,
      t.channels.map(
        (c) =>
          [c.displayName, c.migrationMode, c.messages.reduce((n, m) => n + 1 + m.replies.length, 0)] as [
            string,
            string | null,
            number,
          ],
      ),
    ]),
  );
}

/**
 * The Entra ids a team's members must be: the people of its Slack channels (members, creators) and the
 * workspace's admins who have an e-mail the tenant knows (no user map is given), as the sandbox names them.
 */
function expectedMembers(channels: string[]): string[] {
  const read = <T>(file: string): T => JSON.parse(readFileSync(path.join(SAMPLE_EXPORT, file), 'utf8')) as T;
  const users =
    read<
      { id: string; is_admin?: boolean; is_bot?: boolean; deleted?: boolean; profile?: { email?: string } }[]
    >('users.json');
  const ids = new Set(users.filter((u) => u.is_admin).map((u) => u.id));
  for (const c of read<{ name: string; creator?: string; members?: string[] }[]>('channels.json'))
    if (channels.includes(c.name))
      [...(c.members ?? []), ...(c.creator ? [c.creator] : [])].forEach((m) => ids.add(m));
  return users
    .filter((u) => ids.has(u.id) && !u.is_bot && !u.deleted && u.profile?.email)
    .map((u) => sandboxUserFor(u.profile!.email!).id)
    .sort();
}

describe('a channel map splits a workspace across several teams', () => {
  let sandbox: SandboxHandle;
  let stateDir: string;
  const env = { ...process.env };

  beforeAll(async () => {
    Object.assign(process.env, FAST_RATES);
    sandbox = await startSandbox({
      users: await sandboxUsersFromExport(SAMPLE_EXPORT),
      timeScale: 10,
      slackFiles: { export: SAMPLE_EXPORT },
    });
    stateDir = mkdtempSync(path.join(tmpdir(), 'e2e-map-'));
  });
  afterAll(async () => {
    await sandbox.stop();
    rmSync(stateDir, { recursive: true, force: true });
    process.env = env;
  });

  it('splits the sample across two teams exactly: each channel in its team under its mapped name, every message once', async () => {
    const map = path.join(stateDir, 'channels.csv');
    writeFileSync(
      map,
      [
        'slack_channel,team,channel',
        'enrique,Sample One,Enrique Talk',
        'C0JL6CGQ2,Sample One,Sailing',
        'threads,"Sample, Two",Threads Here',
      ].join('\n'),
    );
    const { io, out } = capturedIo();
    const code = await runMigration(
      SAMPLE_EXPORT,
      testRunOptions(stateDir, sandbox.url, {
        runId: 'split',
        channelMap: map,
        slackFilesUrl: sandbox.slackFilesUrl,
      }),
      io,
    );

    expect(code).toBe(0);
    const expected = {
      'Sample One': {
        'Enrique Talk': sampleMessages('enrique'),
        Sailing: sampleMessages('traveling-sailor'),
      },
      'Sample, Two': { 'Threads Here': sampleMessages('threads') },
    };
    const teams = seenTeams(sandbox.dump());
    expect(teams.map((t) => t.displayName).sort()).toEqual(Object.keys(expected).sort());
    for (const team of teams) {
      const want = expected[team.displayName as keyof typeof expected];
      expect(team.migrationMode).toBe('completed');
      expect(team.channels.map((c) => c.displayName).sort()).toEqual(
        ['General', ...Object.keys(want)].sort(),
      );
      for (const channel of team.channels) {
        const count = channel.messages.reduce((n, m) => n + 1 + m.replies.length, 0);
        expect(count).toBe(
          channel.displayName === 'General' ? 0 : want[channel.displayName as keyof typeof want],
        );
        expect(channel.migrationMode).toBe('completed');
      }
      expect(messageCount(team)).toBe(Object.values(want).reduce((n: number, k: number) => n + k, 0));
      const slackChannels = team.displayName === 'Sample One' ? ['enrique', 'traveling-sailor'] : ['threads'];
      expect(team.members.map((m) => m.split(':')[0]).sort()).toEqual(expectedMembers(slackChannels));
    }

    const report = JSON.parse(out.join('\n')) as {
      phase: string;
      totals: { planned: number; posted: number; failed: number };
      teams: { name: string; migrationId: string; phase: string; posted: number }[];
    };
    const total = ['enrique', 'traveling-sailor', 'threads'].reduce((n, c) => n + sampleMessages(c), 0);
    expect(report.phase).toBe('completed');
    expect(report.totals).toMatchObject({ planned: total, posted: total, failed: 0 });
    expect(report.teams.map((t) => [t.name, t.migrationId, t.phase])).toEqual([
      ['Sample One', 'split.t1', 'completed'],
      ['Sample, Two', 'split.t2', 'completed'],
    ]);
  });

  it('refuses a channel map that sends two Slack channels onto one Teams channel, before creating anything', async () => {
    const map = path.join(stateDir, 'clash.csv');
    writeFileSync(map, 'enrique,Clash,Talk\nthreads,Clash,talk\n');
    const before = sandbox.dump().teams.length;
    const { io, err } = capturedIo();
    const code = await runMigration(
      SAMPLE_EXPORT,
      testRunOptions(stateDir, sandbox.url, {
        runId: 'clash',
        channelMap: map,
        slackFilesUrl: sandbox.slackFilesUrl,
      }),
      io,
    );

    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/'enrique' and 'threads' both go to channel 'talk' of team 'Clash'/);
    expect(sandbox.dump().teams).toHaveLength(before);
  });

  it('refuses a map naming a new team whose name the tenant has (whatever its case and quotes), writing nothing', async () => {
    await createOrdinaryTeam(sandbox.url, "O'Neil Crew");
    const map = path.join(stateDir, 'taken.csv');
    writeFileSync(map, "enrique,o'neil crew,Talk\nthreads,Quite New,Threads\n");
    const teamsBefore = sandbox.dump().teams.length;
    const requestsBefore = sandbox.requestLog().length;
    const { io, err } = capturedIo();
    const code = await runMigration(
      SAMPLE_EXPORT,
      testRunOptions(stateDir, sandbox.url, {
        runId: 'taken',
        channelMap: map,
        slackFilesUrl: sandbox.slackFilesUrl,
      }),
      io,
    );

    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(
      /a team named 'o'neil crew' already exists in the tenant: rename the team in the map, or put that team's id in the team column/,
    );
    expect(err.join('\n')).not.toMatch(/Quite New/);
    expect(sandbox.dump().teams).toHaveLength(teamsBefore);
    const log = sandbox.requestLog().slice(requestsBefore);
    expect(log.filter((r) => r.method !== 'GET' && !r.path.endsWith('/$batch'))).toEqual([]);
    expect(log.filter((r) => /\/groups\?\$filter=/.test(decodeURIComponent(r.path))).length).toBeGreaterThan(
      0,
    );
  });

  it('imports the channels a map gives an existing team (named by its id) into it, beside a new team', async () => {
    const teamId = await createOrdinaryTeam(sandbox.url, 'Existing Crew', ['announcements']);
    const map = path.join(stateDir, 'existing.csv');
    writeFileSync(
      map,
      `slack_channel,team,channel\nenrique,${teamId.toUpperCase()},Enrique Talk\nthreads,Fresh Crew,Threads\n`,
    );
    const requestsBefore = sandbox.requestLog().length;
    const { io, out } = capturedIo();
    const code = await runMigration(
      SAMPLE_EXPORT,
      testRunOptions(stateDir, sandbox.url, {
        runId: 'existing',
        channelMap: map,
        slackFilesUrl: sandbox.slackFilesUrl,
      }),
      io,
    );

    expect(code).toBe(0);
    const dump = sandbox.dump();
    expect(dump.teams.find((t) => t.id === teamId)!.migrationMode).toBeNull();
    const seen = seenTeams(dump).filter((t) => ['Existing Crew', 'Fresh Crew'].includes(t.displayName));
    expect(channelCounts(seen)).toEqual({
      'Existing Crew': [
        ['announcements', null, 0],
        ['Enrique Talk', 'completed', sampleMessages('enrique')],
        ['General', null, 0],
      ],
      'Fresh Crew': [
        ['General', 'completed', 0],
        ['Threads', 'completed', sampleMessages('threads')],
      ],
    });
    expect(seen.find((t) => t.displayName === 'Fresh Crew')!.migrationMode).toBe('completed');
    const log = sandbox.requestLog().slice(requestsBefore);
    expect(
      log.filter((r) => r.method === 'POST' && r.path.endsWith(`/teams/${teamId}/completeMigration`)),
    ).toEqual([]);
    const report = JSON.parse(out.join('\n')) as {
      phase: string;
      teams: { name: string; migrationId: string; phase: string; teamId?: string; posted: number }[];
    };
    expect(report.phase).toBe('completed');
    expect(report.teams.map((t) => [t.name, t.migrationId, t.phase, t.posted])).toEqual([
      [teamId.toUpperCase(), 'existing.t1', 'completed', sampleMessages('enrique')],
      ['Fresh Crew', 'existing.t2', 'completed', sampleMessages('threads')],
    ]);
    expect(report.teams[0]!.teamId).toBe(teamId);
  });
});

describe('pre-stage, delta and cutover of a whole workspace, by its id', () => {
  /** The first snapshot: the sample as it was at this instant (every mapped channel exists by then). */
  const CUT = 1455000000;
  const MAP = 'enrique,Alpha,Enrique\ntraveling-sailor,Alpha,Sailing\nthreads,Beta,Threads\n';
  const env = { ...process.env };
  const dirs: string[] = [];
  const sandboxes: SandboxHandle[] = [];
  const dir = (prefix: string): string => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
  const tenant = async (): Promise<SandboxHandle> => {
    const s = await startSandbox({
      users: await sandboxUsersFromExport(SAMPLE_EXPORT),
      timeScale: 10,
      slackFiles: { export: SAMPLE_EXPORT },
    });
    sandboxes.push(s);
    return s;
  };
  beforeAll(() => {
    Object.assign(process.env, FAST_RATES);
  });
  afterAll(async () => {
    await Promise.all(sandboxes.map((s) => s.stop()));
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
    process.env = env;
  });

  it('adds a newer snapshot to the right teams, and cuts over to what one run of the workspace makes', async () => {
    const mapFile = path.join(dir('e2e-ws-map-'), 'channels.csv');
    writeFileSync(mapFile, MAP);
    const counts = (before = Infinity) => ({
      Alpha: [
        ['Enrique', 'inProgress', sampleMessages('enrique', before)],
        ['General', 'inProgress', 0],
        ['Sailing', 'inProgress', sampleMessages('traveling-sailor', before)],
      ],
      Beta: [
        ['General', 'inProgress', 0],
        ['Threads', 'inProgress', sampleMessages('threads', before)],
      ],
    });

    const once = await tenant();
    const onceState = dir('e2e-ws-once-');
    const oneRun = await runMigration(
      SAMPLE_EXPORT,
      testRunOptions(onceState, once.url, {
        runId: 'ws-once',
        channelMap: mapFile,
        slackFilesUrl: once.slackFilesUrl,
      }),
      capturedIo().io,
    );
    expect(oneRun).toBe(0);
    const reference = seenTeams(once.dump());
    expect(reference.map((t) => [t.displayName, t.migrationMode])).toEqual([
      ['Alpha', 'completed'],
      ['Beta', 'completed'],
    ]);

    const sb = await tenant();
    const state = dir('e2e-ws-passes-');
    const first = snapshotAt(SAMPLE_EXPORT, CUT, {}, dir('e2e-ws-snapshot-'));
    const passOptions = {
      runId: 'ws',
      graphUrl: sb.url,
      stateDir: state,
      json: true,
      slackFilesUrl: sb.slackFilesUrl,
    };
    const prestaged = await runMigration(
      first,
      testRunOptions(state, sb.url, {
        runId: 'ws',
        channelMap: mapFile,
        prestage: true,
        slackFilesUrl: sb.slackFilesUrl,
      }),
      capturedIo().io,
    );
    expect(prestaged).toBe(0);
    expect(channelCounts(seenTeams(sb.dump()))).toEqual(counts(CUT));
    expect(seenTeams(sb.dump()).map((t) => [t.migrationMode, t.members])).toEqual([
      ['inProgress', []],
      ['inProgress', []],
    ]);

    const delta = capturedIo();
    expect(await runPass('delta', SAMPLE_EXPORT, passOptions, delta.io)).toBe(0);
    expect(channelCounts(seenTeams(sb.dump()))).toEqual(counts());
    const deltaReport = JSON.parse(delta.out.join('\n')) as {
      phase: string;
      pass: string;
      totals: { posted: number };
      teams: { migrationId: string; phase: string }[];
    };
    expect(deltaReport.pass).toBe('delta');
    expect(deltaReport.phase).toBe('prestaged');
    expect(deltaReport.totals.posted).toBe(
      ['enrique', 'traveling-sailor', 'threads'].reduce((n, c) => n + sampleMessages(c), 0),
    );
    expect(deltaReport.teams.map((t) => [t.migrationId, t.phase])).toEqual([
      ['ws.t1', 'prestaged'],
      ['ws.t2', 'prestaged'],
    ]);

    const cutover = capturedIo();
    expect(await runPass('cutover', undefined, passOptions, cutover.io)).toBe(0);
    expect(seenTeams(sb.dump())).toEqual(reference);
  }, 600_000);
});
