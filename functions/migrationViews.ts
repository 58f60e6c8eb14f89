import type * as df from 'durable-functions';
import type { MigrateTeamInput, MigrationStatus } from '../activities/names';
import { buildDashboard, type MigrationDashboard } from '../core/operations/dashboard';
import type { MigrationListItem } from '../core/operations/dashboardPage';
import { effectivePhase } from '../core/operations/phase';
import type { PipelineDeps } from '../core/pipeline/deps';
import { passReports } from '../core/pipeline/report';
import { readManifest, runPaths } from '../core/pipeline/runStore';
import type { MigrationRecord } from '../core/state/ledgerRecords';
import { findStatus, migrationInstanceId } from './migrationLookup';

/** Most migrations one page of `GET /api/migrations` lists, and the default. */
export const MAX_PAGE = 200;
export const DEFAULT_PAGE = 50;

/** The team a migration names: its start request's name, else the staged plan's (the export's workspace). */
async function teamName(
  deps: PipelineDeps,
  migrationId: string,
  status: df.DurableOrchestrationStatus | undefined,
): Promise<string> {
  const requested = (status?.input as MigrateTeamInput | undefined)?.team?.displayName;
  if (requested) return requested;
  if (await deps.store.exists(runPaths.manifest(migrationId)))
    return (await readManifest(deps.store, migrationId)).team.displayName;
  return '';
}

/** One migration of the list: the ledger's row with its orchestration's phase and counts. */
export async function listItem(
  client: df.DurableClient,
  deps: PipelineDeps,
  row: MigrationRecord,
): Promise<MigrationListItem> {
  const instanceId = migrationInstanceId(row.runId);
  const status = await findStatus(client, instanceId);
  const custom = (status?.customStatus ?? undefined) as Partial<MigrationStatus> | undefined;
  const output = (status?.output ?? undefined) as
    { posted?: number; planned?: number; failed?: number; missing?: number } | undefined;
  const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
  return {
    id: row.runId,
    instanceId,
    team: await teamName(deps, row.runId, status),
    phase: effectivePhase(status?.runtimeStatus, custom?.phase, status?.output, row.phase),
    runtimeStatus: status?.runtimeStatus ?? 'Unknown',
    counts: {
      channelsDone: num(custom?.channelsDone),
      channelsTotal: num(custom?.channelsTotal),
      messagesPosted: num(output?.posted ?? custom?.messagesPosted),
      messagesTotal: num(output?.planned ?? custom?.messagesTotal),
      failed: num(output?.failed ?? custom?.failed),
      missing: num(output?.missing ?? custom?.missing),
      throttled: num(custom?.throttled),
    },
    createdTime: status?.createdTime ? new Date(status.createdTime).toISOString() : row.createdAt,
    lastUpdatedTime: status?.lastUpdatedTime ? new Date(status.lastUpdatedTime).toISOString() : row.updatedAt,
  };
}

/** One page of migrations, ordered by id, and the token of the next page. */
export async function listMigrationPage(
  client: df.DurableClient,
  deps: PipelineDeps,
  top: number,
  continuationToken?: string,
): Promise<{ items: MigrationListItem[]; continuationToken?: string }> {
  const page = await deps.ledger.listMigrations(top, continuationToken);
  const items = await Promise.all(page.items.map((row) => listItem(client, deps, row)));
  return { items, ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) };
}

/** A migration's live state from its orchestration status, staged plan and ledger rows. */
export async function loadDashboard(
  deps: PipelineDeps,
  migrationId: string,
  instanceId: string,
  status: df.DurableOrchestrationStatus,
): Promise<MigrationDashboard> {
  const staged = await deps.store.exists(runPaths.manifest(migrationId));
  const manifest = staged ? await readManifest(deps.store, migrationId) : undefined;
  const records = await deps.ledger.listChannels(migrationId);
  const requested = (status.input as MigrateTeamInput | undefined)?.team?.displayName;
  return buildDashboard({
    migrationId,
    instanceId,
    team: requested ?? manifest?.team.displayName ?? '',
    runtimeStatus: status.runtimeStatus,
    customStatus: (status.customStatus ?? undefined) as Partial<MigrationStatus> | undefined,
    output: status.output,
    createdTime: status.createdTime ? new Date(status.createdTime).toISOString() : undefined,
    lastUpdatedTime: status.lastUpdatedTime ? new Date(status.lastUpdatedTime).toISOString() : undefined,
    channels: manifest?.channels.map((c) => ({
      key: c.key,
      sourceName: c.sourceName,
      teamsName: c.teamsName,
      messages: c.messages,
    })),
    records,
    passes: passReports(await deps.ledger.listPasses(migrationId)),
    now: deps.now(),
  });
}
