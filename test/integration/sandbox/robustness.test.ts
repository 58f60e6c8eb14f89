import { request } from 'node:http';
import { startSandbox, type SandboxHandle } from '../../../sandbox';
import {
  TOKEN,
  USERS,
  call,
  createMigrationChannel,
  createMigrationTeam,
  daysAgo,
  importMessage,
  messagesPath,
} from './client';

function rawPost(
  sb: SandboxHandle,
  path: string,
  chunks: Buffer[],
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${sb.url}${path}`,
      { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, ...headers } },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const write = (i: number): void => {
      if (i >= chunks.length) {
        req.end();
        return;
      }
      if (req.destroyed) return;
      req.write(chunks[i], () => write(i + 1));
    };
    write(0);
  });
}

describe('sandbox: bad requests never crash it or change its state', () => {
  let sb: SandboxHandle;
  let team: string;
  let channel: string;
  let before: string;
  beforeAll(async () => {
    sb = await startSandbox({ users: USERS, maxBodyBytes: 256 * 1024, ratePerChannel: 0, rateGlobal: 0 });
    team = await createMigrationTeam(sb);
    channel = await createMigrationChannel(sb, team, 'target');
    await call(sb, 'POST', messagesPath(team, channel), importMessage(daysAgo(100), 'the only message'));
    before = JSON.stringify(sb.dump());
  });
  afterEach(() => {
    expect(JSON.stringify(sb.dump())).toBe(before);
  });
  afterAll(async () => {
    await sb.stop();
  });

  it('answers malformed JSON with 400 BadRequest', async () => {
    for (const raw of ['{"displayName":', 'not json', '{"a":1}}']) {
      const res = await call(sb, 'POST', '/teams', undefined, {
        raw,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({
        code: 'BadRequest',
        message: expect.stringMatching(/Unable to read JSON request payload/),
      });
    }
  });

  it.each([
    [
      'a team with a numeric name',
      '/teams',
      {
        'template@odata.bind': "https://graph.microsoft.com/v1.0/teamsTemplates('standard')",
        displayName: 42,
      },
      /'displayName'/,
    ],
    ['a team body that is an array', '/teams', [1, 2], /expected object/],
    ['a team body that is null', '/teams', null, /expected object/],
    ['a message whose content is a number', 'MESSAGES', { body: { content: 123 } }, /'body\.content'/],
    [
      'a message whose hostedContents is a string',
      'MESSAGES',
      { body: { content: 'x' }, hostedContents: 'abc' },
      /'hostedContents'/,
    ],
    [
      'a message with a createdDateTime that is no date',
      'MESSAGES',
      { body: { content: 'x' }, createdDateTime: 'yesterday' },
      /not an ISO 8601/,
    ],
    [
      'a message on February 30th',
      'MESSAGES',
      { body: { content: 'x' }, createdDateTime: '2020-02-30T10:00:00Z' },
      /not a valid calendar/,
    ],
    [
      'a message with a contentType that is not html or text',
      'MESSAGES',
      { body: { content: 'x', contentType: 'markdown' } },
      /'body\.contentType'/,
    ],
    ['members/add without values', 'MEMBERS', { value: [] }, /'values'/],
    ['a $batch with a non-array requests', '/$batch', { requests: {} }, /'requests'/],
  ])('answers %s with 400 naming the field', async (_what, path, body, why) => {
    const target =
      path === 'MESSAGES'
        ? messagesPath(team, channel)
        : path === 'MEMBERS'
          ? `/teams/${team}/members/add`
          : path;
    const res = await call(sb, 'POST', target, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BadRequest');
    expect(res.body.error.message).toMatch(why);
  });

  it('answers bad base64 in an inline image with 400', async () => {
    const res = await call(sb, 'POST', messagesPath(team, channel), {
      ...importMessage(daysAgo(90), '<img src="../hostedContents/1/$value">'),
      hostedContents: [
        { '@microsoft.graph.temporaryId': '1', contentBytes: 'not*base64!', contentType: 'image/png' },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/contentBytes is not valid base64/);
  });

  it('answers unknown routes, versions and methods with Graph-shaped 4xx', async () => {
    const unknown = await call(sb, 'GET', `/teams/${team}/wombats`);
    expect([unknown.status, unknown.body.error.code]).toEqual([400, 'BadRequest']);
    expect(unknown.body.error.message).toBe("Resource not found for the segment 'wombats'.");
    const version = await call(sb, 'GET', `${sb.url}/v2.0/teams`);
    expect([version.status, version.body.error.code]).toEqual([400, 'BadRequest']);
    const method = await call(sb, 'PATCH', `/teams/${team}/completeMigration`, {});
    expect([method.status, method.body.error.code]).toEqual([405, 'MethodNotAllowed']);
    const missing = await call(sb, 'GET', '/teams/00000000-0000-0000-0000-000000000000');
    expect([missing.status, missing.body.error.code]).toEqual([404, 'NotFound']);
    const encoding = await call(sb, 'GET', '/users/%E0%A4%A');
    expect(encoding.status).toBe(400);
    const top = await call(sb, 'GET', `${messagesPath(team, channel)}?$top=500`);
    expect([top.status, top.body.error.message]).toEqual([400, expect.stringMatching(/Invalid \$top/)]);
    const filter = await call(sb, 'GET', `/users?$filter=${encodeURIComponent("mail eq 'x' or")}`);
    expect([filter.status, filter.body.error.code]).toEqual([400, 'BadRequest']);
    const property = await call(sb, 'GET', `/users?$filter=${encodeURIComponent("city eq 'Paris'")}`);
    expect(property.body.error.message).toMatch(/unsupported property 'city'/);
  });

  it('answers a body over the cap with 413 before reading it all, announced or streamed', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 0x20);
    const announced = await call(sb, 'POST', messagesPath(team, channel), undefined, {
      raw: big,
      headers: { 'content-type': 'application/json' },
    }).catch((err: Error) => ({ status: -1, body: { error: { code: err.message } } }));
    expect([announced.status, announced.body.error.code]).toEqual([413, 'RequestEntityTooLarge']);
    const streamed = await rawPost(
      sb,
      `/v1.0${messagesPath(team, channel)}`,
      Array.from({ length: 8 }, () => Buffer.alloc(64 * 1024, 0x20)),
      { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    );
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body).error.code).toBe('RequestEntityTooLarge');
    const log = sb.requestLog().slice(-2);
    expect(log.map((e) => e.status)).toEqual([413, 413]);
  });

  it('still answers afterwards', async () => {
    const res = await call(sb, 'GET', `${messagesPath(team, channel)}`);
    expect(res.status).toBe(200);
    expect(res.body.value).toHaveLength(1);
  });

  it('keeps Authorization values out of the request log', async () => {
    await call(sb, 'GET', '/teams', undefined, { token: 'very-secret-token-value' });
    const log = await fetch(`${sb.url}/_sandbox/requests`).then((r) => r.text());
    expect(log).not.toContain('very-secret-token-value');
    expect(log).not.toContain(TOKEN);
    expect(JSON.parse(log).at(-1)).toEqual({
      seq: expect.any(Number),
      t: expect.any(Number),
      time: expect.any(String),
      method: 'GET',
      path: '/v1.0/teams',
      status: 200,
      ms: expect.any(Number),
      kind: 'graph',
    });
  });
});
