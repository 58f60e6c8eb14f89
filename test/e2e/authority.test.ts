import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import { sandboxUsersFromExport } from '../../cli/run';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { exitedWithin, FAST_RATES, SAMPLE_EXPORT, spawnCli, testRunArgs } from '../support/migration';

const APP = { clientId: 'import-app', clientSecret: 'import-app-secret' };

/**
 * The app's own Graph sign-in against an identity authority that is not Microsoft's: the sandbox serves
 * https with a certificate only the child process trusts (NODE_EXTRA_CA_CERTS), issues app-only tokens by the
 * client-credentials grant, and its Graph accepts no token it did not issue.
 */
describe('app-only Graph sign-in at a non-Microsoft authority', () => {
  let dir: string;
  let sandbox: SandboxHandle;
  let caFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'e2e-authority-'));
    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
      ],
    });
    caFile = path.join(dir, 'authority.pem');
    writeFileSync(caFile, pems.cert);
    sandbox = await startSandbox({
      users: await sandboxUsersFromExport(SAMPLE_EXPORT),
      timeScale: 10,
      tls: { key: pems.private, cert: pems.cert },
      identity: APP,
      issuedTokensOnly: true,
      slackFiles: { export: SAMPLE_EXPORT },
    });
  }, 60_000);
  afterAll(async () => {
    await sandbox?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (runId: string, env: NodeJS.ProcessEnv) =>
    spawnCli(
      testRunArgs(SAMPLE_EXPORT, {
        graphUrl: sandbox.url,
        stateDir: path.join(dir, runId),
        runId,
        slackFilesUrl: sandbox.slackFilesUrl,
      }),
      {
        ...FAST_RATES,
        NODE_EXTRA_CA_CERTS: caFile,
        AZURE_AUTHORITY_HOST: sandbox.url,
        AZURE_TENANT_ID: 'contoso',
        AZURE_CLIENT_ID: APP.clientId,
        TEAMS_IMPORT_TOKEN: undefined,
        ...env,
      },
    );

  it('migrates the sample with a client secret redeemed at the configured authority', async () => {
    const child = run('authority', { AZURE_CLIENT_SECRET: APP.clientSecret });
    const code = await exitedWithin(child, 240_000);
    expect({ code, output: code === 0 ? '' : child.output() }).toEqual({ code: 0, output: '' });
    expect(sandbox.requestLog().filter((r) => r.status === 401)).toEqual([]);
    expect(sandbox.dump().teams.map((t) => t.migrationMode)).toEqual(['completed']);
  }, 300_000);

  it('stops before anything is created when the authority refuses the secret, naming the app', async () => {
    const teamsBefore = sandbox.dump().teams.length;
    const child = run('wrong-secret', { AZURE_CLIENT_SECRET: 'not-the-secret' });
    const code = await exitedWithin(child, 240_000);
    expect(code).not.toBe(0);
    expect(child.output()).toMatch(/import-app|invalid_client|AADSTS7000215/);
    expect(child.output()).not.toContain('not-the-secret');
    expect(sandbox.dump().teams.length).toBe(teamsBefore);
  }, 300_000);
});
