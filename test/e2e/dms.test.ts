import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMigration, runPass, sandboxUsersFromExport } from '../../cli/run';
import type { MigrationReport } from '../../core/pipeline/report';
import { startSandbox, type RequestLogEntry, type SandboxHandle } from '../../sandbox';
import { tempDir } from '../support/fixtures';
import { filler, pngBytes, writeFilesExport, type ExportFile } from '../support/filesExport';
import {
  capturedIo,
  exitedWithin,
  FAST_RATES,
  spawnCli,
  testRunArgs,
  testRunOptions,
} from '../support/migration';

type Json = Record<string, unknown>;

/** Whole seconds from a fixed day, so each planned time is its Slack ts in milliseconds. */
const T0 = 1_700_000_000;
const ts = (s: number): string => `${T0 + s}.000000`;
const person = (id: string, name: string, email?: string): Json => ({
  id,
  name: name.toLowerCase(),
  real_name: name,
  profile: { display_name: name, ...(email ? { email } : {}) },
});

/** A conversation's messages as the test wrote them: ts, author, text, and the thread it replies to. */
interface Written {
  ts: string;
  user: string;
  text: string;
  thread?: string;
}

/**
 * Ada, Bo and Cy have e-mails the tenant knows; Dee has none (no Entra user: the rehearsal tenant below leaves
 * her out); Zed is in no users.json at all. One public channel; 1:1 DMs Ada-Bo (a thread: two replies to its
 * second message) and Bo-Cy (long enough to be killed in); a group DM Ada-Bo-Cy; a DM Ada-Dee (an unmapped
 * participant) and a DM Ada-Zed (a member missing from users.json).
 */
function dmExport(longDm: number): { dir: string; conversations: Record<string, Written[]> } {
  const dir = tempDir('e2e-dms-');
  const users = [
    person('UADA', 'Ada', 'ada@contoso.test'),
    person('UBO', 'Bo', 'bo@contoso.test'),
    person('UCY', 'Cy', 'cy@contoso.test'),
    person('UDEE', 'Dee'),
  ];
  const conversations: Record<string, Written[]> = {
    DADABO: [
      { ts: ts(10), user: 'UADA', text: 'hi Bo' },
      { ts: ts(20), user: 'UBO', text: 'Lunch at noon? Bring the plans' },
      { ts: ts(30), user: 'UADA', text: 'yes, noon works', thread: ts(20) },
      { ts: ts(40), user: 'UBO', text: 'see you', thread: ts(20) },
      { ts: ts(50), user: 'UADA', text: 'back at my desk' },
    ],
    DBOCY: Array.from({ length: longDm }, (_, i) => ({
      ts: ts(100 + i),
      user: i % 2 ? 'UCY' : 'UBO',
      text: `bo-cy message ${i + 1}`,
    })),
    DADADEE: [
      { ts: ts(300), user: 'UADA', text: 'hello Dee' },
      { ts: ts(301), user: 'UDEE', text: 'hello Ada' },
    ],
    DADAZED: [{ ts: ts(310), user: 'UADA', text: 'who are you, Zed?' }],
    'mpdm-ada--bo--cy-1': [
      { ts: ts(400), user: 'UCY', text: 'group hello' },
      { ts: ts(401), user: 'UADA', text: 'hi all' },
      { ts: ts(402), user: 'UBO', text: 'hey' },
    ],
  };
  writeFileSync(join(dir, 'users.json'), JSON.stringify(users));
  writeFileSync(
    join(dir, 'channels.json'),
    JSON.stringify([
      { id: 'CGEN', name: 'general', created: T0 - 100, is_general: true, members: ['UADA', 'UBO'] },
    ]),
  );
  writeFileSync(
    join(dir, 'dms.json'),
    JSON.stringify([
      { id: 'DADABO', created: T0, members: ['UADA', 'UBO'] },
      { id: 'DBOCY', created: T0, members: ['UBO', 'UCY'] },
      { id: 'DADADEE', created: T0, members: ['UADA', 'UDEE'] },
      { id: 'DADAZED', created: T0, members: ['UADA', 'UZED'] },
    ]),
  );
  writeFileSync(
    join(dir, 'mpims.json'),
    JSON.stringify([
      { id: 'GADABOCY', name: 'mpdm-ada--bo--cy-1', created: T0, members: ['UADA', 'UBO', 'UCY'] },
    ]),
  );
  const write = (folder: string, messages: object[]): void => {
    mkdirSync(join(dir, folder), { recursive: true });
    writeFileSync(join(dir, folder, '2023-11-14.json'), JSON.stringify(messages));
  };
  write('general', [{ type: 'message', user: 'UADA', text: 'channel hello', ts: ts(1) }]);
  for (const [folder, messages] of Object.entries(conversations))
    write(
      folder,
      messages.map((m) => ({
        type: 'message',
        user: m.user,
        text: m.text,
        ts: m.ts,
        ...(m.thread ? { thread_ts: m.thread } : {}),
      })),
    );
  return { dir, conversations };
}

/** A chat as its members see it in the sandbox: kind, members' e-mails, mode, and each message's time, author and text. */
interface SeenChat {
  chatType: string;
  members: string[];
  migrationMode: string | null | undefined;
  messages: { createdDateTime: string; from: string; body: string }[];
}

async function seenChats(sandbox: SandboxHandle): Promise<SeenChat[]> {
  const list = (await (await fetch(`${sandbox.url}/_sandbox/chats`)).json()) as {
    value: { id: string }[];
  };
  const users = new Map(sandbox.dump().users.map((u) => [u.id, u.mail]));
  const chats: SeenChat[] = [];
  for (const { id } of list.value) {
    const get = async (path: string): Promise<Json> =>
      (await (
        await fetch(`${sandbox.url}/v1.0${path}`, { headers: { authorization: 'Bearer test' } })
      ).json()) as Json;
    const chat = await get(`/chats/${encodeURIComponent(id)}?$expand=members`);
    const messages: Json[] = [];
    for (
      let next: string | undefined =
        `/chats/${encodeURIComponent(id)}/messages?$top=50&$orderby=createdDateTime desc`;
      next;
    ) {
      const page = await get(next);
      messages.push(...(page.value as Json[]));
      const link = page['@odata.nextLink'] as string | undefined;
      next = link ? link.slice(link.indexOf('/v1.0') + 5) : undefined;
    }
    chats.push({
      chatType: chat.chatType as string,
      members: (chat.members as { userId: string }[]).map((m) => users.get(m.userId) ?? m.userId).sort(),
      migrationMode: chat.migrationMode as string | null,
      messages: messages
        .map((m) => ({
          createdDateTime: m.createdDateTime as string,
          from: users.get((m.from as { user: { id: string } }).user.id) ?? '',
          body: (m.body as { content: string }).content,
        }))
        .sort((a, b) => a.createdDateTime.localeCompare(b.createdDateTime)),
    });
  }
  return chats.sort((a, b) => a.members.join().localeCompare(b.members.join()));
}

/** The HTML files in `SlackHistory/` of a user's OneDrive: name -> the text of the page. */
async function slackHistory(sandbox: SandboxHandle, mail: string): Promise<Map<string, string>> {
  const user = sandbox.dump().users.find((u) => u.mail === mail)!;
  const auth = { headers: { authorization: 'Bearer test' } };
  const base = `${sandbox.url}/v1.0/users/${encodeURIComponent(user.id)}/drive/root:/SlackHistory`;
  const listed = await fetch(`${base}:/children`, auth);
  if (listed.status === 404) return new Map();
  const files = new Map<string, string>();
  for (const item of ((await listed.json()) as { value: { name: string }[] }).value) {
    const page = await fetch(`${base}/${encodeURIComponent(item.name)}:/content`, auth);
    files.set(item.name, await page.text());
  }
  return files;
}

const MAILS: Record<string, string> = {
  UADA: 'ada@contoso.test',
  UBO: 'bo@contoso.test',
  UCY: 'cy@contoso.test',
};
const iso = (slackTs: string): string => new Date(Number(slackTs.split('.')[0]) * 1000).toISOString();
const textOf = (html: string): string => html.replace(/<[^>]*>/g, '').trim();

describe('--dms chats: DMs and group DMs imported into Teams chats', () => {
  const env = { ...process.env };
  const dirs: string[] = [];
  beforeAll(() => Object.assign(process.env, FAST_RATES));
  afterAll(() => {
    process.env = env;
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function tenantFor(exportDir: string, faults?: string): Promise<SandboxHandle> {
    const users = (await sandboxUsersFromExport(exportDir)).filter((u) => !/^dee\b/i.test(u.mail));
    return startSandbox({ users, timeScale: 10, ...(faults ? { faults } : {}) });
  }

  it('each mapped 1:1 and group DM lands in its chat, every message once with its author and time, replies quoting their parent; the others are reported with the reason', async () => {
    const { dir, conversations } = dmExport(12);
    dirs.push(dir);
    const sandbox = await tenantFor(dir);
    try {
      const stateDir = tempDir('e2e-dms-state-');
      dirs.push(stateDir);
      const { io, out } = capturedIo();
      const code = await runMigration(
        dir,
        testRunOptions(stateDir, sandbox.url, { runId: 'dms', dms: 'chats' }),
        io,
      );
      const report = JSON.parse(out.join('\n')) as MigrationReport;
      const chats = await seenChats(sandbox);

      const expected = (key: string): SeenChat['messages'] =>
        conversations[key].map((m) => {
          const parent = m.thread ? conversations[key].find((p) => p.ts === m.thread) : undefined;
          return {
            createdDateTime: iso(m.ts),
            from: MAILS[m.user],
            body: parent
              ? `Bo · ${iso(parent.ts).slice(0, 10)} ${iso(parent.ts).slice(11, 16)} UTC${parent.text}${m.text}`
              : m.text,
          };
        });
      expect(
        chats.map((c) => ({ ...c, messages: c.messages.map((m) => ({ ...m, body: textOf(m.body) })) })),
      ).toEqual([
        {
          chatType: 'oneOnOne',
          members: ['ada@contoso.test', 'bo@contoso.test'],
          migrationMode: 'completed',
          messages: expected('DADABO'),
        },
        {
          chatType: 'group',
          members: ['ada@contoso.test', 'bo@contoso.test', 'cy@contoso.test'],
          migrationMode: 'completed',
          messages: expected('mpdm-ada--bo--cy-1'),
        },
        {
          chatType: 'oneOnOne',
          members: ['bo@contoso.test', 'cy@contoso.test'],
          migrationMode: 'completed',
          messages: expected('DBOCY'),
        },
      ]);
      const quoted = chats[0].messages.find((m) => m.body.includes('noon works'))!.body;
      expect(quoted).toMatch(/^<blockquote><p><strong>Bo<\/strong>/);

      const byKey = new Map((report.chats ?? []).map((c) => [c.key, c]));
      expect(byKey.get('DADADEE')).toMatchObject({
        way: 'onedrive',
        reason: expect.stringContaining('Dee (UDEE, no Entra user)'),
      });
      expect(byKey.get('DADAZED')).toMatchObject({
        way: 'onedrive',
        reason: expect.stringContaining('UZED (not in users.json)'),
      });
      expect(byKey.get('DADABO')).toMatchObject({
        way: 'chat',
        planned: 5,
        posted: 5,
        failed: 0,
        completed: true,
      });
      expect(report.problems).toEqual(
        expect.arrayContaining([expect.objectContaining({ code: 'dm-member-unknown', where: 'DADAZED' })]),
      );
      expect(report.summary.notMoved.join('\n')).toMatch(/Ada, Dee .*not a Teams chat/);

      // The two conversations that cannot be chats are in Ada's OneDrive, each once, with every message.
      const adaFiles = [...(await slackHistory(sandbox, 'ada@contoso.test')).values()];
      for (const key of ['DADADEE', 'DADAZED']) {
        const holding = adaFiles.filter((html) => conversations[key].every((m) => html.includes(m.text)));
        expect({ key, files: holding.length }).toEqual({ key, files: 1 });
      }
      expect(adaFiles).toHaveLength(2);
      expect(byKey.get('DADADEE')?.oneDrive).toEqual({ delivered: ['Ada'], undelivered: ['Dee'] });
      expect(await slackHistory(sandbox, 'bo@contoso.test')).toEqual(new Map());
      expect(code).toBe(0);
    } finally {
      await sandbox.stop();
    }
  }, 180_000);

  it('a 1:1 chat the service refuses (PreconditionFailed) is reported with the reason and the group chat still lands', async () => {
    const { dir, conversations } = dmExport(4);
    dirs.push(dir);
    const sandbox = await tenantFor(dir, 'chatrefuse:1');
    try {
      const stateDir = tempDir('e2e-dms-state-');
      dirs.push(stateDir);
      const { io, out } = capturedIo();
      await runMigration(
        dir,
        testRunOptions(stateDir, sandbox.url, { runId: 'dms-refused', dms: 'chats' }),
        io,
      );
      const report = JSON.parse(out.join('\n')) as MigrationReport;
      const chats = await seenChats(sandbox);
      const imported = chats.filter((c) => c.messages.length > 0);
      expect(imported.map((c) => c.chatType)).toEqual(['group']);
      expect(imported[0].messages.map((m) => m.createdDateTime)).toEqual(
        conversations['mpdm-ada--bo--cy-1'].map((m) => iso(m.ts)),
      );
      for (const key of ['DADABO', 'DBOCY'])
        expect(report.chats?.find((c) => c.key === key)).toMatchObject({
          way: 'onedrive',
          posted: 0,
          reason: expect.stringContaining('412 PreconditionFailed'),
        });
      expect(chats.filter((c) => c.chatType === 'oneOnOne').map((c) => c.migrationMode)).toEqual([
        null,
        null,
      ]);
      // Refused as chats, both 1:1s go to their members' OneDrive instead.
      const boFiles = [...(await slackHistory(sandbox, 'bo@contoso.test')).values()];
      for (const key of ['DADABO', 'DBOCY'])
        expect(boFiles.filter((html) => conversations[key].every((m) => html.includes(m.text)))).toHaveLength(
          1,
        );
    } finally {
      await sandbox.stop();
    }
  }, 180_000);

  it("--dms onedrive: one HTML file per conversation in each mapped member's SlackHistory folder, threads as replies, no chat", async () => {
    const { dir, conversations } = dmExport(3);
    dirs.push(dir);
    const sandbox = await tenantFor(dir);
    try {
      const stateDir = tempDir('e2e-dms-state-');
      dirs.push(stateDir);
      const { io, out } = capturedIo();
      const code = await runMigration(
        dir,
        testRunOptions(stateDir, sandbox.url, { runId: 'dms-onedrive', dms: 'onedrive' }),
        io,
      );
      const report = JSON.parse(out.join('\n')) as MigrationReport;
      expect(await seenChats(sandbox)).toEqual([]);
      const memberships: Record<string, string[]> = {
        'ada@contoso.test': ['DADABO', 'DADADEE', 'DADAZED', 'mpdm-ada--bo--cy-1'],
        'bo@contoso.test': ['DADABO', 'DBOCY', 'mpdm-ada--bo--cy-1'],
        'cy@contoso.test': ['DBOCY', 'mpdm-ada--bo--cy-1'],
      };
      for (const [mail, keys] of Object.entries(memberships)) {
        const files = [...(await slackHistory(sandbox, mail)).values()];
        expect({ mail, files: files.length }).toEqual({ mail, files: keys.length });
        for (const key of keys)
          expect({
            mail,
            key,
            holding: files.filter((html) => conversations[key].every((m) => html.includes(m.text))).length,
          }).toEqual({ mail, key, holding: 1 });
      }
      const thread = [...(await slackHistory(sandbox, 'bo@contoso.test')).values()].find((h) =>
        h.includes('noon works'),
      )!;
      expect(thread).toMatch(/class="replies"[\s\S]*yes, noon works/);
      expect(report.chats?.every((c) => c.way === 'onedrive')).toBe(true);
      expect(code).toBe(0);
    } finally {
      await sandbox.stop();
    }
  }, 180_000);

  it('a pre-staged migration touches no chat; its cutover imports the chats after the channels', async () => {
    const { dir, conversations } = dmExport(3);
    dirs.push(dir);
    const sandbox = await tenantFor(dir);
    try {
      const stateDir = tempDir('e2e-dms-state-');
      dirs.push(stateDir);
      await runMigration(
        dir,
        testRunOptions(stateDir, sandbox.url, { runId: 'dms-prestaged', dms: 'chats', prestage: true }),
        capturedIo().io,
      );
      expect(await seenChats(sandbox)).toEqual([]);
      const { io, out } = capturedIo();
      const code = await runPass(
        'cutover',
        undefined,
        { runId: 'dms-prestaged', graphUrl: sandbox.url, stateDir, json: true },
        io,
      );
      const report = JSON.parse(out.join('\n')) as MigrationReport;
      const chats = await seenChats(sandbox);
      expect(chats.map((c) => [c.chatType, c.migrationMode, c.messages.length])).toEqual([
        ['oneOnOne', 'completed', conversations.DADABO.length],
        ['group', 'completed', conversations['mpdm-ada--bo--cy-1'].length],
        ['oneOnOne', 'completed', conversations.DBOCY.length],
      ]);
      const lastChannelCompletion = Math.max(
        ...sandbox
          .requestLog()
          .filter((r) => /\/teams\/[^/]+\/completeMigration$/.test(r.path))
          .map((r) => r.seq),
      );
      const firstChatImport = Math.min(
        ...sandbox
          .requestLog()
          .filter((r) => r.method === 'POST' && /\/chats\/[^/]+\/messages$/.test(r.path))
          .map((r) => r.seq),
      );
      expect(firstChatImport).toBeGreaterThan(lastChannelCompletion);
      expect(report.chats?.filter((c) => c.way === 'chat')).toHaveLength(3);
      expect(code).toBe(0);
    } finally {
      await sandbox.stop();
    }
  }, 180_000);

  it("a DM's files go to the sender's OneDrive, attached by reference; its images inline", async () => {
    const root = tempDir('e2e-dms-files-');
    dirs.push(root);
    const exportDir = join(root, 'export');
    const bytesDir = join(root, 'bytes');
    const pdf: ExportFile = {
      id: 'FPDF9',
      name: 'report.pdf',
      mimetype: 'application/pdf',
      bytes: filler('dm-pdf', 5000, '%PDF-1.4\n'),
    };
    const png: ExportFile = {
      id: 'FPNG9',
      name: 'diagram.png',
      mimetype: 'image/png',
      bytes: pngBytes(16, 16, 9),
    };
    mkdirSync(exportDir, { recursive: true });
    // Ada shares the report, Bo the diagram (the export's messages alternate Ada, Bo), in general and in their DM.
    writeFilesExport(exportDir, bytesDir, [
      { text: 'the report', file: pdf },
      { text: 'the diagram', file: png },
    ]);
    mkdirSync(join(exportDir, 'DADABO'));
    copyFileSync(join(exportDir, 'general', '2024-01-10.json'), join(exportDir, 'DADABO', '2024-01-10.json'));
    writeFileSync(join(exportDir, 'dms.json'), JSON.stringify([{ id: 'DADABO', members: ['U1', 'U2'] }]));
    const sandbox = await startSandbox({
      users: await sandboxUsersFromExport(exportDir),
      timeScale: 10,
      slackFiles: { export: exportDir, bytesDir },
    });
    try {
      const stateDir = tempDir('e2e-dms-state-');
      dirs.push(stateDir);
      const code = await runMigration(
        exportDir,
        testRunOptions(stateDir, sandbox.url, {
          runId: 'dms-files',
          dms: 'chats',
          slackFilesUrl: sandbox.slackFilesUrl,
        }),
        capturedIo().io,
      );
      expect(code).toBe(0);
      const ada = sandbox.dump().users.find((u) => u.mail === 'ada@files.test')!;
      const auth = { headers: { authorization: 'Bearer test' } };
      const item = `${sandbox.url}/v1.0/users/${ada.id}/drive/root:/${encodeURIComponent('Microsoft Teams Chat Files')}/report.pdf`;
      const stored = Buffer.from(await (await fetch(`${item}:/content`, auth)).arrayBuffer());
      expect(stored.equals(pdf.bytes!)).toBe(true);
      const webUrl = ((await (await fetch(item, auth)).json()) as { webUrl: string }).webUrl;
      const [chat] = (
        (await (await fetch(`${sandbox.url}/_sandbox/chats`)).json()) as { value: { id: string }[] }
      ).value;
      const messages = (
        (await (
          await fetch(
            `${sandbox.url}/v1.0/chats/${encodeURIComponent(chat.id)}/messages?$orderby=createdDateTime desc`,
            auth,
          )
        ).json()) as {
          value: {
            from: { user: { id: string } };
            body: { content: string };
            attachments: { contentType: string; contentUrl: string; name: string }[];
          }[];
        }
      ).value.reverse();
      expect(messages[0].from.user.id).toBe(ada.id);
      expect(messages[0].attachments).toEqual([
        expect.objectContaining({ contentType: 'reference', name: 'report.pdf', contentUrl: webUrl }),
      ]);
      expect(messages[1].body.content).toMatch(/<img [^>]*src="[^"]*\/hostedContents\/[^"]+\/\$value"/);
      const src = /<img [^>]*src="([^"]+)"/.exec(messages[1].body.content)![1];
      const image = Buffer.from(await (await fetch(src, auth)).arrayBuffer());
      expect(image.equals(png.bytes!)).toBe(true);
    } finally {
      await sandbox.stop();
    }
  }, 180_000);

  it('killed in the middle of a chat and run again, every chat ends exactly as an uninterrupted run', async () => {
    const { dir } = dmExport(120);
    dirs.push(dir);
    const reference = await tenantFor(dir);
    const killed = await tenantFor(dir);
    try {
      const refState = tempDir('e2e-dms-ref-');
      dirs.push(refState);
      await runMigration(
        dir,
        testRunOptions(refState, reference.url, { runId: 'dms-kill', dms: 'chats' }),
        capturedIo().io,
      );
      const expected = await seenChats(reference);

      const stateDir = tempDir('e2e-dms-kill-');
      dirs.push(stateDir);
      const args = testRunArgs(dir, { graphUrl: killed.url, stateDir, runId: 'dms-kill' }, [
        '--dms',
        'chats',
      ]);
      const isChatPost = (r: RequestLogEntry): boolean =>
        r.method === 'POST' && /\/chats\/[^/]+\/messages$/.test(r.path) && r.status < 300;
      const first = spawnCli(args, FAST_RATES);
      let stopped = false;
      const watcher = setInterval(() => {
        if (!stopped && killed.requestLog().filter(isChatPost).length >= 40) {
          stopped = true;
          first.kill('SIGKILL');
        }
      }, 2);
      const firstExit = await exitedWithin(first, 90_000);
      clearInterval(watcher);
      expect({ stopped, firstExit }).toEqual({ stopped: true, firstExit: 'SIGKILL' });
      const atKill = await seenChats(killed);
      expect(atKill).not.toEqual(expected);
      expect(atKill.some((c) => c.migrationMode === 'inProgress')).toBe(true);

      const second = spawnCli(args, FAST_RATES);
      const secondExit = await exitedWithin(second, 90_000);
      if (secondExit !== 0) throw new Error(`The resumed run failed (${secondExit}):\n${second.output()}`);
      expect(await seenChats(killed)).toEqual(expected);
    } finally {
      await reference.stop();
      await killed.stop();
    }
  }, 300_000);
});
