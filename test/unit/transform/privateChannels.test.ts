import { formatReport, validateExport } from '../../../cli/validate';
import { planExport } from '../../../core/transform/plan';
import { privateMembership } from '../../../core/pipeline/privateChannels';
import { msg, writeExport } from '../../support/slackExport';

const NOW = Date.parse('2026-06-01T00:00:00Z');

const USERS = [
  { id: 'U1', name: 'ann', real_name: 'Ann', profile: { display_name: 'Ann', email: 'ann@example.com' } },
  { id: 'U2', name: 'bob', real_name: 'Bob', profile: { display_name: 'Bob', email: 'bob@example.com' } },
  { id: 'U3', name: 'dee', real_name: 'Dee', profile: { display_name: 'Dee' } },
  { id: 'B1', name: 'robot', real_name: 'Robot', is_bot: true, profile: { display_name: 'Robot' } },
];

/** general (public), plans (private: Bob and Dee), bots (private: a bot and Dee), and a folder no list names. */
function privateExport(): string {
  return writeExport({
    users: USERS,
    channels: [{ id: 'C1', name: 'general', created: 1_600_000_000, is_general: true, members: ['U1'] }],
    extra: {
      'groups.json': JSON.stringify([
        { id: 'G1', name: 'plans', created: 1_600_000_100, creator: 'U2', members: ['U2', 'U3'] },
        { id: 'G2', name: 'bots', created: 1_600_000_100, creator: 'U3', members: ['B1', 'U3'] },
      ]),
    },
    days: {
      general: { '2020-09-14': [msg('1600100000.000100', 'hello')] },
      plans: {
        '2020-09-14': [
          msg('1600100001.000100', 'a plan', { user: 'U2' }),
          msg('1600100002.000100', 'a reply', { user: 'U3', thread_ts: '1600100001.000100' }),
          msg('1600100003.000100', 'see <#G1>', { user: 'U2' }),
        ],
      },
      bots: { '2020-09-14': [msg('1600100004.000100', 'beep', { user: 'U3' })] },
      stray: { '2020-09-14': [msg('1600100005.000100', 'lost', { user: 'U1' })] },
    },
  });
}

describe('planning private channels', () => {
  it('leaves them out without the option, saying how to bring them in', async () => {
    const manifest = await planExport(privateExport(), { now: NOW });
    expect(manifest.channels.map((c) => c.sourceName)).toEqual(['general']);
    const plans = manifest.notImported.find((c) => c.name === 'plans')!;
    expect(plans).toMatchObject({ kind: 'private', messages: 3 });
    expect(plans.reason).toMatch(/--private-channels/);
  });

  it('with the option, plans each private channel with a member who can map, as private, never as General', async () => {
    const manifest = await planExport(privateExport(), { now: NOW, privateChannels: true });
    expect(
      manifest.channels.map((c) => [c.sourceName, c.membershipType ?? 'standard', c.isGeneral, c.messages]),
    ).toEqual([
      ['general', 'standard', true, 1],
      ['plans', 'private', false, 3],
    ]);
    const plans = manifest.channels.find((c) => c.sourceName === 'plans')!;
    expect(plans).toMatchObject({
      members: ['U2', 'U3'],
      creatorId: 'U2',
      createdDateTime: new Date(1_600_000_100_000).toISOString(),
    });
    expect(plans.replies).toBe(1);
  });

  it('does not plan a private channel none of whose members can map, and names them in the reason', async () => {
    const manifest = await planExport(privateExport(), { now: NOW, privateChannels: true });
    const bots = manifest.notImported.find((c) => c.name === 'bots')!;
    expect(bots).toMatchObject({ kind: 'private', messages: 1 });
    expect(bots.reason).toMatch(/no member mapped to an Entra user.*Robot, Dee/);
    expect(bots.reason).toMatch(/--user-map/);
    const stray = manifest.notImported.find((c) => c.name === 'stray')!;
    expect(stray.reason).toMatch(/listed by no channels/);
  });

  it('a user-map line makes a member mappable', async () => {
    const manifest = await planExport(privateExport(), {
      now: NOW,
      privateChannels: true,
      userMap: { text: 'U3,dee@contoso.test\n', source: 'map.csv' },
    });
    expect(manifest.channels.map((c) => c.sourceName)).toEqual(['general', 'bots', 'plans']);
  });

  it('a mention of a private channel stays text: it is created after the others post, for its members only', async () => {
    const manifest = await planExport(privateExport(), { now: NOW, privateChannels: true });
    const plans = manifest.channels.find((c) => c.sourceName === 'plans')!;
    expect(plans.fidelity?.mentions).toEqual({ native: 0, text: { 'channel-not-imported': 1 } });
  });
});

describe('privateMembership', () => {
  const entra: Record<string, string> = { U1: 'e-ann', U2: 'e-bob', U4: 'e-bob' };
  const names: Record<string, string> = { U1: 'Ann', U2: 'Bob', U3: 'Dee', U4: 'Bob again' };
  const of = (members: string[], creatorId?: string) =>
    privateMembership(
      { members, ...(creatorId ? { creatorId } : {}) },
      (id) => entra[id],
      (id) => names[id] ?? id,
    );

  it('makes the mapped creator the owner and the other mapped members members, each Entra user once', () => {
    expect(of(['U1', 'U2', 'U3', 'U4'], 'U2')).toEqual({
      owner: 'e-bob',
      members: ['e-ann'],
      unmapped: ['Dee'],
    });
  });

  it('makes the first mapped member the owner when the creator is not mapped', () => {
    expect(of(['U3', 'U1', 'U2'], 'U3')).toEqual({ owner: 'e-ann', members: ['e-bob'], unmapped: ['Dee'] });
  });

  it('has no owner when nobody maps', () => {
    expect(of(['U3'], 'U3')).toEqual({ members: [], unmapped: ['Dee'] });
  });
});

describe('validate: what --private-channels would move', () => {
  it('counts the private channels and their messages, and names those with no mapped member', async () => {
    const without = await validateExport(privateExport(), { now: new Date(NOW) });
    expect(without.privateChannels).toEqual({
      option: false,
      channels: [{ source: 'plans', messages: 3, unmappedMembers: [] }],
      messages: 3,
      noMappedMember: [{ source: 'bots', messages: 1, reason: expect.stringMatching(/Robot, Dee/) }],
    });
    expect(formatReport(without)).toMatch(
      /Private channels: 1 \(3 messages\) would be imported as Teams private channels with --private-channels; 1 cannot be/,
    );
    const withOption = await validateExport(privateExport(), { now: new Date(NOW), privateChannels: true });
    expect(withOption.privateChannels).toMatchObject({
      option: true,
      channels: [{ source: 'plans', teamsName: 'plans', messages: 3, unmappedMembers: ['Dee'] }],
      messages: 3,
    });
    expect(withOption.channels.map((c) => c.source)).toEqual(['general', 'plans']);
    expect(formatReport(withOption)).toMatch(/plans: 3 messages; members not mapped, left out: Dee/);
  });
});
