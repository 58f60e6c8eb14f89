import { parse } from 'csv-parse/sync';
import type { Problem } from '../model';

/** Most channels a team may have (Teams' limit, General included). */
export const MAX_CHANNELS_PER_TEAM = 200;

/** One line of a channel map: a Slack channel (name, `#name` or id), the team it goes to, its Teams name. */
export interface ChannelMapEntry {
  /** The line number in the file, for messages. */
  line: number;
  slackChannel: string;
  team: string;
  channel: string;
}

/** One team of a channel map: its key in the migration (`t1`, `t2`, ... in order of first mention). */
export interface MappedTeam {
  key: string;
  name: string;
  /** The team's Slack channels as the map names them, with the Teams name each gets. */
  channels: { slackChannel: string; teamsName: string }[];
}

/** A Slack channel of the export, as the map is checked against it. */
export interface ExportChannel {
  sourceId: string;
  name: string;
  isGeneral?: boolean;
}

/**
 * Parses a channel map: CSV `slack_channel,team,channel` (the shape of Microsoft's own Slack migration tool),
 * one Slack channel per line; a header line and blank lines are ignored; fields may be quoted.
 * Malformed lines are errors naming the line.
 */
export function parseChannelMap(
  text: string,
  source = 'channel map',
): { entries: ChannelMapEntry[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const fail = (line: number, why: string): void => {
    problems.push({
      severity: 'error',
      code: 'channel-map-line',
      message: `${source} line ${line}: ${why}.`,
      where: source,
    });
  };
  let records: { record: string[]; line: number }[];
  try {
    records = (
      parse(text.replace(/^\uFEFF/, ''), {
        bom: true,
        record_delimiter: ['\r\n', '\n', '\r'],
        skip_empty_lines: true,
        relax_column_count: true,
        trim: true,
        info: true,
      }) as unknown as { record: string[]; info: { lines: number } }[]
    ).map((r) => ({ record: r.record, line: r.info.lines }));
  } catch (err) {
    problems.push({
      severity: 'error',
      code: 'channel-map-line',
      message: `${source} is not valid CSV: ${(err as Error).message}.`,
      where: source,
    });
    return { entries: [], problems };
  }
  const entries: ChannelMapEntry[] = [];
  records.forEach(({ record, line }, i) => {
    if (record.every((f) => f === '')) return;
    if (i === 0 && /^slack/i.test(record[0] ?? '') && /team/i.test(record[1] ?? '')) return;
    if (record.length !== 3)
      return fail(line, `expected 3 fields 'slack_channel,team,channel', found ${record.length}`);
    const [slackChannel, team, channel] = record as [string, string, string];
    if (!slackChannel) return fail(line, 'the Slack channel is empty');
    if (!team) return fail(line, `no team for Slack channel '${slackChannel}'`);
    if (!channel) return fail(line, `no Teams channel for Slack channel '${slackChannel}'`);
    entries.push({ line, slackChannel, team, channel });
  });
  if (entries.length === 0 && problems.length === 0)
    problems.push({
      severity: 'error',
      code: 'channel-map-empty',
      message: `${source} names no channel: give one 'slack_channel,team,channel' line per Slack channel to import.`,
      where: source,
    });
  return { entries, problems };
}

/** The teams of a channel map, in order of first mention (team names compared case-insensitively). */
export function mappedTeams(entries: ChannelMapEntry[]): MappedTeam[] {
  const teams = new Map<string, MappedTeam>();
  for (const e of entries) {
    const id = e.team.toLowerCase();
    let team = teams.get(id);
    if (!team) {
      team = { key: `t${teams.size + 1}`, name: e.team, channels: [] };
      teams.set(id, team);
    }
    team.channels.push({ slackChannel: e.slackChannel, teamsName: e.channel });
  }
  return [...teams.values()];
}

/** True when a map's Slack channel field names this channel (its name, `#name` or id). */
export function namesChannel(field: string, channel: ExportChannel): boolean {
  return field === channel.sourceId || field === channel.name || field === `#${channel.name}`;
}

/**
 * Checks a channel map against the export's channels: unknown Slack channels, a Slack channel mapped twice,
 * two Slack channels onto one Teams channel of a team (names compare case-insensitively, as Teams does), more
 * than 200 channels in a team (General counted), team names `takenTeamNames` holds (the tenant's, when the
 * caller could ask), and the export's channels the map leaves out (reported; they are not imported).
 */
export function checkChannelMap(
  entries: ChannelMapEntry[],
  channels: ExportChannel[],
  options: { source?: string; takenTeamNames?: string[] } = {},
): Problem[] {
  const source = options.source ?? 'channel map';
  const problems: Problem[] = [];
  const error = (code: string, message: string): void => {
    problems.push({ severity: 'error', code, message, where: source });
  };
  const mapped = new Map<string, ChannelMapEntry>();
  for (const e of entries) {
    const channel = channels.find((c) => namesChannel(e.slackChannel, c));
    if (!channel) {
      error(
        'channel-map-unknown',
        `${source} line ${e.line}: Slack channel '${e.slackChannel}' is not in the export: give its name or id as the export has it.`,
      );
      continue;
    }
    const before = mapped.get(channel.sourceId);
    if (before) {
      error(
        'channel-map-twice',
        `${source} line ${e.line}: Slack channel '${channel.name}' is mapped again (first on line ${before.line}): a Slack channel goes to one Teams channel.`,
      );
      continue;
    }
    mapped.set(channel.sourceId, e);
  }
  for (const team of mappedTeams(entries)) {
    const byName = new Map<string, string>();
    for (const c of team.channels) {
      const slack = channels.find((ch) => namesChannel(c.slackChannel, ch));
      if (!slack) continue;
      const name = slack.isGeneral ? 'general' : c.teamsName.toLowerCase();
      if (!slack.isGeneral && name === 'general') {
        error(
          'channel-map-general',
          `${source}: Slack channel '${slack.name}' goes to channel 'General' of team '${team.name}', the team's primary channel: only the workspace's general channel becomes General; give it another name.`,
        );
        continue;
      }
      const other = byName.get(name);
      if (other !== undefined && other !== slack.sourceId) {
        const first = channels.find((ch) => ch.sourceId === other)?.name ?? other;
        error(
          'channel-map-collision',
          `${source}: Slack channels '${first}' and '${slack.name}' both go to channel '${slack.isGeneral ? 'General' : c.teamsName}' of team '${team.name}': give each its own Teams channel${slack.isGeneral || name === 'general' ? " (the workspace's general channel becomes the team's General)" : ''}.`,
        );
      } else byName.set(name, slack.sourceId);
    }
    const count = byName.size + (byName.has('general') ? 0 : 1);
    if (count > MAX_CHANNELS_PER_TEAM)
      error(
        'channel-map-team-too-large',
        `${source}: team '${team.name}' would have ${count} channels (General included); Teams allows ${MAX_CHANNELS_PER_TEAM}: move some of its channels to another team.`,
      );
    if (options.takenTeamNames?.some((n) => n.toLowerCase() === team.name.toLowerCase()))
      error(
        'channel-map-team-taken',
        `${source}: a team named '${team.name}' already exists in the tenant: choose another name for it.`,
      );
  }
  const left = channels.filter((c) => !mapped.has(c.sourceId));
  if (left.length > 0)
    problems.push({
      severity: 'warning',
      code: 'channel-map-left-out',
      message: `${source} leaves out ${left.length} channel(s) of the export, which will not be imported: ${left.map((c) => `#${c.name}`).join(', ')}.`,
      where: source,
    });
  return problems;
}
