import { rmSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { MigrationOptions, StageSourceInput } from '../../../core/pipeline/contracts';
import type { PipelineDeps } from '../../../core/pipeline/deps';
import { runPaths } from '../../../core/pipeline/runStore';
import { stageIndex, stageItem, stageSource } from '../../../core/pipeline/stage';
import type { ObjectStore } from '../../../core/state/objectStore';
import { startAzurite, type AzuriteHandle } from '../../../devhost/azurite';
import { createPipelineDeps } from '../../../functions/composition';
import { readSettings } from '../../../functions/settings';
import { msg, writeExport } from '../../support/slackExport';

const OPTIONS: MigrationOptions = {
  includeSystemEvents: false,
  channelConcurrency: 10,
  batchSeconds: 1,
  batchesPerExecution: 10,
  operationPollSeconds: 1,
  completeOnErrors: false,
};

/** An export of `n` channels, each with a few messages (one by an author users.json lacks, named per channel). */
function manyChannels(n: number): string {
  const days: Record<string, Record<string, object[]>> = {};
  for (let c = 0; c < n; c++) {
    const base = 1577836800 + c * 86400;
    days[`ch-${String(c).padStart(3, '0')}`] = {
      [new Date(base * 1000).toISOString().slice(0, 10)]: [
        msg(`${base}.000100`, `first of ${c}`),
        msg(`${base + 1}.000100`, `reply in ${c}`, { thread_ts: `${base}.000100` }),
        msg(`${base + 2}.000100`, `stranger in ${c} <@U2>`, {
          user: 'UGONE',
          user_profile: { display_name: `gone-${c}` },
        }),
      ],
    };
  }
  return writeExport({ days });
}

describe('staging as a fan-out of activities, on Azurite', () => {
  let azurite: AzuriteHandle;
  let deps: PipelineDeps;
  const dirs: string[] = [];

  beforeAll(async () => {
    azurite = await startAzurite();
    deps = await createPipelineDeps(
      readSettings({
        AzureWebJobsStorage: azurite.connectionString,
        GRAPH_URL: 'http://127.0.0.1:9',
        TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true',
      }),
    );
  });
  afterAll(async () => {
    await azurite.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  const input = (runId: string, dir: string, now = '2026-01-01T00:00:00.000Z'): StageSourceInput => ({
    migrationId: runId,
    source: { kind: 'path', path: dir },
    team: { displayName: 'Fan-out', visibility: 'private' },
    options: OPTIONS,
    now,
  });

  /** The staged plan's files (NDJSON and manifest) by name under the plan area, as text. */
  async function planFiles(store: ObjectStore, runId: string): Promise<Map<string, string>> {
    const root = runPaths.plan(runId);
    const names = (await store.list(root)).filter((n) => /\/(channels|chats)\/|manifest\.json$/.test(n));
    return new Map(
      await Promise.all(
        names.map(async (n) => [n.slice(root.length), (await store.get(n)).toString()] as const),
      ),
    );
  }

  /** The store, counting the item summaries written, and failing the put of `failOn` (a name's end) when set. */
  function watched(failOn?: string): { store: ObjectStore; summaries: string[] } {
    const summaries: string[] = [];
    const inner = deps.store;
    const store: ObjectStore = {
      put: async (name: string, data: Buffer | string | Readable, contentType?: string) => {
        if (failOn && name.endsWith(failOn)) throw new Error('the worker was killed');
        await inner.put(name, data, contentType);
        if (/\/plan\/items\/\d+\.json$/.test(name)) summaries.push(name);
      },
      get: (name) => inner.get(name),
      stream: (name, offset) => inner.stream(name, offset),
      exists: (name) => inner.exists(name),
      list: (prefix) => inner.list(prefix),
      delete: (name) => inner.delete(name),
    };
    return { store, summaries };
  }

  it('resumes a staging stopped part way by planning only the missing items, ending as an uninterrupted one', async () => {
    const dir = manyChannels(7);
    dirs.push(dir);
    const whole = await stageSource(deps, input('fanout-whole', dir));
    expect(whole.ok).toBe(true);

    const runId = 'fanout-killed';
    const first = watched('/channels/C5.ndjson');
    const firstDeps = { ...deps, store: first.store };
    const indexed = await stageIndex(firstDeps, input(runId, dir));
    if (!indexed.ok) throw new Error(JSON.stringify(indexed.problems));
    expect(indexed.items).toBe(7);
    // Items in the order a fan-out may finish them; item 4 (the channel C5) dies while its plan is written.
    for (const item of [6, 0, 2])
      expect(await stageItem(firstDeps, { migrationId: runId, item })).toEqual({
        ok: true,
        item,
        planned: true,
      });
    await expect(stageItem(firstDeps, { migrationId: runId, item: 4 })).rejects.toThrow(
      'the worker was killed',
    );
    expect(first.summaries).toHaveLength(3);
    expect(await deps.store.exists(runPaths.manifest(runId))).toBe(false);

    // The resume starts later: the staging keeps the time and request the index was made with.
    const resumed = watched();
    const again = await stageSource(
      { ...deps, store: resumed.store },
      input(runId, dir, '2026-03-01T00:00:00.000Z'),
    );
    expect(again).toEqual(whole);
    expect(resumed.summaries.map((n) => Number(/(\d+)\.json$/.exec(n)![1])).sort()).toEqual([1, 3, 4, 5]);
    expect(await planFiles(deps.store, runId)).toEqual(await planFiles(deps.store, 'fanout-whole'));
    expect((await deps.store.get(runPaths.request(runId))).toString()).toBe(
      (await deps.store.get(runPaths.request('fanout-whole'))).toString(),
    );
  });

  it('answers with small acknowledgements, never the plan, on an export of many channels', async () => {
    const dir = manyChannels(60);
    dirs.push(dir);
    const runId = 'fanout-small';
    const indexed = await stageIndex(deps, input(runId, dir));
    expect(indexed).toEqual({ ok: true, items: 60, reused: false, concurrency: 8 });
    expect(JSON.stringify(indexed).length).toBeLessThan(200);
    for (let item = 0; item < 60; item++) {
      const ack = await stageItem(deps, { migrationId: runId, item });
      expect(JSON.stringify({ migrationId: runId, item }).length).toBeLessThan(200);
      expect(JSON.stringify(ack).length).toBeLessThan(1024);
    }
    const staged = await stageSource(deps, input(runId, dir));
    expect(staged.ok && staged.channels).toHaveLength(60);
    expect(staged.ok && staged.totalMessages).toBe(180);
  });

  it('reuses a staged manifest without planning again', async () => {
    const dir = manyChannels(2);
    dirs.push(dir);
    const runId = 'fanout-reuse';
    expect((await stageSource(deps, input(runId, dir))).ok).toBe(true);
    const watching = watched();
    expect(await stageIndex({ ...deps, store: watching.store }, input(runId, dir))).toEqual({
      ok: true,
      items: 0,
      reused: true,
      concurrency: 8,
    });
    expect(watching.summaries).toEqual([]);
  });

  it('refuses the staging and leaves no plan when an item cannot read the export', async () => {
    const dir = manyChannels(3);
    const runId = 'fanout-gone';
    const indexed = await stageIndex(deps, input(runId, dir));
    expect(indexed.ok).toBe(true);
    expect((await stageItem(deps, { migrationId: runId, item: 0 })).ok).toBe(true);
    rmSync(dir, { recursive: true, force: true });
    const staged = await stageSource(deps, input(runId, dir));
    expect(staged.ok).toBe(false);
    expect(!staged.ok && staged.problems.map((p) => p.code)).toEqual(['export-unreadable']);
    expect(await deps.store.list(runPaths.plan(runId))).toEqual([]);
  });
});
