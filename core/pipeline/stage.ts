import type { PlanManifest, Problem } from '../model';
import { ExportReadError } from '../sources/archive';
import {
  assemblePlan as assembleManifest,
  indexPlan,
  planItem,
  type ItemSummary,
  type PlanIndex,
  type PlanOptions,
} from '../transform/plan';
import type {
  AssemblePlanInput,
  StageIndexInput,
  StageIndexResult,
  StageItemInput,
  StageItemResult,
  StageSourceInput,
  StageSourceResult,
} from './contracts';
import { DEFAULT_STAGE_CONCURRENCY, type PipelineDeps, type SourceDirectory, type SourceScope } from './deps';
import { channelWork } from './passes';
import { PrefixedStore, readJson, readManifest, runPaths } from './runStore';

const hasErrors = (problems: Problem[]): boolean => problems.some((p) => p.severity === 'error');

/** What a staging indexed, kept in `plan/index.json` while its items are planned: the request and the index. */
interface StagedIndex {
  formatVersion: 1;
  /** The request the staging plans, with the time it plans up to: every item and a resume use these. */
  request: Omit<StageSourceInput, 'migrationId' | 'pass'>;
  index: PlanIndex;
}

/**
 * Stages a run's plan in one process: {@link stageIndex}, {@link stageItem} for each item in turn, then
 * {@link assembleStagedPlan}, the steps the migration runs as activities. A staging that fails part way deletes
 * what it wrote.
 */
export async function stageSource(deps: PipelineDeps, input: StageSourceInput): Promise<StageSourceResult> {
  const { migrationId } = input;
  const indexed = await stageIndex(deps, input);
  if (!indexed.ok) return indexed;
  const failed: Problem[] = [];
  try {
    for (let item = 0; item < indexed.items && failed.length === 0; item++) {
      const staged = await stageItem(deps, { migrationId, item });
      if (!staged.ok) failed.push(...staged.problems);
    }
  } catch (err) {
    await removePlan(deps, migrationId);
    throw err;
  }
  return assembleStagedPlan(deps, {
    migrationId,
    team: input.team,
    ...(input.pass !== undefined ? { pass: input.pass } : {}),
    ...(failed.length ? { failed } : {}),
  });
}

/**
 * The first step of a staging. A run whose plan is already staged (and importable) reuses it, so a resumed run
 * posts exactly what the first one planned; a staging already indexed for the same request keeps its index
 * (and the time it plans up to), so the items planned before a crash stay valid. Otherwise opens the source,
 * indexes it and writes `plan/index.json` (and `plan/directory.json` when the opened source has a directory).
 * An export whose metadata already holds an error is refused here, before any item is planned.
 */
export async function stageIndex(deps: PipelineDeps, input: StageIndexInput): Promise<StageIndexResult> {
  const { migrationId: runId } = input;
  const concurrency = Math.max(1, Math.floor(deps.stageConcurrency ?? DEFAULT_STAGE_CONCURRENCY));
  if (await deps.store.exists(runPaths.manifest(runId))) {
    const manifest = await readManifest(deps.store, runId);
    if (!hasErrors(manifest.problems)) return { ok: true, items: 0, reused: true, concurrency };
    await removePlan(deps, runId);
  }
  const request: StagedIndex['request'] = {
    source: input.source,
    team: input.team,
    options: input.options,
    now: input.now,
  };
  const stored = await readStagedIndex(deps, runId);
  if (stored && sameRequest(stored.request, request))
    return { ok: true, items: stored.index.items.length, reused: false, concurrency };
  if (stored) await removePlan(deps, runId);
  const opened = await deps
    .openSource(input.source, sourceScope(input.options, input.now))
    .catch((err: unknown) => err as Error);
  if (opened instanceof Error) return unreadable(opened);
  try {
    const options = planOptions(deps, input);
    const index = indexPlan(opened.slack, options);
    const { directory } = opened.slack;
    const problems = indexProblems(index);
    if (hasErrors(problems)) return { ok: false, problems };
    if (directory !== undefined)
      await deps.store.put(runPaths.planDirectory(runId), JSON.stringify(directory), 'application/json');
    const staged: StagedIndex = { formatVersion: 1, request, index };
    await deps.store.put(runPaths.planIndex(runId), JSON.stringify(staged), 'application/json');
    return { ok: true, items: index.items.length, reused: false, concurrency };
  } catch (err) {
    await removePlan(deps, runId);
    if (err instanceof ExportReadError) return unreadable(err);
    throw err;
  } finally {
    await opened.release();
  }
}

/**
 * Plans one item of a staged index: returns at once when its summary is stored (a resumed staging); otherwise
 * opens the source (with the stored directory), plans the item, writes its plan, then its summary, last, so a
 * crash part way plans the item again. Answers with an acknowledgement, never the plan.
 */
export async function stageItem(deps: PipelineDeps, input: StageItemInput): Promise<StageItemResult> {
  const { migrationId: runId, item } = input;
  const summaryName = runPaths.planItem(runId, item);
  if (await deps.store.exists(summaryName)) return { ok: true, item, planned: false };
  const staged = await readStagedIndex(deps, runId);
  if (!staged)
    throw new Error(
      `Run '${runId}' has no staged index (${runPaths.planIndex(runId)}): its stageIndex step has not run.`,
    );
  const { request } = staged;
  const directory = await readDirectory(deps, runId);
  const opened = await deps
    .openSource(request.source, sourceScope(request.options, request.now), directory)
    .catch((err: unknown) => err as Error);
  if (opened instanceof Error) return unreadable(opened);
  try {
    const options = planOptions(deps, request);
    const summary = await planItem(
      opened.slack,
      options,
      staged.index,
      item,
      new PrefixedStore(deps.store, runPaths.plan(runId)),
    );
    await deps.store.put(summaryName, JSON.stringify(summary), 'application/json');
    return { ok: true, item, planned: true };
  } catch (err) {
    if (err instanceof ExportReadError) return unreadable(err);
    throw err;
  } finally {
    await opened.release();
  }
}

/** Summaries read at once while a plan is assembled. */
const SUMMARY_READS = 16;

/**
 * The last step of a staging: merges the stored summaries into `manifest.json` (or reuses the staged manifest),
 * then refuses a plan with errors or no channel (removing the plan area), else stores the run's source and
 * request before the manifest, so a staged manifest always has them; updates the pass and returns the channels
 * to import. With `failed` (an item could not be planned) it removes the plan area and refuses.
 */
export async function assembleStagedPlan(
  deps: PipelineDeps,
  input: AssemblePlanInput,
): Promise<StageSourceResult> {
  const { migrationId: runId } = input;
  if (input.failed) {
    await removePlan(deps, runId);
    return { ok: false, problems: input.failed };
  }
  let manifest: PlanManifest | undefined;
  if (await deps.store.exists(runPaths.manifest(runId))) {
    manifest = await readManifest(deps.store, runId);
    if (hasErrors(manifest.problems)) manifest = undefined;
  }
  let request: StagedIndex['request'] | undefined;
  if (!manifest) {
    const staged = await readStagedIndex(deps, runId);
    if (!staged)
      throw new Error(
        `Run '${runId}' has no staged index (${runPaths.planIndex(runId)}): its stageIndex step has not run.`,
      );
    request = staged.request;
    const summaries = await readSummaries(deps, runId, staged.index.items.length);
    const directory = await readDirectory(deps, runId);
    const opened = await deps
      .openSource(request.source, sourceScope(request.options, request.now), directory)
      .catch((err: unknown) => err as Error);
    if (opened instanceof Error) {
      await removePlan(deps, runId);
      return unreadable(opened);
    }
    try {
      const options = planOptions(deps, request);
      manifest = await assembleManifest(opened.slack, options, staged.index, summaries);
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
  if (request) {
    await deps.store.put(runPaths.source(runId), JSON.stringify(request.source), 'application/json');
    const stored: StoredRequest = { team: request.team, options: request.options };
    await deps.store.put(runPaths.request(runId), JSON.stringify(stored), 'application/json');
    await deps.store.put(
      runPaths.manifest(runId),
      JSON.stringify(manifest, null, 2) + '\n',
      'application/json',
    );
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

async function readStagedIndex(
  deps: Pick<PipelineDeps, 'store'>,
  runId: string,
): Promise<StagedIndex | undefined> {
  return readJson<StagedIndex>(deps.store, runPaths.planIndex(runId));
}

async function readDirectory(
  deps: Pick<PipelineDeps, 'store'>,
  runId: string,
): Promise<SourceDirectory | undefined> {
  return readJson<SourceDirectory>(deps.store, runPaths.planDirectory(runId));
}

/** Reads every item's summary, a few at a time; a missing one is an error naming it. */
async function readSummaries(
  deps: Pick<PipelineDeps, 'store'>,
  runId: string,
  count: number,
): Promise<ItemSummary[]> {
  const summaries: ItemSummary[] = new Array<ItemSummary>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const item = next++;
      const name = runPaths.planItem(runId, item);
      if (!(await deps.store.exists(name)))
        throw new Error(
          `Run '${runId}' has no summary of item ${item} (${name}): its stageItem step has not run.`,
        );
      summaries[item] = JSON.parse((await deps.store.get(name)).toString('utf8')) as ItemSummary;
    }
  };
  await Promise.all(Array.from({ length: Math.min(SUMMARY_READS, count) }, worker));
  return summaries;
}

/** The problems an index found, as a manifest would list them. */
function indexProblems(index: PlanIndex): Problem[] {
  const { kept, counts, perCode, worst } = index.problems;
  const cut = Object.entries(counts)
    .filter(([, n]) => n > perCode)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, n]) => ({
      severity: worst[code],
      code,
      message: `${n - perCode} more '${code}' problems not listed (${n} in all).`,
    }));
  return [...kept, ...cut];
}

/** Whether two requests ask for the same plan: the same but for their time, whatever the order of their keys. */
function sameRequest(a: StagedIndex['request'], b: StagedIndex['request']): boolean {
  return canonical({ ...a, now: undefined }) === canonical({ ...b, now: undefined });
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  );
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
  return readJson<StoredRequest>(deps.store, runPaths.request(runId));
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

function unreadable(err: Error): { ok: false; problems: Problem[] } {
  return { ok: false, problems: [{ severity: 'error', code: 'export-unreadable', message: err.message }] };
}
