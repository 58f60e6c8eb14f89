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
    const problems = checkChannelMap(entries, CHANNELS, { takenTeamNames: ['b'] });
    expect(problems.map((p) => [p.severity, p.code])).toEqual([
      ['error', 'channel-map-twice'],
      ['error', 'channel-map-unknown'],
      ['error', 'channel-map-collision'],
      ['error', 'channel-map-team-taken'],
      ['warning', 'channel-map-left-out'],
    ]);
    expect(problems[4]!.message).toContain('#general');
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
