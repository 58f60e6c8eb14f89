import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runMigration, sandboxUsersFromExport } from '../../cli/run';
import { planExport } from '../../core/transform/plan';
import { startSandbox, type DumpMessage, type SandboxHandle } from '../../sandbox';
import {
  filler,
  fileToken,
  gifBytes,
  jpegBytes,
  pngBytes,
  writeFilesExport,
  type ExportFile,
  type ExportMessage,
} from '../support/filesExport';
import {
  capturedIo,
  exitedWithin,
  FAST_RATES,
  spawnCli,
  testRunOptions,
  testRunArgs,
} from '../support/migration';

const MiB = 1024 * 1024;
const png: ExportFile = {
  id: 'FPNG1',
  name: 'diagram.png',
  mimetype: 'image/png',
  bytes: pngBytes(64, 48, 1),
};
const jpg: ExportFile = { id: 'FJPG1', name: 'photo.jpg', mimetype: 'image/jpeg', bytes: jpegBytes() };
const gif: ExportFile = { id: 'FGIF1', name: 'wave.gif', mimetype: 'image/gif', bytes: gifBytes() };
const poster: ExportFile = {
  id: 'FBIG1',
  name: 'poster.png',
  mimetype: 'image/png',
  bytes: pngBytes(32, 32, 2, 4 * MiB + 300 * 1024),
};
const broken: ExportFile = {
  id: 'FBAD1',
  name: 'broken.png',
  mimetype: 'image/png',
  bytes: Buffer.concat([pngBytes(8, 8, 3).subarray(0, 8), filler('broken', 3000)]),
};
const pdf: ExportFile = {
  id: 'FPDF1',
  name: 'report.pdf',
  mimetype: 'application/pdf',
  bytes: filler('pdf', 20_000, '%PDF-1.4\n'),
};
const docx: ExportFile = {
  id: 'FDOC1',
  name: 'plan.docx',
  mimetype: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  bytes: filler('docx', 9000, 'PK\x03\x04'),
};
const snippet: ExportFile = {
  id: 'FSNP1',
  name: 'hello.py',
  mimetype: 'text/plain',
  mode: 'snippet',
  preview: 'print("hello")',
  bytes: Buffer.from('print("hello")\nprint("world")\n'),
};
const notes1: ExportFile = {
  id: 'FNTA1',
  name: 'notes.txt',
  mimetype: 'text/plain',
  bytes: Buffer.from('first'),
};
const notes2: ExportFile = {
  id: 'FNTB1',
  name: 'notes.txt',
  mimetype: 'text/plain',
  bytes: Buffer.from('second'),
};
const shot1: ExportFile = {
  id: 'FSH1A',
  name: 'shot-1.png',
  mimetype: 'image/png',
  bytes: pngBytes(16, 16, 6, 2 * MiB + 512 * 1024),
};
const shot2: ExportFile = {
  id: 'FSH2A',
  name: 'shot-2.png',
  mimetype: 'image/png',
  bytes: pngBytes(16, 16, 7, 2 * MiB + 512 * 1024),
};
const tombstone: ExportFile = { id: 'FTMB1', name: '', mimetype: '', mode: 'tombstone' };
const hidden: ExportFile = { id: 'FHID1', name: '', mimetype: '', mode: 'hidden_by_limit' };
const external: ExportFile = {
  id: 'FEXT1',
  name: 'Budget',
  title: 'Budget 2024',
  mimetype: 'application/vnd.google-apps.spreadsheet',
  mode: 'external',
  externalUrl: 'https://docs.google.com/spreadsheets/d/abc',
};
const empty: ExportFile = { id: 'FZRO1', name: 'empty.txt', mimetype: 'text/plain', size: 0 };
const missing: ExportFile = { id: 'FMIS1', name: 'lost.txt', mimetype: 'text/plain', size: 10 };
const huge: ExportFile = { id: 'FHUG1', name: 'talk.mp4', mimetype: 'video/mp4', size: 7 * MiB };

/** Text messages between file messages, so a kill right after a file message's POST lands outside any download. */
const MESSAGES: ExportMessage[] = [
  { text: 'welcome' },
  { text: 'the diagram', file: png },
  { text: 'nice' },
  { text: 'the report', file: pdf },
  { text: 'reading it' },
  { text: 'a photo', file: jpg },
  { text: 'ok' },
  { text: 'a wave', file: gif },
  { text: 'the poster', file: poster },
  { text: 'a broken image', file: broken },
  { text: 'the plan', file: docx },
  { text: 'a snippet', file: snippet },
  { text: 'two screenshots', file: shot1, more: [shot2] },
  { text: 'notes', file: notes1 },
  { text: 'more notes', file: notes2 },
  { text: 'about the report', file: pdf, subtype: 'file_comment' },
  { text: '', file: tombstone },
  { text: '', file: hidden },
  { text: 'see the sheet', file: external },
  { text: 'nothing in it', file: empty },
  { text: 'gone', file: missing },
  { text: 'the talk', file: huge },
  { text: 'bye' },
];

const INLINE = [png, jpg, gif];
const SHAREPOINT = [pdf, poster, broken, docx, snippet, notes1, notes2];

describe('files and images of a standard export, through a kill and a resume', () => {
  let sandbox: SandboxHandle;
  let root: string;
  let exportDir: string;
  let bytesDir: string;
  let messages: DumpMessage[];
  let output = '';

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'e2e-files-'));
    exportDir = path.join(root, 'export');
    bytesDir = path.join(root, 'bytes');
    writeFilesExport(exportDir, bytesDir, MESSAGES);
    sandbox = await startSandbox({
      users: await sandboxUsersFromExport(exportDir),
      timeScale: 10,
      slackFiles: { export: exportDir, bytesDir },
    });
    const args = testRunArgs(
      exportDir,
      {
        graphUrl: sandbox.url,
        stateDir: path.join(root, 'state'),
        runId: 'files',
        slackFilesUrl: sandbox.slackFilesUrl,
      },
      ['--max-file-mb', '6'],
    );
    const posted = (): number =>
      sandbox.requestLog().filter((r) => r.method === 'POST' && /\/messages$/.test(r.path) && r.status < 300)
        .length;
    const first = spawnCli(args, FAST_RATES);
    let killed = false;
    const watcher = setInterval(() => {
      if (!killed && posted() >= 4) {
        killed = true;
        first.kill('SIGKILL');
      }
    }, 2);
    await exitedWithin(first, 120_000);
    clearInterval(watcher);
    output += first.output();
    expect(killed).toBe(true);
    const second = spawnCli(args, FAST_RATES);
    const code = await exitedWithin(second, 120_000);
    output += second.output();
    if (code !== 0) throw new Error(`the resumed run failed (${code}):\n${second.output()}`);
    const [team] = sandbox.dump().teams;
    messages = team!.channels.find((c) => c.isGeneral)!.messages;
  }, 300_000);
  afterAll(async () => {
    await sandbox?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const byText = (text: string): DumpMessage => {
    const found = messages.find((m) => m.body.content.includes(`<p>${text}</p>`));
    if (!found) throw new Error(`no message with the text '${text}'`);
    return found;
  };
  const teamId = (): string => sandbox.dump().teams[0]!.id;
  const channelId = (): string => sandbox.dump().teams[0]!.channels.find((c) => c.isGeneral)!.id;
  const textOf = (file: ExportFile): string => MESSAGES.find((m) => m.file === file && !m.subtype)!.text;

  it('posts every image Teams shows inline as hosted content with the same bytes', async () => {
    for (const file of INLINE) {
      const message = byText(textOf(file));
      expect(message.attachments).toEqual([]);
      expect(message.hostedContents).toHaveLength(1);
      expect(message.body.content).toContain(`alt="${file.name}"`);
      const hosted = message.hostedContents[0]!;
      const res = await fetch(
        `${sandbox.url}/_sandbox/hosted/${teamId()}/${channelId()}/${message.id}/${hosted.id}`,
      );
      expect(Buffer.from(await res.arrayBuffer()).equals(file.bytes!)).toBe(true);
    }
  });

  it('uploads every other file (an image over 4 MiB and a corrupt image included) once, attached by reference', async () => {
    const uploads = sandbox
      .requestLog()
      .filter((r) => /:\/content$|:\/createUploadSession$/.test(r.path.split('?')[0]!) && r.status < 300);
    for (const file of SHAREPOINT) {
      const message = byText(textOf(file));
      expect(message.hostedContents).toEqual([]);
      const attachments = message.attachments as {
        id: string;
        contentType: string;
        contentUrl: string;
        name: string;
      }[];
      expect(attachments).toHaveLength(1);
      const [a] = attachments;
      expect(a!.contentType).toBe('reference');
      expect(a!.id).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/i);
      expect(message.body.content).toContain(`<attachment id="${a!.id}"></attachment>`);
      expect(a!.contentUrl).not.toMatch(/Doc\.aspx/);
      const served = Buffer.from(await (await fetch(a!.contentUrl)).arrayBuffer());
      expect(served.equals(file.bytes!)).toBe(true);
      expect(uploads.filter((r) => decodeURIComponent(r.path).includes(`:/${a!.name}:/`))).toHaveLength(1);
    }
    expect(uploads.some((r) => r.path.includes('poster.png:/createUploadSession'))).toBe(true);
    expect(byText(textOf(notes1)).attachments).toMatchObject([{ name: 'notes.txt' }]);
    expect(byText(textOf(notes2)).attachments).toMatchObject([{ name: 'notes (2).txt' }]);
    expect(byText(textOf(snippet)).body.content).toContain('<pre>print(&quot;hello&quot;)</pre>');
  });

  it('inlines images of one message only while they fit 4 MiB together, and uploads the rest', async () => {
    const message = byText('two screenshots');
    expect(message.hostedContents.map((h) => h.size)).toEqual([shot1.bytes!.length]);
    const [a] = message.attachments as { contentUrl: string; name: string }[];
    expect(a!.name).toBe(shot2.name);
    expect(Buffer.from(await (await fetch(a!.contentUrl)).arrayBuffer()).equals(shot2.bytes!)).toBe(true);
    expect(message.body.content.indexOf('alt="shot-1.png"')).toBeLessThan(
      message.body.content.indexOf('<attachment'),
    );
  });

  it('links a comment on a file to the same upload instead of uploading it again', () => {
    const upload = byText(textOf(pdf)).attachments as { id: string }[];
    const comment = messages.find((m) => m.body.content.includes('about the report'))!;
    expect((comment.attachments as { id: string }[]).map((a) => a.id)).toEqual(upload.map((a) => a.id));
  });

  it('downloads every file once across the kill and the resume, and never the ones it cannot move', () => {
    const served = sandbox.slackFilesServed();
    for (const file of [...INLINE, ...SHAREPOINT, shot1, shot2])
      expect(served.filter((s) => s.fileId === file.id && s.status === 200)).toHaveLength(1);
    expect(served.filter((s) => s.fileId === missing.id).map((s) => s.status)).toEqual([404]);
    for (const file of [tombstone, hidden, external, empty, huge])
      expect(served.filter((s) => s.fileId === file.id)).toEqual([]);
  });

  it('says what became of the files that do not move, and keeps every token out of the plan and the output', async () => {
    const bodies = messages.map((m) => m.body.content).join('\n');
    expect(bodies).toContain('(a file that was deleted in Slack)');
    expect(bodies).toContain("(a file hidden by Slack's free-plan limit: it is not in the export)");
    expect(bodies).toContain(
      `<a href="${external.externalUrl}">Budget 2024</a> <em>(external file, left where it is)</em>`,
    );
    expect(bodies).toContain('empty.txt</a> <em>(empty file: 0 bytes in Slack)</em>');
    expect(bodies).toContain('lost.txt</a> <em>(not migrated: the file is no longer in Slack)</em>');
    expect(bodies).toContain('talk.mp4</a> <em>(not migrated: 7.0 MB, over the 6.0 MB limit)</em>');
    const plan = mkdtempSync(path.join(tmpdir(), 'e2e-files-plan-'));
    try {
      const { LocalFolderStore } = await import('../../core/state/localStore');
      await planExport(exportDir, { now: Date.now(), maxFileBytes: 6 * MiB }, new LocalFolderStore(plan));
      const planText = readdirSync(path.join(plan, 'channels'))
        .map((f) => readFileSync(path.join(plan, 'channels', f), 'utf8'))
        .join('');
      expect(planText).toContain('files-pri/T1-FPDF1');
      for (const file of MESSAGES.flatMap((m) => (m.file ? [m.file] : [])))
        expect(planText).not.toContain(fileToken(file.id));
    } finally {
      rmSync(plan, { recursive: true, force: true });
    }
    expect(output).not.toMatch(/xoxe-test/);
  });
});

describe('a file URL on a host that is not Slack, and a download Slack refuses', () => {
  let hostile: Server;
  const seen: string[] = [];
  let sandbox: SandboxHandle;
  let root: string;
  let code: number;
  let report: { phase: string; channels: { failures: { key: string; error: string }[] }[] };
  const env = { ...process.env };

  beforeAll(async () => {
    hostile = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.end('stolen');
    });
    await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
    root = mkdtempSync(path.join(tmpdir(), 'e2e-hostile-'));
    const exportDir = path.join(root, 'export');
    writeFilesExport(exportDir, path.join(root, 'bytes'), [
      { text: 'hello' },
      {
        text: 'loopback',
        file: {
          id: 'FLOOP1',
          name: 'a.png',
          mimetype: 'image/png',
          size: 10,
          url: `http://127.0.0.1:${(hostile.address() as AddressInfo).port}/files-pri/T1-FLOOP1`,
        },
      },
      {
        text: 'elsewhere',
        file: {
          id: 'FELSE1',
          name: 'b.pdf',
          mimetype: 'application/pdf',
          size: 10,
          url: 'https://evil.example.test/x',
        },
      },
      {
        text: 'refused',
        file: { id: 'FREF1', name: 'c.txt', mimetype: 'text/plain', bytes: Buffer.from('c'), noToken: true },
      },
    ]);
    Object.assign(process.env, FAST_RATES, { SLACK_TOKEN: 'xoxb-bot-secret' });
    sandbox = await startSandbox({
      users: await sandboxUsersFromExport(exportDir),
      timeScale: 10,
      slackFiles: { export: exportDir },
    });
    const { io, out } = capturedIo();
    code = await runMigration(exportDir, testRunOptions(path.join(root, 'state'), sandbox.url), io);
    report = JSON.parse(out.join('\n')) as typeof report;
  }, 120_000);
  afterAll(async () => {
    process.env = env;
    await sandbox?.stop();
    await new Promise((r) => hostile.close(r));
    rmSync(root, { recursive: true, force: true });
  });

  it('fails the message Slack refuses with the reason, and the run needs attention', () => {
    expect(code).toBe(1);
    expect(report.phase).toBe('needs-attention');
    const failures = report.channels.flatMap((c) => c.failures);
    expect(failures).toHaveLength(1);
    expect(JSON.stringify(report)).not.toContain('xoxb-bot-secret');
    expect(failures[0]!.error).toMatch(
      /^file c\.txt could not be downloaded: http:\/\/127\.0\.0\.1:\d+\/slack-files\/files-pri\/T1-FREF1\/download\/c\.txt answered 403: Slack refused the download/,
    );
  });

  it('is never contacted, so never sent a token, and the file becomes a notice', () => {
    expect(seen).toEqual([]);
    const bodies = sandbox
      .dump()
      .teams[0]!.channels.flatMap((c) => c.messages)
      .map((m) => m.body.content)
      .join('\n');
    expect(bodies).toContain(
      'a.png</a> <em>(not migrated: its link is not on a Slack file host, so it was not downloaded)</em>',
    );
    expect(bodies).toContain(
      'b.pdf</a> <em>(not migrated: its link is not on a Slack file host, so it was not downloaded)</em>',
    );
  });
});
