import { startSandbox, type SandboxHandle } from '../../../sandbox';
import { USERS, call, daysAgo, makePng, type Answer } from './client';

const OTHER_APP = { token: 'another-app-token' };
const OUTSIDER = '00000000-0000-4000-8000-00000000dead';

function expectError(res: Answer, status: number, message: RegExp): void {
  expect({ status: res.status, message: res.body?.error?.message as string }).toEqual({
    status,
    message: expect.stringMatching(message),
  });
}

const member = (userId: string) => ({
  '@odata.type': '#microsoft.graph.aadUserConversationMember',
  roles: ['owner'],
  'user@odata.bind': `https://graph.microsoft.com/v1.0/users('${userId}')`,
});

const chatMessage = (createdDateTime: string, fromId: string, content: string) => ({
  createdDateTime,
  from: { user: { id: fromId, displayName: 'someone', userIdentityType: 'aadUser' } },
  body: { contentType: 'html', content },
});

describe('sandbox: chats are created and imported with the service rules', () => {
  let sb: SandboxHandle;
  const [ada, grace, alan] = USERS.map((u) => u.id);
  beforeAll(async () => {
    sb = await startSandbox({ users: USERS, ratePerChannel: 0, rateGlobal: 0, rateChatGlobal: 0 });
  });
  afterAll(async () => {
    await sb.stop();
  });

  const createChat = (chatType: string, ids: string[], token?: string): Promise<Answer> =>
    call(sb, 'POST', '/chats', { chatType, members: ids.map(member) }, token ? { token } : {});
  const chatPath = (id: string): string => `/chats/${encodeURIComponent(id)}`;
  const start = (id: string, created: string, token?: string): Promise<Answer> =>
    call(
      sb,
      'POST',
      `${chatPath(id)}/startMigration`,
      { conversationCreationDateTime: created },
      token ? { token } : {},
    );
  const post = (id: string, body: unknown, token?: string): Promise<Answer> =>
    call(sb, 'POST', `${chatPath(id)}/messages`, body, token ? { token } : {});

  it('a second 1:1 creation between the same two people answers the same chat', async () => {
    const first = await createChat('oneOnOne', [ada, grace]);
    const again = await createChat('oneOnOne', [grace, ada]);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(first.body.chatType).toBe('oneOnOne');
  });

  it('each group creation is a new chat', async () => {
    const a = await createChat('group', [ada, grace, alan]);
    const b = await createChat('group', [ada, grace, alan]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.id).not.toBe(b.body.id);
  });

  it('refuses a chat with fewer than two members, a 1:1 with three, and a member not in the tenant', async () => {
    expectError(await createChat('group', [ada]), 400, /at least two members/);
    expectError(await createChat('oneOnOne', [ada, grace, alan]), 400, /exactly two members/);
    expectError(await createChat('group', [ada, OUTSIDER]), 404, /not a user of this tenant/);
  });

  it('imports only while the chat is in migration, only by the app that started it, and not after completion', async () => {
    const chat = (await createChat('group', [ada, grace])).body.id as string;
    expectError(await post(chat, chatMessage(daysAgo(50), ada, 'early')), 403, /not in migration mode/);
    expect((await start(chat, daysAgo(100))).status).toBe(204);
    expect((await call(sb, 'GET', chatPath(chat))).body.migrationMode).toBe('inProgress');
    expectError(
      await post(chat, chatMessage(daysAgo(50), ada, 'other app'), OTHER_APP.token),
      403,
      /Initiator/,
    );
    expect((await post(chat, chatMessage(daysAgo(50), ada, 'hello'))).status).toBe(201);
    expect((await call(sb, 'POST', `${chatPath(chat)}/completeMigration`)).status).toBe(204);
    expectError(await post(chat, chatMessage(daysAgo(40), ada, 'late')), 403, /no longer in migration mode/);
  });

  it('takes a message only from a member of the chat, at or after its creation', async () => {
    const chat = (await createChat('group', [ada, grace])).body.id as string;
    expect((await start(chat, daysAgo(100))).status).toBe(204);
    expectError(
      await post(chat, chatMessage(daysAgo(50), alan, 'not a member')),
      400,
      /not a member of chat/,
    );
    expectError(await post(chat, chatMessage(daysAgo(150), ada, 'too early')), 400, /earlier than chat/);
  });

  it('answers 409 for a second message at the same millisecond of a chat, and finds the first by its id', async () => {
    const chat = (await createChat('group', [ada, alan])).body.id as string;
    expect((await start(chat, daysAgo(100))).status).toBe(204);
    const at = daysAgo(30);
    const first = await post(chat, chatMessage(at, ada, 'first'));
    expect(first.status).toBe(201);
    expect(first.body.id).toBe(String(Date.parse(at)));
    expectError(
      await post(chat, chatMessage(at, alan, 'same ms')),
      409,
      /unique to the millisecond per chat/,
    );
    const found = await call(sb, 'GET', `${chatPath(chat)}/messages/${Date.parse(at)}`);
    expect(found.status).toBe(200);
    expect(found.body.body.content).toBe('first');
    expect(found.body.from.user.id).toBe(ada);
  });

  it('counts chat imports against their own budget: 20 a second per app', async () => {
    // A time scale of 0.01 stretches the one-second window to 100 s, so the count does not hang on timing.
    const limited = await startSandbox({ users: USERS, ratePerChannel: 0, rateGlobal: 0, timeScale: 0.01 });
    try {
      const created = await call(limited, 'POST', '/chats', {
        chatType: 'oneOnOne',
        members: [ada, grace].map(member),
      });
      const chat = created.body.id as string;
      await call(limited, 'POST', `${chatPath(chat)}/startMigration`, {
        conversationCreationDateTime: daysAgo(100),
      });
      const base = Date.now() - 10 * 86_400_000;
      const answers = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          call(
            limited,
            'POST',
            `${chatPath(chat)}/messages`,
            chatMessage(new Date(base + i).toISOString(), ada, `m${i}`),
          ),
        ),
      );
      const throttled = answers.filter((a) => a.status === 429);
      expect(answers.filter((a) => a.status === 201).length).toBe(20);
      expect(throttled.length).toBe(5);
      expect(throttled[0]?.body.error.message).toMatch(/20 chat message POSTs per second per app/);
    } finally {
      await limited.stop();
    }
  });

  it('the preview draws a chat: members, the banner while in migration, authors, times and inline images', async () => {
    const chat = (await createChat('group', [ada, grace])).body.id as string;
    expect((await start(chat, daysAgo(100))).status).toBe(204);
    const at = daysAgo(20);
    const png = makePng(2, 2);
    const posted = await post(chat, {
      ...chatMessage(at, grace, '<p>the plan</p><img src="../hostedContents/1/$value">'),
      hostedContents: [
        {
          '@microsoft.graph.temporaryId': '1',
          contentBytes: png.toString('base64'),
          contentType: 'image/png',
        },
      ],
    });
    expect(posted.status).toBe(201);
    const preview = async (): Promise<string> =>
      (await fetch(`${sb.url}/_sandbox/chats/${encodeURIComponent(chat)}/preview`)).text();
    const open = await preview();
    expect(open).toContain('This conversation is being imported.');
    expect(open).toContain(`${USERS[0].displayName}, ${USERS[1].displayName}`);
    expect(open).toContain(`<span class="author">${USERS[1].displayName}</span>`);
    expect(open).toContain(at.replace('T', ' ').replace(/Z$/, ' UTC'));
    const src = /<img src="([^"]+)"/.exec(open)?.[1] ?? '';
    const image = await fetch(`${sb.url}${src}`);
    expect({ status: image.status, bytes: Buffer.from(await image.arrayBuffer()).equals(png) }).toEqual({
      status: 200,
      bytes: true,
    });
    expect((await call(sb, 'POST', `${chatPath(chat)}/completeMigration`)).status).toBe(204);
    expect(await preview()).not.toContain('This conversation is being imported.');
    expect(await (await fetch(`${sb.url}/_sandbox`)).text()).toContain(
      `/_sandbox/chats/${encodeURIComponent(chat)}/preview`,
    );
  });

  it("a 'chatrefuse' fault refuses a 1:1 chat's startMigration with 412 PreconditionFailed, and not a group chat's", async () => {
    const faulty = await startSandbox({ users: USERS, faults: 'chatrefuse:1' });
    try {
      const one = (
        await call(faulty, 'POST', '/chats', { chatType: 'oneOnOne', members: [ada, grace].map(member) })
      ).body.id as string;
      const group = (
        await call(faulty, 'POST', '/chats', { chatType: 'group', members: [ada, grace].map(member) })
      ).body.id as string;
      const refused = await call(faulty, 'POST', `${chatPath(one)}/startMigration`, {
        conversationCreationDateTime: daysAgo(100),
      });
      expect(refused.status).toBe(412);
      expect(refused.body.error.code).toBe('PreconditionFailed');
      const started = await call(faulty, 'POST', `${chatPath(group)}/startMigration`, {
        conversationCreationDateTime: daysAgo(100),
      });
      expect(started.status).toBe(204);
    } finally {
      await faulty.stop();
    }
  });
});
