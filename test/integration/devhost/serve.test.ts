import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../../cli/main';
import { runServe } from '../../../cli/serve';

describe('teams-import serve', () => {
  let stateDir: string;
  beforeAll(() => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'devhost-serve-'));
  });
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  it('prints "Listening on <url>" first, serves the app, and exits 0 when stopped', async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    let listening!: () => void;
    const ready = new Promise<void>((resolve) => (listening = resolve));
    const exit = runServe(
      { port: 0, stateDir, graphUrl: 'http://127.0.0.1:9' },
      {
        out: (line) => {
          lines.push(line);
          if (lines.length === 1) listening();
        },
        signal: stop.signal,
      },
    );
    await ready;
    const url = /^Listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(lines[0])?.[1];
    expect(url).toBeDefined();
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
    stop.abort();
    expect(await exit).toBe(0);
    await expect(fetch(`${url}/api/health`)).rejects.toThrow();
  });

  it('rejects a port that is not a number, naming the option', async () => {
    const errors: string[] = [];
    const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      errors.push(String(chunk));
      return true;
    });
    try {
      expect(await main(['node', 'teams-import', 'serve', '--port', 'seventy'])).not.toBe(0);
    } finally {
      write.mockRestore();
    }
    expect(errors.join('')).toContain('--port must be an integer from 0 to 65535');
  });
});
