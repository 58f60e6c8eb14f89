import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import {
  Orchestrator,
  type MigrateTeamInput,
  type MigrateWorkspaceInput,
  type MigrationStatus,
} from '../activities/names';
import { effectivePhase } from '../core/operations/phase';
import type { PipelineDeps } from '../core/pipeline/deps';
import { readManifest, runPaths } from '../core/pipeline/runStore';
import { storageClients } from '../core/state/storageAccount';
import { createUploadUrl, UPLOAD_CONTAINER } from '../core/state/uploadSas';
import { channelInstanceId } from '../orchestrators/migrateTeam';
import { ACTIVE, findStatus, lookupMigration, migrationInstanceId, startedResponse } from './migrationLookup';
import { DEFAULT_PAGE, listMigrationPage, MAX_PAGE } from './migrationViews';
import { runtime } from './runtime';
import { issueMessages } from './requestErrors';

const bad = (error: string): HttpResponseInit => ({ status: 400, jsonBody: { error } });

/** Reads `?top=&continuationToken=`; an error answer when either is not usable. */
export function pageQuery(
  request: HttpRequest,
): { top: number; continuationToken?: string } | { error: HttpResponseInit } {
  const topText = request.query.get('top');
  const top = topText === null ? DEFAULT_PAGE : Number(topText);
  if (!Number.isInteger(top) || top < 1 || top > MAX_PAGE)
    return {
      error: bad(`top must be a whole number from 1 to ${MAX_PAGE}, not ${JSON.stringify(topText)}.`),
    };
  const token = request.query.get('continuationToken') ?? undefined;
  if (
    token !== undefined &&
    (token.length === 0 || token.length > 4096 || !/^[A-Za-z0-9+/=_.-]+$/.test(token))
  )
    return {
      error: bad('continuationToken must be the continuationToken of the previous page, as it was given.'),
    };
  return { top, ...(token ? { continuationToken: token } : {}) };
}

/** A page of migrations, or 400 when the continuation token is not one the ledger gave. */
export async function migrationPage(
  client: df.DurableClient,
  deps: PipelineDeps,
  query: { top: number; continuationToken?: string },
): Promise<HttpResponseInit & { page?: Awaited<ReturnType<typeof listMigrationPage>> }> {
  try {
    const page = await listMigrationPage(client, deps, query.top, query.continuationToken);
    return { status: 200, page };
  } catch (err) {
    if (query.continuationToken && err instanceof Error && !(err instanceof TypeError))
      return bad(`continuationToken is not one this app gave (${err.message.slice(0, 200)}).`);
    throw err;
  }
}

df.app.client.http('listMigrations', {
  route: 'migrations',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> => {
    const query = pageQuery(request);
    if ('error' in query) return query.error;
    const answer = await migrationPage(client, await runtime().pipelineDeps(), query);
    if (!answer.page) return answer;
    return { status: 200, jsonBody: answer.page };
  },
});

/** The teams of a workspace migration, from its status (none for a one-team migration). */
function workspaceTeamsOf(status: df.DurableOrchestrationStatus): { migrationId: string }[] {
  const teams = (status.customStatus as { teams?: unknown } | null | undefined)?.teams;
  return Array.isArray(teams) ? (teams as { migrationId: string }[]) : [];
}

/** The phase to quote in a 409, from the orchestration's status. */
function phaseOf(status: df.DurableOrchestrationStatus): string {
  return effectivePhase(
    status.runtimeStatus,
    (status.customStatus as Partial<MigrationStatus> | null | undefined)?.phase,
    status.output,
  );
}

/**
 * Terminates the channel sub-orchestrations of a migration that are still under way (the parent's
 * termination does not reach them); answers how many were stopped and how many still run.
 */
async function stopChannels(
  client: df.DurableClient,
  deps: PipelineDeps,
  migrationId: string,
  instanceId: string,
  reason: string,
): Promise<{ stopped: number; stillRunning: string[] }> {
  if (!(await deps.store.exists(runPaths.manifest(migrationId)))) return { stopped: 0, stillRunning: [] };
  const manifest = await readManifest(deps.store, migrationId);
  let stopped = 0;
  const stillRunning: string[] = [];
  for (const channel of manifest.channels) {
    const childId = channelInstanceId(instanceId, channel.key);
    const child = await findStatus(client, childId);
    if (!child || !ACTIVE.has(child.runtimeStatus)) continue;
    try {
      await client.terminate(encodeURIComponent(childId), reason);
      stopped += 1;
    } catch {
      stillRunning.push(channel.teamsName);
      continue;
    }
    const after = await findStatus(client, childId);
    if (after && ACTIVE.has(after.runtimeStatus)) stillRunning.push(channel.teamsName);
  }
  return { stopped, stillRunning };
}

df.app.client.http('cancelMigration', {
  route: 'migrations/{id}/cancel',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> => {
    const found = await lookupMigration(client, request.params.id);
    if (!found.found) return found.response;
    const { migrationId, instanceId, status } = found;
    if (!ACTIVE.has(status.runtimeStatus)) {
      const phase = phaseOf(status);
      return {
        status: 409,
        jsonBody: {
          error: `Migration '${migrationId}' is not running (phase ${phase}): only a running migration can be cancelled.${phase === 'completed' ? '' : ' Resume it with POST /api/migrations/{id}/resume.'}`,
          phase,
          runtimeStatus: status.runtimeStatus,
        },
      };
    }
    await client.terminate(encodeURIComponent(instanceId), 'cancelled');
    const deps = await runtime().pipelineDeps();
    const channels = await stopChannels(client, deps, migrationId, instanceId, 'cancelled');
    for (const team of workspaceTeamsOf(status)) {
      const teamInstance = migrationInstanceId(team.migrationId);
      const teamStatus = await findStatus(client, teamInstance);
      if (teamStatus && ACTIVE.has(teamStatus.runtimeStatus))
        await client.terminate(encodeURIComponent(teamInstance), 'cancelled').catch(() => undefined);
      const stopped = await stopChannels(client, deps, team.migrationId, teamInstance, 'cancelled');
      channels.stopped += stopped.stopped;
      channels.stillRunning.push(...stopped.stillRunning);
    }
    return {
      status: 202,
      jsonBody: {
        id: migrationId,
        instanceId,
        phase: 'cancelled',
        channelsStopped: channels.stopped,
        ...(channels.stillRunning.length ? { channelsStillStopping: channels.stillRunning } : {}),
        message:
          'Cancelled: the migration and its channel imports are stopped; what was posted is recorded in the ledger. ' +
          'Resume it with POST /api/migrations/{id}/resume (or teams-import resume <id>).',
      },
    };
  },
});

df.app.client.http('resumeMigration', {
  route: 'migrations/{id}/resume',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> => {
    const found = await lookupMigration(client, request.params.id, { showInput: true });
    if (!found.found) return found.response;
    const { migrationId, instanceId, status } = found;
    const phase = phaseOf(status);
    const conflict = (error: string): HttpResponseInit => ({
      status: 409,
      jsonBody: { error, phase, runtimeStatus: status.runtimeStatus },
    });
    if (ACTIVE.has(status.runtimeStatus))
      return conflict(
        `Migration '${migrationId}' is running (phase ${phase}): cancel it first (POST /api/migrations/{id}/cancel) or let it finish.`,
      );
    if (phase === 'completed')
      return conflict(
        `Migration '${migrationId}' is completed: every planned message is imported; nothing to resume.`,
      );
    const teams = workspaceTeamsOf(status);
    if (teams.length > 0 || (status.input as Partial<MigrateWorkspaceInput> | undefined)?.teams)
      return conflict(
        `Migration '${migrationId}' is a workspace split across teams by a channel map: resume each team that did not complete with its own id (${teams.map((t) => t.migrationId).join(', ')}).`,
      );
    const input = status.input as MigrateTeamInput | undefined;
    if (!input || typeof input !== 'object' || input.migrationId !== migrationId)
      return conflict(
        `Migration '${migrationId}' no longer has the request it was started with (its history was purged): start it again with POST /api/migrations and the same migrationId.`,
      );
    const deps = await runtime().pipelineDeps();
    const channels = await stopChannels(client, deps, migrationId, instanceId, 'resumed');
    if (channels.stillRunning.length > 0)
      return conflict(
        `Migration '${migrationId}' still has channel imports stopping (${channels.stillRunning.join(', ')}): try again in a few seconds.`,
      );
    await client.startNew(Orchestrator.migrateTeam, { instanceId, input });
    return startedResponse(client, request, migrationId);
  },
});

/** The body of `POST /api/uploads` (optional). */
export const uploadRequestSchema = z
  .object({
    fileName: z.string().max(255, { error: 'fileName must be at most 255 characters' }).optional(),
    expiresInMinutes: z
      .number()
      .int({ error: 'expiresInMinutes must be a whole number of minutes' })
      .min(5, { error: 'expiresInMinutes must be at least 5' })
      .max(480, { error: 'expiresInMinutes must be at most 480 (8 hours)' })
      .default(60),
  })
  .strict();

app.http('createUpload', {
  route: 'uploads',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request: HttpRequest): Promise<HttpResponseInit> => {
    const text = await request.text();
    let body: unknown = {};
    if (text.trim()) {
      try {
        body = JSON.parse(text);
      } catch {
        return bad('The body must be JSON: {"fileName"?: "export.zip", "expiresInMinutes"?: 60}, or empty.');
      }
    }
    const parsed = uploadRequestSchema.safeParse(body);
    if (!parsed.success)
      return {
        status: 400,
        jsonBody: {
          errors: issueMessages(parsed.error),
        },
      };
    const { blobs } = storageClients(runtime().settings.storage);
    const upload = await createUploadUrl(blobs, {
      fileName: parsed.data.fileName,
      minutes: parsed.data.expiresInMinutes,
      now: Date.now(),
    });
    return {
      status: 201,
      headers: { 'cache-control': 'no-store' },
      jsonBody: {
        ...upload,
        method: 'PUT',
        headers: { 'x-ms-blob-type': 'BlockBlob' },
        source: { blob: { container: UPLOAD_CONTAINER, name: upload.blob } },
        next:
          'PUT the export ZIP to uploadUrl with the header x-ms-blob-type: BlockBlob (or `azcopy copy export.zip "<uploadUrl>"` for a large file), ' +
          'then POST /api/migrations with {"source": <source>}. The URL can only write this one blob and expires at expiresOn.',
      },
    };
  },
});
