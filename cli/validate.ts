import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { DmTarget, PlanManifest, PlannedFileCounts } from '../core/model';
import { ExportReadError } from '../core/sources/archive';
import { checkChannelMap, mappedTeams, namesChannel, parseChannelMap } from '../core/transform/channelMap';
import { planExport } from '../core/transform/plan';
import type { CommandRegistrar } from './command';
import { printable, printableJson } from './printable';

/** Options of {@link validateExport}, as the command line gives them. */
export interface ValidateOptions {
  /** Path of a user-map CSV (`slackId|slackEmail,entraIdOrUpn`). */
  userMap?: string;
  /** Path of a channel map CSV (`slack_channel,team,channel`), checked against the export. */
  channelMap?: string;
  channels?: string[];
  /** `YYYY-MM-DD` (start of that day, UTC) or an ISO instant. */
  since?: string;
  /** `YYYY-MM-DD` (end of that day, UTC) or an ISO instant. */
  until?: string;
  includeSystemEvents?: boolean;
  /** Path of a user-group CSV (`S...,handle`). */
  userGroups?: string;
  /** Reactions planned as native (default) or as text, as `run --reactions` would. */
  reactions?: 'native' | 'text';
  /** What `run --dms` will do with DMs and group DMs (default `skip`: they are listed as not imported). */
  dms?: DmTarget;
  /** The instant nothing may be planned after; defaults to the current time. */
  now?: Date;
  /** Files larger than this many MiB become a notice (`--max-file-mb`, default 250). */
  maxFileMb?: number;
  /** A Slack bot token will be set for the run (`SLACK_TOKEN`): file URLs without the export's token can be downloaded. */
  slackBotToken?: boolean;
  /** Plan Slack private channels as `run --private-channels` would. */
  privateChannels?: boolean;
}

/** One channel in the validation report. */
export interface ValidateChannel {
  source: string;
  teamsName: string;
  general: boolean;
  posts: number;
  replies: number;
  skipped: Record<string, number>;
  files: number;
  inlineImages: number;
  /** The channel's files: inline images, SharePoint uploads, and those that fall back to a notice, by reason. */
  fileOutcomes: PlannedFileCounts;
  split: number;
  collisions: number;
  /**
   * Mentions and reactions the plan sends natively when the tenant has the user (a user matched by the map
   * or by e-mail), and those that fall back to text, by reason.
   */
  mentions: { native: number; text: Record<string, number> };
  reactions: { native: number; text: Record<string, number> };
}

/** The validation report: what would be imported, users, problems. `--json` prints exactly this. */
export interface ValidateReport {
  source: string;
  importable: boolean;
  team: string;
  channels: ValidateChannel[];
  notImported: Array<{ source: string; kind: string; messages: number; reason: string }>;
  /**
   * What each `--dms` choice would move: conversations and planned messages. `chats`: those whose members
   * all have a user-map line or an e-mail (the tenant must have them), the rest going to OneDrive instead.
   */
  dms: {
    chats: {
      conversations: number;
      messages: number;
      toOneDrive: { conversations: number; messages: number };
    };
    onedrive: { conversations: number; messages: number };
    skip: { conversations: number; messages: number };
  };
  users: { total: number; matched: number; unmatched: number; unmatchedNames: string[] };
  problems: Array<{ severity: 'error' | 'warning' | 'info'; code: string; message: string; where?: string }>;
  totals: PlanManifest['totals'];
  /**
   * With a channel map: the teams it makes, each with its Slack channels and their Teams names; a team the map
   * names by id (`existingTeamId`) is an existing team the channels are imported into.
   */
  teams?: Array<{
    key: string;
    name: string;
    existingTeamId?: string;
    channels: Array<{ source: string; teamsName: string }>;
  }>;
  /**
   * Slack private channels: those `--private-channels` moves (planned when it is given; else as Slack counts
   * their messages), each with its members who map to no Entra user, and those it cannot move, with the reason.
   */
  privateChannels: {
    option: boolean;
    channels: Array<{ source: string; teamsName?: string; messages: number; unmappedMembers: string[] }>;
    messages: number;
    noMappedMember: Array<{ source: string; messages: number; reason: string }>;
  };
}

/** An option value that cannot be used; the message names the option. */
export class OptionError extends Error {}

/** Parses `--max-file-mb`: a number of MiB greater than 0. */
export function maxFileMbOption(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new OptionError(`--max-file-mb '${value}' must be a number greater than 0.`);
  return n;
}

/** Parses a `--since`/`--until` value: a date (whole day, UTC) or an ISO instant, to epoch ms. */
export function parseDateOption(value: string, option: string, endOfDay: boolean): number {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const ms = Date.parse(dateOnly ? `${value}T00:00:00Z` : value);
  if (!Number.isFinite(ms))
    throw new OptionError(`${option} '${value}' is not a date: use YYYY-MM-DD or an ISO 8601 time.`);
  return dateOnly && endOfDay ? ms + 86_400_000 : ms;
}

/**
 * Reads and plans an export without writing anything and reports what would be imported. Throws
 * {@link ExportReadError} when the export cannot be read at all, {@link OptionError} for bad options.
 */
export async function validateExport(path: string, options: ValidateOptions = {}): Promise<ValidateReport> {
  let userMap: { text: string; source: string } | undefined;
  if (options.userMap) {
    const text = await readFile(options.userMap, 'utf8').catch(() => {
      throw new OptionError(`--user-map '${options.userMap}' cannot be read: check the path.`);
    });
    userMap = { text, source: options.userMap };
  }
  let channelMapText: string | undefined;
  if (options.channelMap) {
    if (options.channels?.length)
      throw new OptionError('--channel-map names the channels of each team: leave out --channels with it.');
    channelMapText = await readFile(options.channelMap, 'utf8').catch(() => {
      throw new OptionError(`--channel-map '${options.channelMap}' cannot be read: check the path.`);
    });
  }
  let userGroups: { text: string; source: string } | undefined;
  if (options.userGroups) {
    const text = await readFile(options.userGroups, 'utf8').catch(() => {
      throw new OptionError(`--user-groups '${options.userGroups}' cannot be read: check the path.`);
    });
    userGroups = { text, source: options.userGroups };
  }
  const manifest = await planExport(path, {
    now: options.now ?? new Date(),
    ...(options.channels?.length ? { channels: options.channels } : {}),
    ...(options.since ? { since: parseDateOption(options.since, '--since', false) } : {}),
    ...(options.until ? { until: parseDateOption(options.until, '--until', true) } : {}),
    ...(options.includeSystemEvents ? { includeSystemEvents: true } : {}),
    ...(userMap ? { userMap } : {}),
    ...(options.maxFileMb !== undefined ? { maxFileBytes: Math.floor(options.maxFileMb * 1024 * 1024) } : {}),
    ...(options.slackBotToken ? { slackBotToken: true } : {}),
    ...(userGroups ? { userGroups } : {}),
    ...(options.reactions ? { reactions: options.reactions } : {}),
    dms: 'chats',
    ...(options.privateChannels ? { privateChannels: true } : {}),
  });
  const report = toReport(manifest, options.dms ?? 'skip', options.privateChannels === true);
  if (channelMapText === undefined) return report;
  return withChannelMap(report, manifest, channelMapText, options.channelMap!);
}

/** The report with a channel map checked against the export's channels: its teams, and its problems. */
function withChannelMap(
  report: ValidateReport,
  manifest: PlanManifest,
  text: string,
  source: string,
): ValidateReport {
  const parsed = parseChannelMap(text, source);
  const channels = manifest.channels.map((c) => ({
    sourceId: c.sourceId,
    name: c.sourceName,
    isGeneral: c.isGeneral,
  }));
  const problems = [...parsed.problems, ...checkChannelMap(parsed.entries, channels, { source })];
  const teams = mappedTeams(parsed.entries).map((t) => ({
    key: t.key,
    name: t.name,
    ...(t.existingTeamId ? { existingTeamId: t.existingTeamId } : {}),
    channels: t.channels.map((c) => {
      const slack = channels.find((ch) => namesChannel(c.slackChannel, ch));
      return { source: slack?.name ?? c.slackChannel, teamsName: slack?.isGeneral ? 'General' : c.teamsName };
    }),
  }));
  return {
    ...report,
    importable: report.importable && !problems.some((p) => p.severity === 'error'),
    teams,
    problems: [
      ...report.problems,
      ...problems.map((p) => ({
        severity: p.severity,
        code: p.code,
        message: p.message,
        ...(p.where ? { where: p.where } : {}),
      })),
    ],
  };
}

/** Conversations and planned messages of `--dms chats` and `--dms onedrive`, from a plan made with DMs in it. */
export function dmChoices(manifest: PlanManifest): ValidateReport['dms'] {
  const resolvable = new Set(
    manifest.users.filter((u) => u.resolution !== 'fallback').map((u) => u.sourceId),
  );
  const chats = manifest.chats ?? [];
  const asChat = chats.filter((c) => {
    const members = [...new Set(c.members)];
    return members.length >= 2 && members.every((m) => resolvable.has(m));
  });
  const sum = (list: typeof chats) => ({
    conversations: list.length,
    messages: list.reduce((n, c) => n + c.messages, 0),
  });
  return {
    chats: { ...sum(asChat), toOneDrive: sum(chats.filter((c) => !asChat.includes(c))) },
    onedrive: sum(chats),
    skip: { conversations: 0, messages: 0 },
  };
}

/** The report's private channels: what `--private-channels` moves and what it cannot (see ValidateReport). */
function privateChannels(manifest: PlanManifest, option: boolean): ValidateReport['privateChannels'] {
  const planned = manifest.channels.filter((c) => c.membershipType === 'private');
  const users = new Map(manifest.users.map((u) => [u.sourceId, u]));
  const unmapped = (members: string[]): string[] =>
    members
      .filter((id) => (users.get(id)?.resolution ?? 'fallback') === 'fallback')
      .map((id) => users.get(id)?.displayName ?? id);
  const channels = [
    ...planned.map((c) => ({
      source: c.sourceName,
      teamsName: c.teamsName,
      messages: c.messages,
      unmappedMembers: unmapped(c.members),
    })),
    ...manifest.notImported
      .filter((n) => n.code === 'private-channels-off')
      .map((n) => ({ source: n.name, messages: n.messages, unmappedMembers: [] })),
  ];
  return {
    option,
    channels,
    messages: channels.reduce((n, c) => n + c.messages, 0),
    noMappedMember: manifest.notImported
      .filter((n) => n.code === 'no-mapped-member')
      .map((n) => ({ source: n.name, messages: n.messages, reason: n.reason })),
  };
}

/** Turns a plan manifest into the validation report. */
export function toReport(
  manifest: PlanManifest,
  dms: DmTarget = 'chats',
  privateOption = false,
): ValidateReport {
  const skipDms = dms === 'skip' && (manifest.chats?.length ?? 0) > 0;
  const skippedChats = skipDms
    ? (manifest.chats ?? []).map((c) => ({
        source: c.sourceName,
        kind: c.kind,
        messages: c.sourceMessages,
        reason: `${c.kind === 'dm' ? 'direct message' : 'group direct message'}: not imported by default (run --dms chats or --dms onedrive to move it)`,
      }))
    : [];
  const unmatched = manifest.users.filter((u) => u.resolution === 'fallback');
  return {
    source: manifest.source.name,
    importable: manifest.importable,
    team: manifest.team.displayName,
    channels: manifest.channels.map((c) => ({
      source: c.sourceName,
      teamsName: c.teamsName,
      general: c.isGeneral,
      posts: c.posts,
      replies: c.replies,
      skipped: Object.fromEntries(Object.entries(c.skipped).filter(([, n]) => (n ?? 0) > 0)) as Record<
        string,
        number
      >,
      files: c.files,
      inlineImages: c.inlineImages,
      fileOutcomes: c.fileCounts ?? { inline: 0, sharepoint: 0, fallback: {} },
      split: c.split,
      collisions: c.timestampBumps,
      mentions: nativeAndText(c.fidelity?.mentions),
      reactions: nativeAndText(c.fidelity?.reactions),
    })),
    notImported: [
      ...manifest.notImported.map((n) => ({
        source: n.name,
        kind: n.kind,
        messages: n.messages,
        reason: n.reason,
      })),
      ...skippedChats,
    ],
    dms: dmChoices(manifest),
    users: {
      total: manifest.users.length,
      matched: manifest.users.length - unmatched.length,
      unmatched: unmatched.length,
      unmatchedNames: unmatched.map((u) => u.displayName),
    },
    problems: manifest.problems
      .filter((p) => !(skipDms && p.code === 'dm-member-unknown'))
      .map((p) => ({
        severity: p.severity,
        code: p.code,
        message: p.message,
        ...(p.where ? { where: p.where } : {}),
      })),
    totals: manifest.totals,
    privateChannels: privateChannels(manifest, privateOption),
  };
}

function nativeAndText(counts: { native: number; text: Partial<Record<string, number>> } | undefined): {
  native: number;
  text: Record<string, number>;
} {
  const text = Object.entries(counts?.text ?? {}).filter((e): e is [string, number] => (e[1] ?? 0) > 0);
  return { native: counts?.native ?? 0, text: Object.fromEntries(text) };
}

/** "3 native, 2 as text (bot 1, no-email 1)", or '' when there are none. */
function fidelityLine(what: string, counts: ValidateChannel['mentions']): string {
  const reasons = Object.entries(counts.text);
  const text = reasons.reduce((n, [, k]) => n + k, 0);
  if (counts.native === 0 && text === 0) return '';
  const why = reasons.map(([reason, n]) => `${reason} ${n}`).join(', ');
  return `${what} ${counts.native} native, ${text} as text${why ? ` (${why})` : ''}`;
}

/**
 * Renders the report for people: one line per channel, users, then problems by severity. Names come from
 * the export, so control and format characters are shown escaped (see {@link printable}).
 */
export function formatReport(r: ValidateReport): string {
  const out: string[] = r.teams
    ? [`Export ${r.source} -> ${r.teams.length} teams by the channel map`, '']
    : [`Export ${r.source} -> team "${r.team}"`, ''];
  for (const team of r.teams ?? [])
    out.push(
      `${team.existingTeamId ? `Existing team ${team.existingTeamId} (its channels are checked when the migration starts)` : `Team "${team.name}"`}: ${team.channels.map((c) => `#${c.source} -> ${c.teamsName}`).join(', ')}`,
    );
  if (r.teams) out.push('');
  out.push('Channels to import:');
  for (const c of r.channels) {
    const skipped = Object.entries(c.skipped)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    out.push(
      `  #${c.source} -> ${c.teamsName}${c.general ? ' (General)' : ''}: ${c.posts} posts, ${c.replies} replies, ` +
        `skipped ${skipped || 'none'}, ${c.files} files, ${c.inlineImages} inline images, ${c.split} split, ${c.collisions} collisions resolved`,
    );
    const line = fileOutcomesLine(c.fileOutcomes);
    if (line) out.push(`    files: ${line}`);
    const fidelity = [fidelityLine('mentions', c.mentions), fidelityLine('reactions', c.reactions)]
      .filter(Boolean)
      .join('; ');
    if (fidelity) out.push(`    ${fidelity}`);
  }
  const d = r.dms;
  if (d.onedrive.conversations > 0)
    out.push(
      '',
      `DMs and group DMs: --dms chats moves ${d.chats.conversations} conversation(s), ${d.chats.messages} message(s) into Teams chats` +
        (d.chats.toOneDrive.conversations
          ? ` and ${d.chats.toOneDrive.conversations} (${d.chats.toOneDrive.messages} messages) with a member who has no Entra user to OneDrive`
          : '') +
        `; --dms onedrive ${d.onedrive.conversations} conversation(s), ${d.onedrive.messages} message(s) as HTML files in the members' OneDrive; --dms skip (the default) none.`,
    );
  if (r.notImported.length) {
    out.push('', 'Not imported:');
    for (const n of r.notImported) out.push(`  ${n.source} (${n.kind}, ${n.messages} messages): ${n.reason}`);
  }
  const p = r.privateChannels;
  if (p.channels.length + p.noMappedMember.length > 0) {
    out.push(
      '',
      `Private channels: ${p.channels.length} (${p.messages} messages) ${p.option ? 'are' : 'would be'} imported as Teams private channels${p.option ? '' : ' with --private-channels'}` +
        (p.noMappedMember.length
          ? `; ${p.noMappedMember.length} cannot be (no member mapped to an Entra user)`
          : '') +
        ':',
    );
    for (const c of p.channels)
      out.push(
        `  ${c.source}: ${c.messages} messages` +
          (c.unmappedMembers.length ? `; members not mapped, left out: ${c.unmappedMembers.join(', ')}` : ''),
      );
    for (const c of p.noMappedMember)
      out.push(`  ${c.source}: ${c.messages} messages, not imported: no member mapped`);
  }
  out.push(
    '',
    `Users: ${r.users.matched} matched (user map or e-mail), ${r.users.unmatched} to the fallback user` +
      (r.users.unmatchedNames.length
        ? ` (${r.users.unmatchedNames.slice(0, 10).join(', ')}${r.users.unmatchedNames.length > 10 ? ', ...' : ''})`
        : ''),
  );
  out.push(`Totals: ${r.totals.posts} posts, ${r.totals.replies} replies, ${r.totals.skipped} skipped`);
  const order = { error: 0, warning: 1, info: 2 } as const;
  const problems = [...r.problems].sort((a, b) => order[a.severity] - order[b.severity]);
  if (problems.length) {
    out.push('', 'Problems:');
    for (const p of problems) out.push(`  ${p.severity.toUpperCase()} [${p.code}] ${p.message}`);
  }
  out.push(
    '',
    r.importable
      ? 'The export can be imported.'
      : 'The export cannot be imported as it stands: fix the errors above.',
  );
  return out.map(printable).join('\n') + '\n';
}

const FALLBACK_WORDS: Record<keyof PlannedFileCounts['fallback'], string> = {
  deleted: 'deleted in Slack',
  'hidden-by-limit': "hidden by Slack's free-plan limit",
  external: 'external (linked)',
  canvas: 'canvases or posts (title and link)',
  'earlier-upload': 'comments on earlier uploads (linked)',
  'too-large': 'over the size limit',
  empty: 'empty (0 bytes)',
  missing: 'not in the export',
  'no-token': 'no file token in the export and no SLACK_TOKEN',
};

/** One channel's files for people: `2 inline, 5 to SharePoint; 3 fall back: 1 deleted in Slack, 2 external (linked)`. */
export function fileOutcomesLine(o: PlannedFileCounts): string {
  const fallback = Object.entries(o.fallback).filter(([, n]) => (n ?? 0) > 0) as [
    keyof typeof FALLBACK_WORDS,
    number,
  ][];
  const total = fallback.reduce((sum, [, n]) => sum + n, 0);
  if (o.inline + o.sharepoint + total === 0) return '';
  const native = `${o.inline} inline image(s) (if their bytes are images up to 4 MiB), ${o.sharepoint} to SharePoint`;
  return total === 0
    ? native
    : `${native}; ${total} fall back: ${fallback.map(([reason, n]) => `${n} ${FALLBACK_WORDS[reason]}`).join(', ')}`;
}

function dmsOption(value: string): DmTarget {
  if (value !== 'chats' && value !== 'onedrive' && value !== 'skip')
    throw new OptionError(`--dms must be 'chats', 'onedrive' or 'skip', not '${value}'.`);
  return value;
}

function reactionOption(value: string): 'native' | 'text' {
  if (value !== 'native' && value !== 'text')
    throw new OptionError(`--reactions must be 'native' or 'text', not '${value}'.`);
  return value;
}

/** Registers `validate <export> [--json] [--user-map FILE] [--channels a,b] [--since D] [--until D]`. */
export const registerValidate: CommandRegistrar = (program: Command, setExitCode) => {
  program
    .command('validate')
    .description('Read a Slack export (ZIP or folder) and report what would be imported, without importing.')
    .argument('<export>', 'the Slack export ZIP or its extracted folder')
    .option('--json', 'print the report as one JSON document')
    .option('--user-map <file>', 'CSV of slackId|slackEmail,entraIdOrUpn')
    .option('--channel-map <file>', 'CSV of slack_channel,team,channel: check it against the export')
    .option('--channels <names>', 'comma-separated channel names or ids to import')
    .option('--since <date>', 'only messages from this date (YYYY-MM-DD, UTC) or ISO time')
    .option('--until <date>', 'only messages up to this date (inclusive, UTC) or before this ISO time')
    .option('--include-system-events', 'show joins, topic changes and pins as small notices')
    .option('--max-file-mb <n>', 'files larger than this many MiB become a notice (default 250)')
    .option('--user-groups <file>', 'CSV naming Slack user groups for @mentions: S...id,handle')
    .option('--reactions <mode>', "'native' (default) or 'text', as for run")
    .option('--dms <where>', "'chats', 'onedrive' or 'skip' (default), as for run")
    .option('--private-channels', 'plan Slack private channels as run --private-channels would')
    .action(async (path: string, opts: Record<string, string | boolean | undefined>) => {
      try {
        const report = await validateExport(path, {
          ...(typeof opts.userMap === 'string' ? { userMap: opts.userMap } : {}),
          ...(typeof opts.channelMap === 'string' ? { channelMap: opts.channelMap } : {}),
          ...(typeof opts.channels === 'string'
            ? {
                channels: opts.channels
                  .split(',')
                  .map((s) => s.trim())
                  .filter(Boolean),
              }
            : {}),
          ...(typeof opts.since === 'string' ? { since: opts.since } : {}),
          ...(typeof opts.until === 'string' ? { until: opts.until } : {}),
          ...(opts.includeSystemEvents ? { includeSystemEvents: true } : {}),
          ...(typeof opts.maxFileMb === 'string' ? { maxFileMb: maxFileMbOption(opts.maxFileMb) } : {}),
          ...(process.env.SLACK_TOKEN ? { slackBotToken: true } : {}),
          ...(typeof opts.userGroups === 'string' ? { userGroups: opts.userGroups } : {}),
          ...(typeof opts.reactions === 'string' ? { reactions: reactionOption(opts.reactions) } : {}),
          ...(typeof opts.dms === 'string' ? { dms: dmsOption(opts.dms) } : {}),
          ...(opts.privateChannels ? { privateChannels: true } : {}),
        });
        process.stdout.write(
          opts.json ? printableJson(JSON.stringify(report, null, 2)) + '\n' : formatReport(report),
        );
        setExitCode(report.importable ? 0 : 1);
      } catch (err) {
        if (!(err instanceof ExportReadError || err instanceof OptionError)) throw err;
        process.stderr.write(`teams-import validate: ${printable(err.message)}\n`);
        setExitCode(2);
      }
    });
};
