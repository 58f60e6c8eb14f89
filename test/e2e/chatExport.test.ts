import { TableServiceClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { deriveKey, issueState } from '../../core/chatexport/crypto';
import { startHost, type LocalHost } from '../../devhost/host';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { sandboxUserFor } from '../../sandbox/state';
import { CHROMIUM_ARGS, ensureChromium } from '../support/chromium';
import { setEnv } from '../support/process';

const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts');
const alice = sandboxUserFor('alice@contoso.test', 'Alice Archer');
const bob = sandboxUserFor('bob@contoso.test', 'Bob Baker');
const carol = sandboxUserFor('carol@contoso.test', 'Carol Chen');
const admin = sandboxUserFor('migration-admin@contoso.test', 'Migration Admin');
const STAFF = Array.from({ length: 150 }, (_, i) =>
  sandboxUserFor(`staff${String(i).padStart(3, '0')}@contoso.test`),
);
const CLIENT = { clientId: 'chat-export-app', clientSecret: `secret-${randomBytes(8).toString('hex')}` };
const KEY = randomBytes(32).toString('base64');
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

type Json = Record<string, unknown>;
interface ApiUser {
  id: string;
  upn: string;
  status: string;
  reason?: string;
  running?: boolean;
  lastPass?: { mode: string; addedMessages: number; uploaded: number; unchanged: number; chats: number };
}

const SEED = [
  {
    members: [alice.mail, bob.mail],
    messages: [
      { from: alice.mail, text: 'alice-bob 1: lunch at noon?' },
      {
        from: bob.mail,
        html: '<p>alice-bob 2: <b>sure</b></p>',
        images: [{ contentType: 'image/png', base64: PNG }],
      },
      { from: alice.mail, text: 'alice-bob 3: see you', edited: true },
    ],
  },
  {
    topic: 'Project X',
    members: [alice.mail, bob.mail, carol.mail],
    messages: [
      { from: carol.mail, text: 'projx-a 1: kickoff' },
      { from: alice.mail, html: '<p>projx-a 2<script>alert(1)</script><img src=x onerror="alert(2)"></p>' },
      { from: bob.mail, text: 'projx-a 3: done' },
    ],
  },
  {
    topic: 'Project X',
    members: [alice.mail, carol.mail],
    messages: [
      { from: alice.mail, text: 'projx-b 1: other project, same name' },
      { from: carol.mail, text: 'projx-b 2: yes' },
    ],
  },
  { members: [bob.mail, carol.mail], messages: [{ from: bob.mail, text: 'bob-carol 1: hi' }] },
];

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe('chat export end to end on the local host with the sandbox', () => {
  let sandbox: SandboxHandle;
  let host: LocalHost;
  let stateDir: string;
  let restoreEnv: () => void;
  let browser: Browser | undefined;
  let browserSkip: string | undefined;
  let aliceCallbackUrl: string | undefined;
  let aliceLink: string | undefined;

  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${host.url}/api/chat-export/${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      redirect: 'manual',
    });
    const text = await res.text();
    let json: Json = {};
    try {
      json = JSON.parse(text) as Json;
    } catch {
      json = {};
    }
    return { status: res.status, json, text, headers: res.headers };
  };
  /** Starts a discovery and waits for it to end; answers the start's refusal, or the finished discovery. */
  const discover = async (body: unknown) => {
    const started = await api('POST', 'discover', body);
    if (started.status !== 202) return started;
    for (;;) {
      const view = await api('GET', 'discover');
      if (view.json.runtimeStatus !== 'Running' && view.json.runtimeStatus !== 'Pending') return view;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  const graph = async (route: string) => {
    const res = await fetch(`${sandbox.url}/v1.0${route}`, { headers: { authorization: 'Bearer local' } });
    return res;
  };
  const files = async (userId: string): Promise<Map<string, string>> => {
    const list = (await (await graph(`/users/${userId}/drive/root:/TeamsHistory:/children`)).json()) as {
      value?: { name: string }[];
    };
    const out = new Map<string, string>();
    for (const item of list.value ?? []) {
      const res = await graph(
        `/users/${userId}/drive/root:/TeamsHistory/${encodeURIComponent(item.name)}:/content`,
      );
      out.set(item.name, await res.text());
    }
    return out;
  };
  const waitFor = async (userId: string, done: (u: ApiUser) => boolean): Promise<ApiUser> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const user = (await api('GET', `users/${encodeURIComponent(userId)}`)).json as unknown as ApiUser;
      if (!user.running && done(user)) return user;
      if (Date.now() > deadline) throw new Error(`user ${userId} stayed ${JSON.stringify(user)}`);
      await sleep(150);
    }
  };
  const linkFor = async (mail: string): Promise<string> => {
    const outbox = (await (await fetch(`${sandbox.url}/_sandbox/outbox?to=${mail}`)).json()) as {
      value: { body: string; fromAddress: string }[];
    };
    const last = outbox.value[outbox.value.length - 1]!;
    expect(last.fromAddress).toBe(admin.mail);
    const href = /<a href="([^"]+)"/.exec(last.body)?.[1];
    if (!href) throw new Error(`no <a href> in the mail to ${mail}: ${last.body}`);
    return href.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)));
  };
  const consentByHttp = async (
    link: string,
    signInAs?: string,
  ): Promise<{ callbackUrl: string; page: string; status: number }> => {
    const landing = await fetch(link, { redirect: 'manual' });
    expect(landing.status).toBe(302);
    const authorizeUrl = landing.headers.get('location')!;
    const html = await (await fetch(authorizeUrl)).text();
    const fields = new URLSearchParams();
    for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
      fields.set(
        m[1]!,
        m[2]!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))),
      );
    fields.set('decision', 'accept');
    if (signInAs) fields.set('user', signInAs);
    const accepted = await fetch(authorizeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: fields.toString(),
      redirect: 'manual',
    });
    const callbackUrl = accepted.headers.get('location')!;
    const callback = await fetch(callbackUrl);
    return { callbackUrl, page: await callback.text(), status: callback.status };
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    sandbox = await startSandbox({
      users: [alice, bob, carol, admin, ...STAFF],
      chats: SEED,
      identity: CLIENT,
    });
    restoreEnv = setEnv({
      GRAPH_URL: sandbox.url,
      TEAMS_IMPORT_TOKEN: 'local',
      AZURE_AUTHORITY_HOST: sandbox.url,
      AZURE_TENANT_ID: 'contoso',
      CHAT_EXPORT_CLIENT_ID: CLIENT.clientId,
      CHAT_EXPORT_CLIENT_SECRET: CLIENT.clientSecret,
      CHAT_EXPORT_ENCRYPTION_KEY: KEY,
      CHAT_EXPORT_SENDER: admin.userPrincipalName,
      CHAT_EXPORT_DELTA_SCHEDULE: '0 0 3 1 1 *',
      // Staged conversations are kept between passes here, so a delta pass lists only what changed.
      CHAT_EXPORT_STAGING_RETENTION_HOURS: '24',
    });
    stateDir = mkdtempSync(path.join(tmpdir(), 'chat-export-e2e-'));
    host = await startHost({ port: 0, stateDir, timerTriggers: false });
    const found = await ensureChromium();
    if ('skip' in found) {
      browserSkip = found.skip;
      console.warn(`chat export e2e: consenting over plain HTTP instead of Chromium: ${found.skip}`);
    } else {
      browser = await chromium.launch({ executablePath: found.path, args: CHROMIUM_ARGS });
    }
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    await sandbox?.stop();
    restoreEnv?.();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('discovers the users by paging, with status discovered and the same UPN as target', async () => {
    const discovered = await discover({});
    expect(discovered.status).toBe(200);
    expect(discovered.json).toMatchObject({ runtimeStatus: 'Completed', users: 154, added: 154, teams: [] });
    const pages = sandbox.requestLog().filter((r) => r.path.startsWith('/v1.0/users?'));
    expect(pages).toHaveLength(2);
    const users = (await api('GET', 'users')).json.users as ApiUser[];
    expect(users).toHaveLength(154);
    expect(new Set(users.map((u) => u.status))).toEqual(new Set(['discovered']));
    expect(users.find((u) => u.id === alice.id)).toMatchObject({
      upn: alice.userPrincipalName,
      targetUpn: alice.userPrincipalName,
    });
    const remap = await discover({
      userMap: `source,target\n${STAFF[0]!.userPrincipalName},${carol.userPrincipalName}\n`,
    });
    expect(remap.json).toMatchObject({ users: 154, added: 0 });
    const mapped = (await api('GET', `users/${STAFF[0]!.id}`)).json;
    expect(mapped).toMatchObject({ status: 'discovered', targetUpn: carol.userPrincipalName });
    const badMap = await discover({ userMap: 'a,b,c' });
    expect(badMap.status).toBe(400);
    expect(badMap.json.error).toContain("userMap line 1 must be 'source,target'");
    const noUser = await api('POST', 'users', {});
    expect(noUser.status).toBe(400);
    expect((noUser.json.errors as string[])[0]).toContain('user:');
    const unknown = await api('POST', 'users', { user: 'nobody@contoso.test' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toContain("User 'nobody@contoso.test' does not exist in the source tenant");
    const none = await api('POST', 'send-links', { users: [] });
    expect((none.json.errors as string[]).join()).toContain('at least one user');
    const bad = await api('POST', 'send-links', { everyone: true });
    expect(bad.status).toBe(400);
    expect((bad.json.errors as string[])[0]).toContain('{"all": true} or {"users"');
  });

  it('mails a link, consents in Chromium on the sandbox page, and exports one file per chat with every message', async () => {
    const sent = await api('POST', 'send-links', { users: [alice.userPrincipalName] });
    expect(sent.json).toMatchObject({ sent: [alice.id] });
    expect(((await api('GET', `users/${alice.id}`)).json as unknown as ApiUser).status).toBe('link-sent');
    const link = await linkFor(alice.mail);
    aliceLink = link;
    expect(link.startsWith(`${host.url}/api/chat-export/consent?state=`)).toBe(true);

    if (browser) {
      const page = await browser.newPage();
      await page.goto(link);
      await page.waitForSelector('#accept');
      expect(await page.textContent('#scopes')).toContain('Read your chat messages');
      expect(await page.textContent('#account')).toContain('Alice Archer');
      await page.screenshot({ path: path.join(ARTIFACTS, 'chat-export-consent.png'), fullPage: true });
      await Promise.all([page.waitForURL(/\/api\/chat-export\/callback\?/), page.click('#accept')]);
      await page.waitForSelector('#confirmation');
      expect(await page.textContent('h1')).toContain('your chat export has started');
      await page.screenshot({ path: path.join(ARTIFACTS, 'chat-export-confirmation.png'), fullPage: true });
      aliceCallbackUrl = page.url();
      await page.close();
    } else {
      const done = await consentByHttp(link);
      expect(done.page).toContain('your chat export has started');
      aliceCallbackUrl = done.callbackUrl;
      console.warn(`chat export e2e: no screenshots (${browserSkip})`);
    }

    const user = await waitFor(alice.id, (u) => u.status === 'exported');
    expect(user.lastPass).toMatchObject({ mode: 'full', chats: 3, uploaded: 3, addedMessages: 8 });
    const exported = await files(alice.id);
    expect(exported.size).toBe(3);
    const names = [...exported.keys()];
    const sameTitle = names.filter((n) => n.startsWith('Project X-')).map((n) => exported.get(n)!);
    expect(sameTitle).toHaveLength(2);
    expect(
      sameTitle.filter((html) => html.includes('projx-a 1') && !html.includes('projx-b 1')),
    ).toHaveLength(1);
    expect(
      sameTitle.filter((html) => html.includes('projx-b 1') && !html.includes('projx-a 1')),
    ).toHaveLength(1);
    const all = [...exported.values()].join('\n');
    for (const chat of SEED.slice(0, 3))
      for (const message of chat.messages) {
        const text = ('text' in message && message.text ? message.text : 'projx-a 2').split(':')[0]!;
        expect(all).toContain(text);
      }
    const withImage = [...exported.values()].find((html) => html.includes('alice-bob 2'))!;
    expect(withImage).toContain('data:image/png;base64,');
    const hostile = [...exported.values()].find((html) => html.includes('projx-a 2'))!;
    expect(hostile).not.toMatch(/<script>alert|onerror=/);
    expect((await files(bob.id)).size).toBe(0);

    if (browser) {
      const file = path.join(stateDir, 'export.html');
      writeFileSync(file, withImage);
      const page = await browser.newPage();
      await page.goto(`file://${file}`);
      await page.screenshot({ path: path.join(ARTIFACTS, 'chat-export-rendered.png'), fullPage: true });
      await page.close();
    }
  });

  it('refuses a replayed, tampered or expired state with a 400 page naming the problem', async () => {
    const replay = await fetch(aliceCallbackUrl!);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('already used');

    const reopened = await fetch(aliceLink!, { redirect: 'manual' });
    expect(reopened.headers.get('location')).toBeNull();
    expect(reopened.status).toBe(400);
    expect(await reopened.text()).toMatch(
      /This link was used already: your consent is recorded and your chat export is (running|done)/,
    );

    await api('POST', 'send-links', { users: [carol.id] });
    const link = new URL(await linkFor(carol.mail));
    const state = link.searchParams.get('state')!;
    const [payload, signature] = state.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Json;
    const forged = `${Buffer.from(JSON.stringify({ ...claims, userId: alice.id })).toString('base64url')}.${signature}`;
    const tampered = await api('GET', `consent?state=${encodeURIComponent(forged)}`);
    expect(tampered.status).toBe(400);
    expect(tampered.text).toContain('altered');

    const stateKey = deriveKey(Buffer.from(KEY, 'base64'), 'state');
    const old = issueState(carol.id, stateKey, { ttlMs: 1000, now: () => Date.now() - 60_000 }).state;
    const expired = await api('GET', `consent?state=${encodeURIComponent(old)}`);
    expect(expired.status).toBe(400);
    expect(expired.text).toContain('expired');
    expect(expired.text).not.toContain(old.split('.')[1]!);

    const impostor = await consentByHttp(link.toString(), alice.id);
    expect(impostor.status).toBe(400);
    expect(impostor.page).toContain(
      `You signed in as ${alice.userPrincipalName}, but this link was sent to ${carol.userPrincipalName}`,
    );
    expect(((await api('GET', `users/${carol.id}`)).json as unknown as ApiUser).status).toBe('link-sent');
  });

  it('answers a declined consent with a page saying nothing will be exported, and keeps the link usable', async () => {
    await api('POST', 'send-links', { users: [carol.id] });
    const link = await linkFor(carol.mail);
    const authorizeUrl = (await fetch(link, { redirect: 'manual' })).headers.get('location')!;
    expect(new URL(authorizeUrl).searchParams.get('code_challenge_method')).toBe('S256');
    expect(new URL(authorizeUrl).searchParams.get('login_hint')).toBe(carol.userPrincipalName);
    const html = await (await fetch(authorizeUrl)).text();
    const fields = new URLSearchParams();
    for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
      fields.set(
        m[1]!,
        m[2]!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))),
      );
    fields.set('decision', 'cancel');
    const declined = await fetch(authorizeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: fields.toString(),
      redirect: 'manual',
    });
    const callback = await fetch(declined.headers.get('location')!);
    expect(callback.status).toBe(400);
    expect(await callback.text()).toContain('nothing will be exported');
    expect(((await api('GET', `users/${carol.id}`)).json as unknown as ApiUser).status).toBe('link-sent');
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(302);
  });

  it('exports exactly the new messages in a delta pass with no browser', async () => {
    const before = await files(alice.id);
    const oneOnOne = [...before.entries()].find(([, html]) => html.includes('alice-bob 1'))!;
    const chats = (await (await fetch(`${sandbox.url}/_sandbox/chats`)).json()) as {
      value: { id: string; memberIds: string[]; chatType: string }[];
    };
    const chatId = chats.value.find((c) => c.chatType === 'oneOnOne' && c.memberIds.includes(alice.id))!.id;
    const added = await fetch(`${sandbox.url}/_sandbox/chats`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        chatId,
        messages: [
          { from: bob.mail, text: 'delta 1: one more thing' },
          { from: alice.mail, text: 'delta 2: noted' },
        ],
      }),
    });
    expect(added.status).toBe(201);
    const requestsBefore = sandbox.requestLog().length;
    const delta = await api('POST', `users/${alice.id}/delta`);
    expect(delta.status).toBe(202);
    const user = await waitFor(alice.id, (u) => u.lastPass?.mode === 'delta');
    expect(user.status).toBe('exported');
    expect(user.lastPass).toMatchObject({ chats: 3, uploaded: 1, unchanged: 2, addedMessages: 2 });
    const after = await files(alice.id);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const updated = after.get(oneOnOne[0])!;
    expect(updated).toContain('delta 1: one more thing');
    expect(updated).toContain('delta 2: noted');
    expect(updated).toContain('alice-bob 1');
    const listings = sandbox
      .requestLog()
      .slice(requestsBefore)
      .filter((r) => /\/chats\/[^/]+\/messages\?/.test(r.path));
    expect(listings.length).toBe(3);
    for (const r of listings)
      expect(decodeURIComponent(r.path)).toContain('$filter=lastModifiedDateTime gt ');
  });

  it('runs delta passes from the chatExportDelta timer for exported users', async () => {
    const before = ((await api('GET', `users/${alice.id}`)).json as unknown as ApiUser)
      .lastPass as unknown as Json;
    const chats = (await (await fetch(`${sandbox.url}/_sandbox/chats`)).json()) as {
      value: { id: string; topic: string | null; memberIds: string[] }[];
    };
    const chatId = chats.value.find((c) => c.topic === 'Project X' && c.memberIds.length === 3)!.id;
    await fetch(`${sandbox.url}/_sandbox/chats`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chatId, messages: [{ from: carol.mail, text: 'timer 1: nightly' }] }),
    });
    await host.invoke('chatExportDelta');
    const user = await waitFor(
      alice.id,
      (u) => (u.lastPass as unknown as Json | undefined)?.finishedAt !== before.finishedAt,
    );
    expect(user).toMatchObject({
      status: 'exported',
      lastPass: { mode: 'delta', addedMessages: 1, uploaded: 1 },
    });
    expect([...(await files(alice.id)).values()].some((html) => html.includes('timer 1: nightly'))).toBe(
      true,
    );
  });

  it('marks a user whose refresh token was revoked consent-needed with the reason, and leaves others alone', async () => {
    await api('POST', 'send-links', { users: [bob.id] });
    const done = await consentByHttp(await linkFor(bob.mail));
    expect(done.status).toBe(200);
    await waitFor(bob.id, (u) => u.status === 'exported');
    const revoke = await fetch(`${sandbox.url}/_sandbox/identity/revoke/${bob.id}`, { method: 'POST' });
    expect(revoke.status).toBe(200);
    expect((await api('POST', `users/${bob.id}/delta`)).status).toBe(202);
    const user = await waitFor(bob.id, (u) => u.status === 'consent-needed');
    expect(user.reason).toContain('revoked');
    expect(((await api('GET', `users/${alice.id}`)).json as unknown as ApiUser).status).toBe('exported');
    const status = await api('GET', 'users');
    expect(status.status).toBe(200);
  });

  it('never stores a refresh token or a chat message in plain text in Table or Blob storage', async () => {
    const tokens: string[] = [];
    for (const user of [alice, bob]) {
      const res = await fetch(`${sandbox.url}/_sandbox/identity/refresh-tokens/${user.id}`);
      tokens.push(...((await res.json()) as { value: string[] }).value);
    }
    expect(tokens.length).toBeGreaterThan(0);
    const found: string[] = [];
    const tables = TableServiceClient.fromConnectionString(host.storageConnectionString, {
      allowInsecureConnection: true,
    });
    let rows = 0;
    for await (const table of tables.listTables()) {
      const { TableClient } = await import('@azure/data-tables');
      const client = TableClient.fromConnectionString(host.storageConnectionString, table.name!, {
        allowInsecureConnection: true,
      });
      for await (const entity of client.listEntities()) {
        rows += 1;
        const text = JSON.stringify(entity);
        if (tokens.some((t) => text.includes(t))) found.push(`table ${table.name}`);
      }
    }
    const blobs = BlobServiceClient.fromConnectionString(host.storageConnectionString);
    let blobCount = 0;
    for await (const container of blobs.listContainers()) {
      const client = blobs.getContainerClient(container.name);
      for await (const blob of client.listBlobsFlat()) {
        blobCount += 1;
        const text = (await client.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
        if (tokens.some((t) => text.includes(t))) found.push(`blob ${container.name}/${blob.name}`);
        if (['alice-bob 1', 'projx-a 1', 'delta 1'].some((t) => text.includes(t)))
          found.push(`message text in blob ${container.name}/${blob.name}`);
      }
    }
    expect(rows).toBeGreaterThan(0);
    expect(blobCount).toBeGreaterThan(0);
    expect(found).toEqual([]);
  });
});
