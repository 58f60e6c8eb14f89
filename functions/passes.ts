import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import {
  Orchestrator,
  type MigrateTeamInput,
  type MigrateWorkspaceInput,
  type MigrationStatus,
  type PassKind,
  type SourceRef,
  type WorkspaceTeam,
} from '../activities/names';
import { readWorkspace } from '../core/pipeline/workspace';
import { describeSource } from '../core/pipeline/passes';
import { readSourceRef } from '../core/pipeline/runStore';
import { readRequest } from '../core/pipeline/stage';
import {
  ACTIVE,
  TEAM_MIGRATION_ID,
  findStatus,
  migrationInstanceId,
  requestedIds,
} from './migrationLookup';
import { sourceRef, sourceSchema } from './migrations';
import { runtime } from './runtime';
import { scheduleProblem } from './settings';
import { issueMessages } from './requestErrors';

const deltaSchema = z.object({ source: sourceSchema.optional() }).strict();
const cutoverSchema = z
  .object({
    source: sourceSchema.optional(),
    deltaSync: z.boolean({ error: 'deltaSync must be true or false' }).optional(),
  })
  .strict();

/** Why a pass cannot start now: an HTTP status, the reason, and the phase the migration is in. */
export interface PassRefusal {
  ok: false;
  status: 400 | 404 | 409;
  error: string;
  phase?: string;
}

/**
 * Checks that a delta or a cutover of a migration may start now and builds its orchestration input from the
 * migration's first request: 409 naming the phase while a pass runs (one instance per migration, so two
 * passes never run at once), or when the migration's stage does not allow the pass; 404 when it is unknown.
 * A delta without a source reads the workspace again through Slack's Web API when the migration does (each
 * channel from its newest imported message less the look-back); any other migration needs a newer snapshot
 * (400), and a Web API source needs `SLACK_TOKEN` (400).
 */
export async function passStart(
  client: df.DurableClient,
  migrationId: string,
  kind: Exclude<PassKind, 'initial'>,
  source: SourceRef | undefined,
  extra: { deltaSync?: boolean; fromInbox?: boolean } = {},
): Promise<{ ok: true; input: MigrateTeamInput } | PassRefusal> {
  const status = await findStatus(client, migrationInstanceId(migrationId));
  const custom = (status?.customStatus ?? undefined) as MigrationStatus | undefined;
  if (status && ACTIVE.has(status.runtimeStatus)) {
    const phase = custom?.phase ?? 'pending';
    const running = custom?.pass ? `its ${custom.pass.kind} pass (pass ${custom.pass.number})` : 'a pass';
    return {
      ok: false,
      status: 409,
      phase,
      error: `Migration '${migrationId}' is running ${running}, phase ${phase}: wait for it to end, then start the ${kind}.`,
    };
  }
  const deps = await runtime().pipelineDeps();
  const migration = (await deps.ledger.getMigration(migrationId))?.value;
  const request = await readRequest(deps, migrationId);
  if (!migration || !request)
    return {
      ok: false,
      status: 404,
      error: `No migration '${migrationId}' is known to this app: start it with POST /api/migrations first.`,
    };
  const stage = migration.stage ?? 'importing';
  const phase = custom?.phase ?? stage;
  if (kind === 'delta' && !source) {
    const read = await readSourceRef(deps.store, migrationId);
    if (read?.kind !== 'slack-api')
      return {
        ok: false,
        status: 400,
        error: `A delta of migration '${migrationId}' needs a newer snapshot: give "source": {"path": ...} or {"blob": {...}}. Only a migration that reads Slack's Web API takes a delta without one.`,
      };
    source = {
      kind: 'slack-api',
      ...(read.workspace ? { workspace: read.workspace } : {}),
      ...(read.includePrivate ? { includePrivate: true } : {}),
    };
  }
  if (source?.kind === 'slack-api' && !runtime().settings.slackToken)
    return {
      ok: false,
      status: 400,
      error:
        "A Slack API source reads the workspace with SLACK_TOKEN, which this app does not have: set SLACK_TOKEN (a Key Vault reference in Azure) to the token of the workspace's Slack app.",
    };
  if (kind === 'delta' && (stage === 'importing' || stage === 'cutting-over'))
    return {
      ok: false,
      status: 409,
      phase,
      error:
        stage === 'importing'
          ? `Migration '${migrationId}' has not finished its first pass (phase ${phase}): run it again until it is prestaged or completed, then apply deltas.`
          : `Migration '${migrationId}' is cutting over (phase ${phase}): run its cutover again to finish it, then apply deltas.`,
    };
  if (kind === 'cutover' && stage !== 'prestaged' && stage !== 'cutting-over')
    return {
      ok: false,
      status: 409,
      phase,
      error: `Migration '${migrationId}' is not prestaged (phase ${phase}): only a migration started with "prestage": true is cut over.`,
    };
  return {
    ok: true,
    input: {
      migrationId,
      ...(source ? { source } : {}),
      team: request.team,
      options: request.options,
      pass: {
        kind,
        ...(extra.deltaSync !== undefined ? { deltaSync: extra.deltaSync } : {}),
        ...(extra.fromInbox ? { fromInbox: true } : {}),
      },
    },
  };
}

/**
 * Checks that a delta or a cutover of a workspace migration may start now and builds its orchestration input:
 * 409 while the workspace runs, else each team's pass as {@link passStart} builds it for the team's own id (a
 * team that refuses refuses the workspace's pass, naming the team). A cutover run again after some teams' cutover
 * ended leaves those teams out (they are reported as they are); a delta from the workspace's inbox moves the
 * snapshot to `processed/` once every team applied it.
 */
export async function workspacePassStart(
  client: df.DurableClient,
  migrationId: string,
  kind: Exclude<PassKind, 'initial'>,
  source: SourceRef | undefined,
  extra: { deltaSync?: boolean; fromInbox?: boolean } = {},
): Promise<{ ok: true; input: MigrateWorkspaceInput } | PassRefusal | undefined> {
  const deps = await runtime().pipelineDeps();
  const workspace = await readWorkspace(deps, migrationId);
  if (!workspace) return undefined;
  const status = await findStatus(client, migrationInstanceId(migrationId));
  if (status && ACTIVE.has(status.runtimeStatus)) {
    const phase = (status.customStatus as { phase?: string } | null)?.phase ?? 'pending';
    return {
      ok: false,
      status: 409,
      phase,
      error: `Workspace migration '${migrationId}' is running (phase ${phase}): wait for it to end, then start the ${kind}.`,
    };
  }
  const stages = await Promise.all(
    workspace.teams.map(async (t) => (await deps.ledger.getMigration(t.migrationId))?.value?.stage),
  );
  const resumingCutover =
    kind === 'cutover' &&
    stages.some((st) => st === 'completed') &&
    stages.some((st) => st === 'prestaged' || st === 'cutting-over');
  const teams: WorkspaceTeam[] = [];
  for (const [i, team] of workspace.teams.entries()) {
    const base = {
      key: team.key,
      name: team.name,
      ...(team.existingTeamId ? { existingTeamId: team.existingTeamId } : {}),
    };
    if (resumingCutover && stages[i] === 'completed') {
      const request = await readRequest(deps, team.migrationId);
      teams.push({
        ...base,
        done: true,
        input: {
          migrationId: team.migrationId,
          team: request?.team ?? { visibility: 'private' },
          options: request!.options,
        },
      });
      continue;
    }
    const start = await passStart(client, team.migrationId, kind, source, {
      ...(extra.deltaSync !== undefined ? { deltaSync: extra.deltaSync } : {}),
    });
    if (!start.ok)
      return {
        ...start,
        error: `Team '${team.name}' (${team.migrationId}) of workspace migration '${migrationId}': ${start.error}`,
      };
    teams.push({ ...base, input: start.input });
  }
  return {
    ok: true,
    input: {
      migrationId,
      ...(source ? { source } : {}),
      channelMapCsv: workspace.channelMapCsv,
      teams,
      pass: { kind, ...(extra.fromInbox ? { fromInbox: true } : {}) },
    },
  };
}

/** Starts a pass as an execution of the migration's own instance; a start that loses a race answers 409. */
async function startPass(
  request: HttpRequest,
  client: df.DurableClient,
  context: InvocationContext,
  kind: Exclude<PassKind, 'initial'>,
): Promise<HttpResponseInit> {
  const migrationId = requestedIds(request.params.id)[0];
  if (!migrationId)
    return {
      status: 400,
      jsonBody: {
        error: `${JSON.stringify(request.params.id.slice(0, 100))} is not a migration id: ids are 1-63 letters, digits, '-' or '_' starting with a letter or digit.`,
      },
    };
  const text = await request.text();
  let body: unknown = {};
  try {
    if (text.trim()) body = JSON.parse(text);
  } catch {
    return { status: 400, jsonBody: { errors: ['The body must be a JSON object.'] } };
  }
  const parsed = (kind === 'delta' ? deltaSchema : cutoverSchema).safeParse(body);
  if (!parsed.success)
    return {
      status: 400,
      jsonBody: {
        errors: issueMessages(parsed.error),
      },
    };
  const source = parsed.data.source ? sourceRef(parsed.data.source) : undefined;
  const deltaSync = kind === 'cutover' ? (parsed.data as z.infer<typeof cutoverSchema>).deltaSync : undefined;
  const workspace = await workspacePassStart(client, migrationId, kind, source, { deltaSync });
  const start = workspace ?? (await passStart(client, migrationId, kind, source, { deltaSync }));
  if (!start.ok)
    return {
      status: start.status,
      jsonBody: { error: start.error, ...(start.phase ? { phase: start.phase } : {}) },
    };
  const instanceId = migrationInstanceId(migrationId);
  try {
    if (workspace?.ok)
      await client.startNew(Orchestrator.migrateWorkspace, { instanceId, input: workspace.input });
    else await client.startNew(Orchestrator.migrateTeam, { instanceId, input: start.input });
  } catch (err) {
    const now = await findStatus(client, instanceId);
    if (!now || !ACTIVE.has(now.runtimeStatus)) throw err;
    const phase = (now.customStatus as MigrationStatus | undefined)?.phase ?? 'pending';
    return {
      status: 409,
      jsonBody: {
        error: `Migration '${migrationId}' is running a pass started by a concurrent request (phase ${phase}): wait for it to end.`,
        phase,
      },
    };
  }
  context.log(
    `Started the ${kind} of migration ${migrationId} (${describeSource(source) || 'no snapshot'}).`,
  );
  return client.createCheckStatusResponse(request, instanceId);
}

df.app.client.http('startMigrationDelta', {
  route: 'migrations/{id}/delta',
  methods: ['POST'],
  authLevel: 'function',
  handler: (request: HttpRequest, client: df.DurableClient, context: InvocationContext) =>
    startPass(request, client, context, 'delta'),
});

df.app.client.http('startMigrationCutover', {
  route: 'migrations/{id}/cutover',
  methods: ['POST'],
  authLevel: 'function',
  handler: (request: HttpRequest, client: df.DurableClient, context: InvocationContext) =>
    startPass(request, client, context, 'cutover'),
});

/**
 * One firing of the delta-sync timer: for each migration with delta sync on (prestaged, or opted in for after
 * its cutover) whose instance is not running, starts one delta with the oldest snapshot of its inbox, or, when
 * the inbox is empty and the migration reads Slack's Web API, one delta reading what is new there. A workspace
 * migration is one migration here: its delta runs on every team, from the workspace's inbox; its teams are
 * not synced on their own. The pass
 * moves an inbox snapshot to `processed/` when it ends, so the next firing applies the next one; a firing that
 * overlaps a running pass leaves that migration alone.
 */
export async function migrationDeltaSync(
  client: df.DurableClient,
  context: InvocationContext,
): Promise<void> {
  const deps = await runtime().pipelineDeps();
  for (const migration of await deps.ledger.allMigrations()) {
    // A team of a workspace migration is synced with its workspace, from the workspace's inbox.
    if (TEAM_MIGRATION_ID.test(migration.runId)) continue;
    const on =
      migration.stage === 'prestaged' || (migration.stage === 'completed' && migration.deltaSync === true);
    if (!on) continue;
    const [next] = await deps.inbox.list(migration.runId);
    const workspace = await readWorkspace(deps, migration.runId);
    const live = next
      ? undefined
      : workspace
        ? workspace.source
        : await readSourceRef(deps.store, migration.runId);
    if (!next && live?.kind !== 'slack-api') continue;
    const extra = next ? { fromInbox: true } : {};
    const start = workspace
      ? ((await workspacePassStart(client, migration.runId, 'delta', next, extra)) ?? {
          ok: false as const,
          error: 'its workspace record is gone',
        })
      : await passStart(client, migration.runId, 'delta', next, extra);
    if (!start.ok) {
      context.log(`Delta sync of migration ${migration.runId} waits: ${start.error}`);
      continue;
    }
    try {
      await client.startNew(workspace ? Orchestrator.migrateWorkspace : Orchestrator.migrateTeam, {
        instanceId: migrationInstanceId(migration.runId),
        input: start.input,
      });
      context.log(
        `Delta sync of migration ${migration.runId}: ${next ? `applying ${describeSource(next)}` : 'reading what is new in Slack through its Web API'}.`,
      );
    } catch (err) {
      context.log(
        `Delta sync of migration ${migration.runId} did not start (${err instanceof Error ? err.message : String(err)}); the next firing tries again.`,
      );
    }
  }
}

const schedule = process.env.MIGRATION_DELTA_SCHEDULE?.trim();
if (schedule) {
  const problem = scheduleProblem(schedule);
  if (problem)
    throw new Error(
      `Invalid app settings:\n- MIGRATION_DELTA_SCHEDULE '${schedule}' is not an NCRONTAB schedule ({second} {minute} {hour} {day} {month} {day-of-week}): ${problem}`,
    );
  df.app.client.timer('migrationDeltaSync', {
    schedule,
    handler: (_timer: unknown, client: df.DurableClient, context: InvocationContext) =>
      migrationDeltaSync(client, context),
  });
}
