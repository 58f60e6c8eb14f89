import type {
  NotImportedConversation,
  PlanManifest,
  PlannedChannel,
  PlannedFileCounts,
  Problem,
  SkipReason,
} from '../model';
import { renderReportHtml } from '../operations/reportHtml';
import { decodeSeries, sumSeries } from '../operations/throughput';
import type { PassRecord, UserMatch } from '../state/ledgerRecords';
import type {
  MigrateChatResult,
  MigrationPhase,
  PassKind,
  WriteReportInput,
  WriteReportResult,
} from './contracts';
import type { PipelineDeps } from './deps';
import { COMPLETED_BEFORE_POSTED } from './reconcile';
import { readManifest, runPaths } from './runStore';
import { FALLBACK_USER_KEY } from './users';

export { renderReportHtml };

/** Failed and missing messages listed per channel in the report; the counts stay exact beyond it. */
const MAX_FAILURES_LISTED = 100;
/** Failures (and reasons for missing messages) quoted in a channel's one-line explanation. */
const FAILURES_QUOTED = 2;

/** One channel's line of the report. */
export interface ChannelReport {
  source: string;
  teamsName: string;
  /** `private`: a Teams private channel (from a Slack private channel); absent: a standard channel. */
  membershipType?: 'private';
  /** A private channel's Slack members who map to no Entra user: they are not members of it in Teams. */
  unmappedMembers?: string[];
  /** A private channel that was not created in Teams, and why. */
  notCreated?: string;
  /** A private channel of a pre-staged migration: it is created at the cutover, once the team is completed. */
  awaitsCutover?: boolean;
  state: string;
  /** Messages of the Slack channel, imported or not. */
  sourceMessages: number;
  /** Planned messages (posts + replies, split parts included). */
  planned: number;
  posts: number;
  replies: number;
  posted: number;
  failed: number;
  /** Planned messages the channel can no longer take: it was completed before they were posted. */
  missing: number;
  /** Planned messages not posted, failed or missing: the channel's import has not got to them. */
  notTried: number;
  skipped: Partial<Record<SkipReason, number>>;
  split: number;
  timestampBumps: number;
  throttled: number;
  /** Posted messages whose native reactions the service refused: their reactions are the text line. */
  reactionsAsText: number;
  /** Seconds from the channel's first post to its last, once it is fully posted. */
  elapsedSeconds?: number;
  failures: { key: string; error: string }[];
  /** Missing messages with the reason each can no longer be posted. */
  missingMessages: { key: string; reason: string }[];
  /** Why the channel's import itself failed (its orchestration's error), when it did. */
  error?: string;
  /** What of the channel is not in Teams and why, one sentence a line; empty when every planned message is. */
  why: string[];
  /** The channel's files by planned outcome (absent in plans made before files were counted). */
  files?: PlannedFileCounts;
  /** Mentions and reactions made native, and those written as text by reason (absent in older plans). */
  mentions?: NativeOrText;
  reactions?: NativeOrText;
  /** Imported messages the latest snapshot shows edited, or no longer has, in Slack: the import cannot replay either. */
  editedInSlack: number;
  deletedInSlack: number;
  /** Those messages, with links to them in Teams and (when the workspace's address is known) in Slack. */
  changedInSlack: ChangedInSlack[];
}

/** An imported message that changed in Slack after its import. */
export interface ChangedInSlack {
  key: string;
  change: 'edited' | 'deleted';
  teamsLink?: string;
  slackLink?: string;
}

/** One pass of the migration, as the report lists it. */
export interface PassReport {
  pass: number;
  kind: PassKind;
  source: string;
  startedAt: string;
  finishedAt?: string;
  outcome: string;
  newMessages: number;
  posted: number;
  failed: number;
  editedInSlack: number;
  deletedInSlack: number;
  error?: string;
}

/** Mentions or reactions: how many are native in Teams, and how many are text, by reason. */
export interface NativeOrText {
  native: number;
  text: Partial<Record<string, number>>;
}

/** What a Slack account is: a person, a bot (an app or integration) or a deleted user. */
export type AccountKind = 'person' | 'bot' | 'deleted';

/** One Slack account of the export and how it was matched to the tenant. */
export interface ReportUser {
  sourceId: string;
  name: string;
  kind: AccountKind;
  /** `map`, `email` or `upn` when matched; `unmatched` when their messages post as the fallback account. */
  matchedBy: UserMatch;
  /** The Entra user's display name their messages post as (the fallback account's for the unmatched). */
  postsAs?: string;
}

/** The migration report handed to the customer (report.json; report.html renders the same data). */
export interface MigrationReport {
  runId: string;
  phase: MigrationPhase;
  generatedAt: string;
  team: { displayName: string; teamId?: string };
  /** From the run's first record to this report. */
  elapsedSeconds?: number;
  totals: {
    planned: number;
    posted: number;
    failed: number;
    missing: number;
    skipped: number;
    throttled: number;
  };
  /** What moved and what did not (and why), in sentences: the report's first section. */
  summary: { moved: string[]; notMoved: string[] };
  channels: ChannelReport[];
  users: {
    matched: number;
    unmatched: number;
    fallback?: string;
    unmatchedUsers: string[];
    /** Accounts by how they were matched (`map`, `email`, `upn`, `unmatched`). */
    byMatch: Partial<Record<UserMatch, number>>;
    /** Every account of the export, people first, with how it was matched. */
    people: ReportUser[];
  };
  /** Files, mentions and reactions over all channels: native in Teams, and the fallbacks by reason. */
  content: {
    files: { inline: number; sharepoint: number; fallback: Partial<Record<string, number>> };
    mentions: NativeOrText;
    reactions: NativeOrText & { refusedAsText: number };
  };
  /** Messages posted per minute over all channels (UTC minutes), as measured while the run posted. */
  throughput: {
    series: { minute: string; messages: number }[];
    averagePerSecond?: number;
    peakPerSecond?: number;
  };
  notImported: NotImportedConversation[];
  /**
   * DMs and group DMs of `--dms chats`, each with where it went (`chat`, or `onedrive` with the reason: a member
   * with no Entra user, the service refusing the chat import) and its counts; absent without `--dms`.
   */
  chats?: MigrateChatResult[];
  problems: Problem[];
  /** The migration's passes, oldest first: its first import, deltas, the cutover. */
  passes: PassReport[];
}

/** The ledger's pass records as reports and the status route show them. */
export function passReports(passes: PassRecord[]): PassReport[] {
  return passes.map((p) => ({
    pass: p.pass,
    kind: p.kind,
    source: p.source,
    startedAt: p.startedAt,
    ...(p.finishedAt ? { finishedAt: p.finishedAt } : {}),
    outcome: p.outcome,
    newMessages: p.newMessages,
    posted: p.posted,
    failed: p.failed,
    editedInSlack: p.editedInSlack,
    deletedInSlack: p.deletedInSlack,
    ...(p.error ? { error: p.error } : {}),
  }));
}

/**
 * Records the channels whose import failed (their error), then builds the report from the staged plan and
 * the ledger and writes it as JSON and HTML next to the plan.
 */
export async function writeReport(deps: PipelineDeps, input: WriteReportInput): Promise<WriteReportResult> {
  for (const { key, error } of input.channelErrors ?? []) {
    await deps.ledger.ensureChannelRow(input.migrationId, key);
    await deps.ledger.updateChannel(input.migrationId, key, { error });
  }
  const report = await buildReport(deps, input.migrationId, input.phase);
  if (input.chats) {
    report.chats = input.chats;
    report.summary.moved.push(...chatSentences(input.chats).moved);
    report.summary.notMoved.push(...chatSentences(input.chats).notMoved);
  }
  const jsonName = runPaths.reportJson(input.migrationId);
  const htmlName = runPaths.reportHtml(input.migrationId);
  await deps.store.put(jsonName, JSON.stringify(report, null, 2), 'application/json');
  await deps.store.put(htmlName, renderReportHtml(report), 'text/html; charset=utf-8');
  return {
    jsonName,
    htmlName,
    planned: report.totals.planned,
    posted: report.totals.posted,
    failed: report.totals.failed,
    missing: report.totals.missing,
  };
}

/**
 * What of a channel is not in Teams and why, in sentences: failed messages with their reasons, messages the
 * channel was completed without, the error that stopped its import, and (once the run has ended) messages not
 * tried yet. Once the run has ended it is empty only when every planned message is posted.
 */
export function explainChannel(
  c: Pick<
    ChannelReport,
    'state' | 'planned' | 'posted' | 'failed' | 'missing' | 'failures' | 'missingMessages' | 'error'
  > &
    Pick<ChannelReport, 'notCreated' | 'awaitsCutover'>,
  ended = true,
): string[] {
  const why: string[] = [];
  const n = (count: number, what: string): string => `${count} ${what}${count === 1 ? '' : 's'}`;
  if (c.awaitsCutover && c.posted === 0)
    return [
      `The private channel and its ${n(c.planned, 'message')} wait for the cutover: a private channel is created once the team is completed.`,
    ];
  if (c.notCreated && c.posted === 0)
    return [
      `The private channel was not created, so its ${n(c.planned, 'message')} were not imported: ${c.notCreated}`,
    ];
  if (c.failed > 0) {
    const quoted = c.failures
      .slice(0, FAILURES_QUOTED)
      .map((f) => (f.key ? `${f.key}: ${f.error}` : f.error));
    why.push(
      `${n(c.failed, 'message')} failed${quoted.length ? ` (${quoted.join('; ')}${c.failed > quoted.length ? '; …' : ''})` : ''}; ${c.state === 'completed' ? 'the channel was completed without them, so they can no longer be imported' : 'the next run tries them again'}.`,
    );
  }
  if (c.missing > 0) {
    const reasons = [...new Set(c.missingMessages.map((m) => m.reason))];
    const quoted = reasons.slice(0, FAILURES_QUOTED).join('; ') || COMPLETED_BEFORE_POSTED;
    why.push(
      `${n(c.missing, 'message')} can no longer be imported: ${quoted}${reasons.length > FAILURES_QUOTED ? '; …' : ''}.`,
    );
  }
  if (c.error) why.push(`The channel's import failed: ${c.error}`);
  const notTried = c.planned - c.posted - c.failed - c.missing;
  if (notTried > 0 && ended)
    why.push(
      `${n(notTried, 'message')} not tried yet: ${c.error ? 'its import stopped at the error above' : "the channel's import has not got to them"}; run the migration again to go on.`,
    );
  return why;
}

/** Gathers the report's figures: plan counts from the manifest, outcomes from the ledger. */
export async function buildReport(
  deps: PipelineDeps,
  runId: string,
  phase: MigrationPhase,
): Promise<MigrationReport> {
  const manifest: PlanManifest = await readManifest(deps.store, runId);
  const migration = (await deps.ledger.getMigration(runId))?.value;
  const records = new Map((await deps.ledger.listChannels(runId)).map((c) => [c.channelKey, c]));
  const channels: ChannelReport[] = [];
  for (const planned of manifest.channels) {
    const record = records.get(planned.key);
    const rows = record ? await deps.ledger.getMessages(runId, planned.key) : [];
    const failures = rows
      .filter((r) => r.state === 'failed')
      .map((r) => ({ key: r.key, error: r.error ?? 'failed' }));
    const missing = rows
      .filter((r) => r.state === 'missing')
      .map((r) => ({ key: r.key, reason: r.error ?? COMPLETED_BEFORE_POSTED }));
    const posted = rows.filter((r) => r.state === 'posted').length;
    const changed = rows
      .filter((r) => r.changed)
      .map((r) => ({
        key: r.key,
        change: r.changed!,
        ...(r.teamsLink ? { teamsLink: r.teamsLink } : {}),
        ...(r.slackLink ? { slackLink: r.slackLink } : {}),
      }));
    const outcome = {
      state: record?.state ?? 'pending',
      planned: planned.messages,
      posted,
      failed: failures.length,
      missing: missing.length,
      failures: failures.slice(0, MAX_FAILURES_LISTED),
      missingMessages: missing.slice(0, MAX_FAILURES_LISTED),
      ...(record?.error ? { error: record.error } : {}),
      ...(record?.notCreated ? { notCreated: record.notCreated } : {}),
      ...(phase === 'prestaged' && planned.membershipType === 'private' ? { awaitsCutover: true } : {}),
    };
    const unmapped = record?.unmappedMembers ? (JSON.parse(record.unmappedMembers) as string[]) : [];
    channels.push({
      source: planned.sourceName,
      teamsName: planned.teamsName,
      ...(planned.membershipType ? { membershipType: planned.membershipType } : {}),
      ...(unmapped.length > 0 ? { unmappedMembers: unmapped } : {}),
      sourceMessages: planned.sourceMessages,
      posts: planned.posts,
      replies: planned.replies,
      ...outcome,
      notTried: Math.max(0, planned.messages - posted - failures.length - missing.length),
      skipped: planned.skipped,
      split: planned.split,
      timestampBumps: planned.timestampBumps,
      throttled: record?.throttled ?? 0,
      reactionsAsText: rows.filter((r) => r.reactionsRefused).length,
      ...(record?.startedAt && record.finishedAt
        ? { elapsedSeconds: (Date.parse(record.finishedAt) - Date.parse(record.startedAt)) / 1000 }
        : {}),
      why: explainChannel(outcome),
      editedInSlack: changed.filter((c) => c.change === 'edited').length,
      deletedInSlack: changed.filter((c) => c.change === 'deleted').length,
      changedInSlack: changed.slice(0, MAX_FAILURES_LISTED),
      ...channelContent(planned),
    });
  }
  const users = await deps.ledger.getUsers(runId);
  const unmatched = [...users.values()].filter((u) => u.matchedBy === 'unmatched');
  const now = deps.now();
  const sum = (f: (c: ChannelReport) => number): number => channels.reduce((n, c) => n + f(c), 0);
  const fallback = users.get(FALLBACK_USER_KEY)?.displayName;
  const people: ReportUser[] = manifest.users
    .map((u): ReportUser => {
      const row = users.get(u.sourceId);
      const matchedBy = row?.matchedBy ?? 'unmatched';
      const postsAs = matchedBy === 'unmatched' ? fallback : row?.displayName;
      return {
        sourceId: u.sourceId,
        name: u.displayName,
        kind: u.isBot ? 'bot' : u.isDeleted ? 'deleted' : 'person',
        matchedBy,
        ...(postsAs ? { postsAs } : {}),
      };
    })
    .sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.name.localeCompare(b.name));
  const byMatch: Partial<Record<UserMatch, number>> = {};
  for (const p of people) byMatch[p.matchedBy] = (byMatch[p.matchedBy] ?? 0) + 1;
  const series = sumSeries([...records.values()].map((r) => decodeSeries(r.throughput)));
  const totalPosted = series.reduce((n, b) => n + b.messages, 0);
  const report: MigrationReport = {
    runId,
    phase,
    generatedAt: new Date(now).toISOString(),
    team: { displayName: manifest.team.displayName, teamId: migration?.teamId },
    elapsedSeconds: migration ? Math.round((now - Date.parse(migration.createdAt)) / 1000) : undefined,
    totals: {
      planned: sum((c) => c.planned),
      posted: sum((c) => c.posted),
      failed: sum((c) => c.failed),
      missing: sum((c) => c.missing),
      skipped: manifest.totals.skipped,
      throttled: sum((c) => c.throttled),
    },
    summary: { moved: [], notMoved: [] },
    channels,
    users: {
      matched: [...users.values()].filter(
        (u) => u.sourceUserId !== FALLBACK_USER_KEY && u.matchedBy !== 'unmatched',
      ).length,
      unmatched: unmatched.length,
      fallback,
      unmatchedUsers: unmatched.map((u) => `${u.displayName ?? ''} (${u.sourceUserId})`.trim()).sort(),
      byMatch,
      people,
    },
    content: contentTotals(channels),
    throughput: {
      series: series.map((b) => ({ minute: new Date(b.minute).toISOString(), messages: b.messages })),
      ...(series.length > 0
        ? {
            averagePerSecond:
              totalPosted / ((series[series.length - 1].minute - series[0].minute) / 1000 + 60),
            peakPerSecond: Math.max(...series.map((b) => b.messages)) / 60,
          }
        : {}),
    },
    notImported: manifest.notImported,
    problems: manifest.problems,
    passes: passReports(await deps.ledger.listPasses(runId)),
  };
  report.summary = summarize(report);
  return report;
}

const KIND_ORDER: Record<AccountKind, number> = { person: 0, bot: 1, deleted: 2 };

/** A channel's planned files, mentions and reactions (as the plan counted them), when the plan has them. */
function channelContent(planned: PlannedChannel): Pick<ChannelReport, 'files' | 'mentions' | 'reactions'> {
  return {
    ...(planned.fileCounts ? { files: planned.fileCounts } : {}),
    ...(planned.fidelity
      ? { mentions: planned.fidelity.mentions, reactions: planned.fidelity.reactions }
      : {}),
  };
}

function addCounts(into: Partial<Record<string, number>>, from: Partial<Record<string, number>>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + (n ?? 0);
}

/** Files, mentions and reactions summed over the channels. */
function contentTotals(channels: ChannelReport[]): MigrationReport['content'] {
  const content: MigrationReport['content'] = {
    files: { inline: 0, sharepoint: 0, fallback: {} },
    mentions: { native: 0, text: {} },
    reactions: { native: 0, text: {}, refusedAsText: 0 },
  };
  for (const c of channels) {
    if (c.files) {
      content.files.inline += c.files.inline;
      content.files.sharepoint += c.files.sharepoint;
      addCounts(content.files.fallback, c.files.fallback);
    }
    if (c.mentions) {
      content.mentions.native += c.mentions.native;
      addCounts(content.mentions.text, c.mentions.text);
    }
    if (c.reactions) {
      content.reactions.native += c.reactions.native;
      addCounts(content.reactions.text, c.reactions.text);
    }
    content.reactions.refusedAsText += c.reactionsAsText;
  }
  return content;
}

const plural = (count: number, what: string, many = `${what}s`): string =>
  `${count} ${count === 1 ? what : many}`;
const total = (counts: Partial<Record<string, number>>): number =>
  Object.values(counts).reduce<number>((n, k) => n + (k ?? 0), 0);
const reasons = (counts: Partial<Record<string, number>>): string =>
  Object.entries(counts)
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([reason, n]) => `${reason}: ${n}`)
    .join(', ');

/** The report's first section: what moved, and what did not and why, in sentences a customer can read. */
export function summarize(report: Omit<MigrationReport, 'summary'>): MigrationReport['summary'] {
  const t = report.totals;
  const moved: string[] = [];
  const notMoved: string[] = [];
  const inTeams = report.channels.filter((c) => c.posted > 0).length;
  moved.push(
    `${t.posted} of ${plural(t.planned, 'planned message')} are in Teams, in ${plural(inTeams, 'channel')} of the team '${report.team.displayName}'.`,
  );
  const persons = report.users.people.filter((p) => p.kind === 'person');
  const matchedPersons = persons.filter((p) => p.matchedBy !== 'unmatched');
  const others = report.users.people.filter((p) => p.kind !== 'person');
  moved.push(
    `Under their own names: ${matchedPersons.length} of ${plural(persons.length, 'person', 'people')}` +
      (others.length
        ? `; as ${report.users.fallback ?? 'the fallback account'}, their names shown: ${plural(others.length, 'bot or deleted account', 'bots and deleted accounts')}`
        : '') +
      '.',
  );
  const c = report.content;
  const fileFallbacks = total(c.files.fallback);
  if (c.files.inline + c.files.sharepoint + fileFallbacks > 0)
    moved.push(
      `Files: ${plural(c.files.inline, 'image')} inline and ${plural(c.files.sharepoint, 'file')} in the channels' SharePoint folders` +
        (fileFallbacks ? `; ${fileFallbacks} as a notice or link (${reasons(c.files.fallback)})` : '') +
        '.',
    );
  const mentionText = total(c.mentions.text);
  const reactionText = total(c.reactions.text);
  if (c.mentions.native + mentionText + c.reactions.native + reactionText > 0)
    moved.push(
      `Mentions: ${c.mentions.native} native, ${mentionText} as text${mentionText ? ` (${reasons(c.mentions.text)})` : ''}; ` +
        `reactions: ${c.reactions.native} native, ${reactionText} as text${reactionText ? ` (${reasons(c.reactions.text)})` : ''}` +
        (c.reactions.refusedAsText
          ? `, ${c.reactions.refusedAsText} messages' reactions refused and shown as text`
          : '') +
        '.',
    );
  for (const channel of report.channels) {
    for (const why of channel.why) notMoved.push(`${channel.teamsName}: ${why}`);
    if (channel.unmappedMembers?.length)
      notMoved.push(
        `${channel.teamsName} (private): ${plural(channel.unmappedMembers.length, 'Slack member maps', 'Slack members map')} to no Entra user and ${channel.unmappedMembers.length === 1 ? 'is' : 'are'} not a member of it in Teams: ${channel.unmappedMembers.join(', ')}.`,
      );
  }
  if (t.skipped > 0) {
    const skipped: Partial<Record<string, number>> = {};
    for (const ch of report.channels) addCounts(skipped, ch.skipped);
    notMoved.push(
      `${plural(t.skipped, 'Slack message was', 'Slack messages were')} left out on purpose (${reasons(skipped)}).`,
    );
  }
  for (const conv of report.notImported)
    notMoved.push(
      `${conv.name} (${conv.kind}, ${plural(conv.messages, 'message')}) is not imported: ${conv.reason}`,
    );
  const errors = report.problems.filter((p) => p.severity === 'error').length;
  if (errors > 0) notMoved.push(`${plural(errors, 'problem')} found in the export (listed below).`);
  if (notMoved.length === 0) notMoved.push('Nothing is missing: every planned message is in Teams.');
  return { moved, notMoved };
}

/** What `--dms` moved and what it did not, in sentences for the report's summary. */
export function chatSentences(chats: MigrateChatResult[]): { moved: string[]; notMoved: string[] } {
  const asChats = chats.filter((c) => c.way === 'chat');
  const posted = asChats.reduce((n, c) => n + c.posted, 0);
  const moved = asChats.length
    ? [`${posted} message(s) of ${asChats.length} DM(s) and group DM(s) imported into Teams chats.`]
    : [];
  const notMoved: string[] = [];
  for (const c of chats) {
    if (c.way === 'onedrive') {
      const delivered = c.oneDrive?.delivered ?? [];
      if (delivered.length)
        moved.push(
          `${c.label} (${c.planned} messages): an HTML file in SlackHistory/ of the OneDrive of ${delivered.join(', ')}.`,
        );
      if (c.reason && c.reason !== ONEDRIVE_CHOSEN)
        notMoved.push(
          `${c.label} (${c.planned} messages) is not a Teams chat: ${c.reason}${c.posted ? ` (${c.posted} message(s) were imported into the chat before the service refused it)` : ''}; it goes to its members' OneDrive instead.`,
        );
      if (c.oneDrive?.undelivered.length)
        notMoved.push(
          `${c.label}: no file for ${c.oneDrive.undelivered.join(', ')}, who ${c.oneDrive.undelivered.length === 1 ? 'has' : 'have'} no Entra user (no OneDrive to write to).`,
        );
      if (c.error) notMoved.push(`${c.label}: ${c.error}`);
    } else if (c.error) notMoved.push(`${c.label}: the chat's import failed: ${c.error}`);
    else if (c.failed > 0 || c.missing > 0 || c.posted < c.planned)
      notMoved.push(
        `${c.label}: ${c.posted} of ${c.planned} message(s) imported, ${c.failed} failed, ${c.missing} can no longer be imported; ${c.completed ? 'the chat is completed' : 'the chat stays in migration until a run imports the rest'}.`,
      );
  }
  return { moved, notMoved };
}

/** The reason every conversation of `--dms onedrive` carries. */
export const ONEDRIVE_CHOSEN = 'run with --dms onedrive';
