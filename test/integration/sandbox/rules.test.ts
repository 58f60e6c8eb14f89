import { startSandbox, type SandboxHandle } from '../../../sandbox';
import {
  TOKEN,
  USERS,
  call,
  createMigrationChannel,
  createMigrationTeam,
  daysAgo,
  importMessage,
  makePng,
  messagesPath,
  type Answer,
} from './client';

function expectError(res: Answer, status: number, code: string, message?: string | RegExp): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(res.body.error.innerError).toEqual({
    date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/),
    'request-id': expect.any(String),
    'client-request-id': expect.any(String),
  });
  if (message !== undefined) expect(res.body.error.message).toMatch(message);
}

const TEMPLATE = "https://graph.microsoft.com/v1.0/teamsTemplates('standard')";

describe('sandbox: every rule of the import API', () => {
  let sb: SandboxHandle;
  let teamId: string;
  let channelId: string;
  beforeAll(async () => {
    sb = await startSandbox({
      users: USERS,
      ratePerChannel: 0,
      rateGlobal: 0,
      rateTeamCreation: 0,
      rateChannelCreation: 0,
    });
    teamId = await createMigrationTeam(sb, 'Rules team', daysAgo(400));
    channelId = await createMigrationChannel(sb, teamId, 'rules', daysAgo(300));
  });
  afterAll(async () => {
    await sb.stop();
  });
  const post = (body: unknown, path = messagesPath(teamId, channelId)): Promise<Answer> =>
    call(sb, 'POST', path, body);

  describe('teams', () => {
    it('rejects a team createdDateTime in the future (400)', async () => {
      const res = await call(sb, 'POST', '/teams', {
        '@microsoft.graph.teamCreationMode': 'migration',
        'template@odata.bind': TEMPLATE,
        displayName: 'Future',
        createdDateTime: new Date(Date.now() + 3_600_000).toISOString(),
      });
      expectError(res, 400, 'BadRequest', /in the future/);
    });

    it('rejects a team createdDateTime without the teamCreationMode annotation (400)', async () => {
      const res = await call(sb, 'POST', '/teams', {
        'template@odata.bind': TEMPLATE,
        displayName: 'No mode',
        createdDateTime: daysAgo(10),
      });
      expectError(res, 400, 'BadRequest', /teamCreationMode/);
    });

    it("rejects a teamCreationMode other than 'migration' (400)", async () => {
      const res = await call(sb, 'POST', '/teams', {
        '@microsoft.graph.teamCreationMode': 'import',
        'template@odata.bind': TEMPLATE,
        displayName: 'Bad mode',
        createdDateTime: daysAgo(10),
      });
      expectError(res, 400, 'BadRequest', /'import' is not valid/);
    });
  });

  describe('channels', () => {
    const channel = (displayName: string, extra: Record<string, unknown> = {}): Promise<Answer> =>
      call(sb, 'POST', `/teams/${teamId}/channels`, {
        '@microsoft.graph.channelCreationMode': 'migration',
        displayName,
        membershipType: 'standard',
        createdDateTime: daysAgo(200),
        ...extra,
      });

    it('rejects a channel createdDateTime in the future (400)', async () => {
      expectError(
        await channel('future', { createdDateTime: new Date(Date.now() + 60_000).toISOString() }),
        400,
        'BadRequest',
        /future/,
      );
    });

    it('rejects a channel createdDateTime without the channelCreationMode annotation (400)', async () => {
      expectError(
        await call(sb, 'POST', `/teams/${teamId}/channels`, {
          displayName: 'no-mode',
          createdDateTime: daysAgo(200),
        }),
        400,
        'BadRequest',
        /channelCreationMode/,
      );
      expectError(
        await channel('bad-mode', { '@microsoft.graph.channelCreationMode': 'Migration' }),
        400,
        'BadRequest',
      );
    });

    it('rejects a channel created before its team (400)', async () => {
      expectError(
        await channel('too-early', { createdDateTime: daysAgo(500) }),
        400,
        'BadRequest',
        /earlier than the team/,
      );
    });

    it('creates only standard channels in migration mode (400 for private and shared)', async () => {
      expectError(
        await channel('secret', { membershipType: 'private' }),
        400,
        'BadRequest',
        /Only standard channels/,
      );
      expectError(
        await channel('shared', { membershipType: 'shared' }),
        400,
        'BadRequest',
        /Only standard channels/,
      );
    });

    it.each([
      ['a'.repeat(51), /51 characters, the limit is 50/],
      ...['~', '#', '%', '&', '*', '{', '}', '+', '/', '\\', ':', '<', '>', '?', '|', "'", '"', ','].map(
        (c) =>
          [`a${c}b`, new RegExp(`'${c.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}' is not allowed`)] as [
            string,
            RegExp,
          ],
      ),
      ['a..b', /'\.\.' is not allowed/],
      ['_hidden', /may not start with '_'/],
      ['.dot', /may not start with '\.'/],
      ['trailing.', /may not end with '\.'/],
      ['', /empty/],
    ])('rejects the channel name %j (400)', async (name, why) => {
      const res = await channel(name);
      expectError(res, 400, 'BadRequest', why);
      expect(res.body.error.message).toContain(`channel name '${name}' is not valid in Teams`);
    });

    it('rejects duplicate names without regard to case, General included (400)', async () => {
      expect((await channel('Design')).status).toBe(201);
      expectError(await channel('design'), 400, 'BadRequest', /already exists/);
      expectError(await channel('GENERAL'), 400, 'BadRequest', /'General' already exists/);
    });

    it('keeps a deleted channel name taken for 30 days (400)', async () => {
      const created = await channel('Retired');
      expect(
        (await call(sb, 'DELETE', `/teams/${teamId}/channels/${encodeURIComponent(created.body.id)}`)).status,
      ).toBe(204);
      expectError(await channel('retired'), 400, 'BadRequest', /deleted less than 30 days ago/);
    });

    it('refuses the 1001st channel of a team, deleted channels included (400)', async () => {
      const big = await createMigrationTeam(sb, 'Big team', daysAgo(400));
      const ids: string[] = [];
      for (let start = 1; start < 1000; start += 50) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(50, 1000 - start) }, (_, i) =>
            call(sb, 'POST', `/teams/${big}/channels`, {
              '@microsoft.graph.channelCreationMode': 'migration',
              displayName: `c${start + i}`,
              createdDateTime: daysAgo(300),
            }),
          ),
        );
        ids.push(...batch.map((r) => r.body.id as string));
      }
      expect(ids).toHaveLength(999);
      expect((await call(sb, 'DELETE', `/teams/${big}/channels/${encodeURIComponent(ids[0]!)}`)).status).toBe(
        204,
      );
      const res = await call(sb, 'POST', `/teams/${big}/channels`, {
        '@microsoft.graph.channelCreationMode': 'migration',
        displayName: 'one too many',
        createdDateTime: daysAgo(300),
      });
      expectError(res, 400, 'BadRequest', /1000 channels .*the limit is 1000/);
    });
  });

  describe('messages', () => {
    it('rejects a message createdDateTime in the future (400)', async () => {
      expectError(
        await post(importMessage(new Date(Date.now() + 60_000).toISOString(), 'later')),
        400,
        'BadRequest',
        /future/,
      );
    });

    it("rejects a message earlier than its channel's createdDateTime (400)", async () => {
      expectError(
        await post(importMessage(daysAgo(301), 'too early')),
        400,
        'BadRequest',
        /earlier than channel 'rules'/,
      );
    });

    it("rejects a reply earlier than its thread's createdDateTime (400)", async () => {
      const parent = await post(importMessage(daysAgo(250), 'parent'));
      expect(parent.status).toBe(201);
      const reply = await post(
        importMessage(daysAgo(251), 'reply before parent'),
        `${messagesPath(teamId, channelId)}/${parent.body.id}/replies`,
      );
      expectError(reply, 400, 'BadRequest', /earlier than its thread/);
    });

    it('truncates createdDateTime to milliseconds and uses the epoch milliseconds as the message id', async () => {
      const base = daysAgo(249).replace(/\.\d{3}Z$/, '');
      const res = await post(importMessage(`${base}.0025302Z`, 'seven digits'));
      expect(res.status).toBe(201);
      expect(res.body.createdDateTime).toBe(`${base}.002Z`);
      expect(res.body.id).toBe(String(Date.parse(`${base}.002Z`)));
    });

    it('answers 409 Conflict for a second message in the same millisecond of a channel, replies included', async () => {
      const base = daysAgo(248).replace(/\.\d{3}Z$/, '');
      const parent = await post(importMessage(`${base}.1000000Z`, 'first'));
      expect(parent.status).toBe(201);
      expectError(
        await post(importMessage(`${base}.1009999Z`, 'same ms')),
        409,
        'Conflict',
        /unique to the millisecond/,
      );
      const reply = await post(
        importMessage(`${base}.5000000Z`, 'reply'),
        `${messagesPath(teamId, channelId)}/${parent.body.id}/replies`,
      );
      expect(reply.status).toBe(201);
      expectError(
        await post(importMessage(`${base}.500Z`, 'top-level in the reply ms')),
        409,
        'Conflict',
        /a reply to/,
      );
    });

    it('rejects from.user.id that is not a user of the tenant, and other identity types (400)', async () => {
      const byMail = importMessage(daysAgo(247), 'by mail');
      (byMail.from as { user: { id: string } }).user.id = 'ada@contoso.test';
      expectError(await post(byMail), 400, 'BadRequest', /not the object id of a user/);
      const federated = importMessage(daysAgo(247), 'federated');
      (federated.from as { user: { userIdentityType: string } }).user.userIdentityType = 'federatedUser';
      expectError(await post(federated), 400, 'BadRequest', /aadUser/);
    });

    it('answers 413 for a body over 28 KB, measured on body + mentions + reactions', async () => {
      const envelope = JSON.stringify({
        body: { contentType: 'html', content: '' },
        mentions: [],
        reactions: [],
      }).length;
      const fits = await post(importMessage(daysAgo(246), 'x'.repeat(28 * 1024 - envelope)));
      expect(fits.status).toBe(201);
      const res = await post(importMessage(daysAgo(246, 1), 'x'.repeat(28 * 1024 - envelope + 1)));
      expectError(res, 413, 'RequestEntityTooLarge', /Request Entity too large/);
      const withMentions = {
        ...importMessage(daysAgo(246, 2), 'x'.repeat(20 * 1024)),
        mentions: Array.from({ length: 100 }, (_, id) => ({
          id,
          mentionText: 'Ada Lovelace',
          mentioned: { user: { id: USERS[0]!.id, displayName: 'Ada Lovelace', userIdentityType: 'aadUser' } },
        })),
      };
      expectError(await post(withMentions), 413, 'RequestEntityTooLarge');
    });

    it('rejects an inline image over 4 MB (400)', async () => {
      const big = Buffer.alloc(4 * 1024 * 1024 + 1, 7);
      const res = await post({
        ...importMessage(daysAgo(245), '<img src="../hostedContents/1/$value">'),
        hostedContents: [
          {
            '@microsoft.graph.temporaryId': '1',
            contentBytes: big.toString('base64'),
            contentType: 'image/png',
          },
        ],
      });
      expectError(res, 400, 'BadRequest', /at most 4194304 bytes/);
    });

    it('rejects hostedContents references without a matching temporaryId, and the reverse (400)', async () => {
      const png = makePng(4, 4).toString('base64');
      const dangling = await post({
        ...importMessage(daysAgo(244), '<img src="../hostedContents/2/$value">'),
        hostedContents: [
          { '@microsoft.graph.temporaryId': '1', contentBytes: png, contentType: 'image/png' },
        ],
      });
      expectError(dangling, 400, 'BadRequest', /no hostedContents item has @microsoft.graph.temporaryId '2'/);
      const unused = await post({
        ...importMessage(daysAgo(244), 'no image in the body'),
        hostedContents: [
          { '@microsoft.graph.temporaryId': '1', contentBytes: png, contentType: 'image/png' },
        ],
      });
      expectError(unused, 400, 'BadRequest', /is not referenced by the body/);
    });

    it('rejects posts into a channel that is not in migration mode, and delegated tokens (403)', async () => {
      const normal = await call(sb, 'POST', '/teams', {
        'template@odata.bind': TEMPLATE,
        displayName: 'Live team',
      });
      const liveTeam = /teams\('([^']+)'\)/.exec(normal.headers.get('location') ?? '')?.[1] ?? '';
      const general = await call(sb, 'GET', `/teams/${liveTeam}/primaryChannel`);
      expect(general.body.migrationMode).toBeNull();
      expectError(
        await post(importMessage(daysAgo(1), 'hi'), messagesPath(liveTeam, general.body.id)),
        403,
        'Forbidden',
        /Message POST is allowed in application-only context only for import purposes/,
      );
      const claims = Buffer.from(JSON.stringify({ appid: 'app-1', scp: 'ChannelMessage.Send' })).toString(
        'base64url',
      );
      const delegated = await call(
        sb,
        'POST',
        messagesPath(teamId, channelId),
        importMessage(daysAgo(243), 'as a user'),
        {
          token: `eyJhbGciOiJub25lIn0.${claims}.sig`,
        },
      );
      expectError(delegated, 403, 'Forbidden', /application-only context only for import purposes/);
    });

    it('rejects imports from another app than the one that opened the import session (403)', async () => {
      const other = { token: 'another-app-token' };
      const initiator = /Request Initiator does not match the import session initiator/;
      expectError(
        await call(
          sb,
          'POST',
          messagesPath(teamId, channelId),
          importMessage(daysAgo(242), 'intruder'),
          other,
        ),
        403,
        'Forbidden',
        initiator,
      );
      expectError(
        await call(
          sb,
          'POST',
          `/teams/${teamId}/channels`,
          {
            '@microsoft.graph.channelCreationMode': 'migration',
            displayName: 'intruder',
            createdDateTime: daysAgo(200),
          },
          other,
        ),
        403,
        'Forbidden',
        initiator,
      );
      expectError(
        await call(sb, 'POST', `/teams/${teamId}/completeMigration`, undefined, other),
        403,
        'Forbidden',
        initiator,
      );
    });

    it('identifies the app by the appid claim of a JWT, so a renewed token keeps the session', async () => {
      const jwt = (exp: number): string =>
        `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ appid: 'importer', roles: ['Teamwork.Migrate.All'], exp })).toString('base64url')}.sig`;
      const team = await createMigrationTeam(sb, 'JWT team', daysAgo(100), jwt(1));
      const general = await call(sb, 'GET', `/teams/${team}/primaryChannel`, undefined, { token: jwt(1) });
      const res = await call(
        sb,
        'POST',
        messagesPath(team, general.body.id),
        importMessage(daysAgo(50), 'renewed'),
        { token: jwt(2) },
      );
      expect(res.status).toBe(201);
    });
  });

  describe('mentions and reactions', () => {
    const ada = USERS[0]!;
    const grace = USERS[1]!;
    const userMention = (id: number, user = ada): Record<string, unknown> => ({
      id,
      mentionText: user.displayName,
      mentioned: { user: { id: user.id, displayName: user.displayName, userIdentityType: 'aadUser' } },
    });
    const reaction = (
      reactionType: string,
      createdDateTime: string,
      user = ada,
    ): Record<string, unknown> => ({
      reactionType,
      createdDateTime,
      user: { user: { id: user.id, displayName: user.displayName, userIdentityType: 'aadUser' } },
    });
    let day = 0;
    const at = (): string => daysAgo(200, ++day * 10);
    const message = (content: string, extra: Record<string, unknown>): Record<string, unknown> => ({
      ...importMessage(at(), content),
      ...extra,
    });

    it('takes mentions of users, of a channel of the team and of the team, and returns them with the message', async () => {
      const created = at();
      const res = await post({
        ...importMessage(
          created,
          '<p><at id="0">Ada Lovelace</at> see <at id="1">rules</at>, <at id="2">Rules team</at></p>',
        ),
        mentions: [
          userMention(0),
          {
            id: 1,
            mentionText: 'rules',
            mentioned: {
              conversation: { id: channelId, displayName: 'rules', conversationIdentityType: 'channel' },
            },
          },
          {
            id: 2,
            mentionText: 'Rules team',
            mentioned: {
              conversation: { id: teamId, displayName: 'Rules team', conversationIdentityType: 'team' },
            },
          },
        ],
        reactions: [reaction('👍🏽', created), reaction('👍🏽', created, grace), reaction('like', created)],
      });
      expect(res.status).toBe(201);
      const got = await call(sb, 'GET', `${messagesPath(teamId, channelId)}/${res.body.id}`);
      expect(got.body.mentions.map((m: { id: number }) => m.id)).toEqual([0, 1, 2]);
      expect(got.body.reactions.map((r: { reactionType: string }) => r.reactionType)).toEqual([
        '👍🏽',
        '👍🏽',
        'like',
      ]);
    });

    it('rejects an <at> tag without its mentions[] entry, and an entry without its tag (400)', async () => {
      expectError(await post(message('<at id="0">Ada</at>', {})), 400, 'BadRequest', /no item with id 0/);
      expectError(
        await post(message('<p>nobody</p>', { mentions: [userMention(0)] })),
        400,
        'BadRequest',
        /item 0 has no <at id="0">/,
      );
    });

    it('rejects mention ids that are not contiguous from 0, or used twice (400)', async () => {
      expectError(
        await post(message('<at id="1">Ada</at>', { mentions: [userMention(1)] })),
        400,
        'BadRequest',
        /contiguous from 0/,
      );
      expectError(
        await post(message('<at id="0">Ada</at><at id="0">Ada</at>', { mentions: [userMention(0)] })),
        400,
        'BadRequest',
        /more than once/,
      );
    });

    it('rejects a mention of a user the tenant lacks, or of another identity type (400)', async () => {
      const stranger = { ...ada, id: '99999999-9999-4999-8999-999999999999' };
      expectError(
        await post(message('<at id="0">Ada</at>', { mentions: [userMention(0, stranger)] })),
        400,
        'BadRequest',
        /not a user of this tenant/,
      );
      const federated = userMention(0);
      (federated.mentioned as { user: { userIdentityType: string } }).user.userIdentityType = 'federatedUser';
      expectError(
        await post(message('<at id="0">Ada</at>', { mentions: [federated] })),
        400,
        'BadRequest',
        /aadUser/,
      );
    });

    it('rejects a mention of a channel of another team, or of another team (400)', async () => {
      const conversation = (id: string, type: string): Record<string, unknown> => ({
        id: 0,
        mentionText: 'x',
        mentioned: { conversation: { id, displayName: 'x', conversationIdentityType: type } },
      });
      expectError(
        await post(
          message('<at id="0">x</at>', { mentions: [conversation('19:elsewhere@thread.tacv2', 'channel')] }),
        ),
        400,
        'BadRequest',
        /not a channel of this team/,
      );
      expectError(
        await post(message('<at id="0">x</at>', { mentions: [conversation('other-team', 'team')] })),
        400,
        'BadRequest',
        /not this team/,
      );
    });

    it('rejects more than 250 reactions (400)', async () => {
      const created = at();
      const many = Array.from({ length: 251 }, () => reaction('👍', created));
      expectError(
        await post({ ...importMessage(created, 'popular'), reactions: many }),
        400,
        'BadRequest',
        /at most 250/,
      );
    });

    it('rejects a reaction by a user the tenant lacks, and two by one user with one emoji (400)', async () => {
      const created = at();
      const stranger = { ...ada, id: '99999999-9999-4999-8999-999999999999' };
      expectError(
        await post({ ...importMessage(created, 'x'), reactions: [reaction('👍', created, stranger)] }),
        400,
        'BadRequest',
        /not a user of this tenant/,
      );
      const again = at();
      expectError(
        await post({
          ...importMessage(again, 'x'),
          reactions: [reaction('👍', again), reaction('👍', again)],
        }),
        400,
        'BadRequest',
        /more than once/,
      );
    });

    it('rejects a reactionType that is not a single emoji or a named reaction (400)', async () => {
      for (const type of [':party-parrot:', '👍👍', 'thumbsup']) {
        const created = at();
        expectError(
          await post({ ...importMessage(created, 'x'), reactions: [reaction(type, created)] }),
          400,
          'BadRequest',
          /neither a single emoji/,
        );
      }
    });

    it('rejects a reaction dated before its message (400)', async () => {
      const created = at();
      const before = new Date(Date.parse(created) - 1).toISOString();
      expectError(
        await post({ ...importMessage(created, 'x'), reactions: [reaction('🎉', before)] }),
        400,
        'BadRequest',
        /earlier than the message/,
      );
    });
  });

  describe('completion and members', () => {
    let team: string;
    let general: string;
    let other: string;
    beforeAll(async () => {
      team = await createMigrationTeam(sb, 'Completion team', daysAgo(400));
      general = (await call(sb, 'GET', `/teams/${team}/primaryChannel`)).body.id;
      other = await createMigrationChannel(sb, team, 'random', daysAgo(300));
    });
    const complete = (channel?: string): Promise<Answer> =>
      call(
        sb,
        'POST',
        channel
          ? `/teams/${team}/channels/${encodeURIComponent(channel)}/completeMigration`
          : `/teams/${team}/completeMigration`,
      );
    const member = {
      '@odata.type': '#microsoft.graph.aadUserConversationMember',
      roles: [],
      'user@odata.bind': `https://graph.microsoft.com/v1.0/users('${USERS[0]!.id}')`,
    };

    it('rejects adding members before the team completes its migration (400)', async () => {
      expectError(
        await call(sb, 'POST', `/teams/${team}/members`, member),
        400,
        'BadRequest',
        /only after its completeMigration/,
      );
      expectError(
        await call(sb, 'POST', `/teams/${team}/members/add`, { values: [member] }),
        400,
        'BadRequest',
        /only after its completeMigration/,
      );
    });

    it('rejects completing General while other channels are in migration mode (400)', async () => {
      expectError(
        await complete(general),
        400,
        'BadRequest',
        /General channel must be completed last.*'random'/,
      );
    });

    it('rejects completing the team while a channel is in migration mode (400)', async () => {
      expectError(await complete(), 400, 'BadRequest', /^All channels must be finalized before team\./);
    });

    it('answers "Channel has already been finalized." for a second completion (400)', async () => {
      expect((await complete(other)).status).toBe(204);
      expectError(await complete(other), 400, 'BadRequest', /^Channel has already been finalized\.$/);
    });

    it('rejects imports into a completed channel and into a completed team', async () => {
      expectError(
        await call(sb, 'POST', messagesPath(team, other), importMessage(daysAgo(10), 'late')),
        403,
        'Forbidden',
        /no longer in migration mode/,
      );
      expect((await complete(general)).status).toBe(204);
      expect((await complete()).status).toBe(204);
      expectError(
        await call(sb, 'POST', messagesPath(team, general), importMessage(daysAgo(10), 'late')),
        403,
        'Forbidden',
      );
      expectError(
        await call(sb, 'POST', `/teams/${team}/channels`, {
          '@microsoft.graph.channelCreationMode': 'migration',
          displayName: 'late',
          createdDateTime: daysAgo(10),
        }),
        400,
        'BadRequest',
        /^Migration channels can only be created in a team under migration\.$/,
      );
      expectError(await complete(), 400, 'BadRequest', /^Team has already been finalized\.$/);
    });

    it('adds members after completion, at most 200 per bulk call', async () => {
      expect((await call(sb, 'POST', `/teams/${team}/members`, member)).status).toBe(201);
      const tooMany = { values: Array.from({ length: 201 }, () => member) };
      expectError(await call(sb, 'POST', `/teams/${team}/members/add`, tooMany), 400, 'BadRequest', /<=200/);
      const partial = await call(sb, 'POST', `/teams/${team}/members/add`, {
        values: [
          member,
          { ...member, 'user@odata.bind': "https://graph.microsoft.com/v1.0/users('nobody@contoso.test')" },
        ],
      });
      expect(partial.status).toBe(207);
      expect(partial.body.value[1].error.code).toBe('NotFound');
    });
  });

  describe('auth and batching', () => {
    it('answers 401 InvalidAuthenticationToken without a bearer token', async () => {
      expectError(
        await call(sb, 'GET', `/teams/${teamId}`, undefined, { token: null }),
        401,
        'InvalidAuthenticationToken',
      );
      expectError(
        await call(sb, 'GET', `/teams/${teamId}`, undefined, {
          token: null,
          headers: { authorization: 'Basic abc' },
        }),
        401,
        'InvalidAuthenticationToken',
      );
    });

    it('accepts only the configured token when one is set (401 otherwise)', async () => {
      const strict = await startSandbox({ token: 's3cret' });
      try {
        expectError(
          await call(strict, 'GET', '/teams', undefined, { token: TOKEN }),
          401,
          'InvalidAuthenticationToken',
        );
        expect((await call(strict, 'GET', '/teams', undefined, { token: 's3cret' })).status).toBe(200);
      } finally {
        await strict.stop();
      }
    });

    it('rejects a $batch of more than 20 requests (400)', async () => {
      const requests = Array.from({ length: 21 }, (_, i) => ({
        id: String(i),
        method: 'GET',
        url: `/users/${USERS[0]!.id}`,
      }));
      expectError(await call(sb, 'POST', '/$batch', { requests }), 400, 'BadRequest', /<=20/);
    });
  });
});
