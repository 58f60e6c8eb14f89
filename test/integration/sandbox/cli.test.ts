import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../cli/main';
import { runSandboxCommand } from '../../../cli/sandbox';
import { USERS } from './client';

describe('teams-import sandbox', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sandbox-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints its URL first, serves the users file, and saves the state when stopped', async () => {
    const usersFile = join(dir, 'users.json');
    const stateFile = join(dir, 'state.json');
    await writeFile(usersFile, JSON.stringify(USERS), 'utf8');
    const out: string[] = [];
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    let announce!: () => void;
    const started = new Promise<void>((resolve) => (announce = resolve));
    const run = runSandboxCommand(
      { port: '0', users: usersFile, state: stateFile, rateGlobal: '20', faults: '429:0' },
      {
        out: (line) => {
          out.push(line);
          announce();
        },
        err: (line) => out.push(`ERR ${line}`),
        waitForStop: () => stopped,
      },
    );
    await started;
    expect(out[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const user = await fetch(`${out[0]}/v1.0/users/${USERS[1]!.id}`, {
      headers: { authorization: 'Bearer x' },
    }).then((r) => r.json() as Promise<{ displayName: string }>);
    expect(user.displayName).toBe('Grace Hopper');
    stop();
    expect(await run).toBe(0);
    expect(JSON.parse(await readFile(stateFile, 'utf8')).users).toHaveLength(3);
  });

  it.each([
    ['[{"id":"1","displayName":"A","mail":"a@x"}]', /entry 0 'userPrincipalName'/],
    ['{"id":"1"}', /must hold a JSON array of users/],
    ['[1,', /not valid JSON/],
  ])('rejects the users file %s naming the file and the problem', async (content, why) => {
    const usersFile = join(dir, 'users.json');
    await writeFile(usersFile, content, 'utf8');
    const errors: string[] = [];
    const code = await runSandboxCommand(
      { users: usersFile },
      { out: () => undefined, err: (l) => errors.push(l), waitForStop: () => Promise.resolve() },
    );
    expect(code).toBe(2);
    expect(errors.join('\n')).toContain(`--users ${usersFile}`);
    expect(errors.join('\n')).toMatch(why);
  });

  it('is registered as a subcommand and rejects bad options by name', async () => {
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['node', 'teams-import', 'sandbox', '--users', join(dir, 'missing.json')])).toBe(2);
      expect(await main(['node', 'teams-import', 'sandbox', '--faults', 'boom:1'])).toBe(2);
      expect(await main(['node', 'teams-import', 'sandbox', '--port', 'abc'])).toBe(2);
      const written = spy.mock.calls.map((c) => String(c[0])).join('');
      expect(written).toContain(`--users ${join(dir, 'missing.json')}: cannot read the file (ENOENT)`);
      expect(written).toContain("--faults 'boom:1': fault rule 'boom:1': unknown kind 'boom'");
      expect(written).toContain("--port 'abc': must be a port number");
    } finally {
      spy.mockRestore();
    }
  });
});
