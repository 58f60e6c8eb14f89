import {
  MAX_CHANNELS_PER_TEAM,
  checkChannelMap,
  mappedTeams,
  parseChannelMap,
} from '../../../core/transform/channelMap';
import { workspaceTeams } from '../../../core/pipeline/workspace';
import type { MigrateTeamInput } from '../../../core/pipeline/contracts';

const CHANNELS = [
  { sourceId: 'C1', name: 'general', isGeneral: true },
  { sourceId: 'C2', name: 'random' },
  { sourceId: 'C3', name: 'dev' },
];

describe('channel map', () => {
  it('reads slack_channel,team,channel lines with a header and quoted fields, teams in order of first mention', () => {
    const { entries, problems } = parseChannelMap(
      'slack_channel,team,channel\r\n#general,Ops,General\nC2,"Sales, EMEA",Random talk\n\ndev,ops,Dev\n',
    );
    expect(problems).toEqual([]);
    expect(entries.map((e) => [e.slackChannel, e.team, e.channel])).toEqual([
      ['#general', 'Ops', 'General'],
      ['C2', 'Sales, EMEA', 'Random talk'],
      ['dev', 'ops', 'Dev'],
    ]);
    expect(mappedTeams(entries)).toEqual([
      {
        key: 't1',
        name: 'Ops',
        channels: [
          { slackChannel: '#general', teamsName: 'General' },
          { slackChannel: 'dev', teamsName: 'Dev' },
        ],
      },
      { key: 't2', name: 'Sales, EMEA', channels: [{ slackChannel: 'C2', teamsName: 'Random talk' }] },
    ]);
  });

  it('names the line of a malformed entry', () => {
    const { problems } = parseChannelMap('general,Ops,General\nrandom,Ops\ndev,,Dev\n', 'map.csv');
    expect(problems.map((p) => p.message)).toEqual([
      "map.csv line 2: expected 3 fields 'slack_channel,team,channel', found 2.",
      "map.csv line 3: no team for Slack channel 'dev'.",
    ]);
  });

  it('finds unknown channels, a channel mapped twice, two channels onto one, a taken team name and channels left out', () => {
    const { entries } = parseChannelMap('random,A,Talk\nrandom,B,Other\nnope,A,X\ndev,A,talk\n');
    const problems = checkChannelMap(entries, CHANNELS, {
      tenant: { takenTeamNames: ['b'], existingTeams: {} },
    });
    expect(problems.map((p) => [p.severity, p.code])).toEqual([
      ['error', 'channel-map-twice'],
      ['error', 'channel-map-unknown'],
      ['error', 'channel-map-collision'],
      ['error', 'channel-map-team-taken'],
      ['warning', 'channel-map-left-out'],
    ]);
    expect(problems[4]!.message).toContain('#general');
  });

  it('takes a GUID in the team column as an existing team, and checks it against what the tenant has', () => {
    const id = '0B0F6E1C-8C47-4F1A-9F6A-2D1C3E4F5A6B';
    const { entries } = parseChannelMap(
      `general,${id},General\nrandom,${id},Announcements\ndev,Dev team,Dev\n`,
    );
    expect(mappedTeams(entries).map((t) => [t.key, t.name, t.existingTeamId])).toEqual([
      ['t1', id, id.toLowerCase()],
      ['t2', 'Dev team', undefined],
    ]);
    const offline = checkChannelMap(entries, CHANNELS);
    expect(offline.filter((p) => p.severity === 'error')).toEqual([]);

    const existing = { displayName: 'Existing', migrationMode: null, channels: ['General', 'announcements'] };
    const clash = checkChannelMap(entries, CHANNELS, {
      tenant: { takenTeamNames: [], existingTeams: { [id.toLowerCase()]: existing } },
    });
    expect(clash.map((p) => p.code)).toEqual(['channel-map-channel-taken']);
    expect(clash[0]!.message).toContain("team 'Existing'");
    expect(clash[0]!.message).toContain("'Announcements'");

    const missing = checkChannelMap(entries, CHANNELS, {
      tenant: { takenTeamNames: [], existingTeams: { [id.toLowerCase()]: null } },
    });
    expect(missing.map((p) => p.code)).toEqual(['channel-map-team-missing']);
    const migrating = checkChannelMap(entries, CHANNELS, {
      tenant: {
        takenTeamNames: [],
        existingTeams: {
          [id.toLowerCase()]: { ...existing, migrationMode: 'inProgress', channels: ['General'] },
        },
      },
    });
    expect(migrating.map((p) => p.code)).toEqual(['channel-map-team-migrating']);
  });

  it("counts an existing team's own channels toward its 200", () => {
    const id = '0b0f6e1c-8c47-4f1a-9f6a-2d1c3e4f5a6b';
    const { entries } = parseChannelMap(`random,${id},Talk\ndev,${id},Dev\n`);
    const own = (n: number) => ['General', ...Array.from({ length: n - 1 }, (_, i) => `own ${i}`)];
    const check = (n: number) =>
      checkChannelMap(entries, CHANNELS, {
        tenant: { takenTeamNames: [], existingTeams: { [id]: { displayName: 'Big', channels: own(n) } } },
      }).filter((p) => p.severity === 'error');
    expect(check(MAX_CHANNELS_PER_TEAM - 2)).toEqual([]);
    expect(check(MAX_CHANNELS_PER_TEAM - 1).map((p) => p.code)).toEqual(['channel-map-team-too-large']);
  });

  it('refuses more than 200 channels in one team, General counted', () => {
    const many = Array.from({ length: MAX_CHANNELS_PER_TEAM }, (_, i) => ({
      sourceId: `C${i + 10}`,
      name: `c${i}`,
    }));
    const csv = many.map((c) => `${c.name},Big,${c.name}`).join('\n');
    const problems = checkChannelMap(parseChannelMap(csv).entries, many);
    expect(problems.map((p) => p.code)).toEqual(['channel-map-team-too-large']);
    const fits = checkChannelMap(parseChannelMap(csv.split('\n').slice(1).join('\n')).entries, many);
    expect(fits.filter((p) => p.severity === 'error')).toEqual([]);
  });

  it('gives each team a migration of its own channels, names and team name under the workspace id', () => {
    const base: MigrateTeamInput = {
      migrationId: 'ws',
      source: { kind: 'path', path: '/x' },
      team: { visibility: 'private' },
      options: {
        includeSystemEvents: false,
        channelConcurrency: 10,
        batchSeconds: 60,
        batchesPerExecution: 10,
        operationPollSeconds: 30,
        completeOnErrors: false,
      },
    };
    const teams = workspaceTeams(
      base,
      parseChannelMap('general,Ops,General\nrandom,Sales,Talk\ndev,Ops,Dev\n').entries,
    );
    expect(
      teams.map((t) => [
        t.input.migrationId,
        t.input.team.displayName,
        t.input.options.channels,
        t.input.options.channelNames,
      ]),
    ).toEqual([
      ['ws.t1', 'Ops', ['general', 'dev'], { general: 'General', dev: 'Dev' }],
      ['ws.t2', 'Sales', ['random'], { random: 'Talk' }],
    ]);
  });
});
