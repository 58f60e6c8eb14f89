import type { PlannedMessage } from '../../../core/model';
import { LocalFolderStore } from '../../../core/state/localStore';
import { assignTeamsNames, validTeamsName } from '../../../core/transform/channelNames';
import { planExport } from '../../../core/transform/plan';
import { parseUserMap } from '../../../core/transform/users';
import { tempDir } from '../../support/fixtures';
import { msg, writeExport } from '../../support/slackExport';

const NOW = Date.parse('2026-06-01T00:00:00Z');

async function planLines(
  dir: string,
  options: object = {},
): Promise<{ lines: PlannedMessage[]; manifest: Awaited<ReturnType<typeof planExport>> }> {
  const store = new LocalFolderStore(tempDir());
  const manifest = await planExport(dir, { now: NOW, ...options }, store);
  const text = (await store.get(manifest.channels[0].planPath)).toString();
  return {
    manifest,
    lines: text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as PlannedMessage),
  };
}

describe('threads', () => {
  it('a deleted parent with replies becomes a placeholder; a tombstone without replies is skipped', async () => {
    const tomb = (ts: string): object => ({
      type: 'message',
      subtype: 'tombstone',
      hidden: true,
      user: 'USLACKBOT',
      text: 'This message was deleted.',
      ts,
      thread_ts: ts,
    });
    const dir = writeExport({
      days: {
        general: {
          '2020-01-01': [
            tomb('1577836800.000100'),
            msg('1577836801.000100', 'still here', { thread_ts: '1577836800.000100' }),
            tomb('1577836802.000100'),
          ],
        },
      },
    });
    const { lines, manifest } = await planLines(dir);
    expect(lines.map((l) => [l.key, l.parentKey, l.html])).toEqual([
      ['1577836800.000100', undefined, '<p><em>This message was deleted.</em></p>'],
      ['1577836801.000100', '1577836800.000100', '<p>still here</p>'],
    ]);
    expect(manifest.channels[0].skipped).toEqual({ deleted: 1 });
  });

  it('a reply whose parent is missing is posted top-level with a note and reported', async () => {
    const dir = writeExport({
      days: {
        general: { '2020-01-01': [msg('1577836801.000100', 'orphan', { thread_ts: '1577836000.000001' })] },
      },
    });
    const { lines, manifest } = await planLines(dir);
    expect(lines[0].parentKey).toBeUndefined();
    expect(lines[0].html).toBe('<p><em>Reply to a message that is not in the import.</em></p><p>orphan</p>');
    expect(manifest.problems.map((p) => p.code)).toContain('orphan-reply');
  });

  it('date filters skip by the message time and count what they skip', async () => {
    const dir = writeExport({
      days: {
        general: {
          '2020-01-01': [
            msg('1577836800.000100', 'a'),
            msg('1577923200.000100', 'b'),
            msg('1578009600.000100', 'c'),
          ],
        },
      },
    });
    const { lines, manifest } = await planLines(dir, {
      since: Date.parse('2020-01-02T00:00:00Z'),
      until: Date.parse('2020-01-03T00:00:00Z'),
    });
    expect(lines.map((l) => l.html)).toEqual(['<p>b</p>']);
    expect(manifest.channels[0].skipped).toEqual({ 'filtered-by-date': 2 });
  });

  it('bots post under their name; authors are named', async () => {
    const dir = writeExport({
      days: {
        general: {
          '2020-01-01': [
            {
              type: 'message',
              subtype: 'bot_message',
              bot_id: 'B1',
              username: 'deploybot',
              text: 'shipped',
              ts: '1577836800.000100',
            },
            msg('1577836801.000100', 'hi', { user: 'U2' }),
          ],
        },
      },
    });
    const { lines } = await planLines(dir);
    expect(lines[0].author).toEqual({ sourceUserId: 'B1', displayName: 'deploybot', kind: 'bot' });
    expect(lines[1].author).toEqual({ sourceUserId: 'U2', displayName: 'Bob Roe', kind: 'user' });
  });
});

describe('mentions', () => {
  it('a name learned later in a channel applies to earlier mentions', async () => {
    const dir = writeExport({
      users: [{ id: 'U2', name: 'bob', real_name: 'Bob Roe', profile: { display_name: 'Bob' } }],
      days: {
        general: {
          '2020-01-01': [msg('1577836800.000100', 'ask <@U1> about it', { user: 'U2' })],
          '2020-01-02': [
            msg('1577923200.000100', 'sure', {
              user_profile: { display_name: 'Carol', real_name: 'Carol Poe' },
            }),
          ],
        },
      },
    });
    const { lines } = await planLines(dir);
    expect(lines.map((l) => l.html)).toEqual(['<p>ask <strong>@Carol</strong> about it</p>', '<p>sure</p>']);
  });
});

describe('channels', () => {
  it('names follow the Teams rules and each rename is reported with the rule', () => {
    expect(validTeamsName('a/b:c').name).toBe('a-b-c');
    expect(validTeamsName('..hidden..name.').name).toBe('hidden.name');
    expect(validTeamsName('_x').name).toBe('x');
    expect([...validTeamsName('n'.repeat(80)).name]).toHaveLength(50);
    const { names, problems } = assignTeamsNames([
      { sourceId: 'C0', name: 'town-square', isGeneral: true },
      { sourceId: 'C1', name: 'General', isGeneral: false },
      { sourceId: 'C2', name: 'dev', isGeneral: false },
      { sourceId: 'C3', name: 'DEV', isGeneral: false },
      { sourceId: 'C4', name: 'x/y', isGeneral: false },
    ]);
    expect([...names.values()]).toEqual(['General', 'General-2', 'dev', 'DEV-2', 'x-y']);
    expect(problems.map((p) => p.message)).toContain(
      "channel 'x/y' renamed to 'x-y': '/' not allowed in Teams channel names.",
    );
    expect(problems.find((p) => p.where === 'C3')!.message).toContain('already used in the team');
  });

  it('private channels, DMs and filtered channels are listed as not imported with a reason', async () => {
    const dir = writeExport({
      channels: [
        { id: 'C1', name: 'keep', created: 1500000000 },
        { id: 'C2', name: 'drop', created: 1500000000 },
      ],
      days: {
        keep: { '2020-01-01': [msg('1577836800.000100', 'a')] },
        drop: { '2020-01-01': [msg('1577836800.000100', 'b')] },
        secret: { '2020-01-01': [msg('1577836800.000100', 'c')] },
      },
      extra: { 'groups.json': JSON.stringify([{ id: 'G1', name: 'secret', created: 1500000000 }]) },
    });
    const { manifest } = await planLines(dir, { channels: ['keep'] });
    expect(manifest.channels.map((c) => c.sourceName)).toEqual(['keep']);
    expect(manifest.notImported).toEqual([
      {
        sourceId: 'C2',
        name: 'drop',
        kind: 'channel',
        reason: 'not among the channels selected for import',
        messages: 1,
      },
      expect.objectContaining({ sourceId: 'G1', kind: 'private', messages: 1 }),
    ]);
  });
});

describe('users', () => {
  it('the user map overrides, e-mail is looked up later, others fall back; bad lines name their number', async () => {
    const csv =
      'slackId,entra\nU2,bob@contoso.com\nnobody@example.com,00000000-0000-0000-0000-000000000001\nbroken line\nU9,not-a-upn\n';
    const parsed = parseUserMap(csv, 'map.csv');
    expect(parsed.problems.map((p) => p.message)).toEqual([
      "map.csv line 4: expected 2 fields 'slackId or e-mail,Entra id or UPN', found 1.",
      "map.csv line 5: 'not-a-upn' is neither an Entra object id (GUID) nor a UPN.",
    ]);
    const dir = writeExport({ days: { general: { '2020-01-01': [msg('1577836800.000100', 'a')] } } });
    const { manifest } = await planLines(dir, { userMap: { text: csv, source: 'map.csv' } });
    expect(manifest.users.map((u) => [u.sourceId, u.resolution, u.mappedTo])).toEqual([
      ['U1', 'email', undefined],
      ['U2', 'map', 'bob@contoso.com'],
    ]);
    expect(manifest.problems.map((p) => p.code)).toEqual(
      expect.arrayContaining(['user-map-line', 'user-map-unused']),
    );
    expect(manifest.importable).toBe(false);
  });
});
