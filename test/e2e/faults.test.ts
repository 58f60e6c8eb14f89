import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runMigration, sandboxUsersFromExport } from '../../cli/run';
import { startSandbox, type SandboxHandle, type SandboxUser } from '../../sandbox';
import {
  capturedIo,
  FAST_RATES,
  messageCount,
  SAMPLE_EXPORT,
  seenTeams,
  testRunOptions,
  type SeenTeam,
} from '../support/migration';

describe('migration under faults and bad input', () => {
  let users: SandboxUser[];
  let reference: SeenTeam[];
  const dirs: string[] = [];
  const sandboxes: SandboxHandle[] = [];
  const env = { ...process.env };
  const dir = (): string => {
    const d = mkdtempSync(path.join(tmpdir(), 'e2e-faults-'));
    dirs.push(d);
    return d;
  };
  const sandbox = async (faults?: string): Promise<SandboxHandle> => {
    const s = await startSandbox({
      users,
      timeScale: 10,
      faults,
      seed: 11,
      slackFiles: { export: SAMPLE_EXPORT },
    });
    sandboxes.push(s);
    return s;
  };

  beforeAll(async () => {
    Object.assign(process.env, FAST_RATES);
    users = await sandboxUsersFromExport(SAMPLE_EXPORT);
    const clean = await sandbox();
    const { io, err } = capturedIo();
    const code = await runMigration(SAMPLE_EXPORT, testRunOptions(dir(), clean.url, { runId: 'faults' }), io);
    if (code !== 0) throw new Error(`the fault-free run failed: ${err.join('\n')}`);
    reference = seenTeams(clean.dump());
  });
  afterAll(async () => {
    await Promise.all(sandboxes.map((s) => s.stop()));
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
    process.env = env;
  });

  it('ends exactly like a fault-free run despite 429s, 503s, 504s, latency and lost answers', async () => {
    const faulty = await sandbox('429:0.06,429noretry:0.03,503:0.03,504:0.03,latency:0.1@40,lost:0.04');
    const { io, err } = capturedIo();
    const code = await runMigration(
      SAMPLE_EXPORT,
      testRunOptions(dir(), faulty.url, { runId: 'faults' }),
      io,
    );
    expect({ code, err: code === 0 ? [] : err }).toEqual({ code: 0, err: [] });
    const log = faulty.requestLog();
    const injected = new Set(log.filter((r) => r.fault).map((r) => r.fault));
    expect([...injected].sort()).toEqual(['429', '429noretry', '503', '504', 'latency', 'lost']);
    expect(seenTeams(faulty.dump())).toEqual(reference);
    expect(messageCount(seenTeams(faulty.dump())[0])).toBe(messageCount(reference[0]));
  });

  it('refuses an export it cannot read, naming it, before anything is created', async () => {
    const target = await sandbox();
    const bad = path.join(dir(), 'export.zip');
    writeFileSync(bad, 'this is not a zip archive');
    const { io, err } = capturedIo();
    expect(await runMigration(bad, testRunOptions(dir(), target.url, { runId: 'bad-zip' }), io)).not.toBe(0);
    expect(err.join('\n')).toMatch(/export\.zip/);
    expect(target.requestLog().filter((r) => r.method !== 'GET')).toEqual([]);
    expect(target.dump().teams).toEqual([]);
  });

  it('refuses a user map that names users the tenant does not have, before anything is created', async () => {
    const target = await sandbox();
    const map = path.join(dir(), 'users.csv');
    writeFileSync(map, 'slackId,entra\nU0BMQB6JE,nobody@contoso.example\n');
    const { io, err } = capturedIo();
    expect(
      await runMigration(
        SAMPLE_EXPORT,
        testRunOptions(dir(), target.url, { runId: 'bad-map', userMap: map }),
        io,
      ),
    ).toBe(1);
    expect(err.join('\n')).toMatch(/nobody@contoso\.example.*no such user/);
    expect(target.dump().teams).toEqual([]);
  });

  it('refuses to import into a team name the tenant already uses for another team', async () => {
    const target = await sandbox();
    const { io } = capturedIo();
    expect(
      await runMigration(SAMPLE_EXPORT, testRunOptions(dir(), target.url, { runId: 'first-owner' }), io),
    ).toBe(0);
    const { io: io2, err } = capturedIo();
    expect(
      await runMigration(SAMPLE_EXPORT, testRunOptions(dir(), target.url, { runId: 'second-owner' }), io2),
    ).toBe(1);
    expect(err.join('\n')).toMatch(/already exists in the tenant.*choose another team name/);
    expect(target.dump().teams).toHaveLength(1);
  });

  it('refuses a team name Teams would reject, naming the field', async () => {
    const target = await sandbox();
    const { io, err } = capturedIo();
    expect(
      await runMigration(
        SAMPLE_EXPORT,
        testRunOptions(dir(), target.url, { runId: 'long', teamName: 'x'.repeat(300) }),
        io,
      ),
    ).toBe(2);
    expect(err.join('\n')).toMatch(/team\.displayName must be at most 256 characters/);
    expect(target.dump().teams).toEqual([]);
  });
});
