import { rmSync } from 'node:fs';
import { runMigration, sandboxUsersFromExport } from '../../cli/run';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { tempDir } from '../support/fixtures';
import { capturedIo, FAST_RATES, refusals, testRunOptions } from '../support/migration';
import { msg, writeExport, type KnownMessage } from '../support/slackExport';

const SPEC = 'refuse:0.2';

/** `n` messages a second apart from `startTs` (whole seconds: each planned time is its ts in ms). */
function channelMessages(n: number, startTs: number): { messages: object[]; known: KnownMessage[] } {
  const messages: object[] = [];
  const known: KnownMessage[] = [];
  for (let i = 0; i < n; i++) {
    const key = `${startTs + i}.000000`;
    messages.push(msg(key, `message ${i}`));
    known.push({ key, ms: (startTs + i) * 1000 });
  }
  return { messages, known };
}

describe('completion while a channel fails', () => {
  const env = { ...process.env };
  const dirs: string[] = [];
  let sandbox: SandboxHandle;

  beforeAll(() => {
    Object.assign(process.env, FAST_RATES);
  });
  afterAll(async () => {
    await sandbox?.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
    process.env = env;
  });

  it('completes a clean channel, and leaves the failing channel, General and the team in migration mode', async () => {
    const general = channelMessages(30, 1_704_190_000);
    const clean = channelMessages(6, 1_704_290_000);
    const failing = channelMessages(30, 1_704_390_000);
    // The sandbox refuses a message by a pure function of its time and the seed: pick a seed that refuses
    // none of General's and the clean channel's messages and some of the failing channel's.
    const seed = Array.from({ length: 500 }, (_, i) => i + 1).find(
      (s) =>
        refusals(general.known, SPEC, s).refused.length === 0 &&
        refusals(clean.known, SPEC, s).refused.length === 0 &&
        refusals(failing.known, SPEC, s).refused.length > 0,
    );
    expect(seed).toBeDefined();
    const refused = refusals(failing.known, SPEC, seed!).refused;
    const exportDir = writeExport({
      days: {
        general: { '2024-01-02': general.messages },
        clean: { '2024-01-03': clean.messages },
        failing: { '2024-01-04': failing.messages },
      },
    });
    const stateDir = tempDir('e2e-completion-');
    dirs.push(exportDir, stateDir);
    sandbox = await startSandbox({
      users: await sandboxUsersFromExport(exportDir),
      timeScale: 10,
      faults: SPEC,
      seed,
    });

    const { io, out } = capturedIo();
    const code = await runMigration(
      exportDir,
      testRunOptions(stateDir, sandbox.url, { runId: 'partial', json: false }),
      io,
    );

    expect(code).toBe(1);
    const [team] = sandbox.dump().teams;
    const mode = Object.fromEntries(team.channels.map((c) => [c.displayName, c.migrationMode]));
    expect(mode).toEqual({ General: 'inProgress', clean: 'completed', failing: 'inProgress' });
    expect(team.migrationMode).toBe('inProgress');
    const posted = Object.fromEntries(team.channels.map((c) => [c.displayName, c.messages.length]));
    expect(posted).toEqual({
      General: general.known.length,
      clean: clean.known.length,
      failing: failing.known.length - refused.length,
    });
    expect(out.join('\n')).toMatch(/: needs-attention\n/);
  }, 240_000);
});
