import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { Orchestrator, type MigrateTeamInput, type MigrationStatus } from '../activities/names';
import { explainChannel } from '../core/pipeline/report';
import { readManifest, runPaths } from '../core/pipeline/runStore';
import type { ChannelRecord } from '../core/state/ledgerRecords';
import { pipelineDeps, settings } from './pipeline';

/** The instance id of a migration's orchestration: derived from its id, so a second start finds the first. */
export function migrationInstanceId(migrationId: string): string {
  return `migration-${migrationId}`;
}

const isoDate = (field: string) =>
  z.string().refine((v) => !Number.isNaN(Date.parse(v)), {
    error: `${field} must be an ISO date such as 2024-01-31 or 2024-01-31T12:00:00Z`,
  });

/** The body of `POST /api/migrations`. */
export const startMigrationSchema = z
  .object({
    migrationId: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, {
        error: 'migrationId must be 1-63 letters, digits, "-" or "_", starting with a letter or digit',
      })
      .optional(),
    source: z.union(
      [
        z.object({ path: z.string().min(1) }).strict(),
        z
          .object({ blob: z.object({ container: z.string().min(3), name: z.string().min(1) }).strict() })
          .strict(),
      ],
      {
        error:
          'source must be {"path": "<export.zip or folder on the host>"} or {"blob": {"container", "name"}}',
      },
    ),
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
      })
      .strict()
      .default({ visibility: 'private' }),
    userMap: z.string().optional(),
    fallbackUser: z.string().min(1).optional(),
    channels: z.array(z.string().min(1)).optional(),
    excludeChannels: z.array(z.string().min(1)).optional(),
    since: isoDate('since').optional(),
    until: isoDate('until').optional(),
    options: z
      .object({
        includeSystemEvents: z.boolean().default(false),
        channelConcurrency: z.number().int().min(1).max(50).default(10),
        batchSeconds: z.number().min(1).max(300).default(60),
        batchesPerExecution: z.number().int().min(1).max(100).default(10),
        operationPollSeconds: z.number().min(0.1).max(300).default(30),
        completeOnErrors: z.boolean().default(false),
      })
      .strict()
      .default({
        includeSystemEvents: false,
        channelConcurrency: 10,
        batchSeconds: 60,
        batchesPerExecution: 10,
        operationPollSeconds: 30,
        completeOnErrors: false,
      }),
  })
  .strict()
  .refine((b) => !b.since || !b.until || Date.parse(b.since) < Date.parse(b.until), {
    error: 'since must be before until',
  });

/** A start request, validated: the orchestration input, or the list of mistakes. */
export function parseStartRequest(
  body: unknown,
  fallbackUser?: string,
): { ok: true; input: MigrateTeamInput } | { ok: false; errors: string[] } {
  const parsed = startMigrationSchema.safeParse(body);
  if (!parsed.success)
    return {
      ok: false,
      errors: parsed.error.issues.map((i) =>
        i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message,
      ),
    };
  const b = parsed.data;
  const source: MigrateTeamInput['source'] =
    'path' in b.source ? { kind: 'path', path: b.source.path } : { kind: 'blob', ...b.source.blob };
  const migrationId =
    b.migrationId ??
    `m-${createHash('sha256')
      .update(JSON.stringify([source, b.team.displayName ?? '']))
      .digest('hex')
      .slice(0, 16)}`;
  return {
    ok: true,
    input: {
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
      },
    },
  };
}

const ACTIVE = new Set<string>([
  df.OrchestrationRuntimeStatus.Running,
  df.OrchestrationRuntimeStatus.Pending,
]);

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
  };
}

async function findStatus(
  client: df.DurableClient,
  instanceId: string,
): Promise<df.DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId);
  } catch (err) {
    if (err instanceof Error && /\b404\b/.test(err.message)) return undefined;
    throw err;
  }
}

df.app.client.http('startMigration', {
  route: 'migrations',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: df.DurableClient, context: InvocationContext) => {
    const body = await request.json().catch(() => undefined);
    if (body === undefined)
      return {
        status: 400,
        jsonBody: { errors: ['The body must be a JSON object describing the migration.'] },
      };
    const parsed = parseStartRequest(body, settings().fallbackUser);
    if (!parsed.ok) return { status: 400, jsonBody: { errors: parsed.errors } };
    const instanceId = migrationInstanceId(parsed.input.migrationId);
    const existing = await findStatus(client, instanceId);
    if (existing && ACTIVE.has(existing.runtimeStatus)) {
      context.log(`Migration ${parsed.input.migrationId} is already running; answering its status.`);
      return client.createCheckStatusResponse(request, instanceId);
    }
    await client.startNew(Orchestrator.migrateTeam, { instanceId, input: parsed.input });
    context.log(`Started migration ${parsed.input.migrationId} (instance ${instanceId}).`);
    return client.createCheckStatusResponse(request, instanceId);
  },
});

df.app.client.http('getMigration', {
  route: 'migrations/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> => {
    const migrationId = request.params.id;
    const status = await findStatus(client, migrationInstanceId(migrationId));
    if (!status)
      return { status: 404, jsonBody: { error: `No migration '${migrationId}' is known to this app.` } };
    const deps = await pipelineDeps();
    const records = new Map((await deps.ledger.listChannels(migrationId)).map((c) => [c.channelKey, c]));
    const staged = await deps.store.exists(runPaths.manifest(migrationId));
    const ended = !ACTIVE.has(status.runtimeStatus);
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
    const custom = (status.customStatus ?? undefined) as MigrationStatus | undefined;
    return {
      status: 200,
      jsonBody: {
        migrationId,
        runtimeStatus: status.runtimeStatus,
        phase:
          custom?.phase ??
          (status.runtimeStatus === df.OrchestrationRuntimeStatus.Failed ? 'failed' : 'pending'),
        progress: custom,
        createdTime: status.createdTime,
        lastUpdatedTime: status.lastUpdatedTime,
        output: status.output,
        channels,
        report: staged
          ? { json: runPaths.reportJson(migrationId), html: runPaths.reportHtml(migrationId) }
          : undefined,
      },
    };
  },
});
