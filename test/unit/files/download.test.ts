import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DownloadError,
  FileTooLargeError,
  SlackFileDownloader,
  isPrivateAddress,
  safeUrl,
} from '../../../core/files/download';

interface Seen {
  path: string;
  authorization?: string;
}

/** A loopback server that records every request (path with query, Authorization) and answers with `handle`. */
async function server(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const s: Server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
    handle(req, res);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise((r) => {
        s.closeAllConnections();
        s.close(() => r());
      }),
  };
}

const noSleep = (): Promise<void> => Promise.resolve();
const TOKEN = 'xoxe-export-file-token';
const BOT = 'xoxb-bot-token';

describe('SlackFileDownloader', () => {
  const servers: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  const start = async (
    handle: (req: IncomingMessage, res: ServerResponse) => void,
  ): Promise<Awaited<ReturnType<typeof server>>> => {
    const s = await server(handle);
    servers.push(s);
    return s;
  };

  it('rewrites files.slack.com onto the rehearsal base and sends the export token only in its own URL', async () => {
    const host = await start((_req, res) => res.end('hello'));
    const d = new SlackFileDownloader({ filesUrl: host.url, maxBytes: 100, sleep: noSleep });
    const bytes = await d.download(`https://files.slack.com/files-pri/T1-F1/a.txt?t=${TOKEN}`, 'text/plain');
    expect(bytes.toString()).toBe('hello');
    expect(host.seen).toEqual([{ path: `/files-pri/T1-F1/a.txt?t=${TOKEN}`, authorization: undefined }]);
  });

  it('sends a bot token as Bearer to the Slack host when the URL carries none', async () => {
    const host = await start((_req, res) => res.end('x'));
    const d = new SlackFileDownloader({ filesUrl: `${host.url}/base/`, botToken: BOT, maxBytes: 100 });
    await d.download('https://files.slack.com/files-pri/T1-F1/a.txt');
    expect(host.seen).toEqual([{ path: '/base/files-pri/T1-F1/a.txt', authorization: `Bearer ${BOT}` }]);
  });

  it('never contacts a host that is not Slack: plain http, another host, or a loopback address', async () => {
    const other = await start((_req, res) => res.end('stolen'));
    const d = new SlackFileDownloader({ botToken: BOT, maxBytes: 100, sleep: noSleep });
    await expect(d.download(`${other.url}/f.png?t=${TOKEN}`)).rejects.toThrow(/https only/);
    await expect(d.download(`https://evil.example.com/f.png?t=${TOKEN}`)).rejects.toThrow(
      /evil\.example\.com is not one of Slack's file hosts/,
    );
    await expect(d.download('https://127.0.0.1/f.png')).rejects.toThrow(/not one of Slack's file hosts/);
    expect(other.seen).toEqual([]);
  });

  it('refuses a Slack name that resolves to a private, loopback or link-local address', async () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '169.254.169.254',
      '::1',
      '::ffff:192.168.0.1',
      'fe80::1',
    ]) {
      const d = new SlackFileDownloader({
        maxBytes: 100,
        sleep: noSleep,
        resolve: () => Promise.resolve([{ address, family: address.includes(':') ? 6 : 4 }]),
      });
      await expect(d.download('https://files.slack.com/files-pri/T1-F1/a.png')).rejects.toThrow(
        new RegExp(`resolves to ${address.replace(/[.]/g, '\\.')}, a private`),
      );
    }
    expect(isPrivateAddress('8.8.8.8')).toBe(false);
    expect(isPrivateAddress('2606:4700::1111')).toBe(false);
  });

  it('follows a redirect within the rehearsal base, and never follows one to another host', async () => {
    const other = await start((_req, res) => res.end('elsewhere'));
    const host = await start((req, res) => {
      if (req.url?.startsWith('/moved')) res.end('moved here');
      else if (req.url?.startsWith('/away')) {
        res.writeHead(302, { location: `${other.url}/grab` });
        res.end();
      } else {
        res.writeHead(301, { location: '/moved/a.txt' });
        res.end();
      }
    });
    const d = new SlackFileDownloader({ filesUrl: host.url, botToken: BOT, maxBytes: 100, sleep: noSleep });
    expect((await d.download('https://files.slack.com/a.txt')).toString()).toBe('moved here');
    await expect(d.download('https://files.slack.com/away/a.txt')).rejects.toThrow(/https only/);
    expect(other.seen).toEqual([]);
  });

  it('stops at the size limit, whether the server announces the size or not', async () => {
    const host = await start((req, res) => {
      if (req.url === '/announced') res.end(Buffer.alloc(101));
      else {
        res.writeHead(200, { 'transfer-encoding': 'chunked' });
        res.write(Buffer.alloc(80));
        res.end(Buffer.alloc(80));
      }
    });
    const d = new SlackFileDownloader({ filesUrl: host.url, maxBytes: 100, sleep: noSleep });
    const announced = await d.download('https://files.slack.com/announced').catch((e: unknown) => e);
    expect(announced).toBeInstanceOf(FileTooLargeError);
    expect((announced as FileTooLargeError).size).toBe(101);
    await expect(d.download('https://files.slack.com/streamed')).rejects.toBeInstanceOf(FileTooLargeError);
  });

  it('gives up on a server that never answers, or trickles, after its attempts', async () => {
    const timers: NodeJS.Timeout[] = [];
    const host = await start((req, res) => {
      if (req.url !== '/trickle') return;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      timers.push(setInterval(() => res.write('x'), 20));
    });
    const d = new SlackFileDownloader({
      filesUrl: host.url,
      maxBytes: 1000,
      timeoutMs: 200,
      attempts: 2,
      sleep: noSleep,
    });
    try {
      await expect(d.download('https://files.slack.com/silent')).rejects.toThrow(
        /\/silent did not finish within 200 ms/,
      );
      await expect(d.download('https://files.slack.com/trickle')).rejects.toThrow(
        /\/trickle did not finish within 200 ms/,
      );
      expect(host.seen.map((s) => s.path)).toEqual(['/silent', '/silent', '/trickle', '/trickle']);
    } finally {
      timers.forEach(clearInterval);
    }
  });

  it('names a gone file as missing, a refused token as refused, and never shows the token', async () => {
    const host = await start((req, res) => {
      if (req.url?.startsWith('/gone')) res.writeHead(404).end();
      else if (req.url?.startsWith('/page'))
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>');
      else res.writeHead(403).end();
    });
    const d = new SlackFileDownloader({ filesUrl: host.url, maxBytes: 100, sleep: noSleep });
    const gone = (await d
      .download(`https://files.slack.com/gone?t=${TOKEN}`)
      .catch((e: unknown) => e)) as DownloadError;
    expect(gone.missing).toBe(true);
    const refused = (await d
      .download(`https://files.slack.com/x?t=${TOKEN}`)
      .catch((e: unknown) => e)) as DownloadError;
    expect(refused.missing).toBe(false);
    expect(refused.message).toMatch(/403: Slack refused/);
    const page = (await d
      .download(`https://files.slack.com/page?t=${TOKEN}`, 'image/png')
      .catch((e: unknown) => e)) as DownloadError;
    expect(page.message).toMatch(/web page instead of the file/);
    for (const err of [gone, refused, page]) expect(err.message).not.toContain(TOKEN);
    expect(host.seen).toHaveLength(3);
    expect(safeUrl(`https://u:p@files.slack.com/a?t=${TOKEN}`)).toBe('https://files.slack.com/a');
  });
});
