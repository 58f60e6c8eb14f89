import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sandboxUsersFromExport, SANDBOX_FALLBACK } from '../../cli/run';
import { startHost, type LocalHost } from '../../devhost/host';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { runCli } from '../support/process';
import { threadedChannelExport } from '../support/slackExport';

/** `teams-import list|status|cancel|resume|report` against a running local host. */
describe('the operations commands against a running app', () => {
  const dirs: string[] = [];
  const exported = threadedChannelExport(40);
  dirs.push(exported.dir);
  let sandbox: SandboxHandle;
  let host: LocalHost;
  const cli = (...args: string[]) => runCli([...args, '--api', host.url]);

  beforeAll(async () => {
    sandbox = await startSandbox({ users: await sandboxUsersFromExport(exported.dir) });
    const stateDir = mkdtempSync(path.join(tmpdir(), 'e2e-operations-cli-'));
    dirs.push(stateDir);
    host = await startHost({
      port: 0,
      stateDir,
      values: { GRAPH_URL: sandbox.url, TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true' },
    });
  });
  afterAll(async () => {
    await host?.stop();
    await sandbox?.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('lists, shows, cancels, resumes and reports a migration, and names the problem when a call is refused', async () => {
    const started = await fetch(`${host.url}/api/migrations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        migrationId: 'cli-a',
        source: { path: exported.dir },
        fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
        options: { batchSeconds: 1, operationPollSeconds: 1 },
      }),
    });
    expect(started.status).toBe(202);
    for (;;) {
      const s = (await (await fetch(`${host.url}/api/migrations/cli-a`)).json()) as {
        channels: { posted: number }[];
      };
      if ((s.channels[0]?.posted ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const list = await cli('list');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^cli-a +importing +\d+\/40 messages +0\/1 channels/m);

    const status = await cli('status', 'migration-cli-a');
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/^importing: \d+\/40 messages posted/m);
    expect(status.out).toMatch(/^ {2}▸ General: \d+\/40 posted/m);
    expect(status.out).toContain(`Live page: ${host.url}/api/migrations/cli-a/dashboard`);

    const cancel = await cli('cancel', 'cli-a');
    expect(cancel.code).toBe(0);
    expect(cancel.out).toMatch(/Migration cli-a cancelled \(1 channel import\(s\) stopped\)/);
    const again = await cli('cancel', 'cli-a');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(
      /POST migrations\/cli-a\/cancel failed with 409: .*not running \(phase cancelled\)/,
    );

    const resume = await cli('resume', 'migration-cli-a');
    expect(resume.code).toBe(0);
    expect(resume.out).toContain(`Live page: ${host.url}/api/migrations/cli-a/dashboard`);
    await host.client.waitForCompletion('migration-cli-a', 90_000);

    const listed = await cli('list', '--json');
    expect(JSON.parse(listed.out)).toEqual([
      expect.objectContaining({ id: 'cli-a', phase: 'completed', runtimeStatus: 'Completed' }),
    ]);
    const report = await cli('report', 'cli-a');
    expect(report.code).toBe(0);
    expect(report.out).toMatch(/^Messages: 40\/40 posted, 0 failed/m);
    expect(report.out).toContain(`Report: ${host.url}/api/migrations/cli-a/report?format=html`);
    const json = await cli('report', 'cli-a', '--json');
    expect(JSON.parse(json.out)).toMatchObject({ runId: 'cli-a', totals: { planned: 40, posted: 40 } });
    const html = await cli('report', 'cli-a', '--html');
    expect(html.out).toMatch(/^<!doctype html>/);
    expect(html.out).toContain('Migration report:');

    const unknown = await cli('status', 'm-none');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/failed with 404: No migration 'm-none'/);
    const unreachable = await runCli(['list', '--api', 'http://127.0.0.1:9']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.err).toMatch(/cannot be reached/);
  }, 150_000);
});
