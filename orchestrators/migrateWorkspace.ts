import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  Activity,
  Orchestrator,
  type CheckChannelMapInput,
  type CheckChannelMapResult,
  type MigrateTeamResult,
  type MigrateWorkspaceInput,
  type MigrateWorkspaceResult,
  type PassKind,
  type WorkspaceTeamOutcome,
  type WriteWorkspaceReportInput,
} from '../activities/names';
import { activityRetry } from './retry';

/** What a workspace migration shows while it runs: its phase, its pass and its teams with their migration ids. */
export interface WorkspaceStatus {
  /** `pending` until the orchestration has set its status. */
  phase: 'pending' | 'checking-map' | 'importing' | 'reporting' | MigrateWorkspaceResult['phase'];
  /** The pass every team runs: `initial`, or a delta or cutover of the workspace. */
  pass: PassKind;
  teams: { key: string; name: string; migrationId: string }[];
  teamsDone: number;
  lastError?: string;
}

/** The instance id of a team's migration: the one a migration with the team's own id would have. */
export function teamInstanceId(teamMigrationId: string): string {
  return `migration-${teamMigrationId}`;
}

/**
 * Runs a workspace split across teams by a channel map. Its first pass checks the map against the export's
 * channels and the tenant (its errors stop the run before anything is created), then runs every team's
 * `migrateTeam` orchestration at once as a sub-orchestration under its own migration id (`<id>.<team key>`),
 * so each has its ledger, status page and report as a one-team migration does. A later pass (a delta or the
 * cutover of the workspace) runs that pass of every team the same way, each team's pass as it would run on
 * its own; a team whose cutover ended already is reported, not run again. The teams share the tenant's one
 * budget (posting slots and creation limits held in storage), which paces them together. Each pass ends with
 * the workspace's report over its teams.
 */
export const migrateWorkspace: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<MigrateWorkspaceInput>();
  const kind: PassKind = input.pass?.kind ?? 'initial';
  const status: WorkspaceStatus = {
    phase: kind === 'initial' ? 'checking-map' : 'importing',
    pass: kind,
    teams: input.teams.map((t) => ({ key: t.key, name: t.name, migrationId: t.input.migrationId })),
    teamsDone: 0,
  };
  context.df.setCustomStatus({ ...status });
  if (kind === 'initial') {
    const check: CheckChannelMapInput = {
      migrationId: input.migrationId,
      source: input.source!,
      channelMapCsv: input.channelMapCsv,
    };
    const checked = (yield context.df.callActivityWithRetry(
      Activity.checkChannelMap,
      activityRetry(),
      check,
    )) as CheckChannelMapResult;
    if (!checked.ok) {
      const message = `The channel map cannot be used; nothing was created in Teams.\n${checked.problems
        .filter((p) => p.severity === 'error')
        .map((p) => p.message)
        .join('\n')}`;
      status.phase = 'failed';
      status.lastError = message;
      context.df.setCustomStatus({ ...status });
      throw new Error(message);
    }
  }
  const outcomes: WorkspaceTeamOutcome[] = [];

  status.phase = 'importing';
  context.df.setCustomStatus({ ...status });
  const running = input.teams.filter((team) => !team.done);
  status.teamsDone = input.teams.length - running.length;
  const tasks = new Map(
    running.map((team) => [
      team.key,
      context.df.callSubOrchestrator(
        Orchestrator.migrateTeam,
        team.input,
        teamInstanceId(team.input.migrationId),
      ),
    ]),
  );
  const pending = new Set<Task>(tasks.values());
  while (pending.size > 0) {
    const done = (yield context.df.Task.any([...pending])) as Task;
    pending.delete(done);
    status.teamsDone += 1;
    context.df.setCustomStatus({ ...status });
  }
  for (const team of input.teams) {
    const task = tasks.get(team.key);
    const base = { key: team.key, name: team.name, migrationId: team.input.migrationId };
    if (!task) {
      outcomes.push({
        ...base,
        carried: true,
        phase: 'completed',
        planned: 0,
        posted: 0,
        failed: 0,
        missing: 0,
      });
    } else if (task.isFaulted) {
      const error = task.result instanceof Error ? task.result.message : String(task.result);
      outcomes.push({ ...base, phase: 'failed', planned: 0, posted: 0, failed: 0, missing: 0, error });
    } else {
      const r = task.result as MigrateTeamResult;
      outcomes.push({
        ...base,
        phase: r.phase,
        teamId: r.teamId,
        planned: r.planned,
        posted: r.posted,
        failed: r.failed,
        missing: r.missing,
      });
    }
  }

  status.phase = 'reporting';
  context.df.setCustomStatus({ ...status });
  const write: WriteWorkspaceReportInput = {
    migrationId: input.migrationId,
    teams: outcomes,
    ...(kind !== 'initial' ? { pass: kind } : {}),
    ...(input.pass?.fromInbox && input.source ? { processed: input.source } : {}),
  };
  const result = (yield context.df.callActivityWithRetry(
    Activity.writeWorkspaceReport,
    activityRetry(),
    write,
  )) as MigrateWorkspaceResult;
  status.phase = result.phase;
  context.df.setCustomStatus({ ...status });
  return result;
};

df.app.orchestration(Orchestrator.migrateWorkspace, migrateWorkspace);
