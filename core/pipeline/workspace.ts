import { html } from '../operations/html';
import { GraphError } from '../graph/errors';
import type { TeamsImportClient } from '../graph/teamsImport';
import {
  checkChannelMap as checkMap,
  mappedTeams,
  parseChannelMap,
  type ChannelMapEntry,
  type MapTenant,
  type MappedTeam,
} from '../transform/channelMap';
import type {
  CheckChannelMapInput,
  MigrateWorkspaceInput,
  SourceRef,
  CheckChannelMapResult,
  MigrateTeamInput,
  MigrateWorkspaceResult,
  WorkspaceTeam,
  WorkspaceTeamOutcome,
  WriteWorkspaceReportInput,
} from './contracts';
import type { PipelineDeps } from './deps';
import { moveToProcessed } from './passes';
import { readJson, runPaths } from './runStore';
import { carriesRunMark } from './teams';

/** The id of one team's migration within a workspace migration: `<workspace id>.<team key>` (`m-1a2b.t2`). */
export function teamMigrationId(workspaceId: string, teamKey: string): string {
  return `${workspaceId}.${teamKey}`;
}

/**
 * Splits a migration request across the teams of a channel map: one team migration per team, each with the
 * request's options, the team's Slack channels selected (and no other), the map's Teams channel names, and
 * the team's name, or, for a team the map names by id, that existing team (imported into as `--team-id`
 * does); a team's migration id is {@link teamMigrationId}.
 */
export function workspaceTeams(base: MigrateTeamInput, entries: ChannelMapEntry[]): WorkspaceTeam[] {
  return mappedTeams(entries).map((team) => ({
    key: team.key,
    name: team.name,
    ...(team.existingTeamId ? { existingTeamId: team.existingTeamId } : {}),
    input: {
      ...base,
      migrationId: teamMigrationId(base.migrationId, team.key),
      team: team.existingTeamId
        ? { visibility: base.team.visibility, id: team.existingTeamId }
        : { ...base.team, displayName: team.name },
      options: {
        ...base.options,
        channels: team.channels.map((c) => c.slackChannel),
        excludeChannels: undefined,
        channelNames: Object.fromEntries(team.channels.map((c) => [c.slackChannel, c.teamsName])),
      },
    },
  }));
}

/** What a workspace migration keeps of its start for the passes after it: its source, map and teams. */
export interface WorkspaceRecord {
  migrationId: string;
  source: SourceRef;
  channelMapCsv: string;
  teams: { key: string; name: string; migrationId: string; existingTeamId?: string }[];
}

/** Records a workspace migration as it starts (`runs/<id>/workspace.json`): no user map, no secret. */
export async function recordWorkspace(
  deps: Pick<PipelineDeps, 'store'>,
  input: MigrateWorkspaceInput,
): Promise<void> {
  const record: WorkspaceRecord = {
    migrationId: input.migrationId,
    source: input.source!,
    channelMapCsv: input.channelMapCsv,
    teams: input.teams.map((t) => ({
      key: t.key,
      name: t.name,
      migrationId: t.input.migrationId,
      ...(t.existingTeamId ? { existingTeamId: t.existingTeamId } : {}),
    })),
  };
  await deps.store.put(runPaths.workspace(input.migrationId), JSON.stringify(record), 'application/json');
}

/** The record of a workspace migration, or undefined when the id is not one. */
export async function readWorkspace(
  deps: Pick<PipelineDeps, 'store'>,
  migrationId: string,
): Promise<WorkspaceRecord | undefined> {
  return readJson<WorkspaceRecord>(deps.store, runPaths.workspace(migrationId));
}

/** What the run already made of a map's team: its team's id, and the channels it created there. */
export interface OwnTeam {
  teamId?: string;
  channelIds: string[];
  /** The team migration's id, whose mark a team it created carries. */
  runId?: string;
}

/**
 * Asks the tenant about a channel map's teams, for {@link checkMap}: each new team's name among the tenant's
 * teams (`GET /groups` filtered on the name; a team the run created itself, by its ledger or its mark, is not
 * a clash), and each existing team the map names by id (missing, its migration mode, and its channels less
 * those the run created in it).
 */
export async function lookUpMapTeams(
  graph: Pick<TeamsImportClient, 'findTeamGroupsByName' | 'getTeam' | 'listChannels'>,
  teams: MappedTeam[],
  own: (team: MappedTeam) => Promise<OwnTeam> = () => Promise.resolve({ channelIds: [] }),
): Promise<MapTenant> {
  const tenant: MapTenant = { takenTeamNames: [], existingTeams: {} };
  for (const team of teams) {
    const mine = await own(team);
    if (!team.existingTeamId) {
      const clashes = (await graph.findTeamGroupsByName(team.name)).filter(
        (g) => g.id !== mine.teamId && !(mine.runId && carriesRunMark(g.description, mine.runId)),
      );
      if (clashes.length > 0) tenant.takenTeamNames.push(team.name);
      continue;
    }
    let found;
    try {
      found = await graph.getTeam(team.existingTeamId);
    } catch (err) {
      if (err instanceof GraphError && err.status === 404) {
        tenant.existingTeams[team.existingTeamId] = null;
        continue;
      }
      throw err;
    }
    const made = new Set(mine.channelIds);
    tenant.existingTeams[team.existingTeamId] = {
      displayName: found.displayName ?? team.existingTeamId,
      migrationMode: found.migrationMode ?? null,
      channels: (await graph.listChannels(team.existingTeamId))
        .filter((c) => !made.has(c.id) || (c.displayName ?? '').toLowerCase() === 'general')
        .map((c) => c.displayName ?? ''),
    };
  }
  return tenant;
}

/**
 * Reads the export's index (its channels, not their messages) and checks the channel map against it and
 * against the tenant (a new team's name taken, an existing team missing, in migration mode, or with a channel
 * of a mapped name; its channels count toward the 200); the map's errors stop the migration before any team
 * is created.
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
    const offline = [...parsed.problems, ...checkMap(parsed.entries, channels)];
    if (offline.some((p) => p.severity === 'error')) return { ok: false, problems: offline };
    const tenant = await lookUpMapTeams(deps.graph, mappedTeams(parsed.entries), async (team) => {
      const runId = teamMigrationId(input.migrationId, team.key);
      const row = (await deps.ledger.getMigration(runId))?.value;
      const channelIds = row?.teamId
        ? (await deps.ledger.listChannels(runId)).flatMap((c) => (c.teamsChannelId ? [c.teamsChannelId] : []))
        : [];
      return { runId, channelIds, ...(row?.teamId ? { teamId: row.teamId } : {}) };
    });
    const problems = [...parsed.problems, ...checkMap(parsed.entries, channels, { tenant })];
    return { ok: !problems.some((p) => p.severity === 'error'), problems };
  } finally {
    await opened.release();
  }
}

/**
 * Writes the workspace's report (`runs/<id>/report.json` and `.html`: each team with its outcome and the
 * totals; each team's own report stays under its migration id) at the end of each of its passes, and ends the
 * workspace's migration row: its phase, and its stage from its teams' (prestaged when every team is, completed
 * when every team is, cutting over while any team is), delta sync on when every team has it. A team this pass
 * did not run (`carried`) is reported from its own report. An inbox snapshot every team applied is moved to
 * `processed/`, and each team whose source it was follows it.
 */
export async function writeWorkspaceReport(
  deps: PipelineDeps,
  input: WriteWorkspaceReportInput,
): Promise<MigrateWorkspaceResult> {
  const teams: WorkspaceTeamOutcome[] = [];
  for (const t of input.teams) teams.push(t.carried ? await carriedOutcome(deps, t) : t);
  const totals = { planned: 0, posted: 0, failed: 0, missing: 0 };
  for (const t of teams) {
    totals.planned += t.planned;
    totals.posted += t.posted;
    totals.failed += t.failed;
    totals.missing += t.missing;
  }
  const phase = workspacePhase(teams);
  const jsonName = runPaths.reportJson(input.migrationId);
  const htmlName = runPaths.reportHtml(input.migrationId);
  const report = {
    migrationId: input.migrationId,
    phase,
    pass: input.pass ?? 'initial',
    totals,
    teams: teams.map((t) => ({
      ...t,
      report: { json: runPaths.reportJson(t.migrationId), html: runPaths.reportHtml(t.migrationId) },
    })),
  };
  if (input.processed)
    await moveToProcessed(deps, [input.migrationId, ...teams.map((t) => t.migrationId)], input.processed);
  await deps.store.put(jsonName, JSON.stringify(report, null, 2), 'application/json');
  await deps.store.put(htmlName, workspaceHtml(report), 'text/html; charset=utf-8');
  const rows = await Promise.all(
    teams.map(async (t) => (await deps.ledger.getMigration(t.migrationId))?.value),
  );
  const stages = rows.map((r) => r?.stage ?? 'importing');
  const stage = stages.every((st) => st === 'prestaged')
    ? 'prestaged'
    : stages.every((st) => st === 'completed')
      ? 'completed'
      : stages.some((st) => st === 'cutting-over' || st === 'completed')
        ? 'cutting-over'
        : 'importing';
  await deps.ledger.ensureMigration({ runId: input.migrationId, status: 'running', phase: 'importing' });
  await deps.ledger.updateMigration(input.migrationId, {
    status: phase === 'failed' ? 'failed' : 'completed',
    phase,
    counters: totals,
    stage,
    deltaSync: rows.length > 0 && rows.every((r) => r?.deltaSync === true),
  });
  return { phase, teams, ...totals, report: { jsonName, htmlName } };
}

/** A team a pass did not run, as its own report has it. */
async function carriedOutcome(deps: PipelineDeps, t: WorkspaceTeamOutcome): Promise<WorkspaceTeamOutcome> {
  const name = runPaths.reportJson(t.migrationId);
  if (!(await deps.store.exists(name))) return { ...t, carried: undefined };
  const own = JSON.parse((await deps.store.get(name)).toString('utf8')) as {
    phase: WorkspaceTeamOutcome['phase'];
    team?: { teamId?: string };
    totals: { planned: number; posted: number; failed: number; missing: number };
  };
  const { carried: _carried, ...rest } = t;
  return {
    ...rest,
    phase: own.phase,
    ...(own.team?.teamId ? { teamId: own.team.teamId } : {}),
    planned: own.totals.planned,
    posted: own.totals.posted,
    failed: own.totals.failed,
    missing: own.totals.missing,
  };
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
  pass: string;
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
            After its ${report.pass} pass: ${t.posted} of ${t.planned} planned messages posted, ${t.failed}
            failed, ${t.missing} missing, across ${report.teams.length} teams. Each team's own report is under
            its migration id.
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
