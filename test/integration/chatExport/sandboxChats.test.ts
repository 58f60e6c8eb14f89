import { createHash, randomBytes } from 'node:crypto';
import { startSandbox, type SandboxHandle } from '../../../sandbox';
import { generateSeedChats } from '../../../sandbox/chatState';
import { sandboxUserFor } from '../../../sandbox/state';

const alice = sandboxUserFor('alice@contoso.test', 'Alice Archer');
const bob = sandboxUserFor('bob@contoso.test', 'Bob Baker');
const CLIENT = { clientId: 'chat-export-app', clientSecret: 'sandbox-client-secret' };
const REDIRECT = 'http://127.0.0.1:9/api/chat-export/callback';

type Json = Record<string, unknown>;

async function graph(sb: SandboxHandle, path: string, token = 'local', init: RequestInit = {}) {
  const res = await fetch(path.startsWith('http') ? path : `${sb.url}/v1.0${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
  });
  const text = await res.text();
  let body: Json = {};
  try {
    body = JSON.parse(text) as Json;
  } catch {
    body = {};
  }
  return { status: res.status, body, text, headers: res.headers };
}

async function tokenRequest(sb: SandboxHandle, form: Record<string, string>) {
  const res = await fetch(`${sb.url}/contoso/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function authorize(sb: SandboxHandle, user: string, verifier: string): Promise<string> {
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const query = new URLSearchParams({
    client_id: CLIENT.clientId,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'Chat.Read User.Read offline_access',
    state: 'st',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    login_hint: user,
  });
  const consent = await fetch(`${sb.url}/contoso/oauth2/v2.0/authorize?${query.toString()}`);
  const html = await consent.text();
  expect(consent.status).toBe(200);
  expect(html).toContain('Read your chat messages');
  const fields = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    fields.set(
      m[1]!,
      m[2]!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))),
    );
  fields.set('decision', 'accept');
  const accepted = await fetch(`${sb.url}/contoso/oauth2/v2.0/authorize?${query.toString()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: fields.toString(),
    redirect: 'manual',
  });
  expect(accepted.status).toBe(302);
  const location = new URL(accepted.headers.get('location') ?? '');
  expect(location.searchParams.get('state')).toBe('st');
  return location.searchParams.get('code') ?? '';
}

describe('sandbox: chats, mail, OneDrive and the local authorization server', () => {
  let sb: SandboxHandle;
  beforeAll(async () => {
    const messages = Array.from({ length: 120 }, (_, i) => ({
      from: i % 2 ? alice.mail : bob.mail,
      text: `message ${i}`,
    }));
    sb = await startSandbox({
      users: [alice, bob],
      identity: CLIENT,
      chats: [
        { members: [alice.mail, bob.mail], messages },
        {
          topic: 'Images',
          members: [alice.mail, bob.mail],
          messages: [
            {
              from: alice.mail,
              html: '<p>look</p>',
              images: [{ contentType: 'image/png', base64: 'iVBORw0KGgo=' }],
            },
          ],
        },
      ],
    });
  });
  afterAll(() => sb?.stop());

  it('redeems a code only with the right PKCE verifier, once, and issues a token that names the user on /me', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const code = await authorize(sb, alice.userPrincipalName, verifier);
    const base = {
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
    };
    const wrong = await tokenRequest(sb, { ...base, code_verifier: randomBytes(32).toString('base64url') });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_grant');
    const badSecret = await tokenRequest(sb, { ...base, client_secret: 'nope', code_verifier: verifier });
    expect(badSecret.body.error).toBe('invalid_client');
    const ok = await tokenRequest(sb, { ...base, code_verifier: verifier });
    expect(ok.status).toBe(200);
    expect(typeof ok.body.refresh_token).toBe('string');
    const again = await tokenRequest(sb, { ...base, code_verifier: verifier });
    expect(again.body.error).toBe('invalid_grant');
    const me = await graph(sb, '/me', ok.body.access_token as string);
    expect(me.body.id).toBe(alice.id);
    expect((await graph(sb, '/me')).status).toBe(400);
    const forged = await graph(
      sb,
      '/me/chats',
      `${String(ok.body.access_token).slice(0, -4)}AAAA`.replace(
        /\.[^.]+\./,
        `.${Buffer.from(JSON.stringify({ scp: 'Chat.Read', oid: alice.id, jti: 'made-up' })).toString('base64url')}.`,
      ),
    );
    expect(forged.status).toBe(401);

    const refreshed = await tokenRequest(sb, {
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
      grant_type: 'refresh_token',
      refresh_token: ok.body.refresh_token as string,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(ok.body.refresh_token);
    const revoke = await fetch(`${sb.url}/_sandbox/identity/revoke/${alice.id}`, { method: 'POST' });
    expect(((await revoke.json()) as Json).revoked).toBe(2);
    const gone = await tokenRequest(sb, {
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
      grant_type: 'refresh_token',
      refresh_token: refreshed.body.refresh_token as string,
    });
    expect(gone.body.error).toBe('invalid_grant');
    expect(String(gone.body.error_description)).toContain('revoked');
  });

  it('pages chats and messages with Graph rules: $top at most 50, newest modified first, filters only with the matching order', async () => {
    expect((await graph(sb, `/users/${alice.id}/chats?$top=51`)).status).toBe(400);
    const chats = await graph(sb, `/users/${alice.id}/chats?$expand=members&$top=1`);
    expect((chats.body.value as Json[])[0]!.members).toHaveLength(2);
    expect(chats.body['@odata.nextLink']).toBeDefined();
    const chatId = (await graph(sb, `/users/${alice.id}/chats`)).body.value as Json[];
    const big = chatId.find((c) => c.chatType === 'oneOnOne')!.id as string;
    const path = `/chats/${encodeURIComponent(big)}/messages`;
    expect((await graph(sb, `${path}?$top=51`)).status).toBe(400);
    expect((await graph(sb, `${path}?$orderby=createdDateTime asc`)).status).toBe(400);
    let next: string | undefined = `${path}?$top=50`;
    const seen: Json[] = [];
    while (next) {
      const page = await graph(sb, next);
      expect(page.status).toBe(200);
      seen.push(...(page.body.value as Json[]));
      next = page.body['@odata.nextLink'] as string | undefined;
    }
    expect(seen).toHaveLength(120);
    const times = seen.map((m) => Date.parse(m.lastModifiedDateTime as string));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const mark = seen[9]!.lastModifiedDateTime as string;
    const since = await graph(sb, `${path}?$filter=${encodeURIComponent(`lastModifiedDateTime gt ${mark}`)}`);
    expect(since.body.value).toHaveLength(9);
    const ignored = await graph(
      sb,
      `${path}?$orderby=createdDateTime desc&$top=50&$filter=${encodeURIComponent(`lastModifiedDateTime gt ${mark}`)}`,
    );
    expect(ignored.body.value).toHaveLength(50);
    expect(
      (await graph(sb, `${path}?$filter=${encodeURIComponent(`createdDateTime gt ${mark}`)}`)).status,
    ).toBe(400);

    const add = await fetch(`${sb.url}/_sandbox/chats`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chatId: big, messages: [{ from: bob.mail, text: 'fresh' }] }),
    });
    expect(add.status).toBe(201);
    const fresh = await graph(
      sb,
      `${path}?$filter=${encodeURIComponent(`lastModifiedDateTime gt ${seen[0]!.lastModifiedDateTime as string}`)}`,
    );
    expect((fresh.body.value as Json[]).map((m) => (m.body as Json).content)).toEqual(['fresh']);
  });

  it('serves inline images as hostedContents $value under the sandbox Graph root', async () => {
    const chats = (await graph(sb, `/users/${alice.id}/chats`)).body.value as Json[];
    const images = chats.find((c) => c.topic === 'Images')!.id as string;
    const message = (
      (await graph(sb, `/chats/${encodeURIComponent(images)}/messages`)).body.value as Json[]
    )[0]!;
    const src = /src="([^"]+)"/.exec((message.body as Json).content as string)![1]!;
    expect(src.startsWith(`${sb.url}/v1.0/chats/`)).toBe(true);
    const res = await fetch(src, { headers: { authorization: 'Bearer local' } });
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await res.arrayBuffer()).toString('base64')).toBe('iVBORw0KGgo=');
  });

  it('keeps sendMail in the outbox and stores OneDrive files by path, simple and by upload session', async () => {
    const sent = await graph(sb, `/users/${bob.id}/sendMail`, 'local', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        message: {
          subject: 'hi',
          body: { contentType: 'HTML', content: '<a href="x">x</a>' },
          toRecipients: [{ emailAddress: { address: alice.mail } }],
        },
      }),
    });
    expect(sent.status).toBe(202);
    const outbox = (await (await fetch(`${sb.url}/_sandbox/outbox?to=${alice.mail}`)).json()) as {
      value: Json[];
    };
    expect(outbox.value[0]).toMatchObject({
      fromAddress: bob.mail,
      subject: 'hi',
      body: '<a href="x">x</a>',
    });

    const put = await graph(sb, `/users/${alice.id}/drive/root:/TeamsHistory/a.html:/content`, 'local', {
      method: 'PUT',
      body: 'one',
    });
    expect(put.status).toBe(201);
    const replace = await graph(sb, `/users/${alice.id}/drive/root:/TeamsHistory/a.html:/content`, 'local', {
      method: 'PUT',
      body: 'two',
    });
    expect(replace.status).toBe(200);
    const big = Buffer.alloc(320 * 1024 + 10, 7);
    const session = await graph(
      sb,
      `/users/${alice.id}/drive/root:/TeamsHistory/b.html:/createUploadSession`,
      'local',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ item: { '@microsoft.graph.conflictBehavior': 'replace' } }),
      },
    );
    const uploadUrl = session.body.uploadUrl as string;
    const first = await fetch(uploadUrl, {
      method: 'PUT',
      headers: { 'content-range': `bytes 0-${320 * 1024 - 1}/${big.length}` },
      body: big.subarray(0, 320 * 1024),
    });
    expect(first.status).toBe(202);
    const last = await fetch(uploadUrl, {
      method: 'PUT',
      headers: { 'content-range': `bytes ${320 * 1024}-${big.length - 1}/${big.length}` },
      body: big.subarray(320 * 1024),
    });
    expect(last.status).toBe(201);
    const children = await graph(sb, `/users/${alice.id}/drive/root:/TeamsHistory:/children`);
    expect((children.body.value as Json[]).map((i) => [i.name, i.size])).toEqual([
      ['a.html', 3],
      ['b.html', big.length],
    ]);
    expect((await graph(sb, `/users/${alice.id}/drive/root:/TeamsHistory/a.html:/content`)).text).toBe('two');
  });

  it('keeps the app registration across a reset and empties chats and outbox', async () => {
    await fetch(`${sb.url}/_sandbox/reset`, { method: 'POST' });
    expect((await (await fetch(`${sb.url}/_sandbox/chats`)).json()) as Json).toEqual({ value: [] });
    const unknownClient = await tokenRequest(sb, {
      client_id: 'other-app',
      grant_type: 'refresh_token',
      refresh_token: 'x',
    });
    expect(unknownClient.body.error).toBe('unauthorized_client');
    const config = (await (
      await fetch(`${sb.url}/contoso/v2.0/.well-known/openid-configuration`)
    ).json()) as Json;
    expect(config.authorization_endpoint).toBe(`${sb.url}/contoso/oauth2/v2.0/authorize`);
  });

  it('seeds generated chats: a 1:1 per neighbouring pair and a group per three users', async () => {
    const users = ['a', 'b', 'c', 'd'].map((n) => sandboxUserFor(`${n}@gen.test`));
    const generated = await startSandbox({ users, chats: generateSeedChats(users, 3) });
    try {
      const chats = (await (await fetch(`${generated.url}/_sandbox/chats`)).json()) as { value: Json[] };
      expect(chats.value.map((c) => [c.chatType, c.messages])).toEqual([
        ['oneOnOne', 3],
        ['oneOnOne', 3],
        ['oneOnOne', 3],
        ['group', 3],
      ]);
    } finally {
      await generated.stop();
    }
  });
});
