import { rmSync } from 'node:fs';
import type { MigrationOptions } from '../../../core/pipeline/contracts';
import type { PipelineDeps } from '../../../core/pipeline/deps';
import { beginPass, stageDelta } from '../../../core/pipeline/passes';
import { channelSegments, readManifest } from '../../../core/pipeline/runStore';
import { stageSource } from '../../../core/pipeline/stage';
import type { PlannedMessage } from '../../../core/model';
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
const NOW = '2025-01-01T00:00:00.000Z';
const channels = [{ id: 'C1', name: 'general', created: 1700000000, is_general: true }];
/** Epoch ms of a Slack ts, truncated as the planner and the service do. */
const msOf = (ts: string): number => Math.floor(Number(ts) * 1000);

describe('a delta adds only what the plan lacks, each at a free millisecond of its channel', () => {
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

  const exported = (messages: object[]): string => {
    const dir = writeExport({ channels, days: { general: { '2024-01-02': messages } } });
    dirs.push(dir);
    return dir;
  };

  it('keeps planned times, moves a taken millisecond to the next free one, threads a reply under its earlier parent, and adds nothing twice', async () => {
    const runId = 'delta-times';
    const parent = '1704190000.000100';
    const sameMs = '1704190000.000900';
    const late = '1704180000.000000';
    const reply = '1704190500.000000';
    const later = '1704190600.000000';
    const first = [msg(parent, 'parent'), msg('1704190001.000000', 'second')];
    const begun = await beginPass(deps, { migrationId: runId, kind: 'initial', prestage: true, now: NOW });
    expect(begun.ok).toBe(true);
    const staged = await stageSource(deps, {
      migrationId: runId,
      source: { kind: 'path', path: exported(first) },
      team: { displayName: 'Delta times', visibility: 'private' },
      options: OPTIONS,
      now: NOW,
      pass: 1,
    });
    expect(staged.ok).toBe(true);
    await deps.ledger.updateMigration(runId, { stage: 'prestaged' });

    const second = [
      msg(late, 'arrived late'),
      ...first,
      msg(sameMs, 'same millisecond as the parent'),
      msg(reply, 'a reply to the earlier thread', { thread_ts: parent }),
      msg(later, 'later'),
    ];
    const snapshot = { kind: 'path' as const, path: exported(second) };
    const delta = await beginPass(deps, { migrationId: runId, kind: 'delta', source: snapshot, now: NOW });
    if (!delta.ok) throw new Error(delta.error);
    const result = await stageDelta(deps, {
      migrationId: runId,
      pass: delta.pass,
      source: snapshot,
      now: NOW,
    });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.newMessages).toBe(4);

    const manifest = await readManifest(deps.store, runId);
    const channel = manifest.channels[0];
    const segments = channelSegments(runId, channel);
    expect(segments.map((s) => s.messages)).toEqual([2, 4]);
    const lines = (await deps.store.get(segments[1].name))
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as PlannedMessage);
    const byKey = new Map(lines.map((l) => [l.key, l]));
    expect([...byKey.keys()].sort()).toEqual([late, sameMs, reply, later].sort());
    expect(Date.parse(byKey.get(late)!.createdDateTime)).toBe(msOf(late));
    expect(Date.parse(byKey.get(sameMs)!.createdDateTime)).toBe(msOf(parent) + 1);
    expect(byKey.get(reply)!.parentKey).toBe(parent);
    expect(Date.parse(byKey.get(reply)!.createdDateTime)).toBe(msOf(reply));
    expect(Date.parse(byKey.get(later)!.createdDateTime)).toBe(msOf(later));
    expect(lines.map((l) => l.seq)).toEqual([2, 3, 4, 5]);
    expect(channel.messages).toBe(6);

    const sameAgain = { kind: 'path' as const, path: exported(second) };
    const again = await beginPass(deps, { migrationId: runId, kind: 'delta', source: sameAgain, now: NOW });
    if (!again.ok) throw new Error(again.error);
    expect(again.pass).toBe(delta.pass + 1);
    const twice = await stageDelta(deps, {
      migrationId: runId,
      pass: again.pass,
      source: sameAgain,
      now: NOW,
    });
    expect(twice).toMatchObject({ ok: true, newMessages: 0 });
    expect(channelSegments(runId, (await readManifest(deps.store, runId)).channels[0])).toHaveLength(2);
  });
});
