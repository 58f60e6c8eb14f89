import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runMigration, sandboxUsersFromExport, SANDBOX_FALLBACK } from '../../cli/run';
import type { PlannedMessage } from '../../core/model';
import { LocalFolderStore } from '../../core/state/localStore';
import { planExport } from '../../core/transform/plan';
import { startSandbox, sandboxUserFor, type SandboxHandle } from '../../sandbox';
import {
  capturedIo,
  FAST_RATES,
  messageCount,
  SAMPLE_EXPORT,
  seenTeams,
  testRunOptions,
} from '../support/migration';

describe('migrating the bundled sample into the sandbox', () => {
  let sandbox: SandboxHandle;
  let stateDir: string;
  const env = { ...process.env };

  beforeAll(async () => {
    Object.assign(process.env, FAST_RATES);
    sandbox = await startSandbox({
      users: await sandboxUsersFromExport(SAMPLE_EXPORT),
      timeScale: 10,
      slackFiles: { export: SAMPLE_EXPORT },
    });
    stateDir = mkdtempSync(path.join(tmpdir(), 'e2e-run-'));
  });
  afterAll(async () => {
    await sandbox.stop();
    rmSync(stateDir, { recursive: true, force: true });
    process.env = env;
  });

  it('posts every planned message once, in its thread, as its author, then completes the team and adds members', async () => {
    const { io, out } = capturedIo();
    const code = await runMigration(
      SAMPLE_EXPORT,
      testRunOptions(stateDir, sandbox.url, { runId: 'sample', slackFilesUrl: sandbox.slackFilesUrl }),
      io,
    );
    expect(code).toBe(0);
    const report = JSON.parse(out.join('\n'));
    expect(report.phase).toBe('completed');

    const planDir = mkdtempSync(path.join(tmpdir(), 'e2e-plan-'));
    const manifest = await planExport(SAMPLE_EXPORT, { now: Date.now() }, new LocalFolderStore(planDir));
    expect(report.totals).toMatchObject({
      planned: manifest.totals.messages,
      posted: manifest.totals.messages,
      failed: 0,
    });

    for (const channel of manifest.channels) {
      const line = report.channels.find((c: { teamsName: string }) => c.teamsName === channel.teamsName);
      expect(line).toMatchObject({
        sourceMessages: channel.sourceMessages,
        planned: channel.messages,
        failed: 0,
      });
      expect(line.elapsedSeconds).toBeGreaterThanOrEqual(0);
    }

    const [team] = seenTeams(sandbox.dump());
    expect(team.migrationMode).toBe('completed');
    expect(messageCount(team)).toBe(manifest.totals.messages);
    expect(team.channels.every((c) => c.migrationMode === 'completed')).toBe(true);

    const users = new Map(manifest.users.map((u) => [u.sourceId, u]));
    for (const planned of manifest.channels) {
      const channel = team.channels.find((c) => c.displayName === planned.teamsName)!;
      expect(channel).toBeDefined();
      const lines = readFileSync(path.join(planDir, planned.planPath), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as PlannedMessage);
      const byKey = new Map(lines.map((m) => [m.key, m]));
      const posted = new Map(
        channel.messages.flatMap((m) => [
          [m.createdDateTime, { m, parent: undefined as string | undefined }],
          ...m.replies.map((r) => [r.createdDateTime, { m: r, parent: m.createdDateTime }] as const),
        ]),
      );
      expect(posted.size).toBe(lines.length);
      for (const plannedMessage of lines) {
        const got = posted.get(plannedMessage.createdDateTime);
        expect(got).toBeDefined();
        expect(got!.parent).toBe(
          plannedMessage.parentKey ? byKey.get(plannedMessage.parentKey)!.createdDateTime : undefined,
        );
        const author = plannedMessage.author.sourceUserId
          ? users.get(plannedMessage.author.sourceUserId)
          : undefined;
        const expectedFrom =
          author?.email && plannedMessage.author.kind !== 'bot'
            ? sandboxUserFor(author.email).id
            : SANDBOX_FALLBACK.id;
        expect(got!.m.from).toBe(expectedFrom);
        for (const fragment of plannedMessage.html.split(/<attachment id="[^"]+"><\/attachment>/))
          expect(got!.m.body).toContain(fragment);
        expect([...got!.m.body.matchAll(/<attachment id="[0-9A-F-]{36}"><\/attachment>/gi)]).toHaveLength(
          plannedMessage.files.length,
        );
        if (expectedFrom === SANDBOX_FALLBACK.id) expect(got!.m.body).toContain('Originally posted by');
      }
    }
    expect(team.members.length).toBeGreaterThan(0);
    rmSync(planDir, { recursive: true, force: true });
  });

  it('changes nothing when the same run is started again', async () => {
    const before = seenTeams(sandbox.dump());
    const postsBefore = sandbox
      .requestLog()
      .filter((r) => r.method === 'POST' && /\/messages/.test(r.path)).length;
    const { io } = capturedIo();
    expect(
      await runMigration(
        SAMPLE_EXPORT,
        testRunOptions(stateDir, sandbox.url, { runId: 'sample', slackFilesUrl: sandbox.slackFilesUrl }),
        io,
      ),
    ).toBe(0);
    expect(seenTeams(sandbox.dump())).toEqual(before);
    const postsAfter = sandbox
      .requestLog()
      .filter((r) => r.method === 'POST' && /\/messages/.test(r.path)).length;
    expect(postsAfter).toBe(postsBefore);
  });
});
