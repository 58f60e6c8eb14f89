import { sandboxUserFor, startSandbox, type SandboxHandle } from '../../../sandbox';
import {
  USERS,
  call,
  createMigrationChannel,
  createMigrationTeam,
  daysAgo,
  importMessage,
  messagesPath,
} from './client';

describe('sandbox: users, $batch and drive items', () => {
  let sb: SandboxHandle;
  beforeAll(async () => {
    sb = await startSandbox({ users: USERS, ratePerChannel: 0 });
  });
  afterAll(async () => {
    await sb.stop();
  });

  it('derives the same GUID-shaped Entra id from the same e-mail, whatever its case', () => {
    const a = sandboxUserFor('Ada@Contoso.test', 'Ada');
    expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(sandboxUserFor('ada@contoso.test').id).toBe(a.id);
    expect(sandboxUserFor('bob@contoso.test').id).not.toBe(a.id);
    expect(sandboxUserFor('bob@contoso.test')).toMatchObject({
      displayName: 'bob',
      mail: 'bob@contoso.test',
      userPrincipalName: 'bob@contoso.test',
    });
  });

  it('finds users by id, by UPN and by $filter on mail or userPrincipalName', async () => {
    const ada = USERS[0]!;
    expect((await call(sb, 'GET', `/users/${ada.id}`)).body).toMatchObject({ id: ada.id, mail: ada.mail });
    expect((await call(sb, 'GET', `/users/${encodeURIComponent('ADA@contoso.test')}`)).body.id).toBe(ada.id);
    const missing = await call(sb, 'GET', '/users/nobody@contoso.test');
    expect([missing.status, missing.body.error.code]).toEqual([404, 'Request_ResourceNotFound']);
    const filter = encodeURIComponent(
      "mail eq 'grace@contoso.test' or userPrincipalName eq 'alan@contoso.test'",
    );
    const found = await call(sb, 'GET', `/users?$filter=${filter}&$select=id,mail`);
    expect(found.body.value).toEqual([
      { id: USERS[1]!.id, mail: USERS[1]!.mail },
      { id: USERS[2]!.id, mail: USERS[2]!.mail },
    ]);
    const inList = encodeURIComponent("mail in ('ada@contoso.test','alan@contoso.test')");
    expect((await call(sb, 'GET', `/users?$filter=${inList}`)).body.value).toHaveLength(2);
  });

  it('adds users through the inspection API', async () => {
    const carol = sandboxUserFor('carol@contoso.test', 'Carol Shaw');
    const res = await call(sb, 'POST', '/_sandbox/users', [carol], { token: null });
    expect(res.status).toBe(200);
    expect((await call(sb, 'GET', `/users/${carol.id}`)).body.displayName).toBe('Carol Shaw');
    const bad = await call(sb, 'POST', '/_sandbox/users', [{ id: 'x' }], { token: null });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'BadRequest']);
  });

  it('runs each $batch item through the router and answers responses[] with id, status, headers and body', async () => {
    const res = await call(sb, 'POST', '/$batch', {
      requests: [
        { id: '1', method: 'GET', url: `/users/${USERS[0]!.id}` },
        { id: '2', method: 'GET', url: "users?$filter=mail eq 'grace@contoso.test'" },
        { id: '3', method: 'GET', url: '/users/nobody@contoso.test' },
        { id: '4', method: 'GET', url: `/users/${USERS[2]!.id}`, dependsOn: ['3'] },
      ],
    });
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(
      (
        res.body.responses as {
          id: string;
          status: number;
          headers: Record<string, string>;
          body: { id?: string; value?: unknown[] };
        }[]
      ).map((r) => [r.id, r]),
    );
    expect(byId['1']).toMatchObject({ status: 200, body: { id: USERS[0]!.id } });
    expect(byId['1']!.headers['content-type']).toMatch(/application\/json/);
    expect(byId['2']!.body.value).toHaveLength(1);
    expect(byId['3']).toMatchObject({ status: 404, body: { error: { code: 'Request_ResourceNotFound' } } });
    expect(byId['4']!.status).toBe(424);
  });

  it('creates a team through $batch and answers its Location header', async () => {
    const res = await call(sb, 'POST', '/$batch', {
      requests: [
        {
          id: 'team',
          method: 'POST',
          url: '/teams',
          headers: { 'Content-Type': 'application/json' },
          body: {
            '@microsoft.graph.teamCreationMode': 'migration',
            'template@odata.bind': "https://graph.microsoft.com/v1.0/teamsTemplates('standard')",
            displayName: 'Batched team',
            createdDateTime: daysAgo(30),
          },
        },
      ],
    });
    expect(res.body.responses[0]).toMatchObject({
      status: 202,
      headers: { location: expect.stringMatching(/^\/teams\('/) },
    });
  });

  it('serves /beta/ as an alias, lists messages with $expand=replies and paging, and deletes a team', async () => {
    const team = await createMigrationTeam(sb, 'Listing team');
    const channel = await createMigrationChannel(sb, team, 'listing');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (await call(sb, 'POST', messagesPath(team, channel), importMessage(daysAgo(40, i), `m${i}`))).body.id,
      );
    }
    await call(
      sb,
      'POST',
      `${messagesPath(team, channel)}/${ids[0]}/replies`,
      importMessage(daysAgo(39), 'r0'),
    );
    const first = await call(sb, 'GET', `${messagesPath(team, channel)}?$top=2&$expand=replies`);
    expect(first.body.value.map((m: { id: string }) => m.id)).toEqual(ids.slice(0, 2));
    expect(first.body.value[0].replies.map((r: { body: { content: string } }) => r.body.content)).toEqual([
      'r0',
    ]);
    const rest = await call(sb, 'GET', first.body['@odata.nextLink']);
    expect(
      rest.body.value.map((m: { id: string; replies?: unknown[] }) => [m.id, m.replies?.length]),
    ).toEqual([[ids[2], 0]]);
    expect((await call(sb, 'GET', `${sb.url}/beta/teams/${team}`)).body.displayName).toBe('Listing team');
    expect((await call(sb, 'DELETE', `/groups/${team}`)).status).toBe(204);
    expect((await call(sb, 'GET', `/teams/${team}`)).status).toBe(404);
  });

  it('uploads files to a channel folder (simple and by session) and links them from a message', async () => {
    const team = await createMigrationTeam(sb, 'Files team');
    const channel = await createMigrationChannel(sb, team, 'docs');
    const folder = await call(
      sb,
      'GET',
      `/teams/${team}/channels/${encodeURIComponent(channel)}/filesFolder`,
    );
    expect(folder.body).toMatchObject({
      name: 'docs',
      folder: { childCount: 0 },
      parentReference: { driveId: expect.stringMatching(/^b!/) },
    });
    const driveId = folder.body.parentReference.driveId as string;
    const base = `/drives/${driveId}/items/${folder.body.id}`;

    const simple = await call(sb, 'PUT', `${base}:/notes.txt:/content`, undefined, {
      raw: 'meeting notes',
      headers: { 'content-type': 'text/plain' },
    });
    expect(simple.status).toBe(201);
    expect(simple.body).toMatchObject({ name: 'notes.txt', size: 13, file: { mimeType: 'text/plain' } });
    expect(await fetch(simple.body.webUrl).then((r) => r.text())).toBe('meeting notes');
    expect((await call(sb, 'PUT', `${base}:/notes.txt:/content`, undefined, { raw: 'v2' })).status).toBe(200);

    const fileBytes = Buffer.alloc(320 * 1024 * 2 + 1000, 9);
    const session = await call(
      sb,
      'POST',
      `${base}:/${encodeURIComponent('design spec.pdf')}:/createUploadSession`,
      {
        item: { '@microsoft.graph.conflictBehavior': 'rename' },
      },
    );
    expect(session.status).toBe(200);
    const uploadUrl = session.body.uploadUrl as string;
    const put = (start: number, end: number, bytes = fileBytes.subarray(start, end + 1)): Promise<Response> =>
      fetch(uploadUrl, {
        method: 'PUT',
        headers: { 'content-range': `bytes ${start}-${end}/${fileBytes.length}` },
        body: bytes,
      });
    const odd = await put(0, 1000);
    expect(odd.status).toBe(400);
    expect(((await odd.json()) as { error: { message: string } }).error.message).toMatch(
      /multiple of 320 KiB/,
    );
    const first = await put(0, 320 * 1024 - 1);
    expect(first.status).toBe(202);
    expect(((await first.json()) as { nextExpectedRanges: string[] }).nextExpectedRanges).toEqual([
      `${320 * 1024}-${fileBytes.length - 1}`,
    ]);
    const again = await put(0, 320 * 1024 - 1);
    expect(again.status).toBe(416);
    expect((await put(320 * 1024, 2 * 320 * 1024 - 1)).status).toBe(202);
    const last = await put(2 * 320 * 1024, fileBytes.length - 1);
    expect(last.status).toBe(201);
    const item = (await last.json()) as { id: string; name: string; webUrl: string; eTag: string };
    expect(item).toMatchObject({ name: 'design spec.pdf', size: fileBytes.length });
    const guid = /^"\{([0-9A-F-]{36})\},1"$/i.exec(item.eTag)?.[1];
    expect(guid).toBeDefined();
    expect(item.webUrl).toBe(`${folder.body.webUrl}/design%20spec.pdf`);
    const fetched = await call(sb, 'GET', `/drives/${driveId}/items/${item.id}`);
    expect(fetched.body.webUrl).toBe(item.webUrl);
    const downloaded = Buffer.from(await (await fetch(item.webUrl)).arrayBuffer());
    expect(downloaded.equals(fileBytes)).toBe(true);

    const reference = { id: guid!, contentType: 'reference', contentUrl: item.webUrl, name: item.name };
    const message = await call(sb, 'POST', messagesPath(team, channel), {
      ...importMessage(daysAgo(20), `Spec attached <attachment id="${guid}"></attachment>`),
      attachments: [reference],
    });
    expect(message.status).toBe(201);
    const mismatch = await call(sb, 'POST', messagesPath(team, channel), {
      ...importMessage(daysAgo(19), 'no reference in the body'),
      attachments: [reference],
    });
    expect([mismatch.status, mismatch.body.error.message]).toEqual([
      400,
      expect.stringMatching(/not referenced by the body/),
    ]);
    const byItemId = await call(sb, 'POST', messagesPath(team, channel), {
      ...importMessage(daysAgo(18), `<attachment id="${item.id}"></attachment>`),
      attachments: [{ ...reference, id: item.id }],
    });
    expect([byItemId.status, byItemId.body.error.message]).toEqual([
      400,
      expect.stringMatching(/GUID inside the eTag/),
    ]);
    const doc = await call(sb, 'PUT', `${base}:/plan.docx:/content`, undefined, { raw: 'docx bytes' });
    expect(doc.body.webUrl).toMatch(/_layouts\/15\/Doc\.aspx\?sourcedoc=/);
    const docGuid = /\{(.+)\}/.exec(doc.body.eTag as string)![1];
    const byDocUrl = await call(sb, 'POST', messagesPath(team, channel), {
      ...importMessage(daysAgo(17), `<attachment id="${docGuid}"></attachment>`),
      attachments: [
        { id: docGuid, contentType: 'reference', contentUrl: doc.body.webUrl, name: 'plan.docx' },
      ],
    });
    expect([byDocUrl.status, byDocUrl.body.error.message]).toEqual([
      400,
      expect.stringMatching(/contentUrl must be the channel's files folder webUrl/),
    ]);
    const wrongName = await call(sb, 'POST', messagesPath(team, channel), {
      ...importMessage(daysAgo(16), `<attachment id="${docGuid}"></attachment>`),
      attachments: [
        {
          id: docGuid,
          contentType: 'reference',
          contentUrl: `${folder.body.webUrl}/plan.docx`,
          name: 'plan.pdf',
        },
      ],
    });
    expect(wrongName.status).toBe(400);
    expect(
      (
        await call(sb, 'POST', messagesPath(team, channel), {
          ...importMessage(daysAgo(15), `<attachment id="${docGuid}"></attachment>`),
          attachments: [
            {
              id: docGuid,
              contentType: 'reference',
              contentUrl: `${folder.body.webUrl}/plan.docx`,
              name: 'plan.docx',
            },
          ],
        })
      ).status,
    ).toBe(201);
    expect(
      sb
        .dump()
        .teams.find((t) => t.id === team)!
        .files.map((f) => f.path),
    ).toEqual(['/docs/notes.txt', '/docs/design spec.pdf', '/docs/plan.docx']);
  });
});
