import { InvalidArgumentError, type Command } from 'commander';
import type { MigrationDashboard } from '../core/operations/dashboard';
import type { MigrationListItem } from '../core/operations/dashboardPage';
import type { MigrationReport } from '../core/pipeline/report';
import { ApiError, callApi, guarded, withApiOptions, type ApiIo, type ApiOptions } from './api';
import type { CommandRegistrar } from './command';
import { printable, printableJson, printableLines } from './printable';
import { channelDoneLines, summaryLine } from './progress';
import { formatSummary, formatWorkspaceSummary, type WorkspaceReport } from './run';

/** Options of `list`: the API options and the page size asked for. */
export interface ListOptions extends ApiOptions {
  top?: number;
}

const route = (id: string, rest = ''): string => `migrations/${encodeURIComponent(id)}${rest}`;

/** `teams-import list`: every migration of the app (all pages), with phase and counts. */
export function runList(opts: ListOptions, io: ApiIo): Promise<number> {
  return guarded(io, async () => {
    const items: MigrationListItem[] = [];
    let token: string | undefined;
    do {
      const query = new URLSearchParams({
        top: String(opts.top ?? 50),
        ...(token ? { continuationToken: token } : {}),
      });
      const page = await callApi(opts, io, 'GET', `migrations?${query.toString()}`);
      items.push(...((page.items ?? []) as MigrationListItem[]));
      token = page.continuationToken as string | undefined;
    } while (token);
    if (opts.json) return io.out(JSON.stringify(items));
    if (items.length === 0) return io.out('No migrations yet.');
    for (const m of items)
      io.out(
        `${m.id.padEnd(24)} ${m.phase.padEnd(16)} ${`${m.counts.messagesPosted}/${m.counts.messagesTotal}`.padStart(13)} messages` +
          ` ${`${m.counts.channelsDone}/${m.counts.channelsTotal}`.padStart(9)} channels` +
          (m.counts.failed ? `, ${m.counts.failed} failed` : '') +
          `  ${m.team}  (updated ${m.lastUpdatedTime})`,
      );
  });
}

/** `teams-import status <id>`: where a migration stands, channel by channel, with what is missing and why. */
export function runStatus(id: string, opts: ApiOptions, io: ApiIo): Promise<number> {
  return guarded(io, async () => {
    const live = (await callApi(
      opts,
      io,
      'GET',
      route(id, '/dashboard?format=json'),
    )) as unknown as MigrationDashboard & { fragments?: unknown; title?: unknown };
    delete live.fragments;
    delete live.title;
    if (opts.json) return io.out(JSON.stringify(live));
    io.out(
      `Migration ${live.id} (${live.team || 'team not named yet'}), orchestration ${live.runtimeStatus}`,
    );
    io.out(summaryLine(live));
    if (live.lastError) io.out(`Latest error: ${live.lastError}`);
    for (const c of live.channels) {
      const [line, ...why] = channelDoneLines(c);
      io.out(`  ${c.inFlight ? '▸' : c.done ? '✓' : ' '} ${line}`);
      why.forEach((w) => io.out(`  ${w}`));
    }
    io.out(`Live page: ${opts.api}/api/${route(live.id, '/dashboard')}`);
  });
}

/** `teams-import cancel <id>`: stops a running migration and its channel imports. */
export function runCancel(id: string, opts: ApiOptions, io: ApiIo): Promise<number> {
  return guarded(io, async () => {
    const answer = await callApi(opts, io, 'POST', route(id, '/cancel'));
    if (opts.json) return io.out(JSON.stringify(answer));
    io.out(
      `Migration ${String(answer.id)} cancelled (${Number(answer.channelsStopped ?? 0)} channel import(s) stopped). ` +
        `Resume it with: teams-import resume ${String(answer.id)}`,
    );
  });
}

/** `teams-import resume <id>`: restarts a failed, cancelled or needs-attention migration from its ledger. */
export function runResume(id: string, opts: ApiOptions, io: ApiIo): Promise<number> {
  return guarded(io, async () => {
    const answer = await callApi(opts, io, 'POST', route(id, '/resume'));
    if (opts.json) return io.out(JSON.stringify(answer));
    io.out(
      `Migration ${String(answer.id)} resumed from its ledger. Live page: ${String(answer.dashboardUrl)}`,
    );
  });
}

/** `teams-import report <id>`: the migration's report, as a summary (default), JSON, or the HTML page. */
export function runReport(id: string, opts: ApiOptions & { html: boolean }, io: ApiIo): Promise<number> {
  return guarded(io, async () => {
    if (opts.html && opts.json) throw new ApiError('report takes --html or --json, not both');
    if (opts.html) {
      const page = await callApi(opts, io, 'GET', route(id, '/report?format=html'));
      return io.out(String(page.text ?? ''));
    }
    const report = (await callApi(opts, io, 'GET', route(id, '/report'))) as unknown as MigrationReport;
    if (opts.json) return io.out(JSON.stringify(report, null, 2));
    const workspace = report as unknown as WorkspaceReport;
    if (Array.isArray(workspace.teams))
      return io.out(
        formatWorkspaceSummary(
          workspace,
          `${opts.api}/api/${route(workspace.migrationId, '/report?format=html')}`,
        ),
      );
    io.out(formatSummary(report, `${opts.api}/api/${route(report.runId, '/report?format=html')}`));
  });
}

const positiveTop = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 200)
    throw new InvalidArgumentError('--top must be a whole number from 1 to 200.');
  return n;
};

/** Adds `list`, `status`, `cancel`, `resume` and `report`: a running app's migrations over its HTTP API. */
export const registerOperations: CommandRegistrar = (program: Command, setExitCode) => {
  const io: ApiIo = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${printable(line)}\n`),
  };
  const safe: ApiIo = {
    ...io,
    out: (line) => process.stdout.write(`${printableLines(line)}\n`),
  };
  const json: ApiIo = { ...io, out: (line) => process.stdout.write(`${printableJson(line)}\n`) };
  const pick = (opts: ApiOptions): ApiIo => (opts.json ? json : safe);
  withApiOptions(program.command('list').description("list a running app's migrations with phase and counts"))
    .option('--top <n>', 'migrations per request (1-200)', positiveTop, 50)
    .action(async (opts: ListOptions) => setExitCode(await runList(opts, pick(opts))));
  withApiOptions(
    program
      .command('status')
      .argument('<id>', 'the migration id (m-...) or its instance id (migration-m-...)')
      .description("a migration's phase, progress per channel, rate, time left, and what is missing and why"),
  ).action(async (id: string, opts: ApiOptions) => setExitCode(await runStatus(id, opts, pick(opts))));
  withApiOptions(
    program
      .command('cancel')
      .argument('<id>', 'the migration id or its instance id')
      .description('stop a running migration and its channel imports (a later resume continues)'),
  ).action(async (id: string, opts: ApiOptions) => setExitCode(await runCancel(id, opts, pick(opts))));
  withApiOptions(
    program
      .command('resume')
      .argument('<id>', 'the migration id or its instance id')
      .description('restart a failed, cancelled or needs-attention migration from its ledger'),
  ).action(async (id: string, opts: ApiOptions) => setExitCode(await runResume(id, opts, pick(opts))));
  withApiOptions(
    program
      .command('report')
      .argument('<id>', 'the migration id or its instance id')
      .description("a migration's report: a summary, --json, or --html (the page a customer reads)"),
  )
    .option('--html', 'print the HTML report', false)
    .action(async (id: string, opts: ApiOptions & { html: boolean }) =>
      setExitCode(await runReport(id, opts, opts.html ? io : pick(opts))),
    );
};
