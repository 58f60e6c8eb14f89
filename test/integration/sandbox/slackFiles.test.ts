import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSandbox, type SandboxHandle } from '../../../sandbox';
import { fileToken, pngBytes, writeFilesExport } from '../../support/filesExport';

describe("sandbox: an export's files served as Slack's file host serves them", () => {
  let root: string;
  let sb: SandboxHandle;
  const bytes = pngBytes(10, 10, 5);
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'sandbox-slack-files-'));
    writeFilesExport(path.join(root, 'export'), path.join(root, 'bytes'), [
      { text: 'a', file: { id: 'FA1', name: 'a b.png', mimetype: 'image/png', bytes } },
      { text: 'b', file: { id: 'FB1', name: 'gone.txt', mimetype: 'text/plain', size: 4 } },
    ]);
    sb = await startSandbox({
      slackFiles: {
        export: path.join(root, 'export'),
        bytesDir: path.join(root, 'bytes'),
        botToken: 'xoxb-bot',
      },
    });
  });
  afterAll(async () => {
    await sb.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("answers the file to its URL's own token or the bot token, 403 to anything else, 404 to unknown files", async () => {
    const url = `${sb.slackFilesUrl}/files-pri/T1-FA1/download/a%20b.png`;
    const ok = await fetch(`${url}?t=${fileToken('FA1')}`);
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer()).equals(bytes)).toBe(true);
    expect((await fetch(url, { headers: { authorization: 'Bearer xoxb-bot' } })).status).toBe(200);
    expect((await fetch(url)).status).toBe(403);
    expect((await fetch(`${url}?t=${fileToken('FB1')}`)).status).toBe(403);
    expect((await fetch(`${url}?t=${fileToken('FA1')}x`)).status).toBe(403);
    expect(
      (await fetch(`${sb.slackFilesUrl}/files-pri/T1-FB1/download/gone.txt?t=${fileToken('FB1')}`)).status,
    ).toBe(404);
    expect((await fetch(`${sb.slackFilesUrl}/files-pri/T1-FZ9/x?t=x`)).status).toBe(404);
    expect(sb.slackFilesServed().map((s) => [s.fileId, s.status])).toEqual([
      ['FA1', 200],
      ['FA1', 200],
      ['FA1', 403],
      ['FA1', 403],
      ['FA1', 403],
      ['FB1', 404],
      [undefined, 404],
    ]);
    const listed = await (await fetch(`${sb.url}/_sandbox/slack-files`)).json();
    expect(listed).toHaveLength(7);
    expect(JSON.stringify(listed)).not.toContain('xoxe');
  });
});
