import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMigration, sandboxUsersFromExport } from '../../cli/run';
import { MESSAGE_SIZE_LIMIT } from '../../core/graph/messageSize';
import { startSandbox, sandboxUserFor, type DumpMessage, type SandboxHandle } from '../../sandbox';
import { assembleZulipExport, readJson, tempDir } from '../support/fixtures';
import { capturedIo, FAST_RATES, testRunOptions } from '../support/migration';

type Json = Record<string, unknown>;
const PETER = 'U06NU4E26M9';
const REACTED = '1772300000.000100';
const TOO_LARGE = '1772300001.000100';

/**
 * The zulip fixtures assembled, Peter (the author of the real rich-text messages) given an e-mail so the tenant
 * has him, a message with reactions (skin tone, custom emoji, 40 people), and one whose 30 KB link cannot fit.
 */
function fidelityExport(): string {
  const dir = assembleZulipExport();
  const users = readJson<Json[]>(join(dir, 'users.json'));
  users.push({
    id: PETER,
    name: 'pieterceka123',
    real_name: 'Peter',
    profile: { email: 'peter@example.com' },
  });
  for (let i = 0; i < 40; i++)
    users.push({
      id: `UR${i}`,
      name: `r${i}`,
      real_name: `Reactor ${i}`,
      profile: { email: `r${i}@example.com` },
    });
  writeFileSync(join(dir, 'users.json'), JSON.stringify(users));
  const path = join(dir, 'general', '2026-02-25.json');
  const day = readJson<Json[]>(path);
  day.push(
    {
      type: 'message',
      user: PETER,
      ts: REACTED,
      text: 'Shipped, thanks <@U061A1R2R> and <!here>',
      reactions: [
        { name: '+1::skin-tone-4', users: ['UR0', 'UR1'], count: 2 },
        { name: 'party-parrot', users: ['UR2'], count: 1 },
        { name: 'tada', users: Array.from({ length: 40 }, (_, i) => `UR${i}`), count: 40 },
      ],
    },
    { type: 'message', user: PETER, ts: TOO_LARGE, text: `<https://example.com/${'a'.repeat(30_000)}|log>` },
  );
  writeFileSync(path, JSON.stringify(day));
  return dir;
}

describe('mentions and reactions imported into the sandbox', () => {
  const env = { ...process.env };
  const dirs: string[] = [];
  beforeAll(() => Object.assign(process.env, FAST_RATES));
  afterAll(() => {
    process.env = env;
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function migrate(
    exportDir: string,
    sandboxOptions: { reactions?: boolean } = {},
  ): Promise<{ sandbox: SandboxHandle; report: Json; general: DumpMessage[] }> {
    const sandbox = await startSandbox({
      users: await sandboxUsersFromExport(exportDir),
      timeScale: 10,
      slackFiles: { export: exportDir },
      ...sandboxOptions,
    });
    const stateDir = tempDir('e2e-fidelity-');
    dirs.push(stateDir);
    const { io, out } = capturedIo();
    await runMigration(exportDir, testRunOptions(stateDir, sandbox.url, { runId: 'fidelity' }), io);
    const report = JSON.parse(out.join('\n')) as Json;
    const team = sandbox.dump().teams[0];
    const general = team.channels.find((c) => c.displayName === 'General')!.messages;
    return { sandbox, report, general };
  }

  it('native mentions of mapped people and of the channel, native reactions, and an oversized message failed with the reason', async () => {
    const exportDir = fidelityExport();
    const { sandbox, report, general } = await migrate(exportDir);
    try {
      const peter = sandboxUserFor('peter@example.com', 'Peter');
      const jon = sandboxUserFor('jon@example.com', 'Jon');
      const reacted = general.find((m) => m.body.content.includes('Shipped'))!;
      expect(reacted.body.content).toMatch(
        /^<p>Shipped, thanks <at id="0">Jon<\/at> and <at id="1">General<\/at><\/p>/,
      );
      expect(reacted.mentions).toEqual([
        {
          id: 0,
          mentionText: 'Jon',
          mentioned: { user: { id: jon.id, displayName: 'Jon', userIdentityType: 'aadUser' } },
        },
        {
          id: 1,
          mentionText: 'General',
          mentioned: {
            conversation: {
              id: sandbox.dump().teams[0].channels.find((c) => c.displayName === 'General')!.id,
              displayName: 'General',
              conversationIdentityType: 'channel',
            },
          },
        },
      ]);
      const reactions = reacted.reactions as Array<{ reactionType: string; user: { user: { id: string } } }>;
      const toned = String.fromCodePoint(0x1f44d, 0x1f3fd);
      const tada = String.fromCodePoint(0x1f389);
      expect(reactions.map((r) => r.reactionType)).toEqual([toned, toned, ...Array(40).fill(tada)]);
      expect(reactions[0].user.user.id).toBe(sandboxUserFor('r0@example.com', 'Reactor 0').id);
      expect(reacted.body.content.endsWith('<p>:party-parrot: 1</p>')).toBe(true);

      const userMention = general.find((m) => m.body.content.includes('test user mention'))!;
      expect(userMention.mentions).toEqual([
        {
          id: 0,
          mentionText: 'Peter',
          mentioned: { user: { id: peter.id, displayName: 'Peter', userIdentityType: 'aadUser' } },
        },
      ]);

      expect(report.phase).toBe('needs-attention');
      const channel = (report.channels as Json[]).find((c) => c.teamsName === 'General')!;
      const failures = channel.failures as Array<{ key: string; error: string }>;
      expect(failures.map((f) => f.key)).toEqual([TOO_LARGE]);
      expect(failures[0].error).toMatch(
        new RegExp(`413 .*Request Entity too large.*limit is ${MESSAGE_SIZE_LIMIT}`),
      );
    } finally {
      await sandbox.stop();
    }
  }, 120_000);

  it('a tenant that refuses native reactions gets the text line for those messages, counted in the report', async () => {
    const exportDir = fidelityExport();
    const day = join(exportDir, 'general', '2026-02-25.json');
    writeFileSync(day, JSON.stringify(readJson<Json[]>(day).filter((m) => m.ts !== TOO_LARGE)));
    const { sandbox, report, general } = await migrate(exportDir, { reactions: false });
    try {
      const reacted = general.find((m) => m.body.content.includes('Shipped'))!;
      expect(reacted.reactions).toEqual([]);
      const toned = String.fromCodePoint(0x1f44d, 0x1f3fd);
      expect(
        reacted.body.content.endsWith(
          `<p>${toned} 2 · :party-parrot: 1 · ${String.fromCodePoint(0x1f389)} 40</p>`,
        ),
      ).toBe(true);
      expect(report.phase).toBe('completed');
      const channel = (report.channels as Json[]).find((c) => c.teamsName === 'General')!;
      expect(channel.reactionsAsText).toBe(1);
    } finally {
      await sandbox.stop();
    }
  }, 120_000);
});
