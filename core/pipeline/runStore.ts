import type { Readable } from 'node:stream';
import type { PlanManifest, PlannedChannel } from '../model';
import type { ObjectStore } from '../state/objectStore';
import type { SourceRef } from './contracts';

/** Names of a run's objects in the store: its plan, its source reference and its report. */
export const runPaths = {
  plan: (runId: string): string => `runs/${runId}/plan/`,
  manifest: (runId: string): string => `runs/${runId}/plan/manifest.json`,
  channelPlan: (runId: string, planPath: string): string => `runs/${runId}/plan/${planPath}`,
  /** A staging's index (with its request) and the source's directory, while the plan's items are planned. */
  planIndex: (runId: string): string => `runs/${runId}/plan/index.json`,
  planDirectory: (runId: string): string => `runs/${runId}/plan/directory.json`,
  /** One planned item's summary, written once its plan is: its presence means the item is done. */
  planItem: (runId: string, item: number): string => `runs/${runId}/plan/items/${item}.json`,
  /** A plan file named relative to the run's root (a segment of a channel's plan). */
  inRun: (runId: string, path: string): string => `runs/${runId}/${path}`,
  /** Where a later pass stages what it adds: its snapshot's own plan, and its segments. */
  pass: (runId: string, pass: number): string => `runs/${runId}/passes/${pass}/`,
  /** The first pass's request (options, user map), for the passes after it. */
  request: (runId: string): string => `runs/${runId}/request.json`,
  source: (runId: string): string => `runs/${runId}/source.json`,
  /** A workspace migration's channel map and teams (see `recordWorkspace`). */
  workspace: (runId: string): string => `runs/${runId}/workspace.json`,
  reportJson: (runId: string): string => `runs/${runId}/report.json`,
  reportHtml: (runId: string): string => `runs/${runId}/report.html`,
};

/** An ObjectStore seen through a name prefix, so a planner writing `manifest.json` lands under the run. */
export class PrefixedStore implements ObjectStore {
  constructor(
    private readonly inner: ObjectStore,
    private readonly prefix: string,
  ) {}

  /** The prefix: names in the inner store start with it. */
  get root(): string {
    return this.prefix;
  }

  put(name: string, data: Buffer | string | Readable, contentType?: string): Promise<void> {
    return this.inner.put(this.prefix + name, data, contentType);
  }
  get(name: string): Promise<Buffer> {
    return this.inner.get(this.prefix + name);
  }
  stream(name: string, offset?: number): Promise<Readable> {
    return this.inner.stream(this.prefix + name, offset);
  }
  exists(name: string): Promise<boolean> {
    return this.inner.exists(this.prefix + name);
  }
  async list(prefix: string): Promise<string[]> {
    return (await this.inner.list(this.prefix + prefix)).map((n) => n.slice(this.prefix.length));
  }
  delete(name: string): Promise<void> {
    return this.inner.delete(this.prefix + name);
  }
}

/** A channel's plan files in posting order, as names in the store. */
export function channelSegments(
  runId: string,
  channel: PlannedChannel,
): { name: string; messages: number }[] {
  if (!channel.segments)
    return [{ name: runPaths.channelPlan(runId, channel.planPath), messages: channel.messages }];
  return channel.segments.map((s) => ({ name: runPaths.inRun(runId, s.path), messages: s.messages }));
}

/** Reads a run's staged manifest; the error says to stage the run first when it is missing. */
export async function readManifest(store: ObjectStore, runId: string): Promise<PlanManifest> {
  const name = runPaths.manifest(runId);
  if (!(await store.exists(name)))
    throw new Error(`Run '${runId}' has no staged plan (${name}): its staging has not run.`);
  return JSON.parse((await store.get(name)).toString('utf8')) as PlanManifest;
}

/** A JSON blob of the run's staging area, or undefined when it has not been written. */
export async function readJson<T>(store: ObjectStore, name: string): Promise<T | undefined> {
  if (!(await store.exists(name))) return undefined;
  return JSON.parse((await store.get(name)).toString('utf8')) as T;
}

/** The source the run's latest pass read (what its files are fetched from), or undefined before staging. */
export async function readSourceRef(store: ObjectStore, runId: string): Promise<SourceRef | undefined> {
  return readJson<SourceRef>(store, runPaths.source(runId));
}
