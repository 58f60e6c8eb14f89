import { startSandbox, type SandboxHandle } from '../../../sandbox';
import { USERS, call, createMigrationChannel, daysAgo, importMessage, makePng, messagesPath } from './client';

describe('sandbox: the whole import sequence', () => {
  let sb: SandboxHandle;
  beforeAll(async () => {
    sb = await startSandbox({ users: USERS });
  });
  afterAll(async () => {
    await sb.stop();
  });

  it('creates a team, imports threads with an inline image, completes General last and adds members', async () => {
    const teamCreated = daysAgo(400);
    const created = await call(sb, 'POST', '/teams', {
      '@microsoft.graph.teamCreationMode': 'migration',
      'template@odata.bind': "https://graph.microsoft.com/v1.0/teamsTemplates('standard')",
      displayName: 'Contoso Engineering',
      description: 'Imported from Slack',
      createdDateTime: teamCreated,
    });
    expect(created.status).toBe(202);
    expect(created.text).toBe('');
    const location = created.headers.get('location') ?? '';
    expect(location).toMatch(/^\/teams\('[0-9a-f-]{36}'\)\/operations\('[0-9a-f-]{36}'\)$/);
    const teamId = /teams\('([^']+)'\)/.exec(location)?.[1] ?? '';
    expect(created.headers.get('content-location')).toBe(`/teams('${teamId}')`);

    const firstPoll = await call(sb, 'GET', location);
    expect(firstPoll.body).toMatchObject({
      status: 'inProgress',
      targetResourceId: null,
      operationType: 'createTeam',
    });
    const secondPoll = await call(sb, 'GET', location);
    expect(secondPoll.body).toMatchObject({ status: 'succeeded', targetResourceId: teamId });

    const found = await call(
      sb,
      'GET',
      `/teams?$filter=${encodeURIComponent("displayName eq 'Contoso Engineering'")}`,
    );
    expect(found.body.value.map((t: { id: string }) => t.id)).toEqual([teamId]);

    const general = await call(sb, 'GET', `/teams/${teamId}/primaryChannel`);
    expect(general.body).toMatchObject({
      displayName: 'General',
      migrationMode: 'inProgress',
      membershipType: 'standard',
    });
    const generalId = general.body.id as string;

    const archId = await createMigrationChannel(sb, teamId, 'Architecture Discussion', daysAgo(399));
    const channels = await call(sb, 'GET', `/teams/${teamId}/channels`);
    expect(channels.body.value.map((c: { displayName: string }) => c.displayName)).toEqual([
      'General',
      'Architecture Discussion',
    ]);
    const byName = await call(
      sb,
      'GET',
      `/teams/${teamId}/channels?$filter=${encodeURIComponent("displayName eq 'architecture discussion'")}`,
    );
    expect(byName.body.value).toHaveLength(1);

    const png = makePng(120, 80);
    const parentTime = daysAgo(398, 0.4);
    const parent = await call(sb, 'POST', messagesPath(teamId, archId), {
      ...importMessage(
        parentTime.replace('Z', '1234Z'),
        '<p>Whiteboard from today <b>(v2)</b></p><img src="../hostedContents/1/$value" alt="whiteboard">',
      ),
      hostedContents: [
        {
          '@microsoft.graph.temporaryId': '1',
          contentBytes: png.toString('base64'),
          contentType: 'image/png',
        },
      ],
    });
    expect(parent.status).toBe(201);
    const parentMs = Date.parse(parentTime);
    expect(parent.body.id).toBe(String(parentMs));
    expect(parent.body.createdDateTime).toBe(new Date(parentMs).toISOString());
    expect(parent.body.body.content).toMatch(
      new RegExp(
        `https://graph\\.microsoft\\.com/v1\\.0/teams/${teamId}/channels/.+/messages/${parentMs}/hostedContents/[^/]+/\\$value`,
      ),
    );

    const repliesPath = `${messagesPath(teamId, archId)}/${parent.body.id}/replies`;
    const reply1 = await call(
      sb,
      'POST',
      repliesPath,
      importMessage(daysAgo(398, 60_000), 'Looks good', USERS[1]),
    );
    const reply2 = await call(
      sb,
      'POST',
      repliesPath,
      importMessage(daysAgo(398, 120_000), 'Ship it <i>today</i>', USERS[2]),
    );
    expect([reply1.status, reply2.status]).toEqual([201, 201]);
    expect(reply1.body.replyToId).toBe(parent.body.id);

    const hello = await call(
      sb,
      'POST',
      messagesPath(teamId, generalId),
      importMessage(daysAgo(397), 'Hello, team'),
    );
    expect(hello.status).toBe(201);

    const hostedUrl =
      /src="https:\/\/graph\.microsoft\.com\/v1\.0([^"]+)"/.exec(parent.body.body.content)?.[1] ?? '';
    const image = await fetch(`${sb.url}/v1.0${hostedUrl.replace(archId, encodeURIComponent(archId))}`, {
      headers: { authorization: 'Bearer import-app-token' },
    });
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await image.arrayBuffer()).equals(png)).toBe(true);

    const page1 = await call(sb, 'GET', `${repliesPath}?$top=1`);
    expect(page1.body.value).toHaveLength(1);
    const page2 = await call(sb, 'GET', page1.body['@odata.nextLink']);
    expect(page2.body.value).toHaveLength(1);
    expect(page2.body['@odata.nextLink']).toBeUndefined();
    expect([page1.body.value[0].id, page2.body.value[0].id]).toEqual([reply1.body.id, reply2.body.id]);
    const one = await call(sb, 'GET', `${messagesPath(teamId, archId)}/${parent.body.id}`);
    expect(one.body.from.user.id).toBe(USERS[0]!.id);

    expect(
      (await call(sb, 'POST', `/teams/${teamId}/channels/${encodeURIComponent(archId)}/completeMigration`))
        .status,
    ).toBe(204);
    expect(
      (await call(sb, 'POST', `/teams/${teamId}/channels/${encodeURIComponent(generalId)}/completeMigration`))
        .status,
    ).toBe(204);
    expect((await call(sb, 'POST', `/teams/${teamId}/completeMigration`)).status).toBe(204);

    const members = await call(sb, 'POST', `/teams/${teamId}/members/add`, {
      values: USERS.map((u, i) => ({
        '@odata.type': '#microsoft.graph.aadUserConversationMember',
        roles: i === 0 ? ['owner'] : [],
        'user@odata.bind': `https://graph.microsoft.com/v1.0/users('${u.id}')`,
      })),
    });
    expect(members.status).toBe(200);
    expect(members.body.value.map((r: { userId: string; error: unknown }) => [r.userId, r.error])).toEqual(
      USERS.map((u) => [u.id, null]),
    );

    const state = (await call(sb, 'GET', '/_sandbox/state', undefined, { token: null })).body;
    expect(state).toEqual(sb.dump());
    const team = sb.dump().teams.find((t) => t.id === teamId)!;
    expect(team.migrationMode).toBe('completed');
    expect(team.channels.map((c) => [c.displayName, c.migrationMode, c.messages.length])).toEqual([
      ['General', 'completed', 1],
      ['Architecture Discussion', 'completed', 1],
    ]);
    const thread = team.channels[1]!.messages[0]!;
    expect(thread.hostedContents).toEqual([
      expect.objectContaining({ temporaryId: '1', contentType: 'image/png', size: png.length }),
    ]);
    expect(thread.replies.map((r) => [r.from?.user.id, r.body.content])).toEqual([
      [USERS[1]!.id, 'Looks good'],
      [USERS[2]!.id, 'Ship it <i>today</i>'],
    ]);
    expect(team.members.map((m) => [m.displayName, m.roles])).toEqual([
      ['Ada Lovelace', ['owner']],
      ['Grace Hopper', []],
      ['Alan Turing', []],
    ]);
  });
});
