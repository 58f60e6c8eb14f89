import { BlobServiceClient } from '@azure/storage-blob';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runMigration, sandboxUsersFromExport, SANDBOX_FALLBACK } from '../../cli/run';
import { parentFailedReason } from '../../core/pipeline/poster';
import type { MigrationReport } from '../../core/pipeline/report';
import { teamRunMark } from '../../core/pipeline/teams';
import { BlobObjectStore } from '../../core/state/blobStore';
import { startHost } from '../../devhost/host';
import { startSandbox, type RequestLogEntry, type SandboxHandle } from '../../sandbox';
import { startLossyProxy } from '../support/lossyProxy';
import {
  capturedIo,
  FAST_RATES,
  messageCount,
  refusals,
  seenTeams,
  testRunOptions,
} from '../support/migration';
import { threadedChannelExport } from '../support/slackExport';

const isPost = (r: RequestLogEntry): boolean =>
  r.method === 'POST' && /\/messages(\/[^/]+\/replies)?$/.test(r.path);

describe('a migration that can never get stuck', () => {
  const env = { ...process.env };
  const dirs: string[] = [];
  const sandboxes: SandboxHandle[] = [];
  const dir = (): string => {
    const d = mkdtempSync(path.join(tmpdir(), 'e2e-nostall-'));
    dirs.push(d);
    return d;
  };
  const exported = (n: number): ReturnType<typeof threadedChannelExport> => {
    const written = threadedChannelExport(n);
    dirs.push(written.dir);
    return written;
  };
  const sandbox = async (exportDir: string, faults?: string, seed = 1): Promise<SandboxHandle> => {
    const s = await startSandbox({
      users: await sandboxUsersFromExport(exportDir),
      timeScale: 10,
      faults,
      seed,
    });
    sandboxes.push(s);
    return s;
  };

  beforeAll(() => {
    Object.assign(process.env, FAST_RATES);
  });
  afterAll(async () => {
    await Promise.all(sandboxes.map((s) => s.stop()));
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
    process.env = env;
  });

  it('a channel with 1 message in 5 refused finishes its pass with the failures reported (no stall), and the next run tries them once more', async () => {
    const { dir: exportDir, known } = exported(120);
    const spec = 'refuse:0.2';
    const seed = 3;
    const { refused, waiting } = refusals(known, spec, seed);
    expect(refused.length).toBeGreaterThanOrEqual(12);
    const failedCount = refused.length + waiting.length;
    const target = await sandbox(exportDir, spec, seed);
    const stateDir = dir();

    Object.assign(process.env, { GRAPH_URL: target.url, TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true' });
    const host = await startHost({ port: 0, stateDir: path.join(stateDir, 'host') });
    type Status = {
      runtimeStatus: string;
      output: { phase: string; failed: number };
      channels: { planned: number; posted: number; failed: number; missing: number; why: string[] }[];
    };
    let status: Status;
    try {
      const started = await fetch(`${host.url}/api/migrations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          migrationId: 'refused',
          source: { path: exportDir },
          fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
          options: { batchSeconds: 1, operationPollSeconds: 1 },
        }),
      });
      expect(started.status).toBe(202);
      for (;;) {
        status = (await (await fetch(`${host.url}/api/migrations/refused`)).json()) as Status;
        if (['Completed', 'Failed', 'Terminated'].includes(status.runtimeStatus)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const store = new BlobObjectStore(
        BlobServiceClient.fromConnectionString(host.storageConnectionString).getContainerClient(
          'teams-import',
        ),
      );
      const report = JSON.parse(
        (await store.get('runs/refused/report.json')).toString('utf8'),
      ) as MigrationReport;
      const html = (await store.get('runs/refused/report.html')).toString('utf8');

      expect(status.output).toMatchObject({ phase: 'needs-attention', failed: failedCount });
      expect(status.channels[0]).toMatchObject({
        planned: known.length,
        posted: known.length - failedCount,
        failed: failedCount,
        missing: 0,
      });
      expect(status.channels[0].why).toEqual([
        expect.stringMatching(
          new RegExp(`^${failedCount} messages failed \\(.*refused.*\\); the next run tries them again\\.$`),
        ),
      ]);
      expect(Object.fromEntries(report.channels[0].failures.map((f) => [f.key, f.error]))).toEqual(
        Object.fromEntries([
          ...refused.map((k) => [k.key, expect.stringMatching(/^400 BadRequest: .*refused/)]),
          ...waiting.map((k) => [k.key, parentFailedReason(k.parentKey!)]),
        ]),
      );
      expect(report.channels[0].why).toHaveLength(1);
      expect(html).toContain('What is missing and why');
      expect(html).toContain(refused[0].key);
    } finally {
      await host.stop();
      process.env.GRAPH_URL = env.GRAPH_URL;
      if (env.GRAPH_URL === undefined) delete process.env.GRAPH_URL;
    }
    const firstPass = target.requestLog();
    expect(firstPass.filter((r) => r.fault === 'refuse')).toHaveLength(refused.length);
    expect(target.dump().teams[0].migrationMode).toBe('inProgress');

    const { io, out } = capturedIo();
    const code = await runMigration(
      exportDir,
      testRunOptions(stateDir, target.url, { runId: 'refused', json: false }),
      io,
    );
    expect(code).toBe(1);
    const secondPass = target.requestLog().slice(firstPass.length);
    expect(secondPass.filter((r) => r.fault === 'refuse')).toHaveLength(refused.length);
    expect(secondPass.filter((r) => isPost(r) && r.status < 300)).toEqual([]);
    const summary = out.join('\n');
    expect(summary).toMatch(/: needs-attention\n/);
    expect(summary).toContain(`${failedCount} failed`);
    expect(summary).toMatch(
      new RegExp(`\\n {6}${failedCount} messages failed \\(${refused[0].key}: 400 BadRequest: .*refused`),
    );
    expect(summary).toMatch(/run again with the same --run-id to retry, or pass --complete-on-errors/);
  }, 180_000);

  it('with --complete-on-errors the channel, General and the team are completed with what was posted, and the report still names every failure', async () => {
    const { dir: exportDir, known } = threadedChannelExport(60, { members: ['U1', 'U2'] });
    dirs.push(exportDir);
    const spec = 'refuse:0.2';
    const seed = 3;
    const { refused, waiting } = refusals(known, spec, seed);
    expect(refused.length).toBeGreaterThan(0);
    const target = await sandbox(exportDir, spec, seed);
    const { io, out } = capturedIo();
    const code = await runMigration(
      exportDir,
      testRunOptions(dir(), target.url, { runId: 'complete-anyway', completeOnErrors: true }),
      io,
    );
    const report = JSON.parse(out.join('\n')) as MigrationReport;
    expect(code).toBe(1);
    expect(report.phase).toBe('completed');
    expect(report.totals).toMatchObject({
      planned: known.length,
      posted: known.length - refused.length - waiting.length,
      failed: refused.length + waiting.length,
    });
    expect(report.channels[0].failures.map((f) => f.key).sort()).toEqual(
      [...refused, ...waiting].map((k) => k.key).sort(),
    );
    const [team] = target.dump().teams;
    expect(team.migrationMode).toBe('completed');
    expect(team.channels.filter((c) => !c.deleted).map((c) => c.migrationMode)).toEqual(
      team.channels.filter((c) => !c.deleted).map(() => 'completed'),
    );
    expect(team.members).toHaveLength(2);
  }, 180_000);

  it('a 2-minute Retry-After is waited on a durable timer and the channel finishes (time-scaled)', async () => {
    const { dir: exportDir, known } = exported(60);
    const target = await sandbox(exportDir);
    let throttleSet = false;
    const watcher = setInterval(() => {
      const log = target.requestLog();
      if (!throttleSet && log.filter((r) => isPost(r) && r.status < 300).length >= 10) {
        target.setFaults('429long:1@120');
        throttleSet = true;
      } else if (throttleSet && log.some((r) => r.fault === '429long')) {
        target.setFaults('');
        clearInterval(watcher);
      }
    }, 2);
    const { io, err } = capturedIo();
    let code: number;
    try {
      code = await runMigration(exportDir, testRunOptions(dir(), target.url, { runId: 'long-wait' }), io);
    } finally {
      clearInterval(watcher);
    }

    expect({ code, err: code === 0 ? [] : err }).toEqual({ code: 0, err: [] });
    expect(messageCount(seenTeams(target.dump())[0])).toBe(known.length);
    const log = target.requestLog();
    const long = log.findIndex((r) => r.fault === '429long');
    expect(long).toBeGreaterThan(0);
    expect(isPost(log[long])).toBe(true);
    const next = log.slice(long + 1).find(isPost)!;
    expect(next.t - log[long].t).toBeGreaterThanOrEqual(11_900);
    expect(err.join('\n')).toMatch(/General \d+\/60 waiting for the service until \d{4}-/);
  }, 120_000);

  it('a lost team-creation answer makes no second team even when the team list answers late', async () => {
    const { dir: exportDir, known } = exported(20);
    const target = await sandbox(exportDir, 'teamlistlag:1@30');
    const proxy = await startLossyProxy(
      target.url,
      (method, url) => method === 'POST' && url === '/v1.0/teams',
    );
    try {
      const { io, err } = capturedIo();
      const code = await runMigration(
        exportDir,
        testRunOptions(dir(), proxy.url, { runId: 'lost-team' }),
        io,
      );
      expect({ code, err: code === 0 ? [] : err }).toEqual({ code: 0, err: [] });
    } finally {
      await proxy.stop();
    }
    expect(proxy.dropped).toEqual(['POST /v1.0/teams']);
    const teams = target.dump().teams;
    expect(teams).toHaveLength(1);
    expect(teams[0].description?.endsWith(teamRunMark('lost-team'))).toBe(true);
    expect(target.requestLog().filter((r) => r.method === 'POST' && /\/teams$/.test(r.path))).toHaveLength(1);
    expect(messageCount(seenTeams(target.dump())[0])).toBe(known.length);
    expect(teams[0].migrationMode).toBe('completed');
  }, 120_000);
});
