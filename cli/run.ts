import '../devhost/register';
import { InvalidArgumentError, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MigrateTeamResult, MigrateWorkspaceResult, WorkspaceTeamOutcome } from '../activities/names';
import type { MigrationDashboard } from '../core/operations/dashboard';
import { chatSentences, type MigrationReport } from '../core/pipeline/report';
import type { SourceUser } from '../core/model';
import { openSlackExport } from '../core/sources/slack/export';
import { isSafeSlackApiUrl, readSlackApiUsers, SlackApiError } from '../core/sources/slack/webApi';
import { startHost, type LocalHost } from '../devhost/host';
import {
  startSandbox,
  sandboxUserFor,
  type SandboxHandle,
  type SandboxOptions,
  type SandboxUser,
} from '../sandbox';
import { RUN_OPTION_DEFAULTS } from '../core/pipeline/contracts';
import type { CommandRegistrar } from './command';
import { printable, printableJson, printableLines } from './printable';
import { plainProgress, terminalProgress } from './progress';

/** Options of `teams-import run`. */
export interface RunOptions extends LocalHostOptions {
  teamName?: string;
  /** Path of a channel map CSV (`slack_channel,team,channel`): splits the workspace across several new teams. */
  channelMap?: string;
  userMap?: string;
  /** Path of a user-group CSV (`S...,handle`). */
  userGroups?: string;
  /** Reactions as native Teams reactions (default) or as a text line. */
  reactions?: 'native' | 'text';
  /** DMs and group DMs: Teams chats, HTML files in the members' OneDrive, or skipped (default). */
  dms?: 'chats' | 'onedrive' | 'skip';
  fallbackUser?: string;
  channels?: string[];
  excludeChannels?: string[];
  since?: string;
  until?: string;
  runId?: string;
  includeSystemEvents: boolean;
  completeOnErrors: boolean;
  channelConcurrency: number;
  batchSeconds: number;
  /** Seconds between polls of the team creation; default 1 for the embedded sandbox, 30 (Microsoft's ask) otherwise. */
  operationPollSeconds?: number;
  /** Import everything and complete nothing: the migration waits, prestaged, for deltas and its cutover. */
  prestage?: boolean;
  /** Slack private channels become Teams private channels, created once the team is completed. */
  privateChannels?: boolean;
  /** Import into this existing, completed team instead of creating one. */
  teamId?: string;
  /** The delta-sync timer keeps applying inbox snapshots after the cutover. */
  deltaSync?: boolean;
  /**
   * Read the workspace through Slack's Web API instead of an export, with `SLACK_TOKEN`: the workspace the
   * token must belong to (team id, domain or name).
   */
  slackWorkspace?: string;
  /** With `slackWorkspace`: private channels too (the token needs `groups:read` and `groups:history`). */
  includePrivateChannels?: boolean;
}

/** Where `run` writes and what stops it; tests pass their own. */
export interface RunIo {
  out(text: string): void;
  err(text: string): void;
  isTty: boolean;
  signal?: AbortSignal;
}

/** The account that posts for unmatched and bot authors in a sandbox rehearsal. */
export const SANDBOX_FALLBACK = sandboxUserFor('migration.account@sandbox.local', 'Migration Account');

/** The domain of the sandbox users made for Slack people who have no e-mail in the export. */
export const SANDBOX_DOMAIN = 'sandbox.local';

/**
 * A sandbox rehearsal of an export: one Entra user per Slack person who is neither a bot nor deleted (their
 * e-mail, or `<handle>@sandbox.local` when the export has none), the fallback account, and the user map that
 * names the people without an e-mail, so the rehearsal shows every person under their own name.
 */
export async function sandboxRehearsal(
  exportPath: string,
): Promise<{ users: SandboxUser[]; userMap: string }> {
  const exp = await openSlackExport(exportPath);
  try {
    return rehearsalOf(exp.users);
  } finally {
    await exp.close();
  }
}

/** A sandbox rehearsal of a workspace's users, from an export or Slack's Web API (see sandboxRehearsal). */
export function rehearsalOf(sourceUsers: SourceUser[]): { users: SandboxUser[]; userMap: string } {
  const people = sourceUsers.filter((u) => !u.isBot && !u.isDeleted);
  const upnOf = (u: (typeof people)[number]): string =>
    u.email ??
    `${(u.name || u.sourceId).toLowerCase().replace(/[^a-z0-9._-]+/g, '.')}.${u.sourceId.toLowerCase()}@${SANDBOX_DOMAIN}`;
  const users = people.map((u) => sandboxUserFor(upnOf(u), u.displayName));
  const userMap = people
    .filter((u) => !u.email)
    .map((u) => `${u.sourceId},${upnOf(u)}`)
    .join('\n');
  return { users: [...users, SANDBOX_FALLBACK], userMap };
}

/** The Entra users a sandbox rehearsal of an export starts with (see sandboxRehearsal). */
export async function sandboxUsersFromExport(exportPath: string): Promise<SandboxUser[]> {
  return (await sandboxRehearsal(exportPath)).users;
}

const TERMINAL = new Set(['Completed', 'Failed', 'Terminated']);

/** What `run`, `delta` and `cutover` share: where the local host keeps its state, and how to reach the target. */
export interface LocalHostOptions {
  graphUrl?: string;
  stateDir: string;
  json: boolean;
  /** Options of the embedded sandbox beyond its users and state file (tests raise its time scale). */
  sandbox?: Omit<SandboxOptions, 'users' | 'stateFile'>;
  /**
   * Where `files.slack.com` URLs are downloaded from (`SLACK_FILES_URL`). Default: the setting, else the
   * embedded sandbox's Slack file host when rehearsing against it, else `https://files.slack.com`.
   */
  slackFilesUrl?: string;
  /** Largest file moved, in MiB (`TEAMS_IMPORT_MAX_FILE_MB`, default 250). */
  maxFileMb?: number;
  /** Slack's Web API base (`SLACK_API_URL`, default `https://slack.com/api/`): a stand-in for a rehearsal. */
  slackApiUrl?: string;
}

/** The local host a command runs on, with the embedded sandbox when it rehearses. */
interface LocalApp {
  host: LocalHost;
  sandbox?: SandboxHandle;
  stateDir: string;
}

/** The sandbox's users when the command rehearses, and the export its Slack file host serves (if any). */
interface Rehearsal {
  users: SandboxUser[];
  exportPath?: string;
}

/**
 * Starts embedded Azurite and the local host (and the embedded sandbox with `rehearsal`'s users unless
 * `graphUrl` names a real Graph endpoint), runs `use`, then stops them all.
 */
async function onLocalHost<T>(
  rehearsal: Rehearsal | undefined,
  opts: LocalHostOptions,
  progress: (text: string) => void,
  use: (app: LocalApp) => Promise<T>,
): Promise<T> {
  const stateDir = path.resolve(opts.stateDir);
  await mkdir(stateDir, { recursive: true });
  let sandbox: SandboxHandle | undefined;
  let host: LocalHost | undefined;
  try {
    if (!opts.graphUrl) {
      const exportPath = rehearsal?.exportPath;
      const serveFiles = exportPath && !opts.slackFilesUrl && !process.env.SLACK_FILES_URL;
      sandbox = await startSandbox({
        port: 0,
        ...opts.sandbox,
        users: rehearsal?.users ?? [SANDBOX_FALLBACK],
        stateFile: path.join(stateDir, 'sandbox.json'),
        ...(serveFiles
          ? {
              slackFiles: {
                export: exportPath,
                ...(process.env.SLACK_TOKEN ? { botToken: process.env.SLACK_TOKEN } : {}),
              },
            }
          : {}),
      });
      progress(`Teams sandbox: ${sandbox.url} (preview: ${sandbox.url}/_sandbox/state)`);
    }
    const filesUrl = opts.slackFilesUrl ?? sandbox?.slackFilesUrl;
    if (filesUrl && filesUrl === sandbox?.slackFilesUrl)
      progress(
        `Slack files: served by the sandbox from the export (${filesUrl}), bytes generated from each file id`,
      );
    host = await startHost({
      port: 0,
      stateDir: path.join(stateDir, 'host'),
      values: {
        GRAPH_URL: opts.graphUrl ?? sandbox!.url,
        TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true',
        TEAMS_IMPORT_INBOX_DIR: path.join(stateDir, 'inbox'),
        SLACK_FILES_URL: filesUrl,
        TEAMS_IMPORT_MAX_FILE_MB: opts.maxFileMb === undefined ? undefined : String(opts.maxFileMb),
        SLACK_API_URL: opts.slackApiUrl ?? (process.env.SLACK_API_URL || undefined),
      },
    });
    return await use({ host, ...(sandbox ? { sandbox } : {}), stateDir });
  } finally {
    await host?.stop();
    await sandbox?.stop();
  }
}

/**
 * Runs one migration's first pass on the local host: embedded Azurite, and the embedded sandbox unless
 * `graphUrl` names a real Graph endpoint. Starts it through the app's HTTP API, shows progress, prints the
 * report and resolves to the exit code: 0 only when every planned message was imported and the team completed
 * (or, pre-staged, every planned message imported).
 */
export async function runMigration(
  exportArg: string | undefined,
  opts: RunOptions,
  io: RunIo,
): Promise<number> {
  const fromApi = opts.slackWorkspace !== undefined;
  if (fromApi === (exportArg !== undefined)) {
    io.err(
      fromApi
        ? 'Give either an export or --slack-workspace, not both.'
        : "Give the path of a Slack export ZIP or its extracted folder, or --slack-workspace to read the workspace through Slack's Web API.",
    );
    return 2;
  }
  const slackToken = process.env.SLACK_TOKEN || undefined;
  const slackApiUrl = opts.slackApiUrl ?? (process.env.SLACK_API_URL || undefined);
  if (fromApi && !slackToken) {
    io.err(
      "SLACK_TOKEN is not set: --slack-workspace reads the workspace through Slack's Web API with the token of the Slack app installed in it (see the README).",
    );
    return 2;
  }
  if (fromApi && slackApiUrl && !isSafeSlackApiUrl(slackApiUrl)) {
    io.err(
      `Slack's Web API base '${slackApiUrl}' must be an https URL (the token travels to it); plain http is only for a stand-in on this machine (127.0.0.1).`,
    );
    return 2;
  }
  const exportPath = exportArg === undefined ? undefined : path.resolve(exportArg);
  if (exportPath !== undefined && !existsSync(exportPath)) {
    io.err(
      `The export '${exportArg}' does not exist: give the path of a Slack export ZIP or its extracted folder.`,
    );
    return 2;
  }
  if (opts.channelMap && (opts.teamName || opts.channels || opts.excludeChannels)) {
    io.err(
      '--channel-map names the teams and the channels of each: leave out --team-name, --channels and --exclude-channels with it.',
    );
    return 2;
  }
  let channelMapText: string | undefined;
  if (opts.channelMap) {
    try {
      channelMapText = await readFile(opts.channelMap, 'utf8');
    } catch {
      io.err(`--channel-map '${opts.channelMap}' cannot be read: check the path.`);
      return 2;
    }
  }
  let userMapText = opts.userMap ? await readFile(opts.userMap, 'utf8') : undefined;
  const userGroupsText = opts.userGroups ? await readFile(opts.userGroups, 'utf8') : undefined;
  const progress = opts.json ? io.err : io.out;
  let fallbackUser = opts.fallbackUser;
  let rehearsal: Rehearsal | undefined;
  if (!opts.graphUrl) {
    let people;
    try {
      people = exportPath
        ? await sandboxRehearsal(exportPath)
        : rehearsalOf(
            await readSlackApiUsers({
              token: slackToken ?? '',
              ...(slackApiUrl ? { apiUrl: slackApiUrl } : {}),
              workspace: opts.slackWorkspace,
              includePrivate: !!(opts.includePrivateChannels || opts.privateChannels),
            }),
          );
    } catch (err) {
      if (!(err instanceof SlackApiError)) throw err;
      io.err(err.message);
      return 1;
    }
    userMapText ??= people.userMap;
    fallbackUser ??= SANDBOX_FALLBACK.userPrincipalName;
    rehearsal = { users: people.users, ...(exportPath ? { exportPath } : {}) };
  }
  return onLocalHost(rehearsal, { ...opts, slackApiUrl }, progress, async (app) => {
    const { host, sandbox } = app;
    const body = {
      ...(opts.runId ? { migrationId: opts.runId } : {}),
      source: exportPath
        ? { path: exportPath }
        : {
            kind: 'slack-api',
            workspace: opts.slackWorkspace,
            ...(opts.includePrivateChannels || opts.privateChannels ? { includePrivate: true } : {}),
          },
      team:
        opts.teamName || opts.teamId
          ? {
              ...(opts.teamName ? { displayName: opts.teamName } : {}),
              ...(opts.teamId ? { id: opts.teamId } : {}),
            }
          : undefined,
      ...(channelMapText !== undefined ? { channelMap: channelMapText } : {}),
      userMap: userMapText,
      userGroups: userGroupsText,
      fallbackUser,
      channels: opts.channels,
      excludeChannels: opts.excludeChannels,
      since: opts.since,
      until: opts.until,
      ...(opts.prestage ? { prestage: true } : {}),
      ...(opts.privateChannels ? { privateChannels: true } : {}),
      ...(opts.deltaSync ? { deltaSync: true } : {}),
      ...(opts.dms && opts.dms !== 'skip' ? { dms: opts.dms } : {}),
      options: {
        includeSystemEvents: opts.includeSystemEvents,
        completeOnErrors: opts.completeOnErrors,
        channelConcurrency: opts.channelConcurrency,
        batchSeconds: opts.batchSeconds,
        operationPollSeconds:
          opts.operationPollSeconds ?? (sandbox ? 1 : RUN_OPTION_DEFAULTS.operationPollSeconds),
        reactions: opts.reactions ?? 'native',
      },
    };
    const started = await fetch(`${host.url}/api/migrations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const startBody = (await started.json()) as { id?: string; errors?: string[]; dashboardUrl?: string };
    if (started.status === 400) {
      io.err(
        `The migration request is not valid:\n${(startBody.errors ?? []).map((e) => `- ${e}`).join('\n')}`,
      );
      return 2;
    }
    if (started.status !== 202 || !startBody.id)
      throw new Error(
        `The app did not start the migration (HTTP ${started.status}): ${JSON.stringify(startBody)}`,
      );
    const migrationId = startBody.id.replace(/^migration-/, '');
    progress(`Migration ${migrationId} started (local host ${host.url}).`);
    if (channelMapText !== undefined) return followWorkspace(app, migrationId, opts, io, progress);
    return followPass(app, migrationId, opts, io, progress);
  });
}

/** A workspace migration's report (`runs/<id>/report.json`), as far as the CLI reads it. */
export interface WorkspaceReport {
  migrationId: string;
  phase: string;
  totals: { planned: number; posted: number; failed: number; missing: number };
  teams: WorkspaceTeamOutcome[];
}

/** A workspace report for a terminal: the totals, then one line per team, then where the full report is. */
export function formatWorkspaceSummary(report: WorkspaceReport, where: string): string {
  const t = report.totals;
  return (
    [
      `Workspace ${report.migrationId}: ${report.phase}; ${t.posted} of ${t.planned} messages posted, ${t.failed} failed, ${t.missing} missing`,
      ...report.teams.map(
        (team) =>
          `  ${team.name} (${team.migrationId}): ${team.phase}, ${team.posted}/${team.planned} posted` +
          (team.failed ? `, ${team.failed} failed` : '') +
          (team.error ? `: ${team.error}` : ''),
      ),
      `Each team's own report: teams-import report <team migration id>. Workspace report: ${where}`,
    ]
      .map(printable)
      .join('\n') + '\n'
  );
}

/** The status JSON of a workspace migration, as far as `run` reads it. */
interface WorkspaceView {
  runtimeStatus: string;
  phase: string;
  output?: unknown;
  teams?: {
    key: string;
    name: string;
    migrationId: string;
    runtimeStatus?: string;
    progress?: { phase?: string };
  }[];
  progress?: { lastError?: string };
}

/**
 * Follows a workspace migration: waits for the channel map's check, then follows each team's migration to its
 * end in turn (they run at once), then prints the workspace's summary and saves its report. A later pass of
 * the workspace (`pass`) is followed to its end first, with a line each time a team's phase changes, since its
 * teams' instances start again only as the workspace reaches them. Exit code 0 only when every team's exit
 * code is.
 */
async function followWorkspace(
  app: LocalApp,
  migrationId: string,
  opts: LocalHostOptions,
  io: RunIo,
  progress: (text: string) => void,
  pass = false,
): Promise<number> {
  const statusUrl = (id: string): string => `${app.host.url}/api/migrations/${encodeURIComponent(id)}`;
  let view: WorkspaceView;
  const seen = new Map<string, string>();
  for (;;) {
    if (io.signal?.aborted)
      throw new Error('Stopped: the migration resumes when run again with the same run id.');
    view = (await (await fetchOk(statusUrl(migrationId))).json()) as WorkspaceView;
    if (TERMINAL.has(view.runtimeStatus)) break;
    if (!pass && view.phase !== 'checking-map' && view.phase !== 'pending' && view.teams?.length) break;
    for (const team of pass ? (view.teams ?? []) : []) {
      const phase = team.progress?.phase ?? team.runtimeStatus ?? 'pending';
      if (seen.get(team.migrationId) !== phase) progress(`Team '${team.name}' (${team.migrationId}): ${phase}`);
      seen.set(team.migrationId, phase);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  if (view.runtimeStatus !== 'Completed' && TERMINAL.has(view.runtimeStatus)) {
    io.err(`Migration ${migrationId} ${view.runtimeStatus.toLowerCase()}: ${formatOutput(view.output)}`);
    return 1;
  }
  const teams = view.teams ?? [];
  progress(
    `The channel map splits the workspace across ${teams.length} teams: ${teams.map((t) => `'${t.name}' (${t.migrationId})`).join(', ')}.`,
  );
  let code = 0;
  for (const team of teams) {
    while ((await fetch(statusUrl(team.migrationId))).status === 404)
      await new Promise((resolve) => setTimeout(resolve, 500));
    progress(`Team '${team.name}':`);
    code = Math.max(code, await followPass(app, team.migrationId, opts, io, progress, false));
  }
  for (;;) {
    view = (await (await fetchOk(statusUrl(migrationId))).json()) as WorkspaceView;
    if (TERMINAL.has(view.runtimeStatus)) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  if (view.runtimeStatus !== 'Completed') {
    io.err(`Migration ${migrationId} ${view.runtimeStatus.toLowerCase()}: ${formatOutput(view.output)}`);
    return 1;
  }
  const result = view.output as MigrateWorkspaceResult;
  const reportUrl = `${statusUrl(migrationId)}/report`;
  const reportDir = path.join(app.stateDir, 'reports');
  await mkdir(reportDir, { recursive: true });
  const reportJson = Buffer.from(await (await fetchOk(reportUrl)).arrayBuffer());
  await writeFile(path.join(reportDir, `${migrationId}.json`), reportJson);
  const htmlPath = path.join(reportDir, `${migrationId}.html`);
  await writeFile(htmlPath, Buffer.from(await (await fetchOk(`${reportUrl}?format=html`)).arrayBuffer()));
  if (opts.json) io.out(reportJson.toString('utf8'));
  else io.out(formatWorkspaceSummary(JSON.parse(reportJson.toString('utf8')) as WorkspaceReport, htmlPath));
  return result.phase === 'completed' || result.phase === 'prestaged' ? code : 1;
}

/** Options of `teams-import delta` and `teams-import cutover`. */
export interface PassOptions extends LocalHostOptions {
  runId: string;
  /**
   * A delta read through Slack's Web API with `SLACK_TOKEN` (the workspace the token must belong to); a
   * migration that reads the Web API takes a delta without an export or this option too.
   */
  slackWorkspace?: string;
  /** Cutover: keep delta sync on after it. */
  deltaSync?: boolean;
}

/**
 * Runs a delta (a newer snapshot) or the cutover (an optional final snapshot) of a migration on the local host,
 * as `run` runs a first pass: through the app's HTTP API, showing progress and printing the report. Resolves
 * to 0 when every planned message is imported (and, for a cutover, the team completed), 2 when the app
 * refuses to start the pass (it says why), 1 otherwise.
 */
export async function runPass(
  kind: 'delta' | 'cutover',
  exportArg: string | undefined,
  opts: PassOptions,
  io: RunIo,
): Promise<number> {
  if (exportArg !== undefined && opts.slackWorkspace !== undefined) {
    io.err('Give either an export or --slack-workspace, not both.');
    return 2;
  }
  const slackApiUrl = opts.slackApiUrl ?? (process.env.SLACK_API_URL || undefined);
  if (slackApiUrl && !isSafeSlackApiUrl(slackApiUrl)) {
    io.err(
      `Slack's Web API base '${slackApiUrl}' must be an https URL (the token travels to it); plain http is only for a stand-in on this machine (127.0.0.1).`,
    );
    return 2;
  }
  const exportPath = exportArg === undefined ? undefined : path.resolve(exportArg);
  if (exportPath && !existsSync(exportPath)) {
    io.err(
      `The export '${exportArg}' does not exist: give the path of a newer Slack export ZIP or its folder.`,
    );
    return 2;
  }
  const progress = opts.json ? io.err : io.out;
  const rehearsal = opts.graphUrl
    ? undefined
    : exportPath
      ? { users: (await sandboxRehearsal(exportPath)).users, exportPath }
      : { users: [SANDBOX_FALLBACK] };
  return onLocalHost(rehearsal, { ...opts, slackApiUrl }, progress, async (app) => {
    const url = `${app.host.url}/api/migrations/${encodeURIComponent(opts.runId)}/${kind}`;
    const body = {
      ...(exportPath ? { source: { path: exportPath } } : {}),
      ...(opts.slackWorkspace !== undefined
        ? { source: { kind: 'slack-api', workspace: opts.slackWorkspace } }
        : {}),
      ...(kind === 'cutover' && opts.deltaSync !== undefined ? { deltaSync: opts.deltaSync } : {}),
    };
    const started = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = (await started.json()) as {
      id?: string;
      error?: string;
      errors?: string[];
      phase?: string;
    };
    if (started.status !== 202) {
      const why = answer.error ?? (answer.errors ?? []).join('; ');
      io.err(`The ${kind} of migration ${opts.runId} did not start (HTTP ${started.status}): ${why}`);
      return 2;
    }
    progress(`The ${kind} of migration ${opts.runId} started (local host ${app.host.url}).`);
    // A workspace answers its status from its record at once; a team's instance that is just starting again
    // may not answer yet, and its own dashboard is followed then.
    const status = await fetch(`${app.host.url}/api/migrations/${encodeURIComponent(opts.runId)}`);
    const view = status.ok ? ((await status.json()) as WorkspaceView) : undefined;
    if (Array.isArray(view?.teams)) return followWorkspace(app, opts.runId, opts, io, progress, true);
    return followPass(app, opts.runId, opts, io, progress);
  });
}

/** Watches the migration's running pass to its end, writes and prints its report, and answers the exit code. */
async function followPass(
  app: LocalApp,
  migrationId: string,
  opts: LocalHostOptions,
  io: RunIo,
  progress: (text: string) => void,
  /** Print the report (a workspace's teams leave it to the workspace's own). */
  print = true,
): Promise<number> {
  const { host, sandbox, stateDir } = app;
  const dashboardUrl = `${host.url}/api/migrations/${encodeURIComponent(migrationId)}/dashboard`;
  progress(`Live status while it runs: ${dashboardUrl}`);
  const view = await watch(`${dashboardUrl}?format=json`, io, progress, opts);
  if (view.runtimeStatus !== 'Completed') {
    io.err(`Migration ${migrationId} ${view.runtimeStatus.toLowerCase()}: ${formatOutput(view.output)}`);
    return 1;
  }
  const result = view.output as MigrateTeamResult;
  const reportUrl = `${host.url}/api/migrations/${encodeURIComponent(migrationId)}/report`;
  const report = (await fetchOk(reportUrl).then((r) => r.json())) as MigrationReport;
  const html = Buffer.from(await (await fetchOk(`${reportUrl}?format=html`)).arrayBuffer());
  const reportDir = path.join(stateDir, 'reports');
  await mkdir(reportDir, { recursive: true });
  const htmlPath = path.join(reportDir, `${migrationId}.html`);
  await writeFile(htmlPath, html);
  await writeFile(path.join(reportDir, `${migrationId}.json`), JSON.stringify(report, null, 2));
  if (opts.json && print) io.out(JSON.stringify(report, null, 2));
  else if (print) io.out(formatSummary(report, htmlPath));
  if (sandbox && !opts.json && print)
    io.out(
      `See the team as Teams users will: npx teams-import sandbox --state ${path.relative(process.cwd(), path.join(stateDir, 'sandbox.json')) || 'sandbox.json'}` +
        ` --port 4000, then open http://127.0.0.1:4000/_sandbox/teams/${report.team.teamId}/preview`,
    );
  const chatsDone = (report.chats ?? []).every(
    (c) =>
      !c.error &&
      (c.way === 'chat'
        ? c.completed && c.failed === 0 && c.posted === c.planned
        : !!c.oneDrive?.delivered.length),
  );
  const awaitingCutover = report.channels
    .filter((c) => c.awaitsCutover)
    .reduce((n, c) => n + c.planned - c.posted, 0);
  return (result.phase === 'completed' || result.phase === 'prestaged') &&
    report.totals.failed === 0 &&
    report.totals.posted === report.totals.planned - awaitingCutover &&
    chatsDone
    ? 0
    : 1;
}

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${new URL(url).pathname} answered ${res.status}: ${await res.text()}`);
  return res;
}

/** Polls the migration's live state until it ends, showing progress (bars on a terminal, lines otherwise). */
async function watch(
  liveUrl: string,
  io: RunIo,
  progress: (text: string) => void,
  opts: Pick<LocalHostOptions, 'json'>,
): Promise<MigrationDashboard> {
  const view = io.isTty && !opts.json ? terminalProgress(process.stderr) : plainProgress(progress);
  try {
    for (;;) {
      if (io.signal?.aborted)
        throw new Error('Stopped: the migration resumes when run again with the same run id.');
      const live = (await (await fetchOk(liveUrl)).json()) as MigrationDashboard;
      view.update(live);
      if (TERMINAL.has(live.runtimeStatus)) return live;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    view.stop();
  }
}

function formatOutput(output: unknown): string {
  return typeof output === 'string' ? output : JSON.stringify(output);
}

/**
 * The report's summary for a terminal: totals, one line per channel with what of it is missing and why, and
 * where the full report is.
 */
export function formatSummary(report: MigrationReport, htmlPath: string): string {
  const t = report.totals;
  const lines = [
    `Team '${report.team.displayName}' (${report.team.teamId ?? 'not created'}): ${report.phase}`,
    `Messages: ${t.posted}/${t.planned} posted, ${t.failed} failed, ${t.missing} missing, ${t.skipped} skipped, ${t.throttled} throttled requests`,
    ...(report.phase === 'prestaged'
      ? [
          'Pre-staged: nothing is completed and no member is added, so users see nothing yet. Apply newer snapshots with `teams-import delta`, then `teams-import cutover`.',
        ]
      : []),
    ...(report.phase === 'needs-attention'
      ? [
          'General, the team and its members are not completed while a message or a channel failed (completion is final): run again with the same --run-id to retry, or pass --complete-on-errors.',
        ]
      : []),
    `Users: ${report.users.matched} matched, ${report.users.unmatched} unmatched${report.users.fallback ? ` (posted as ${report.users.fallback})` : ''}`,
    ...report.channels.flatMap((c) => [
      `  ${c.teamsName.padEnd(30)} ${String(c.posted).padStart(6)}/${String(c.planned).padEnd(6)} ${c.state}` +
        (c.failed ? `, ${c.failed} failed` : '') +
        (c.missing ? `, ${c.missing} missing` : ''),
      ...c.why.map((w) => `      ${w}`),
    ]),
    ...(report.chats?.length
      ? [
          `DMs and group DMs: ${report.chats.filter((c) => c.way === 'chat').length} as Teams chats, ${report.chats.filter((c) => c.way === 'onedrive').length} to OneDrive`,
          ...chatSentences(report.chats).notMoved.map((line) => `  ${line}`),
        ]
      : []),
    ...(report.notImported.length
      ? [`Not imported: ${report.notImported.map((c) => c.name).join(', ')}`]
      : []),
    ...report.channels
      .filter((c) => c.editedInSlack + c.deletedInSlack > 0)
      .map(
        (c) =>
          `Changed in Slack after import, in ${c.teamsName}: ${c.editedInSlack} edited, ${c.deletedInSlack} deleted (the report links them)`,
      ),
    ...(report.passes.length > 1
      ? [
          'Passes:',
          ...report.passes.map(
            (p) =>
              `  ${p.pass} ${p.kind.padEnd(8)} ${p.outcome.padEnd(16)} ${p.newMessages} new, ${p.posted} posted, ${p.failed} failed${p.source ? ` (${p.source})` : ''}`,
          ),
        ]
      : []),
    `Report: ${htmlPath}`,
  ];
  return lines.join('\n');
}

const positiveInt =
  (name: string) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a whole number of at least 1.`);
    return n;
  };
const positiveNumber =
  (name: string) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${name} must be a number greater than 0.`);
    return n;
  };
const httpUrl =
  (name: string) =>
  (value: string): string => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new InvalidArgumentError(
        `${name} must be an absolute http(s) URL such as https://files.slack.com.`,
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new InvalidArgumentError(`${name} must be an http(s) URL, not ${url.protocol}`);
    return value.replace(/\/+$/, '');
  };
const dmsTarget = (value: string): 'chats' | 'onedrive' | 'skip' => {
  if (value !== 'chats' && value !== 'onedrive' && value !== 'skip')
    throw new InvalidArgumentError(`--dms must be 'chats', 'onedrive' or 'skip', not '${value}'.`);
  return value;
};
const reactionMode = (value: string): 'native' | 'text' => {
  if (value !== 'native' && value !== 'text')
    throw new InvalidArgumentError(`--reactions must be 'native' or 'text', not '${value}'.`);
  return value;
};
const list = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Registers `teams-import run`, `teams-import delta` and `teams-import cutover`. */
export const registerRun: CommandRegistrar = (program: Command, setExitCode) => {
  program
    .command('run')
    .description(
      'Import a Slack export into Teams on the local host: the embedded sandbox by default, a tenant with --graph-url',
    )
    .argument('[export]', 'Slack export ZIP or extracted folder (or --slack-workspace)')
    .option(
      '--slack-workspace <workspace>',
      "read the workspace through Slack's Web API with SLACK_TOKEN instead of an export: its team id, domain or name",
    )
    .option(
      '--slack-api-url <url>',
      "Slack's Web API base (default: SLACK_API_URL, else https://slack.com/api/), e.g. the sandbox's stand-in",
      httpUrl('--slack-api-url'),
    )
    .option(
      '--include-private-channels',
      'with --slack-workspace: read private channels too (scopes groups:read, groups:history)',
      false,
    )
    .option('--team-name <name>', 'name of the Teams team (default: the Slack workspace name)')
    .option(
      '--channel-map <file>',
      'CSV slack_channel,team,channel: split the workspace across several new teams (one migration per team)',
    )
    .option(
      '--team-id <id>',
      'import into this existing, completed team: channels are created normally and filled through startMigration; no team is created or completed, no member added',
    )
    .option(
      '--graph-url <url>',
      'Microsoft Graph base URL of a real tenant (credentials from AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET)',
    )
    .option('--user-map <file>', 'CSV mapping Slack users to Entra users: slackId|slackEmail,entraIdOrUpn')
    .option('--user-groups <file>', 'CSV naming Slack user groups for @mentions: S...id,handle')
    .option(
      '--reactions <mode>',
      "'native' (Teams reactions where the reactor maps to an Entra user) or 'text' (a line under the message)",
      reactionMode,
      'native',
    )
    .option(
      '--dms <where>',
      "DMs and group DMs: 'chats' (Teams chats, after the channels), 'onedrive' (an HTML file per conversation in each member's OneDrive) or 'skip'",
      dmsTarget,
      'skip',
    )
    .option('--fallback-user <id|upn>', 'Entra user who posts for unmatched, deleted and bot authors')
    .option('--channels <a,b>', 'import only these Slack channels', list)
    .option('--exclude-channels <a,b>', 'leave these Slack channels out', list)
    .option('--since <date>', 'only messages from this date (ISO)')
    .option('--until <date>', 'only messages before this date (ISO)')
    .option('--run-id <id>', 'the migration id; running again with the same id resumes')
    .option(
      '--state-dir <dir>',
      'where the local host keeps its storage and the sandbox its state',
      '.teams-import',
    )
    .option('--include-system-events', 'import joins, topic changes and the like as small notices', false)
    .option('--complete-on-errors', 'complete channels and the team even when some messages failed', false)
    .option(
      '--channel-concurrency <n>',
      'channels posted at once',
      positiveInt('--channel-concurrency'),
      RUN_OPTION_DEFAULTS.channelConcurrency,
    )
    .option(
      '--batch-seconds <n>',
      'seconds each posting activity runs before checkpointing',
      positiveInt('--batch-seconds'),
      RUN_OPTION_DEFAULTS.batchSeconds,
    )
    .option(
      '--operation-poll-seconds <n>',
      'seconds between polls of the team creation (default 1 for the embedded sandbox, 30 otherwise)',
      positiveInt('--operation-poll-seconds'),
    )
    .option(
      '--slack-files-url <url>',
      'where files.slack.com URLs are downloaded from (default: SLACK_FILES_URL, else the embedded sandbox serves the export, else https://files.slack.com)',
      httpUrl('--slack-files-url'),
    )
    .option(
      '--max-file-mb <n>',
      'files larger than this many MiB become a notice with their size (default 250)',
      positiveNumber('--max-file-mb'),
    )
    .option(
      '--prestage',
      'import everything and complete nothing (no channel, team or member) until the cutover',
      false,
    )
    .option(
      '--delta-sync',
      'keep applying snapshots dropped in the inbox after the cutover (the timer)',
      false,
    )
    .option(
      '--private-channels',
      'import Slack private channels as Teams private channels with their mapped members, once the team is completed',
      false,
    )
    .option('--json', 'print the report as JSON on stdout (progress goes to stderr)', false)
    .action(async (exportArg: string | undefined, options: RunOptions) => {
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        setExitCode(await runMigration(exportArg, options, terminalIo(options.json, abort.signal)));
      } finally {
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
      }
    });

  for (const kind of ['delta', 'cutover'] as const) {
    const command = program
      .command(kind)
      .description(
        kind === 'delta'
          ? "Apply a newer snapshot of the workspace to a migration: import what it adds (a completed team's changed channels are re-opened with startMigration)"
          : 'Cut a prestaged migration over: an optional final snapshot, then complete every channel (General last) and the team, and add the members',
      )
      .argument(
        '[export]',
        kind === 'delta'
          ? "newer Slack export ZIP or folder (none: a migration reading Slack's Web API reads what is new there)"
          : 'final Slack export ZIP or folder (optional)',
      )
      .option(
        '--slack-workspace <workspace>',
        "read the newer messages through Slack's Web API with SLACK_TOKEN instead of an export: its team id, domain or name",
      )
      .option(
        '--slack-api-url <url>',
        "Slack's Web API base (default: SLACK_API_URL, else https://slack.com/api/)",
        httpUrl('--slack-api-url'),
      )
      .requiredOption('--run-id <id>', 'the migration id (as given to run)')
      .option(
        '--graph-url <url>',
        'Microsoft Graph base URL of a real tenant (credentials from AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET)',
      )
      .option(
        '--state-dir <dir>',
        'where the local host keeps its storage and the sandbox its state',
        '.teams-import',
      )
      .option(
        '--slack-files-url <url>',
        'where files.slack.com URLs are downloaded from',
        httpUrl('--slack-files-url'),
      )
      .option(
        '--max-file-mb <n>',
        'files larger than this many MiB become a notice with their size',
        positiveNumber('--max-file-mb'),
      )
      .option('--json', 'print the report as JSON on stdout (progress goes to stderr)', false);
    if (kind === 'cutover')
      command.option(
        '--delta-sync',
        'keep applying snapshots dropped in the inbox after the cutover (the timer)',
      );
    command.action(async (exportArg: string | undefined, options: PassOptions) => {
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        setExitCode(await runPass(kind, exportArg, options, terminalIo(options.json, abort.signal)));
      } finally {
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
      }
    });
  }
};

/** Where a command prints: stdout (JSON kept printable) and stderr, names from the export made safe. */
function terminalIo(json: boolean, signal: AbortSignal): RunIo {
  return {
    out: (t) => process.stdout.write(`${json ? printableJson(t) : printableLines(t)}\n`),
    err: (t) => process.stderr.write(`${printableLines(t)}\n`),
    isTty: !!process.stderr.isTTY,
    signal,
  };
}
