import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  Orchestrator,
  type MigrateTeamInput,
  type MigrateWorkspaceInput,
  type MigrationStatus,
  type SourceRef,
} from '../activities/names';
import { readWorkspace, recordWorkspace, workspaceTeams } from '../core/pipeline/workspace';
import { mappedTeams, parseChannelMap } from '../core/transform/channelMap';
import type { WorkspaceStatus } from '../orchestrators/migrateWorkspace';
import { explainChannel, passReports } from '../core/pipeline/report';
import { readManifest, runPaths } from '../core/pipeline/runStore';
import type { ChannelRecord } from '../core/state/ledgerRecords';
import { RUN_OPTION_DEFAULTS as D } from '../core/pipeline/contracts';
import {
  INSTANCE_PREFIX,
  MIGRATION_ID,
  findStatus,
  lookupMigration,
  migrationInstanceId,
  requestedIds,
  startedResponse,
} from './migrationLookup';
import { runtime } from './runtime';
import { issueMessages } from './requestErrors';

export { migrationInstanceId };
/** Largest start request body read: the user map is the only large field (see {@link MAX_USER_MAP_CHARS}). */
export const MAX_START_BODY_BYTES = 16 * 1024 * 1024;
/** Longest user map CSV: about 100,000 users. */
export const MAX_USER_MAP_CHARS = 8 * 1024 * 1024;
/** Longest channel map CSV: about 10,000 channels. */
export const MAX_CHANNEL_MAP_CHARS = 1024 * 1024;
/** Most channels named in `channels` or `excludeChannels`, and the longest name. */
const MAX_CHANNEL_LIST = 10_000;
const MAX_NAME = 256;

const isoDate = (field: string) =>
  z
    .string()
    .max(64, { error: `${field} must be an ISO date such as 2024-01-31 or 2024-01-31T12:00:00Z` })
    .refine((v) => !Number.isNaN(Date.parse(v)), {
      error: `${field} must be an ISO date such as 2024-01-31 or 2024-01-31T12:00:00Z`,
    });

const channelList = (field: string) =>
  z
    .array(
      z
        .string()
        .min(1)
        .max(MAX_NAME, { error: `${field} entries must be at most ${MAX_NAME} characters` }),
    )
    .max(MAX_CHANNEL_LIST, { error: `${field} must list at most ${MAX_CHANNEL_LIST} channels` });

/**
 * Where a migration's messages come from, in a request body: an export at a path on the host (local hosts) or
 * in a blob of the app's storage, or a workspace read through Slack's Web API.
 */
export const sourceSchema = z.union(
  [
    z.object({ path: z.string().min(1).max(4096) }).strict(),
    z
      .object({
        blob: z.object({ container: z.string().min(3).max(63), name: z.string().min(1).max(1024) }).strict(),
      })
      .strict(),
    z
      .object({
        kind: z.literal('slack-api'),
        workspace: z.string().trim().min(1).max(MAX_NAME).optional(),
        includePrivate: z.boolean().optional(),
      })
      .strict(),
  ],
  {
    error:
      'source must be {"path": "<export.zip or folder on the host>"}, {"blob": {"container", "name"}} or ' +
      '{"kind": "slack-api", "workspace"?: "<team id, domain or name>", "includePrivate"?: true}',
  },
);

/** A request's source as the pipeline names it. */
export function sourceRef(source: z.infer<typeof sourceSchema>): SourceRef {
  return 'path' in source
    ? { kind: 'path', path: source.path }
    : 'blob' in source
      ? { kind: 'blob', ...source.blob }
      : source;
}

/** The body of `POST /api/migrations`. */
export const startMigrationSchema = z
  .object({
    migrationId: z
      .string()
      .regex(MIGRATION_ID, {
        error: 'migrationId must be 1-63 letters, digits, "-" or "_", starting with a letter or digit',
      })
      .optional(),
    source: sourceSchema,
    team: z
      .object({
        displayName: z
          .string()
          .trim()
          .min(1, { error: 'team.displayName must not be empty' })
          .max(256, { error: 'team.displayName must be at most 256 characters' })
          .optional(),
        description: z
          .string()
          .max(1024, { error: 'team.description must be at most 1024 characters' })
          .optional(),
        visibility: z.enum(['private', 'public']).default('private'),
        id: z
          .string()
          .regex(/^[0-9a-fA-F-]{36}$|^[A-Za-z0-9._:@-]{1,128}$/, {
            error: 'team.id must be the id (a GUID) of an existing team',
          })
          .optional(),
      })
      .strict()
      .prefault({}),
    userMap: z
      .string()
      .max(MAX_USER_MAP_CHARS, {
        error: `userMap must be at most ${MAX_USER_MAP_CHARS} characters of CSV (about 100,000 users)`,
      })
      .optional(),
    userGroups: z
      .string()
      .max(MAX_USER_MAP_CHARS, {
        error: `userGroups must be at most ${MAX_USER_MAP_CHARS} characters of CSV`,
      })
      .optional(),
    fallbackUser: z
      .string()
      .min(1)
      .max(MAX_NAME, { error: `fallbackUser must be at most ${MAX_NAME} characters` })
      .optional(),
    channelMap: z
      .string()
      .min(1, { error: 'channelMap must not be empty' })
      .max(MAX_CHANNEL_MAP_CHARS, {
        error: `channelMap must be at most ${MAX_CHANNEL_MAP_CHARS} characters of CSV`,
      })
      .optional(),
    channels: channelList('channels').optional(),
    excludeChannels: channelList('excludeChannels').optional(),
    since: isoDate('since').optional(),
    until: isoDate('until').optional(),
    prestage: z.boolean({ error: 'prestage must be true or false' }).optional(),
    dms: z
      .enum(['chats', 'onedrive', 'skip'], { error: "dms must be 'chats', 'onedrive' or 'skip'" })
      .optional(),
    privateChannels: z.boolean({ error: 'privateChannels must be true or false' }).optional(),
    deltaSync: z.boolean({ error: 'deltaSync must be true or false' }).optional(),
    options: z
      .object({
        includeSystemEvents: z.boolean().default(D.includeSystemEvents),
        channelConcurrency: z.number().int().min(1).max(50).default(D.channelConcurrency),
        batchSeconds: z.number().min(1).max(300).default(D.batchSeconds),
        batchesPerExecution: z.number().int().min(1).max(100).default(D.batchesPerExecution),
        operationPollSeconds: z.number().min(0.1).max(300).default(D.operationPollSeconds),
        completeOnErrors: z.boolean().default(D.completeOnErrors),
        reactions: z.enum(['native', 'text']).default(D.reactions),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((b) => !b.since || !b.until || Date.parse(b.since) < Date.parse(b.until), {
    error: 'since must be before until',
  })
  .refine(
    (b) => !b.channelMap || (!b.channels && !b.excludeChannels && !b.team.displayName && !b.team.id),
    {
      error:
        'channelMap names the teams and their channels: leave out team.displayName, team.id, channels and excludeChannels with it',
    },
  )
  .refine((b) => !(b.team.id && b.prestage), {
    error:
      'prestage cannot be used with team.id: an existing team is not in migration mode, so its channels would show the import banner until the cutover; import into it in one run',
  });

/** A start request, validated: the orchestration input, or the list of mistakes. */
export function parseStartRequest(
  body: unknown,
  fallbackUser?: string,
):
  { ok: true; input: MigrateTeamInput; workspace?: MigrateWorkspaceInput } | { ok: false; errors: string[] } {
  const parsed = startMigrationSchema.safeParse(body);
  if (!parsed.success)
    return {
      ok: false,
      errors: issueMessages(parsed.error),
    };
  const b = parsed.data;
  const source = sourceRef(b.source);
  const migrationId =
    b.migrationId ??
    `m-${createHash('sha256')
      .update(
        JSON.stringify([
          source,
          b.team.displayName ?? '',
          ...(b.channelMap ? [b.channelMap] : []),
          ...(b.team.id ? [b.team.id] : []),
        ]),
      )
      .digest('hex')
      .slice(0, 16)}`;
  const input: MigrateTeamInput = {
    migrationId,
    source,
    team: b.team,
    options: {
      ...b.options,
      channels: b.channels,
      excludeChannels: b.excludeChannels,
      since: b.since,
      until: b.until,
      fallbackUser: b.fallbackUser ?? fallbackUser,
      userMapCsv: b.userMap,
      userGroupsCsv: b.userGroups,
      ...(b.prestage ? { prestage: true } : {}),
      ...(b.dms && b.dms !== 'skip' ? { dms: b.dms } : {}),
      ...(b.privateChannels ? { privateChannels: true } : {}),
      ...(b.deltaSync !== undefined ? { deltaSync: b.deltaSync } : {}),
    },
  };
  if (!b.channelMap) return { ok: true, input };
  const map = parseChannelMap(b.channelMap);
  const errors = map.problems.filter((p) => p.severity === 'error').map((p) => `channelMap: ${p.message}`);
  if (errors.length > 0) return { ok: false, errors };
  const existing = mappedTeams(map.entries).filter((t) => t.existingTeamId);
  if (b.prestage && existing.length > 0)
    return {
      ok: false,
      errors: [
        `prestage cannot be used with a channel map that names an existing team (${existing.map((t) => t.name).join(', ')}): an existing team is not in migration mode, so its channels would show the import banner until the cutover; import into it in a run of its own, without prestage`,
      ],
    };
  return {
    ok: true,
    input,
    workspace: {
      migrationId,
      source,
      channelMapCsv: b.channelMap,
      teams: workspaceTeams(input, map.entries),
    },
  };
}

const ACTIVE = new Set<string>([
  df.OrchestrationRuntimeStatus.Running,
  df.OrchestrationRuntimeStatus.Pending,
]);

/** A migration's channels as the status JSON lists them: plan, ledger counts and what is missing and why. */
async function channelViews(
  deps: Awaited<ReturnType<ReturnType<typeof runtime>['pipelineDeps']>>,
  migrationId: string,
  ended: boolean,
) {
  const records = new Map((await deps.ledger.listChannels(migrationId)).map((c) => [c.channelKey, c]));
  const staged = await deps.store.exists(runPaths.manifest(migrationId));
  const channels = staged
    ? (await readManifest(deps.store, migrationId)).channels.map((c) => {
        const r = records.get(c.key);
        const outcome = channelOutcome(c.messages, r);
        return {
          key: c.key,
          source: c.sourceName,
          teamsName: c.teamsName,
          planned: c.messages,
          state: r?.state ?? 'pending',
          posted: outcome.posted,
          failed: outcome.failed,
          missing: outcome.missing,
          throttled: r?.throttled ?? 0,
          ...(r?.lastError ? { lastError: r.lastError } : {}),
          ...(r?.error ? { error: r.error } : {}),
          ...(r?.waitUntil ? { waitingUntil: r.waitUntil } : {}),
          why: explainChannel(outcome, ended),
        };
      })
    : [];
  return { staged, channels };
}

/** Records the migration in the ledger as it starts, so `GET /api/migrations` lists it from then on. */
async function recordStart(migrationId: string): Promise<void> {
  const { ledger } = await runtime().pipelineDeps();
  await ledger.ensureMigration({ runId: migrationId, status: 'running', phase: 'staging' });
}

/** A channel's outcome as its ledger row has it: counts, its latest failure (`key: reason`) and its import's error. */
function channelOutcome(planned: number, r: ChannelRecord | undefined): Parameters<typeof explainChannel>[0] {
  return {
    state: r?.state ?? 'pending',
    planned,
    posted: r?.posted ?? 0,
    failed: r?.failed ?? 0,
    missing: r?.missing ?? 0,
    failures: r?.lastError ? [{ key: '', error: r.lastError }] : [],
    missingMessages: [],
    ...(r?.error ? { error: r.error } : {}),
    ...(r?.notCreated ? { notCreated: r.notCreated } : {}),
  };
}

df.app.client.http('startMigration', {
  route: 'migrations',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: df.DurableClient, context: InvocationContext) => {
    if (Number(request.headers.get('content-length') ?? 0) > MAX_START_BODY_BYTES)
      return {
        status: 413,
        jsonBody: {
          errors: [
            `The body is larger than ${MAX_START_BODY_BYTES} bytes: a start request holds the options and at most a ${MAX_USER_MAP_CHARS}-character user map.`,
          ],
        },
      };
    const body = await request.json().catch(() => undefined);
    if (body === undefined)
      return {
        status: 400,
        jsonBody: { errors: ['The body must be a JSON object describing the migration.'] },
      };
    const parsed = parseStartRequest(body, runtime().settings.fallbackUser);
    if (!parsed.ok) return { status: 400, jsonBody: { errors: parsed.errors } };
    if (parsed.input.source?.kind === 'slack-api' && !runtime().settings.slackToken)
      return {
        status: 400,
        jsonBody: {
          errors: [
            "source: a Slack API source reads the workspace with SLACK_TOKEN, which this app does not have: set SLACK_TOKEN (a Key Vault reference in Azure) to the token of the workspace's Slack app.",
          ],
        },
      };
    const instanceId = migrationInstanceId(parsed.input.migrationId);
    const existing = await findStatus(client, instanceId);
    if (existing && ACTIVE.has(existing.runtimeStatus)) {
      context.log(`Migration ${parsed.input.migrationId} is already running; answering its status.`);
      return startedResponse(client, request, parsed.input.migrationId);
    }
    try {
      await recordStart(parsed.input.migrationId);
      if (parsed.workspace) {
        await recordWorkspace(await runtime().pipelineDeps(), parsed.workspace);
        await client.startNew(Orchestrator.migrateWorkspace, { instanceId, input: parsed.workspace });
      }
      else await client.startNew(Orchestrator.migrateTeam, { instanceId, input: parsed.input });
    } catch (err) {
      // A concurrent start of the same migration won the race (the client's 409): answer its status.
      const now = await findStatus(client, instanceId);
      if (!now || !ACTIVE.has(now.runtimeStatus)) throw err;
      context.log(
        `Migration ${parsed.input.migrationId} was started by a concurrent request; answering its status.`,
      );
      return startedResponse(client, request, parsed.input.migrationId);
    }
    context.log(`Started migration ${parsed.input.migrationId} (instance ${instanceId}).`);
    return startedResponse(client, request, parsed.input.migrationId);
  },
});

df.app.client.http('getMigration', {
  route: 'migrations/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> => {
    const requested = request.params.id;
    const candidates = requestedIds(requested);
    if (candidates.length === 0)
      return {
        status: 400,
        jsonBody: {
          error:
            `${JSON.stringify(requested.slice(0, 100))} is not a migration id: ids are 1-63 letters, digits, ` +
            `'-' or '_' starting with a letter or digit, or the instance id '${INSTANCE_PREFIX}<id>'.`,
        },
      };
    let migrationId = candidates[0];
    let status: df.DurableOrchestrationStatus | undefined;
    for (const id of candidates) {
      status = await findStatus(client, migrationInstanceId(id));
      migrationId = id;
      if (status) break;
    }
    if (!status)
      return { status: 404, jsonBody: { error: `No migration '${candidates[0]}' is known to this app.` } };
    const deps = await runtime().pipelineDeps();
    const ended = !ACTIVE.has(status.runtimeStatus);
    const { staged, channels } = await channelViews(deps, migrationId, ended);
    const custom = status.customStatus as WorkspaceStatus | undefined;
    const record = custom && Array.isArray(custom.teams) ? undefined : await readWorkspace(deps, migrationId);
    const workspace: WorkspaceStatus | undefined = record
      ? {
          phase: 'pending',
          pass: 'initial',
          teams: record.teams.map((t) => ({ key: t.key, name: t.name, migrationId: t.migrationId })),
          teamsDone: 0,
        }
      : custom;
    if (workspace && Array.isArray(workspace.teams)) {
      const teams = [];
      for (const team of workspace.teams) {
        const teamStatus = await findStatus(client, migrationInstanceId(team.migrationId));
        const teamEnded = !teamStatus || !ACTIVE.has(teamStatus.runtimeStatus);
        teams.push({
          ...team,
          runtimeStatus: teamStatus?.runtimeStatus ?? 'Pending',
          progress: (teamStatus?.customStatus ?? undefined) as MigrationStatus | undefined,
          channels: (await channelViews(deps, team.migrationId, teamEnded)).channels,
        });
      }
      const row = (await deps.ledger.getMigration(migrationId))?.value;
      return {
        status: 200,
        jsonBody: {
          migrationId,
          ...(row?.stage ? { stage: row.stage } : {}),
          ...(row?.deltaSync !== undefined ? { deltaSync: row.deltaSync } : {}),
          runtimeStatus: status.runtimeStatus,
          phase: workspace.phase,
          pass: workspace.pass ?? 'initial',
          progress: workspace,
          createdTime: status.createdTime,
          lastUpdatedTime: status.lastUpdatedTime,
          output: status.output,
          teams,
          report: { json: runPaths.reportJson(migrationId), html: runPaths.reportHtml(migrationId) },
        },
      };
    }
    const progress = (status.customStatus ?? undefined) as MigrationStatus | undefined;
    const migration = (await deps.ledger.getMigration(migrationId))?.value;
    return {
      status: 200,
      jsonBody: {
        migrationId,
        ...(migration?.stage ? { stage: migration.stage } : {}),
        ...(migration?.deltaSync !== undefined ? { deltaSync: migration.deltaSync } : {}),
        runtimeStatus: status.runtimeStatus,
        phase:
          progress?.phase ??
          (status.runtimeStatus === df.OrchestrationRuntimeStatus.Failed ? 'failed' : 'pending'),
        progress,
        createdTime: status.createdTime,
        lastUpdatedTime: status.lastUpdatedTime,
        output: status.output,
        passes: passReports(await deps.ledger.listPasses(migrationId)),
        channels,
        report: staged
          ? { json: runPaths.reportJson(migrationId), html: runPaths.reportHtml(migrationId) }
          : undefined,
      },
    };
  },
});

df.app.client.http('getMigrationReport', {
  route: 'migrations/{id}/report',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> => {
    const found = await lookupMigration(client, request.params.id);
    if (!found.found) return found.response;
    const { migrationId, status } = found;
    const html = request.query.get('format') === 'html';
    const { store } = await runtime().pipelineDeps();
    const name = html ? runPaths.reportHtml(migrationId) : runPaths.reportJson(migrationId);
    if (!(await store.exists(name)))
      return {
        status: 404,
        jsonBody: {
          error: `Migration '${migrationId}' has no report yet (runtime status ${status.runtimeStatus}): it is written when the migration ends.`,
        },
      };
    return {
      status: 200,
      headers: { 'content-type': html ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8' },
      body: await store.get(name),
    };
  },
});
