import { nativeContent, refusesReactions, tenantDirectory } from '../../../core/graph/nativeContent';
import type { PlannedMessage } from '../../../core/model';
import type { ChannelRecord, UserRecord } from '../../../core/state/ledgerRecords';

const ADA = 'aaaaaaaa-0000-4000-8000-000000000001';
const BO = 'bbbbbbbb-0000-4000-8000-000000000002';
const planned = (extra: Partial<PlannedMessage>): Parameters<typeof nativeContent>[0] => ({
  html: '',
  createdDateTime: '2020-01-01T10:00:00.000Z',
  ...extra,
});
const tenant = {
  user: (id: string): string | undefined => ({ U1: ADA, U3: BO })[id],
  channel: (key: string): string | undefined => ({ C2: '19:c2@thread.tacv2' })[key],
  teamId: 'team',
  channelId: '19:here@thread.tacv2',
};

describe('mapping mentions and reactions to the tenant (pure)', () => {
  it('an unmapped mention becomes bold text and the others are renumbered contiguously in body order', () => {
    const out = nativeContent(
      planned({
        html: '<p><at id="0">Ada</at>, <at id="1">Cy</at> and <at id="2">Bo</at> in <at id="3">design</at></p>',
        mentions: [
          { id: 0, kind: 'user', sourceUserId: 'U1', text: 'Ada' },
          { id: 1, kind: 'user', sourceUserId: 'U2', text: 'Cy' },
          { id: 2, kind: 'user', sourceUserId: 'U3', text: 'Bo' },
          { id: 3, kind: 'channel', channelKey: 'C9', text: 'design' },
        ],
      }),
      tenant,
    );
    expect(out.html).toBe(
      '<p><at id="0">Ada</at>, <strong>@Cy</strong> and <at id="1">Bo</at> in <strong>#design</strong></p>',
    );
    expect(out.mentions.map((m) => [m.id, m.mentionText])).toEqual([
      [0, 'Ada'],
      [1, 'Bo'],
    ]);
    expect(out.mentions[1].mentioned).toEqual({
      user: { id: BO, displayName: 'Bo', userIdentityType: 'aadUser' },
    });
    expect(out.mentionText).toEqual({ 'not-in-tenant': 1, 'channel-not-created': 1 });
  });

  it('@here falls back to its own word when the channel is unknown', () => {
    const out = nativeContent(
      planned({
        html: '<p><at id="0">General</at></p>',
        mentions: [{ id: 0, kind: 'thisChannel', text: 'General', label: 'here' }],
      }),
      { ...tenant, channelId: '' },
    );
    expect(out.html).toBe('<p><strong>@here</strong></p>');
  });

  it('reactions: once per Entra user and emoji, dated at the message; the rest counted in the line', () => {
    const input = planned({
      html: '<p>hi</p>',
      reactions: [
        { emoji: '👍', sourceUserId: 'U1', displayName: 'Ada', line: 0 },
        { emoji: '👍', sourceUserId: 'U2', displayName: 'Cy', line: 0 },
        { emoji: '👍', sourceUserId: 'U1', displayName: 'Ada (again)', line: 0 },
        { emoji: '🎉', sourceUserId: 'U3', displayName: 'Bo', line: 1 },
      ],
      reactionLine: [
        { label: '👍', count: 0 },
        { label: '🎉', count: 0 },
        { label: ':party:', count: 2 },
      ],
    });
    const out = nativeContent(input, tenant);
    expect(out.reactions.map((r) => [r.reactionType, r.user.user.id, r.createdDateTime])).toEqual([
      ['👍', ADA, '2020-01-01T10:00:00.000Z'],
      ['🎉', BO, '2020-01-01T10:00:00.000Z'],
    ]);
    expect(out.html).toBe('<p>hi</p><p>👍 1 · :party: 2</p>');
    const refused = nativeContent(input, tenant, false);
    expect(refused.reactions).toEqual([]);
    expect(refused.html).toBe('<p>hi</p><p>👍 3 · 🎉 1 · :party: 2</p>');
    expect(refused.reactionText).toEqual({ refused: 4 });
  });

  it('a refusal is a 400 that names reactions', () => {
    expect(refusesReactions(400, "reactions: item 0 reactionType 'x' is neither a single emoji")).toBe(true);
    expect(refusesReactions(400, 'createdDateTime is in the future')).toBe(false);
    expect(refusesReactions(413, 'reactions too large')).toBe(false);
  });

  it('the directory maps matched users only (never the fallback account) and created channels', () => {
    const users = new Map<string, UserRecord>([
      ['U1', { sourceUserId: 'U1', entraId: ADA, matchedBy: 'email' }],
      ['U2', { sourceUserId: 'U2', matchedBy: 'unmatched' }],
      ['*fallback', { sourceUserId: '*fallback', entraId: BO, matchedBy: 'fallback' }],
    ]);
    const channels = [
      { channelKey: 'C1', teamsChannelId: '19:c1@thread.tacv2' },
      { channelKey: 'C2' },
    ] as ChannelRecord[];
    const dir = tenantDirectory('team', '19:c1@thread.tacv2', users, channels);
    expect([dir.user('U1'), dir.user('U2'), dir.user('*fallback')]).toEqual([ADA, undefined, undefined]);
    expect([dir.channel('C1'), dir.channel('C2')]).toEqual(['19:c1@thread.tacv2', undefined]);
  });
});
