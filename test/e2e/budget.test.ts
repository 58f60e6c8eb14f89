import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  busiestWindow,
  firstWindowWithChannels,
  listeningUrl,
  messagePosts,
  servedMigrationEnd,
  startServedMigration,
} from '../../bench/pipeline/served';
import { writeSkewedExport } from '../../bench/pipeline/skewedExport';
import { sandboxRehearsal, SANDBOX_FALLBACK } from '../../cli/run';
import { startAzurite, type AzuriteHandle } from '../../devhost/azurite';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { exited, seenTeams, spawnCli } from '../support/migration';

/** The sandbox runs K times faster than the service; the app's rates are raised K times to match. */
const K = 2;
/** The service's limits: 5 message POSTs a second per channel, 50 per app. */
const PER_CHANNEL = 5;
const PER_APP = 50;
const SLOTS = PER_APP / PER_CHANNEL;
/** One second of the service in the scaled sandbox. */
const WINDOW_MS = 1000 / K;
const LEASE_SECONDS = 15;

const APP_SETTINGS = {
  TEAMS_IMPORT_RATE_PER_CHANNEL: String(PER_CHANNEL * K),
  TEAMS_IMPORT_RATE_GLOBAL: String(PER_APP * K),
  TEAMS_IMPORT_MAX_RETRY_AFTER_SECONDS: String(60 / K),
  TEAMS_IMPORT_BUDGET_LEASE_SECONDS: String(LEASE_SECONDS),
  TEAMS_IMPORT_BUDGET_RETRY_SECONDS: '1',
  TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true',
};

describe('one tenant budget for two app processes sharing one storage account', () => {
  let azurite: AzuriteHandle;
  let sandbox: SandboxHandle;
  const dirs: string[] = [];
  const children: ReturnType<typeof spawnCli>[] = [];
  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(children.map((c) => exited(c)));
    await sandbox?.stop();
    await azurite?.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  const serve = async (): Promise<{ url: string; child: ReturnType<typeof spawnCli> }> => {
    const child = spawnCli(
      ['serve', '--port', '0', '--storage', azurite.connectionString, '--graph-url', sandbox.url],
      APP_SETTINGS,
    );
    children.push(child);
    return { url: await listeningUrl(child), child };
  };
  const waitFor = async <T>(what: string, probe: () => T | undefined, ms = 120_000): Promise<T> => {
    for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      const value = probe();
      if (value !== undefined) return value;
    }
    throw new Error(`Timed out waiting for ${what}.`);
  };

  it('keeps both migrations within the budget, gives a killed process its slots back, and both end exact', async () => {
    const exportOf = (channels: number, perChannel: number, seed: number) => {
      const out = mkdtempSync(path.join(tmpdir(), 'e2e-budget-'));
      dirs.push(out);
      const sizes = writeSkewedExport({
        out,
        messages: channels * perChannel,
        channels,
        skew: 0,
        replyShare: 0.2,
        users: 10,
        seed,
      });
      return { out, sizes };
    };
    // A has fewer channels than slots; B has more than slots even after a lease period at part of the budget.
    const a = exportOf(6, 120, 11);
    const b = exportOf(18, 150, 12);
    const rehearsal = await sandboxRehearsal(a.out);
    azurite = await startAzurite();
    sandbox = await startSandbox({ users: rehearsal.users, timeScale: K });
    const body = (id: string, source: string) => ({
      migrationId: id,
      source: { path: source },
      team: { displayName: `Budget ${id}` },
      userMap: rehearsal.userMap,
      fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
      options: { batchSeconds: 1, operationPollSeconds: 1 },
    });
    const teamId = (name: string): string | undefined =>
      sandbox.dump().teams.find((t) => t.displayName === name)?.id;
    const postsOf = (team: string | undefined) =>
      messagePosts(sandbox.requestLog()).filter((p) => p.team === team && p.admitted);

    const [first, second] = await Promise.all([serve(), serve()]);
    await startServedMigration(first.url, body('a', a.out));
    await waitFor('A to post', () => (postsOf(teamId('Budget a')).length >= 30 ? true : undefined));
    await startServedMigration(second.url, body('b', b.out));
    await waitFor('B to post while A posts', () =>
      postsOf(teamId('Budget b')).length > 0 ? true : undefined,
    );
    await waitFor('A to post a fifth of its messages', () =>
      postsOf(teamId('Budget a')).length >= 150 ? true : undefined,
    );
    first.child.kill('SIGKILL');
    const killedAt = performance.timeOrigin + performance.now();
    expect(await exited(first.child)).toBe('SIGKILL');

    const bId = teamId('Budget b');
    const recovered = await waitFor('B to post into as many channels at once as there are slots', () =>
      firstWindowWithChannels(postsOf(bId), killedAt, WINDOW_MS, SLOTS),
    );
    const third = await serve();
    await startServedMigration(third.url, body('a', a.out));
    const [endA, endB] = await Promise.all([
      servedMigrationEnd(third.url, 'a', 300_000),
      servedMigrationEnd(second.url, 'b', 300_000),
    ]);

    const log = sandbox.requestLog();
    const posts = messagePosts(log);
    // What counts against the app: every POST the channel limit let through, admitted or refused app-wide.
    const counted = posts.filter((p) => p.admitted || p.throttled === 'global').map((p) => p.t);
    expect(busiestWindow(counted, WINDOW_MS)).toBeLessThanOrEqual(PER_APP);
    expect(log.filter((e) => e.throttled && e.throttled !== 'channel')).toEqual([]);
    // The dead process's slots came back by their leases lapsing (no other process restarted meanwhile).
    expect(recovered - killedAt).toBeLessThan(2 * LEASE_SECONDS * 1000);

    expect([endA.output?.phase, endB.output?.phase]).toEqual(['completed', 'completed']);
    const teams = seenTeams(sandbox.dump());
    for (const [name, sizes] of [
      ['Budget a', a.sizes],
      ['Budget b', b.sizes],
    ] as const) {
      const team = teams.find((t) => t.displayName === name)!;
      expect(team.migrationMode).toBe('completed');
      const counts = Object.fromEntries(
        team.channels.map((c) => [c.displayName, c.messages.reduce((n, m) => n + 1 + m.replies.length, 0)]),
      );
      expect(counts).toEqual(
        Object.fromEntries(sizes.map((s) => [s.name === 'general' ? 'General' : s.name, s.messages])),
      );
    }
  }, 600_000);
});
