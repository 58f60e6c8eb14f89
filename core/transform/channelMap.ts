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

/**
 * How the team column names an existing team: its id, a GUID (`8-4-4-4-12` hexadecimal digits, the id of the
 * team's Microsoft 365 group, as Teams' "Get link to team" and `GET /teams` show it). Anything else is the name
 * of a new team.
 */
export const TEAM_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One team of a channel map: its key in the migration (`t1`, `t2`, ... in order of first mention). */
export interface MappedTeam {
  key: string;
  /** The new team's name, or the existing team's id as the map gives it. */
  name: string;
  /** Set when the map names an existing team by its id ({@link TEAM_ID}): the channels are imported into it. */
  existingTeamId?: string;
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
      team = {
        key: `t${teams.size + 1}`,
        name: e.team,
        ...(TEAM_ID.test(e.team) ? { existingTeamId: e.team.toLowerCase() } : {}),
        channels: [],
      };
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

/** An existing team a map names by id, as the tenant shows it. */
export interface ExistingTeam {
  displayName: string;
  /** `inProgress` for a team in migration mode: the map imports only into completed, ordinary teams. */
  migrationMode?: string | null;
  /** Names of its channels the migration did not create itself (General included). */
  channels: string[];
}

/** What the tenant says about a map's teams, when the check can ask it (see `lookUpMapTeams`). */
export interface MapTenant {
  /** Names of the map's new teams that a team of the tenant already has (other than the run's own). */
  takenTeamNames: string[];
  /** Each existing team the map names, by its id (lower case): null when the tenant has no such team. */
  existingTeams: Record<string, ExistingTeam | null>;
}

/**
 * Checks a channel map against the export's channels: unknown Slack channels, a Slack channel mapped twice,
 * two Slack channels onto one Teams channel of a team (names compare case-insensitively, as Teams does), more
 * than 200 channels in a team (General counted, and an existing team's own channels), and the export's
 * channels the map leaves out (reported; they are not imported). With `tenant` (the tenant's answers, when the
 * caller could ask): a new team whose name the tenant has, an existing team that is missing or in migration
 * mode, and a channel whose name the existing team has already.
 */
export function checkChannelMap(
  entries: ChannelMapEntry[],
  channels: ExportChannel[],
  options: { source?: string; tenant?: MapTenant } = {},
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
    const existing = team.existingTeamId ? options.tenant?.existingTeams[team.existingTeamId] : undefined;
    const label = existing ? `team '${existing.displayName}' (${team.name})` : `team '${team.name}'`;
    if (team.existingTeamId && existing === null) {
      error(
        'channel-map-team-missing',
        `${source}: there is no team with id '${team.name}' in the tenant (or the app cannot see it): check the id, or give a name in the team column to create a new team; nothing was created.`,
      );
      continue;
    }
    if (existing?.migrationMode === 'inProgress')
      error(
        'channel-map-team-migrating',
        `${source}: ${label} is in migration mode: a map imports into a completed, ordinary team; complete its migration first, or name a new team.`,
      );
    const theirs = new Set((existing?.channels ?? []).map((n) => n.toLowerCase()));
    const clashes = team.channels.filter((c) => {
      const slack = channels.find((ch) => namesChannel(c.slackChannel, ch));
      return slack && !slack.isGeneral && theirs.has(c.teamsName.toLowerCase());
    });
    if (clashes.length > 0)
      error(
        'channel-map-channel-taken',
        `${source}: ${label} already has ${clashes.length === 1 ? 'a channel' : 'channels'} named ${clashes.map((c) => `'${c.teamsName}'`).join(', ')}: the import creates its own channels and never posts into one it did not create. Give ${clashes.length === 1 ? 'that Slack channel' : 'those Slack channels'} (${clashes.map((c) => c.slackChannel).join(', ')}) another name in the map's channel column, or rename the team's ${clashes.length === 1 ? 'channel' : 'channels'} in Teams; nothing was created.`,
      );
    const own = existing ? existing.channels.length : 1;
    const count = own + [...byName.keys()].filter((n) => n !== 'general' && !theirs.has(n)).length;
    if (count > MAX_CHANNELS_PER_TEAM)
      error(
        'channel-map-team-too-large',
        `${source}: ${label} would have ${count} channels (General included${existing ? `, and the ${existing.channels.length} it has` : ''}); Teams allows ${MAX_CHANNELS_PER_TEAM}: move some of its channels to another team.`,
      );
    if (
      !team.existingTeamId &&
      options.tenant?.takenTeamNames.some((n) => n.toLowerCase() === team.name.toLowerCase())
    )
      error(
        'channel-map-team-taken',
        `${source}: a team named '${team.name}' already exists in the tenant: rename the team in the map, or put that team's id in the team column to import these channels into it; nothing was created.`,
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
