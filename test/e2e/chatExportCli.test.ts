import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../cli/main';
import { runServe } from '../../cli/serve';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { sandboxUserFor } from '../../sandbox/state';

const alice = sandboxUserFor('alice@fabrikam.test', 'Alice Archer');
const admin = sandboxUserFor('it-admin@fabrikam.test', 'IT Admin');

describe('teams-import chats against teams-import serve --graph-url --authority-host --sender', () => {
  let sandbox: SandboxHandle;
  let stateDir: string;
  let api: string;
  let served: Promise<number>;
  const stop = new AbortController();
  const saved = { key: process.env.CHAT_EXPORT_ENCRYPTION_KEY, token: process.env.TEAMS_IMPORT_TOKEN };

  const cli = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
    const out: string[] = [];
    const err: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((line: unknown) => void out.push(String(line)));
    const error = jest
      .spyOn(console, 'error')
      .mockImplementation((line: unknown) => void err.push(String(line)));
    try {
      const code = await main(['node', 'teams-import', 'chats', ...args]);
      return { code, out: out.join('\n'), err: err.join('\n') };
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ users: [alice, admin], identity: { clientId: 'cli-app' } });
    process.env.CHAT_EXPORT_ENCRYPTION_KEY = randomBytes(32).toString('base64');
    process.env.TEAMS_IMPORT_TOKEN = 'local';
    stateDir = mkdtempSync(path.join(tmpdir(), 'chat-export-cli-'));
    let listening: (url: string) => void = () => undefined;
    const url = new Promise<string>((resolve) => (listening = resolve));
    served = runServe(
      {
        port: 0,
        stateDir,
        graphUrl: sandbox.url,
        authorityHost: sandbox.url,
        sender: admin.userPrincipalName,
      },
      {
        out: (line) => {
          const m = /^Listening on (\S+)/.exec(line);
          if (m) listening(m[1]!);
        },
        signal: stop.signal,
      },
    );
    api = await url;
  }, 120_000);

  afterAll(async () => {
    stop.abort();
    await served;
    await sandbox?.stop();
    rmSync(stateDir, { recursive: true, force: true });
    for (const [name, value] of [
      ['CHAT_EXPORT_ENCRYPTION_KEY', saved.key],
      ['TEAMS_IMPORT_TOKEN', saved.token],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('discovers, sends a link from the --sender mailbox, and reports status as JSON', async () => {
    const discovered = await cli('discover', '--api', api);
    expect(discovered).toMatchObject({ code: 0, out: 'Discovered 2 users (2 new) and 0 teams.' });

    const wrong = await cli('send-links', '--api', api);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('either --all or one or more --user');

    const sent = await cli('send-links', '--user', alice.userPrincipalName, '--api', api);
    expect(sent).toMatchObject({ code: 0, out: 'Sent 1 link(s).' });
    const outbox = (await (await fetch(`${sandbox.url}/_sandbox/outbox`)).json()) as {
      value: { fromAddress: string; to: string[]; body: string }[];
    };
    expect(outbox.value).toHaveLength(1);
    expect(outbox.value[0]).toMatchObject({ fromAddress: admin.mail, to: [alice.mail] });
    expect(outbox.value[0]!.body).toContain(`<a href="${api}/api/chat-export/consent?state=`);

    const status = await cli('status', '--json', '--api', api);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out)).toEqual([
      { id: alice.id, upn: alice.userPrincipalName, mail: alice.mail, status: 'link-sent' },
      { id: admin.id, upn: admin.userPrincipalName, mail: admin.mail, status: 'discovered' },
    ]);
  });

  it('says why a delta pass cannot start and when the app cannot be reached', async () => {
    const delta = await cli('delta', '--user', alice.id, '--api', api);
    expect(delta.code).toBe(1);
    expect(delta.err).toContain('needs a consent');
    const away = await cli('status', '--api', 'http://127.0.0.1:9');
    expect(away.code).toBe(1);
    expect(away.err).toContain('cannot be reached');
  });
});
