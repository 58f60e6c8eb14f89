import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from '../../../sandbox';
import {
  USERS,
  call,
  createMigrationChannel,
  createMigrationTeam,
  daysAgo,
  importMessage,
  makePng,
  messagesPath,
} from './client';

describe('sandbox: --state FILE', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sandbox-state-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('saves on stop and loads at start, rules and indexes included', async () => {
    const file = join(dir, 'state.json');
    const first = await startSandbox({ users: USERS, stateFile: file });
    const team = await createMigrationTeam(first, 'Persistent');
    const channel = await createMigrationChannel(first, team, 'kept');
    const time = daysAgo(50);
    const png = makePng(8, 8).toString('base64');
    expect(
      (
        await call(first, 'POST', messagesPath(team, channel), {
          ...importMessage(time, '<img src="../hostedContents/a/$value">'),
          hostedContents: [
            { '@microsoft.graph.temporaryId': 'a', contentBytes: png, contentType: 'image/png' },
          ],
        })
      ).status,
    ).toBe(201);
    const before = first.dump();
    await first.stop();
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ version: 1, teams: [{ id: team }] });
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const second = await startSandbox({ stateFile: file });
    try {
      expect(second.dump()).toEqual(before);
      const again = await call(
        second,
        'POST',
        messagesPath(team, channel),
        importMessage(time, 'same millisecond'),
      );
      expect(again.status).toBe(409);
      const image = await fetch(
        `${second.url}/v1.0${messagesPath(team, channel)}/${Date.parse(time)}/hostedContents`,
        {
          headers: { authorization: 'Bearer t' },
        },
      ).then((r) => r.json() as Promise<{ value: unknown[] }>);
      expect(image.value).toHaveLength(1);
    } finally {
      await second.stop();
    }
  });

  it('saves after changes without waiting for stop, atomically', async () => {
    const file = join(dir, 'nested', 'state.json');
    const sb = await startSandbox({ users: USERS, stateFile: file, saveDebounceMs: 20 });
    try {
      await createMigrationTeam(sb, 'Saved early');
      let saved: { teams: { displayName: string }[] } | undefined;
      for (let i = 0; i < 200 && !saved?.teams.length; i++) {
        await new Promise((r) => setTimeout(r, 25));
        saved = await readFile(file, 'utf8')
          .then((t) => JSON.parse(t) as typeof saved)
          .catch(() => undefined);
      }
      expect(saved?.teams.map((t) => t.displayName)).toEqual(['Saved early']);
      expect((await readdir(join(dir, 'nested'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      await sb.stop();
    }
  });

  it('refuses a state file that is not a sandbox state, naming the file', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '{"version": 1, "teams": "nope"', 'utf8');
    await expect(startSandbox({ stateFile: file })).rejects.toThrow(
      `sandbox state file ${file} is not valid JSON`,
    );
    await writeFile(file, '{"version": 2}', 'utf8');
    await expect(startSandbox({ stateFile: file })).rejects.toThrow(/is not a sandbox state: 'version'/);
  });

  it('resets to the configured users', async () => {
    const sb = await startSandbox({ users: USERS });
    try {
      await createMigrationTeam(sb, 'Gone soon');
      expect((await fetch(`${sb.url}/_sandbox/reset`, { method: 'POST' })).status).toBe(204);
      expect(sb.dump()).toEqual({ users: USERS, teams: [] });
      expect(sb.requestLog()).toEqual([]);
    } finally {
      await sb.stop();
    }
  });
});
