import { startSandbox, type SandboxHandle } from '../../../sandbox';
import {
  USERS,
  call,
  createMigrationTeam,
  daysAgo,
  importMessage,
  messagesPath,
  type Answer,
} from './client';

function expectError(res: Answer, status: number, message: RegExp): void {
  expect({ status: res.status, message: res.body?.error?.message as string }).toEqual({
    status,
    message: expect.stringMatching(message),
  });
}

const [ADA, GRACE, ALAN] = USERS;
const member = (user: { id: string }, roles: string[] = []): Record<string, unknown> => ({
  '@odata.type': '#microsoft.graph.aadUserConversationMember',
  roles,
  'user@odata.bind': `https://graph.microsoft.com/v1.0/users('${user.id}')`,
});

describe('sandbox: private channels', () => {
  let sb: SandboxHandle;
  let migrating: string;
  let completed: string;
  beforeAll(async () => {
    sb = await startSandbox({ users: USERS, ratePerChannel: 0, rateGlobal: 0, rateChannelCreation: 0 });
    migrating = await createMigrationTeam(sb, 'Still migrating', daysAgo(400));
    completed = await createMigrationTeam(sb, 'Completed', daysAgo(400));
    const general = (await call(sb, 'GET', `/teams/${completed}/primaryChannel`)).body.id as string;
    expect(
      (
        await call(
          sb,
          'POST',
          `/teams/${completed}/channels/${encodeURIComponent(general)}/completeMigration`,
        )
      ).status,
    ).toBe(204);
    expect((await call(sb, 'POST', `/teams/${completed}/completeMigration`)).status).toBe(204);
    const added = await call(sb, 'POST', `/teams/${completed}/members/add`, {
      values: [member(ADA, ['owner']), member(GRACE)],
    });
    expect(added.status).toBe(200);
  });
  afterAll(async () => {
    await sb.stop();
  });
  const create = (teamId: string, body: Record<string, unknown>): Promise<Answer> =>
    call(sb, 'POST', `/teams/${teamId}/channels`, body);
  const channelPath = (teamId: string, channelId: string): string =>
    `/teams/${teamId}/channels/${encodeURIComponent(channelId)}`;

  it('refuses a private channel in migration mode (400): only standard channels can be created so', async () => {
    expectError(
      await create(migrating, {
        '@microsoft.graph.channelCreationMode': 'migration',
        displayName: 'secret',
        membershipType: 'private',
        createdDateTime: daysAgo(300),
        members: [member(ADA, ['owner'])],
      }),
      400,
      /Only standard channels can be created in migration mode/,
    );
  });

  it('refuses a private channel without an owner in members (400)', async () => {
    expectError(
      await create(completed, { displayName: 'no-owner', membershipType: 'private' }),
      400,
      /needs an owner/,
    );
    expectError(
      await create(completed, {
        displayName: 'no-owner',
        membershipType: 'private',
        members: [member(GRACE)],
      }),
      400,
      /needs an owner/,
    );
  });

  it('refuses members who are not members of the team (400), at creation and when added later', async () => {
    expectError(
      await create(completed, {
        displayName: 'outsider',
        membershipType: 'private',
        members: [member(ALAN, ['owner'])],
      }),
      400,
      /is not a member of team 'Completed'/,
    );
    const created = await create(completed, {
      displayName: 'insiders',
      membershipType: 'private',
      members: [member(ADA, ['owner'])],
    });
    expect(created.status).toBe(201);
    const path = `${channelPath(completed, created.body.id as string)}/members`;
    expectError(await call(sb, 'POST', path, member(ALAN)), 400, /is not a member of team/);
    expect((await call(sb, 'POST', path, member(GRACE))).status).toBe(201);
    const listed = (await call(sb, 'GET', path)).body.value as { userId: string; roles: string[] }[];
    expect(listed.map((m) => [m.userId, m.roles])).toEqual([
      [ADA!.id, ['owner']],
      [GRACE!.id, []],
    ]);
  });

  it('shows membershipType and migrationMode, and takes imports only after startMigration', async () => {
    const created = await create(completed, {
      displayName: 'imported-later',
      description: 'from Slack',
      membershipType: 'private',
      members: [member(ADA, ['owner'])],
    });
    expect(created.status).toBe(201);
    const path = channelPath(completed, created.body.id as string);
    expect((await call(sb, 'GET', path)).body).toMatchObject({
      membershipType: 'private',
      migrationMode: null,
    });
    const post = (): Promise<Answer> =>
      call(sb, 'POST', messagesPath(completed, created.body.id as string), importMessage(daysAgo(30), 'hi'));
    expectError(await post(), 403, /not in migration mode/);
    expect(
      (await call(sb, 'POST', `${path}/startMigration`, { conversationCreationDateTime: daysAgo(60) }))
        .status,
    ).toBe(204);
    expect((await call(sb, 'GET', path)).body).toMatchObject({
      membershipType: 'private',
      migrationMode: 'inProgress',
    });
    expect((await post()).status).toBe(201);
    expect((await call(sb, 'POST', `${path}/completeMigration`)).status).toBe(204);
    expect((await call(sb, 'GET', path)).body.migrationMode).toBe('completed');
  });

  it('has no members route for a standard channel (400), and draws private channels with a lock', async () => {
    const standard = await create(completed, { displayName: 'open' });
    expect(standard.status).toBe(201);
    expectError(
      await call(sb, 'GET', `${channelPath(completed, standard.body.id as string)}/members`),
      400,
      /is a standard channel/,
    );
    const preview = await fetch(`${sb.url}/_sandbox/teams/${completed}/preview`);
    const html = await preview.text();
    expect(html).toMatch(/aria-label="private channel"[^<]*🔒<\/span> insiders/);
    expect(html).not.toMatch(/🔒<\/span> open/);
  });
});
