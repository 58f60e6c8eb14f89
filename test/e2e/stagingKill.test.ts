import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeSkewedExport } from '../../bench/pipeline/skewedExport';
import { sandboxUsersFromExport } from '../../cli/run';
import type { MigrationDashboard } from '../../core/operations/dashboard';
import { startSandbox, type SandboxHandle, type SandboxUser } from '../../sandbox';
import {
  exitedWithin,
  FAST_RATES,
  killGroup,
  messageCount,
  seenTeams,
  spawnCli,
  testRunArgs,
  type SeenTeam,
} from '../support/migration';

const CHANNELS = 30;
/** Two channels planned at once, so a staging passes through many states a kill can land in. */
const ENV = { ...FAST_RATES, TEAMS_IMPORT_STAGE_CONCURRENCY: '2' };

/**
 * A run killed while its export is staged (the channels planned one activity each) and run again ends exactly
 * like an uninterrupted run, with one team: the planned channels' plans are kept, the others planned on resume.
 */
describe('a run killed while its channels are staged', () => {
  let exportDir: string;
  let users: SandboxUser[];
  let planned: number;
  let reference: SeenTeam[];
  const dirs: string[] = [];
  const sandboxes: SandboxHandle[] = [];
  const freshDir = (prefix: string): string => {
    const d = mkdtempSync(path.join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  const args = (stateDir: string, graphUrl: string): string[] =>
    testRunArgs(exportDir, { graphUrl, stateDir, runId: 'staging-kill' });

  beforeAll(async () => {
    exportDir = freshDir('e2e-staging-export-');
    const sizes = writeSkewedExport({
      out: exportDir,
      messages: 1_500,
      channels: CHANNELS,
      skew: 0.3,
      replyShare: 0.2,
      users: 12,
      seed: 11,
    });
    planned = sizes.reduce((n, c) => n + c.messages, 0);
    users = await sandboxUsersFromExport(exportDir);
    const sandbox = await startSandbox({ users, timeScale: 10 });
    sandboxes.push(sandbox);
    const child = spawnCli(args(freshDir('e2e-staging-state-'), sandbox.url), ENV);
    const code = await exitedWithin(child, 180_000);
    if (code !== 0) throw new Error(`The uninterrupted run failed (${code}):\n${child.output()}`);
    reference = seenTeams(sandbox.dump());
  }, 240_000);
  afterAll(async () => {
    await Promise.all(sandboxes.map((s) => s.stop()));
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('has a complete reference to compare with', () => {
    expect(reference).toHaveLength(1);
    expect(reference[0].channels).toHaveLength(CHANNELS);
    expect(messageCount(reference[0])).toBe(planned);
  });

  it.each([1, 9, 20])(
    'killed once %i channels are planned, then run again',
    async (plannedAtKill) => {
      const sandbox = await startSandbox({ users, timeScale: 10 });
      sandboxes.push(sandbox);
      const stateDir = freshDir('e2e-staging-state-');
      const first = spawnCli(args(stateDir, sandbox.url), ENV, { ownGroup: true });
      let seen: MigrationDashboard['staging'];
      let polling = false;
      const watcher = setInterval(() => {
        const url = /Live status while it runs: (\S+)/.exec(first.output())?.[1];
        if (!url || polling || seen) return;
        polling = true;
        fetch(`${url}?format=json`)
          .then(async (r) => (r.ok ? ((await r.json()) as MigrationDashboard) : undefined))
          .then((d) => {
            if (!seen && d?.staging && d.staging.planned >= plannedAtKill) {
              seen = d.staging;
              killGroup(first);
            }
          })
          .catch(() => undefined)
          .finally(() => (polling = false));
      }, 10);
      const firstExit = await exitedWithin(first, 180_000).finally(() => clearInterval(watcher));
      expect({ firstExit, items: seen?.items }).toEqual({ firstExit: 'SIGKILL', items: CHANNELS });
      expect(seen!.planned).toBeLessThan(CHANNELS);
      // Killed while staging: nothing had reached Teams.
      expect(sandbox.requestLog().filter((r) => r.method !== 'GET')).toEqual([]);

      const second = spawnCli(args(stateDir, sandbox.url), ENV);
      const secondExit = await exitedWithin(second, 180_000);
      if (secondExit !== 0) throw new Error(`The resumed run failed (${secondExit}):\n${second.output()}`);
      expect(seenTeams(sandbox.dump())).toEqual(reference);
      const teamsCreated = sandbox.requestLog().filter((r) => r.method === 'POST' && /\/teams$/.test(r.path));
      expect(teamsCreated).toHaveLength(1);
    },
    420_000,
  );
});
