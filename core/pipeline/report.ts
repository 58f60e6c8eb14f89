import type { NotImportedConversation, PlanManifest, Problem, SkipReason } from '../model';
import { escapeHtml } from '../transform/html';
import type { PassRecord } from '../state/ledgerRecords';
import type { MigrationPhase, PassKind, WriteReportInput, WriteReportResult } from './contracts';
import type { PipelineDeps } from './deps';
import { COMPLETED_BEFORE_POSTED } from './reconcile';
import { readManifest, runPaths } from './runStore';
import { FALLBACK_USER_KEY } from './users';

/** Failed and missing messages listed per channel in the report; the counts stay exact beyond it. */
const MAX_FAILURES_LISTED = 100;
/** Failures (and reasons for missing messages) quoted in a channel's one-line explanation. */
const FAILURES_QUOTED = 2;

/** One channel's line of the report. */
export interface ChannelReport {
  source: string;
  teamsName: string;
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
  channels: ChannelReport[];
  users: { matched: number; unmatched: number; fallback?: string; unmatchedUsers: string[] };
  notImported: NotImportedConversation[];
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
    await deps.ledger.ensureChannel(input.migrationId, key);
    await deps.ledger.updateChannel(input.migrationId, key, { error });
  }
  const report = await buildReport(deps, input.migrationId, input.phase);
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
  >,
  ended = true,
): string[] {
  const why: string[] = [];
  const n = (count: number, what: string): string => `${count} ${what}${count === 1 ? '' : 's'}`;
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
    };
    channels.push({
      source: planned.sourceName,
      teamsName: planned.teamsName,
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
    });
  }
  const users = await deps.ledger.getUsers(runId);
  const unmatched = [...users.values()].filter((u) => u.matchedBy === 'unmatched');
  const now = deps.now();
  const sum = (f: (c: ChannelReport) => number): number => channels.reduce((n, c) => n + f(c), 0);
  return {
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
    channels,
    users: {
      matched: [...users.values()].filter(
        (u) => u.sourceUserId !== FALLBACK_USER_KEY && u.matchedBy !== 'unmatched',
      ).length,
      unmatched: unmatched.length,
      fallback: users.get(FALLBACK_USER_KEY)?.displayName,
      unmatchedUsers: unmatched.map((u) => `${u.displayName ?? ''} (${u.sourceUserId})`.trim()).sort(),
    },
    notImported: manifest.notImported,
    problems: manifest.problems,
    passes: passReports(await deps.ledger.listPasses(runId)),
  };
}

/** Renders the report as one self-contained HTML page (every value escaped). */
export function renderReportHtml(report: MigrationReport): string {
  const e = (v: unknown): string => escapeHtml(String(v ?? ''));
  const skipped = (s: ChannelReport['skipped']): string =>
    Object.entries(s)
      .map(([reason, n]) => `${e(reason)}: ${e(n)}`)
      .join(', ') || '0';
  const rows = report.channels
    .map(
      (c) =>
        `<tr class="${c.why.length > 0 ? 'bad' : ''}"><td>${e(c.source)}</td><td>${e(c.teamsName)}</td><td>${e(c.state)}</td>` +
        `<td>${c.sourceMessages}</td><td>${c.planned}</td><td>${c.posts}</td><td>${c.replies}</td><td>${c.posted}</td><td>${c.failed}</td><td>${c.missing}</td>` +
        `<td>${skipped(c.skipped)}</td><td>${c.split}</td><td>${c.timestampBumps}</td><td>${c.throttled}</td><td>${c.reactionsAsText}</td><td>${c.elapsedSeconds ?? ''}</td></tr>`,
    )
    .join('\n');
  const why = report.channels
    .filter((c) => c.why.length > 0)
    .map((c) => `<li><b>${e(c.teamsName)}</b><ul>${c.why.map((w) => `<li>${e(w)}</li>`).join('')}</ul></li>`)
    .join('\n');
  const failures = report.channels
    .flatMap((c) => c.failures.map((f) => `<li><b>${e(c.teamsName)}</b> ${e(f.key)}: ${e(f.error)}</li>`))
    .join('\n');
  const missing = report.channels
    .flatMap((c) =>
      c.missingMessages.map((m) => `<li><b>${e(c.teamsName)}</b> ${e(m.key)}: ${e(m.reason)}</li>`),
    )
    .join('\n');
  const problems = report.problems
    .map((p) => `<li class="${e(p.severity)}">${e(p.severity)}: ${e(p.message)}</li>`)
    .join('\n');
  const changed = report.channels
    .flatMap((c) =>
      c.changedInSlack.map(
        (m) =>
          `<li><b>${e(c.teamsName)}</b> ${e(m.key)}: ${m.change === 'edited' ? 'edited' : 'deleted'} in Slack after import` +
          `${m.teamsLink ? ` · <a href="${e(m.teamsLink)}">in Teams</a>` : ''}${m.slackLink ? ` · <a href="${e(m.slackLink)}">in Slack</a>` : ''}</li>`,
      ),
    )
    .join('\n');
  const changedCounts = report.channels
    .filter((c) => c.editedInSlack + c.deletedInSlack > 0)
    .map((c) => `<li><b>${e(c.teamsName)}</b>: ${c.editedInSlack} edited, ${c.deletedInSlack} deleted</li>`)
    .join('\n');
  const passes = report.passes
    .map(
      (p) =>
        `<tr><td>${p.pass}</td><td>${e(p.kind)}</td><td>${e(p.source)}</td><td>${e(p.startedAt)}</td><td>${e(p.finishedAt)}</td><td>${e(p.outcome)}</td>` +
        `<td>${p.newMessages}</td><td>${p.posted}</td><td>${p.failed}</td><td>${p.editedInSlack + p.deletedInSlack}</td></tr>`,
    )
    .join('\n');
  const notImported = report.notImported
    .map((c) => `<li>${e(c.name)} (${e(c.kind)}, ${c.messages} messages): ${e(c.reason)}</li>`)
    .join('\n');
  const t = report.totals;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Migration report: ${e(report.team.displayName)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:nth-child(-n+3),th{text-align:left}tr.bad td{background:#fde8e8}
.error{color:#a00}.warning{color:#a60}
</style></head><body>
<h1>Migration report: ${e(report.team.displayName)}</h1>
<p>Run <code>${e(report.runId)}</code> · phase <b>${e(report.phase)}</b> · team id <code>${e(report.team.teamId)}</code> ·
generated ${e(report.generatedAt)}${report.elapsedSeconds !== undefined ? ` · ${report.elapsedSeconds} s since the run began` : ''}</p>
<p><b>${t.posted}</b> of ${t.planned} planned messages posted · ${t.failed} failed · ${t.missing} missing · ${t.skipped} skipped · ${t.throttled} throttled requests</p>
${why ? `<h2>What is missing and why</h2><ul>${why}</ul>` : ''}
<h2>Channels</h2>
<table><tr><th>Slack</th><th>Teams</th><th>state</th><th>in Slack</th><th>planned</th><th>posts</th><th>replies</th><th>posted</th><th>failed</th><th>missing</th><th>skipped</th><th>split</th><th>time bumps</th><th>throttled</th><th>reactions refused</th><th>seconds</th></tr>
${rows}
</table>
<h2>Users</h2>
<p>${report.users.matched} matched · ${report.users.unmatched} unmatched${report.users.fallback ? `, posted as ${e(report.users.fallback)} with their names shown` : ''}</p>
${report.users.unmatchedUsers.length ? `<ul>${report.users.unmatchedUsers.map((u) => `<li>${e(u)}</li>`).join('')}</ul>` : ''}
${passes ? `<h2>Passes</h2>\n<table><tr><th>pass</th><th>kind</th><th>source</th><th>started</th><th>finished</th><th>outcome</th><th>new</th><th>posted</th><th>failed</th><th>changed in Slack</th></tr>\n${passes}\n</table>` : ''}
${changed ? `<h2>Changed in Slack after import</h2><p>The import cannot replay edits or deletions made in Slack after a message was imported; these messages show their imported content in Teams.</p><ul>${changedCounts}</ul><ul>${changed}</ul>` : ''}
${failures ? `<h2>Failed messages</h2><ul>${failures}</ul>` : ''}
${missing ? `<h2>Messages that can no longer be imported</h2><ul>${missing}</ul>` : ''}
${notImported ? `<h2>Not imported</h2><ul>${notImported}</ul>` : ''}
${problems ? `<h2>Problems found in the export</h2><ul>${problems}</ul>` : ''}
</body></html>
`;
}
