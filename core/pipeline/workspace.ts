import { html } from '../operations/html';
import {
  checkChannelMap as checkMap,
  mappedTeams,
  parseChannelMap,
  type ChannelMapEntry,
} from '../transform/channelMap';
import type {
  CheckChannelMapInput,
  CheckChannelMapResult,
  MigrateTeamInput,
  MigrateWorkspaceResult,
  WorkspaceTeam,
  WorkspaceTeamOutcome,
  WriteWorkspaceReportInput,
} from './contracts';
import type { PipelineDeps } from './deps';
import { runPaths } from './runStore';

/** The id of one team's migration within a workspace migration: `<workspace id>.<team key>` (`m-1a2b.t2`). */
export function teamMigrationId(workspaceId: string, teamKey: string): string {
  return `${workspaceId}.${teamKey}`;
}

/**
 * Splits a migration request across the teams of a channel map: one team migration per team, each with the
 * request's options, the team's Slack channels selected (and no other), the map's Teams channel names, and
 * the team's name; a team's migration id is {@link teamMigrationId}.
 */
export function workspaceTeams(base: MigrateTeamInput, entries: ChannelMapEntry[]): WorkspaceTeam[] {
  return mappedTeams(entries).map((team) => ({
    key: team.key,
    name: team.name,
    input: {
      ...base,
      migrationId: teamMigrationId(base.migrationId, team.key),
      team: { ...base.team, displayName: team.name },
      options: {
        ...base.options,
        channels: team.channels.map((c) => c.slackChannel),
        excludeChannels: undefined,
        channelNames: Object.fromEntries(team.channels.map((c) => [c.slackChannel, c.teamsName])),
      },
    },
  }));
}

/**
 * Reads the export's index (its channels, not their messages) and checks the channel map against it; the
 * map's errors stop the migration before any team is created.
 */
export async function checkChannelMap(
  deps: PipelineDeps,
  input: CheckChannelMapInput,
): Promise<CheckChannelMapResult> {
  const parsed = parseChannelMap(input.channelMapCsv);
  if (parsed.problems.some((p) => p.severity === 'error')) return { ok: false, problems: parsed.problems };
  let opened;
  try {
    opened = await deps.openSource(input.source);
  } catch (err) {
    return {
      ok: false,
      problems: [{ severity: 'error', code: 'export-unreadable', message: (err as Error).message }],
    };
  }
  try {
    const channels = opened.slack.conversations
      .filter((c) => c.kind === 'channel')
      .map((c) => ({ sourceId: c.sourceId, name: c.name, isGeneral: c.isGeneral }));
    const problems = [...parsed.problems, ...checkMap(parsed.entries, channels)];
    return { ok: !problems.some((p) => p.severity === 'error'), problems };
  } finally {
    await opened.release();
  }
}

/**
 * Writes the workspace's report (`runs/<id>/report.json` and `.html`: each team with its outcome and the
 * totals; each team's own report stays under its migration id) and ends the workspace's migration row.
 */
export async function writeWorkspaceReport(
  deps: PipelineDeps,
  input: WriteWorkspaceReportInput,
): Promise<MigrateWorkspaceResult> {
  const totals = { planned: 0, posted: 0, failed: 0, missing: 0 };
  for (const t of input.teams) {
    totals.planned += t.planned;
    totals.posted += t.posted;
    totals.failed += t.failed;
    totals.missing += t.missing;
  }
  const phase = workspacePhase(input.teams);
  const jsonName = runPaths.reportJson(input.migrationId);
  const htmlName = runPaths.reportHtml(input.migrationId);
  const report = {
    migrationId: input.migrationId,
    phase,
    totals,
    teams: input.teams.map((t) => ({
      ...t,
      report: { json: runPaths.reportJson(t.migrationId), html: runPaths.reportHtml(t.migrationId) },
    })),
  };
  await deps.store.put(jsonName, JSON.stringify(report, null, 2), 'application/json');
  await deps.store.put(htmlName, workspaceHtml(report), 'text/html; charset=utf-8');
  await deps.ledger.ensureMigration({ runId: input.migrationId, status: 'running', phase: 'importing' });
  await deps.ledger.updateMigration(input.migrationId, {
    status: phase === 'failed' ? 'failed' : 'completed',
    phase,
    counters: totals,
  });
  return { phase, teams: input.teams, ...totals, report: { jsonName, htmlName } };
}

/** The workspace's phase: failed when a team failed, else the least finished of its teams' phases. */
export function workspacePhase(teams: WorkspaceTeamOutcome[]): MigrateWorkspaceResult['phase'] {
  for (const phase of ['failed', 'needs-attention', 'prestaged'] as const)
    if (teams.some((t) => t.phase === phase)) return phase;
  return 'completed';
}

function workspaceHtml(report: {
  migrationId: string;
  phase: string;
  totals: { planned: number; posted: number; failed: number; missing: number };
  teams: WorkspaceTeamOutcome[];
}): string {
  const rows = report.teams.map(
    (t) =>
      html`<tr>
        <th scope="row">${t.name}</th>
        <td>${t.migrationId}</td>
        <td>${t.phase}</td>
        <td>${t.planned}</td>
        <td>${t.posted}</td>
        <td>${t.failed}</td>
        <td>${t.missing}</td>
        <td>${t.error ?? ''}</td>
      </tr>`,
  );
  const t = report.totals;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>Workspace migration ${report.migrationId}</title>
      </head>
      <body>
        <main>
          <h1>Workspace migration ${report.migrationId}: ${report.phase}</h1>
          <p>
            ${t.posted} of ${t.planned} planned messages posted, ${t.failed} failed, ${t.missing} missing,
            across ${report.teams.length} teams. Each team's own report is under its migration id.
          </p>
          <table>
            <caption>
              Teams
            </caption>
            <thead>
              <tr>
                <th scope="col">Team</th>
                <th scope="col">Migration id</th>
                <th scope="col">Phase</th>
                <th scope="col">Planned</th>
                <th scope="col">Posted</th>
                <th scope="col">Failed</th>
                <th scope="col">Missing</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              ${rows}
            </tbody>
          </table>
        </main>
      </body>
    </html> `.text;
}
