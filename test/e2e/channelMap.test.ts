import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runMigration, sandboxUsersFromExport } from '../../cli/run';
import { sandboxUserFor, startSandbox, type SandboxHandle } from '../../sandbox';
import {
  capturedIo,
  FAST_RATES,
  messageCount,
  SAMPLE_EXPORT,
  seenTeams,
  testRunOptions,
} from '../support/migration';

/** Slack subtypes the planner leaves out by default (events, not messages). */
const SLACK_EVENTS = new Set([
  'channel_join',
  'channel_leave',
  'channel_topic',
  'channel_purpose',
  'channel_name',
  'channel_archive',
  'channel_unarchive',
  'bot_add',
  'bot_remove',
  'pinned_item',
  'unpinned_item',
]);

/** Messages of a channel of the sample, counted from its day files: what its Teams channel must hold. */
function sampleMessages(channel: string): number {
  const dir = path.join(SAMPLE_EXPORT, channel);
  return readdirSync(dir)
    .flatMap((day) => JSON.parse(readFileSync(path.join(dir, day), 'utf8')) as { subtype?: string }[])
    .filter((m) => !SLACK_EVENTS.has(m.subtype ?? '')).length;
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
});
