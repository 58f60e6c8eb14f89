import { startSandbox, type SandboxHandle } from '../../../sandbox';
import {
  USERS,
  call,
  createMigrationChannel,
  createMigrationTeam,
  daysAgo,
  importMessage,
  messagesPath,
  type Answer,
} from './client';

const OTHER_APP = { token: 'another-app-token' };
const INITIATOR = /Request Initiator does not match the import session initiator/;

function expectError(res: Answer, status: number, message: RegExp): void {
  expect({ status: res.status, message: res.body?.error?.message as string }).toEqual({
    status,
    message: expect.stringMatching(message),
  });
}

describe('sandbox: startMigration re-opens a channel or chat for import, with the service rules', () => {
  let sb: SandboxHandle;
  let teamId: string;
  beforeAll(async () => {
    sb = await startSandbox({ users: USERS, ratePerChannel: 0, rateGlobal: 0 });
    teamId = await createMigrationTeam(sb, 'Reopened team', daysAgo(400));
  });
  afterAll(async () => {
    await sb.stop();
  });

  const channelPath = (channelId: string): string =>
    `/teams/${teamId}/channels/${encodeURIComponent(channelId)}`;
  const start = (channelId: string, body?: unknown, token?: string): Promise<Answer> =>
    call(sb, 'POST', `${channelPath(channelId)}/startMigration`, body, token ? { token } : {});
  const complete = (channelId: string, token?: string): Promise<Answer> =>
    call(sb, 'POST', `${channelPath(channelId)}/completeMigration`, undefined, token ? { token } : {});
  const mode = async (channelId: string): Promise<unknown> =>
    (await call(sb, 'GET', channelPath(channelId))).body.migrationMode;

  /** A channel imported once and completed: what a cutover leaves behind. */
  async function completedChannel(name: string, createdDaysAgo = 300): Promise<string> {
    const channelId = await createMigrationChannel(sb, teamId, name, daysAgo(createdDaysAgo));
    const posted = await call(
      sb,
      'POST',
      messagesPath(teamId, channelId),
      importMessage(daysAgo(250), 'first'),
    );
    expect(posted.status).toBe(201);
    expect((await complete(channelId)).status).toBe(204);
    return channelId;
  }

  it('GET of a channel shows its migrationMode: inProgress, then completed, then inProgress again', async () => {
    const channelId = await createMigrationChannel(sb, teamId, 'modes', daysAgo(300));
    expect(await mode(channelId)).toBe('inProgress');
    expect((await complete(channelId)).status).toBe(204);
    expect(await mode(channelId)).toBe('completed');
    expect((await start(channelId)).status).toBe(204);
    expect(await mode(channelId)).toBe('inProgress');
  });

  it('refuses imports into a completed channel (403) and takes them again once it is re-opened', async () => {
    const channelId = await completedChannel('reopen-imports');
    const late = importMessage(daysAgo(100), 'after cutover');
    expectError(await call(sb, 'POST', messagesPath(teamId, channelId), late), 403, /for import purposes/);
    expect((await start(channelId)).status).toBe(204);
    expect((await call(sb, 'POST', messagesPath(teamId, channelId), late)).status).toBe(201);
    expect((await complete(channelId)).status).toBe(204);
    expectError(
      await call(sb, 'POST', messagesPath(teamId, channelId), importMessage(daysAgo(90), 'too late')),
      403,
      /for import purposes/,
    );
  });

  it('answers 400 when the channel is already in migration', async () => {
    const channelId = await createMigrationChannel(sb, teamId, 'already-open', daysAgo(300));
    expectError(await start(channelId), 400, /already in migration/);
    expect((await complete(channelId)).status).toBe(204);
    expect((await start(channelId)).status).toBe(204);
    expectError(await start(channelId), 400, /already in migration/);
  });

  it('moves createdDateTime back to an earlier conversationCreationDateTime, and refuses one not earlier (400)', async () => {
    const channelId = await completedChannel('moved-back', 300);
    const created = (await call(sb, 'GET', channelPath(channelId))).body.createdDateTime as string;
    expectError(
      await start(channelId, { conversationCreationDateTime: created }),
      400,
      /must be earlier than channel/,
    );
    expectError(
      await start(channelId, { conversationCreationDateTime: daysAgo(200) }),
      400,
      /must be earlier than channel/,
    );
    expect(await mode(channelId)).toBe('completed');
    const earlier = daysAgo(350);
    expect((await start(channelId, { conversationCreationDateTime: earlier })).status).toBe(204);
    expect((await call(sb, 'GET', channelPath(channelId))).body.createdDateTime).toBe(earlier);
    expect(
      (
        await call(
          sb,
          'POST',
          messagesPath(teamId, channelId),
          importMessage(daysAgo(340), 'older than before'),
        )
      ).status,
    ).toBe(201);
  });

  it('opens a channel created normally in a completed team, and only its initiator may import and complete it', async () => {
    const team = await createMigrationTeam(sb, 'Completed team', daysAgo(400));
    const general = (await call(sb, 'GET', `/teams/${team}/primaryChannel`)).body.id as string;
    expect(
      (await call(sb, 'POST', `/teams/${team}/channels/${encodeURIComponent(general)}/completeMigration`))
        .status,
    ).toBe(204);
    expect((await call(sb, 'POST', `/teams/${team}/completeMigration`)).status).toBe(204);
    const created = await call(sb, 'POST', `/teams/${team}/channels`, {
      displayName: 'added-later',
      membershipType: 'standard',
    });
    expect(created.status).toBe(201);
    const channelId = created.body.id as string;
    const path = `/teams/${team}/channels/${encodeURIComponent(channelId)}`;
    expect((await call(sb, 'GET', path)).body.migrationMode).toBeNull();
    const post = (token?: string): Promise<Answer> =>
      call(
        sb,
        'POST',
        `${path}/messages`,
        importMessage(daysAgo(30), 'late channel'),
        token ? { token } : {},
      );
    expectError(await post(), 403, /for import purposes/);

    expect(
      (
        await call(
          sb,
          'POST',
          `${path}/startMigration`,
          { conversationCreationDateTime: daysAgo(60) },
          OTHER_APP,
        )
      ).status,
    ).toBe(204);
    expect((await call(sb, 'GET', path)).body.migrationMode).toBe('inProgress');
    expectError(await post(), 403, INITIATOR);
    expectError(await call(sb, 'POST', `${path}/completeMigration`), 403, INITIATOR);
    expect((await post(OTHER_APP.token)).status).toBe(201);
    expect((await call(sb, 'POST', `${path}/completeMigration`, undefined, OTHER_APP)).status).toBe(204);
    expect((await call(sb, 'GET', `/teams/${team}`)).body.migrationMode).toBe('completed');
  });

  it('chats: startMigration, 400 when already in migration, an earlier conversationCreationDateTime only, completeMigration by the initiator', async () => {
    const seeded = await call(sb, 'POST', '/_sandbox/chats', {
      chats: [
        { members: [USERS[0]!.mail, USERS[1]!.mail], messages: [{ from: USERS[0]!.mail, text: 'hi' }] },
      ],
    });
    expect(seeded.status).toBe(201);
    const chatPath = `/chats/${encodeURIComponent(seeded.body.value[0].id as string)}`;
    expect((await call(sb, 'GET', chatPath)).body.migrationMode).toBeNull();
    const created = (await call(sb, 'GET', chatPath)).body.createdDateTime as string;
    expectError(
      await call(sb, 'POST', `${chatPath}/startMigration`, { conversationCreationDateTime: created }),
      400,
      /must be earlier than chat/,
    );
    const earlier = new Date(Date.parse(created) - 86_400_000).toISOString();
    expect(
      (await call(sb, 'POST', `${chatPath}/startMigration`, { conversationCreationDateTime: earlier }))
        .status,
    ).toBe(204);
    expect((await call(sb, 'GET', chatPath)).body).toMatchObject({
      migrationMode: 'inProgress',
      createdDateTime: earlier,
    });
    expectError(await call(sb, 'POST', `${chatPath}/startMigration`, {}), 400, /already in migration/);
    expectError(
      await call(sb, 'POST', `${chatPath}/completeMigration`, undefined, OTHER_APP),
      403,
      INITIATOR,
    );
    expect((await call(sb, 'POST', `${chatPath}/completeMigration`)).status).toBe(204);
    expect((await call(sb, 'GET', chatPath)).body.migrationMode).toBe('completed');
    expect((await call(sb, 'POST', `${chatPath}/startMigration`, {})).status).toBe(204);
  });
});
