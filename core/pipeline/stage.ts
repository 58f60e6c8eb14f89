import type { PlanManifest, Problem } from '../model';
import { ExportReadError } from '../sources/archive';
import { planExport, type PlanOptions } from '../transform/plan';
import type { StageSourceInput, StageSourceResult } from './contracts';
import type { PipelineDeps, SourceScope } from './deps';
import { channelWork } from './passes';
import { PrefixedStore, readManifest, runPaths } from './runStore';

const hasErrors = (problems: Problem[]): boolean => problems.some((p) => p.severity === 'error');

/**
 * Plans the export once into the run's staging area and returns the channels to import. A run whose plan is
 * already staged (and importable) reuses it, so a resumed run posts exactly what the first one planned; a
 * staging that fails or finds the export unimportable deletes what it wrote under the plan.
 */
export async function stageSource(deps: PipelineDeps, input: StageSourceInput): Promise<StageSourceResult> {
  const { migrationId: runId } = input;
  let manifest: PlanManifest | undefined;
  if (await deps.store.exists(runPaths.manifest(runId))) {
    manifest = await readManifest(deps.store, runId);
    if (hasErrors(manifest.problems)) manifest = undefined;
  }
  const planned = !manifest;
  if (!manifest) {
    const { options } = input;
    const opened = await deps
      .openSource(input.source, sourceScope(options, input.now))
      .catch((err: unknown) => err as Error);
    if (opened instanceof Error) return unreadable(opened);
    try {
      manifest = await planExport(
        opened.slack,
        planOptions(deps, input),
        new PrefixedStore(deps.store, runPaths.plan(runId)),
      );
    } catch (err) {
      await removePlan(deps, runId);
      if (err instanceof ExportReadError) return unreadable(err);
      throw err;
    } finally {
      await opened.release();
    }
  }
  const refused = refusal(manifest);
  if (refused) {
    await removePlan(deps, runId);
    return { ok: false, problems: refused };
  }
  if (planned) {
    await deps.store.put(runPaths.source(runId), JSON.stringify(input.source), 'application/json');
    const request: StoredRequest = { team: input.team, options: input.options };
    await deps.store.put(runPaths.request(runId), JSON.stringify(request), 'application/json');
  }
  if (input.pass !== undefined)
    await deps.ledger.updatePass(runId, input.pass, {
      newMessages: manifest.totals.messages,
      ...(manifest.source.teamId ? { workspace: manifest.source.teamId } : {}),
      ...(manifest.source.newestMessage ? { newestMessage: manifest.source.newestMessage } : {}),
    });
  return {
    ok: true,
    team: { ...manifest.team, visibility: input.team.visibility },
    channels: manifest.channels.map(channelWork),
    totalMessages: manifest.totals.messages,
    problems: manifest.problems.filter((p) => p.severity !== 'info').slice(0, 50),
  };
}

/** What a migration's first pass asked for, kept for the passes after it: they plan with the same options. */
export interface StoredRequest {
  team: StageSourceInput['team'];
  options: StageSourceInput['options'];
}

/** Reads the stored request of a migration's first pass, or undefined when it has not been staged. */
export async function readRequest(
  deps: Pick<PipelineDeps, 'store'>,
  runId: string,
): Promise<StoredRequest | undefined> {
  const name = runPaths.request(runId);
  if (!(await deps.store.exists(name))) return undefined;
  return JSON.parse((await deps.store.get(name)).toString('utf8')) as StoredRequest;
}

/** What a pass reads of its source: the migration's channel choice and time bounds, up to the pass's start. */
export function sourceScope(options: StageSourceInput['options'], now: string): SourceScope {
  return {
    channels: options.channels,
    excludeChannels: options.excludeChannels,
    since: options.since,
    until: options.until,
    now,
  };
}

/** The planner's options for a migration: every pass plans its snapshot with the same ones. */
export function planOptions(
  deps: Pick<PipelineDeps, 'files'>,
  input: Pick<StageSourceInput, 'now' | 'options' | 'team'>,
): PlanOptions {
  return {
    now: Date.parse(input.now),
    channels: input.options.channels,
    excludeChannels: input.options.excludeChannels,
    since: input.options.since ? Date.parse(input.options.since) : undefined,
    until: input.options.until ? Date.parse(input.options.until) : undefined,
    includeSystemEvents: input.options.includeSystemEvents,
    teamName: input.team.displayName,
    teamDescription: input.team.description,
    userMap: input.options.userMapCsv ? { text: input.options.userMapCsv, source: 'user map' } : undefined,
    slackBotToken: deps.files.botToken,
    maxFileBytes: deps.files.maxFileBytes,
    userGroups: input.options.userGroupsCsv
      ? { text: input.options.userGroupsCsv, source: 'user groups' }
      : undefined,
    reactions: input.options.reactions,
    ...(input.options.dms ? { dms: input.options.dms } : {}),
    ...(input.options.channelNames ? { channelNames: input.options.channelNames } : {}),
    ...(input.options.privateChannels ? { privateChannels: true } : {}),
  };
}

/** Why a staged plan cannot be imported (its errors, or no channel selected), or undefined when it can. */
function refusal(manifest: PlanManifest): Problem[] | undefined {
  if (hasErrors(manifest.problems)) return manifest.problems;
  if (manifest.channels.length > 0) return undefined;
  return [
    ...manifest.problems,
    {
      severity: 'error',
      code: 'no-channels',
      message: 'No channel of the export is selected for import: check the channel filter and the export.',
    },
  ];
}

/** Deletes whatever a failed staging wrote under the run's plan, so no partial plan is left behind. */
async function removePlan(deps: PipelineDeps, runId: string): Promise<void> {
  for (const name of await deps.store.list(runPaths.plan(runId))) await deps.store.delete(name);
}

function unreadable(err: Error): StageSourceResult {
  return { ok: false, problems: [{ severity: 'error', code: 'export-unreadable', message: err.message }] };
}
