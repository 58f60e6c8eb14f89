import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';

/** Instance ids of migrations are `migration-<migration id>`. */
export const INSTANCE_PREFIX = 'migration-';

/** What a migration id may be: the start route makes no other, so the routes answer 400 for any other. */
export const MIGRATION_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** A team's migration within a workspace migration (`<id>.t<n>`): looked up like a migration, never started alone. */
export const TEAM_MIGRATION_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}\.t[0-9]{1,4}$/;

const knownId = (id: string): boolean => MIGRATION_ID.test(id) || TEAM_MIGRATION_ID.test(id);

/** Runtime statuses of an orchestration that is still under way. */
export const ACTIVE = new Set<string>([
  df.OrchestrationRuntimeStatus.Running,
  df.OrchestrationRuntimeStatus.Pending,
  df.OrchestrationRuntimeStatus.Suspended,
]);

/** The instance id of a migration's orchestration: derived from its id, so a second start finds the first. */
export function migrationInstanceId(migrationId: string): string {
  return `${INSTANCE_PREFIX}${migrationId}`;
}

/** The migration ids a request can mean: the id itself, or the id inside an instance id `migration-<id>`. */
export function requestedIds(requested: string): string[] {
  const ids = knownId(requested) ? [requested] : [];
  const inner = requested.startsWith(INSTANCE_PREFIX) ? requested.slice(INSTANCE_PREFIX.length) : '';
  if (knownId(inner)) ids.push(inner);
  return ids;
}

/** The status of an instance, or undefined when it does not exist; the id goes URL-encoded into the client's URL. */
export async function findStatus(
  client: df.DurableClient,
  instanceId: string,
  options: { showInput?: boolean } = {},
): Promise<df.DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(encodeURIComponent(instanceId), options);
  } catch (err) {
    if (err instanceof Error && /\b404\b/.test(err.message)) return undefined;
    throw err;
  }
}

/** A migration a request names, or the answer that says why there is none (400 or 404). */
export type MigrationLookup =
  | { found: true; migrationId: string; instanceId: string; status: df.DurableOrchestrationStatus }
  | { found: false; response: HttpResponseInit };

/**
 * Finds the migration a route's `{id}` names: the migration id (`m-...`) or its instance id
 * (`migration-m-...`). Answers 400 for anything that is neither, 404 when no such migration exists.
 */
export async function lookupMigration(
  client: df.DurableClient,
  requested: string,
  options: { showInput?: boolean } = {},
): Promise<MigrationLookup> {
  const candidates = requestedIds(requested);
  if (candidates.length === 0)
    return {
      found: false,
      response: {
        status: 400,
        jsonBody: {
          error:
            `${JSON.stringify(requested.slice(0, 100))} is not a migration id: ids are 1-63 letters, digits, ` +
            `'-' or '_' starting with a letter or digit, or the instance id '${INSTANCE_PREFIX}<id>'.`,
        },
      },
    };
  for (const migrationId of candidates) {
    const instanceId = migrationInstanceId(migrationId);
    const status = await findStatus(client, instanceId, options);
    if (status) return { found: true, migrationId, instanceId, status };
  }
  return {
    found: false,
    response: {
      status: 404,
      jsonBody: {
        error: `No migration '${candidates[candidates.length - 1]}' is known to this app: list the migrations with GET /api/migrations.`,
      },
    },
  };
}

/** The app's own routes for a migration, on the origin the request came to. */
export function migrationLinks(
  request: HttpRequest,
  migrationId: string,
): { statusUrl: string; dashboardUrl: string; reportUrl: string } {
  const base = `${new URL(request.url).origin}/api/migrations/${encodeURIComponent(migrationId)}`;
  return { statusUrl: base, dashboardUrl: `${base}/dashboard`, reportUrl: `${base}/report` };
}

/**
 * The answer to a start (or resume): 202 with the migration id as `id`, its instance id, the app's status,
 * live page and report URLs, and the Durable management URLs beside them (`statusQueryGetUri`, ...).
 */
export async function startedResponse(
  client: df.DurableClient,
  request: HttpRequest,
  migrationId: string,
): Promise<HttpResponseInit> {
  const instanceId = migrationInstanceId(migrationId);
  const management = (await client.createCheckStatusResponse(request, instanceId).json()) as Record<
    string,
    string
  >;
  return {
    status: 202,
    headers: { Location: management.statusQueryGetUri, 'Retry-After': '10' },
    jsonBody: {
      ...management,
      id: migrationId,
      instanceId,
      ...migrationLinks(request, migrationId),
    },
  };
}
