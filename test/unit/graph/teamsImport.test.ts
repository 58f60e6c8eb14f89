import { createGraphClient, GraphError, TeamsImportClient } from '../../../core/graph';
import { startCannedServer, type CannedResponse, type CannedServer, type SeenRequest } from './cannedServer';

describe('TeamsImportClient against canned answers', () => {
  let server: CannedServer;
  let handler: (req: SeenRequest) => CannedResponse;
  let client: TeamsImportClient;
  const json = (req: SeenRequest): Record<string, unknown> =>
    JSON.parse(req.body.toString()) as Record<string, unknown>;

  beforeAll(async () => {
    server = await startCannedServer((req) => handler(req));
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
    handler = () => ({ status: 200, body: {} });
    client = new TeamsImportClient(
      createGraphClient({ baseUrl: server.url, staticToken: 'local', sleep: () => Promise.resolve() }),
      { upload: { chunkBytes: 320 * 1024 } },
    );
  });

  it('creates a team in migration mode and reads the team id and operation URL from the 202', async () => {
    handler = () => ({
      status: 202,
      headers: { Location: "/teams('t-1')/operations('op-1')", 'Content-Location': "/teams('t-1')" },
    });
    const created = await client.createTeamInMigration({
      displayName: 'Eng',
      description: 'd',
      createdDateTime: '2020-01-01T00:00:00.000Z',
    });
    expect(created).toEqual({ teamId: 't-1', operationUrl: "/teams('t-1')/operations('op-1')" });
    expect(json(server.requests[0])).toEqual({
      '@microsoft.graph.teamCreationMode': 'migration',
      'template@odata.bind': `${server.url}/v1.0/teamsTemplates('standard')`,
      displayName: 'Eng',
      description: 'd',
      createdDateTime: '2020-01-01T00:00:00.000Z',
    });
    handler = () => ({ body: { status: 'succeeded', targetResourceId: 't-1' } });
    expect(await client.getOperation(created.operationUrl)).toEqual({
      status: 'succeeded',
      targetResourceId: 't-1',
    });
    expect(server.requests[1].url).toBe("/v1.0/teams('t-1')/operations('op-1')");
  });

  it('finds teams by name with the quote escaped, over every page, exact names only', async () => {
    handler = (req) =>
      req.url.includes('skiptoken')
        ? { body: { value: [{ id: 't2', displayName: "o'brien & co #1" }] } }
        : {
            body: {
              value: [
                { id: 't1', displayName: "O'Brien & Co #1" },
                { id: 'tx', displayName: "o'brien & co #1 (old)" },
              ],
              '@odata.nextLink': `${server.url}/v1.0/teams?$filter=x&$skiptoken=abc%3D%3D`,
            },
          };
    const teams = await client.findTeamsByName("O'Brien & Co #1");
    expect(teams.map((t) => t.id)).toEqual(['t1', 't2']);
    const first = new URL(server.requests[0].url, server.url);
    expect(first.searchParams.get('$filter')).toBe("displayName eq 'O''Brien & Co #1'");
    expect(server.requests[1].url).toBe('/v1.0/teams?$filter=x&$skiptoken=abc%3D%3D');
  });

  it("finds the tenant's teams of a name among its groups, with the quote escaped, over every page", async () => {
    handler = (req) =>
      req.url.includes('skiptoken')
        ? { body: { value: [{ id: 'g2', displayName: "O'BRIEN & CO #1" }] } }
        : {
            body: {
              value: [
                { id: 'g1', displayName: "O'Brien & Co #1" },
                { id: 'gx', displayName: "O'Brien & Co #1 (old)" },
              ],
              '@odata.nextLink': `${server.url}/v1.0/groups?$filter=x&$skiptoken=abc%3D%3D`,
            },
          };
    const teams = await client.findTeamGroupsByName("O'Brien & Co #1");
    expect(teams.map((t) => t.id)).toEqual(['g1', 'g2']);
    const first = new URL(server.requests[0].url, server.url);
    expect(first.pathname).toBe('/v1.0/groups');
    expect(first.searchParams.get('$filter')).toBe(
      "resourceProvisioningOptions/Any(x:x eq 'Team') and displayName eq 'O''Brien & Co #1'",
    );
  });

  it('creates channels in migration mode as standard channels and encodes ids in paths', async () => {
    handler = () => ({ status: 201, body: { id: '19:c@thread.tacv2', displayName: 'random' } });
    const channel = await client.createChannelInMigration('t/1', {
      displayName: 'random',
      description: '',
      createdDateTime: '2020-01-02T00:00:00.000Z',
    });
    expect(channel.id).toBe('19:c@thread.tacv2');
    expect(server.requests[0].url).toBe('/v1.0/teams/t%2F1/channels');
    expect(json(server.requests[0])).toMatchObject({
      '@microsoft.graph.channelCreationMode': 'migration',
      membershipType: 'standard',
    });
  });

  it('returns null for a message that is not there, and the message when it is', async () => {
    handler = (req) =>
      req.url.endsWith('/1577836800000')
        ? { body: { id: '1577836800000' } }
        : { status: 404, body: { error: { code: 'NotFound', message: 'no message' } } };
    expect(await client.getMessage('t', 'c', '1577836800000')).toEqual({ id: '1577836800000' });
    expect(await client.getReply('t', 'c', '1', '2')).toBeNull();
    expect(server.requests[1].url).toBe('/v1.0/teams/t/channels/c/messages/1/replies/2');
  });

  it("waits for the read pacer before each message lookup, so a resume reads at the service's GET rate", async () => {
    const order: string[] = [];
    const paced = new TeamsImportClient(
      createGraphClient({ baseUrl: server.url, staticToken: 'local', sleep: () => Promise.resolve() }),
      { readPacer: { acquire: async () => void order.push(`token ${order.length}`) } },
    );
    handler = (req) => {
      order.push(req.url);
      return { body: { id: 'x' } };
    };
    await paced.getMessage('t', 'c', '1');
    await paced.getReply('t', 'c', '1', '2');
    expect(order).toEqual([
      'token 0',
      '/v1.0/teams/t/channels/c/messages/1',
      'token 2',
      '/v1.0/teams/t/channels/c/messages/1/replies/2',
    ]);
  });

  it('reads migrationMode from a channel and a team, and lists members with their owner role', async () => {
    handler = (req) =>
      req.url.endsWith('/members')
        ? {
            body: {
              value: [
                { userId: 'u1', roles: ['owner'] },
                { userId: 'u2', roles: [] },
              ],
            },
          }
        : { body: { id: 'x', migrationMode: 'completed' } };
    expect((await client.getChannel('t', 'c')).migrationMode).toBe('completed');
    expect((await client.getTeam('t')).migrationMode).toBe('completed');
    expect(await client.listMembers('t')).toEqual([
      { userId: 'u1', owner: true },
      { userId: 'u2', owner: false },
    ]);
    expect(server.requests.map((r) => r.url)).toEqual([
      '/v1.0/teams/t/channels/c',
      '/v1.0/teams/t',
      '/v1.0/teams/t/members',
    ]);
  });

  it('treats "already been finalized" as completed, and other 400s as errors', async () => {
    handler = () => ({ status: 204 });
    expect(await client.completeChannel('t', 'c')).toEqual({ alreadyCompleted: false });
    handler = () => ({
      status: 400,
      body: { error: { code: 'BadRequest', message: 'Channel has already been finalized.' } },
    });
    expect(await client.completeChannel('t', 'c')).toEqual({ alreadyCompleted: true });
    handler = () => ({
      status: 400,
      body: { error: { code: 'BadRequest', message: 'Team has already been finalized.' } },
    });
    expect(await client.completeTeam('t')).toEqual({ alreadyCompleted: true });
    handler = () => ({
      status: 400,
      body: { error: { code: 'BadRequest', message: 'All channels must be finalized before team.' } },
    });
    await expect(client.completeTeam('t')).rejects.toThrow(
      /completeTeam failed with 400 BadRequest: All channels must be finalized/,
    );
  });

  it('adds members 200 per request and reports each, tolerating "already a member"', async () => {
    handler = (req) => {
      const values = (json(req).values as { 'user@odata.bind': string }[]).map(
        (v) => /users\('(.+)'\)/.exec(v['user@odata.bind'])![1],
      );
      return {
        body: {
          value: values.map((userId) => ({
            userId,
            error:
              userId === 'u3'
                ? { code: 'Conflict', message: 'User is already a member of the team' }
                : userId === 'u7'
                  ? { code: 'NotFound', message: 'User not found' }
                  : null,
          })),
        },
      };
    };
    const members = Array.from({ length: 450 }, (_, i) => ({ userId: `u${i}`, owner: i === 0 }));
    const results = await client.addMembers('t', members);
    expect(server.requests.map((r) => (json(r).values as unknown[]).length)).toEqual([200, 200, 50]);
    expect(json(server.requests[0]).values).toContainEqual({
      '@odata.type': '#microsoft.graph.aadUserConversationMember',
      roles: ['owner'],
      'user@odata.bind': `${server.url}/v1.0/users('u0')`,
    });
    expect(results).toHaveLength(450);
    expect(results[3]).toEqual({ userId: 'u3', ok: true, alreadyMember: true });
    expect(results[7]).toMatchObject({
      userId: 'u7',
      ok: false,
      error: expect.stringMatching(/User not found/),
    });
    expect(results.filter((r) => r.ok)).toHaveLength(449);
  });

  it('resolves users in $batch requests of 20, falling back to a mail filter, retrying throttled entries', async () => {
    let throttledOnce = false;
    handler = (req) => {
      const requests = json(req).requests as { id: string; url: string }[];
      return {
        body: {
          responses: requests.map(({ id, url }) => {
            const decoded = decodeURIComponent(url);
            if (decoded.includes("mail eq 'carol@x.com'"))
              return { id, status: 200, body: { value: [{ id: 'id-carol', displayName: 'Carol' }] } };
            if (decoded.includes('mail eq')) return { id, status: 200, body: { value: [] } };
            const upn = decoded.slice('/users/'.length, decoded.indexOf('?'));
            if (upn === 'user5@x.com' && !throttledOnce) {
              throttledOnce = true;
              return { id, status: 429, headers: { 'Retry-After': '1' }, body: {} };
            }
            return upn.startsWith('user')
              ? { id, status: 200, body: { id: `id-${upn}`, displayName: upn } }
              : { id, status: 404, body: { error: { code: 'Request_ResourceNotFound' } } };
          }),
        },
      };
    };
    const keys = [
      ...Array.from({ length: 43 }, (_, i) => `user${i}@x.com`),
      'carol@x.com',
      'nobody@x.com',
      'user1@x.com',
    ];
    const found = await client.resolveUsers(keys);
    expect(found.size).toBe(45);
    expect(found.get('user5@x.com')).toEqual({ id: 'id-user5@x.com', displayName: 'user5@x.com' });
    expect(found.get('carol@x.com')).toEqual({ id: 'id-carol', displayName: 'Carol' });
    expect(found.get('nobody@x.com')).toBeNull();
    const sizes = server.requests.map((r) => (json(r).requests as unknown[]).length);
    expect(sizes).toEqual([20, 1, 20, 5, 2]);
    expect(server.requests.every((r) => r.url === '/v1.0/$batch')).toBe(true);
  });

  it('fails resolveUsers with the permission to grant when a lookup is forbidden', async () => {
    handler = (req) => ({
      body: {
        responses: (json(req).requests as { id: string }[]).map(({ id }) => ({
          id,
          status: 403,
          body: { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges' } },
        })),
      },
    });
    const error = await client.resolveUsers(['a@x.com']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    expect((error as Error).message).toMatch(/User\.Read\.All/);
  });

  it('uploads a small file in one PUT and a large one in 320 KiB-multiple chunks without a token', async () => {
    const chunks: string[] = [];
    handler = (req) => {
      if (req.url.includes('/createUploadSession'))
        return { body: { uploadUrl: `${server.url}/_upload/s1` } };
      if (req.url.startsWith('/_upload/')) {
        chunks.push(
          `${req.headers['content-range']} auth=${req.headers.authorization ?? 'none'} ${req.body.length}`,
        );
        const total = Number(/\/(\d+)$/.exec(String(req.headers['content-range']))![1]);
        const end = Number(/-(\d+)\//.exec(String(req.headers['content-range']))![1]);
        return end + 1 === total
          ? { status: 201, body: { id: 'big', name: 'big.bin', webUrl: 'https://files/big.bin' } }
          : { status: 202, body: { nextExpectedRanges: [`${end + 1}-`] } };
      }
      return { status: 201, body: { id: 'small', name: 'a b.txt', webUrl: 'https://files/a%20b.txt' } };
    };
    const small = await client.uploadFile('d1', 'p1', 'a b.txt', Buffer.from('hello'));
    expect(small).toEqual({ id: 'small', name: 'a b.txt', webUrl: 'https://files/a%20b.txt' });
    expect(server.requests[0].method).toBe('PUT');
    expect(server.requests[0].url).toBe(
      '/v1.0/drives/d1/items/p1:/a%20b.txt:/content?@microsoft.graph.conflictBehavior=replace',
    );
    expect(server.requests[0].headers.authorization).toBe('Bearer local');

    const size = 4 * 1024 * 1024 + 1000;
    const big = await client.uploadFile('d1', 'p1', 'big.bin', Buffer.alloc(size, 7));
    expect(big.id).toBe('big');
    const unit = 320 * 1024;
    expect(chunks).toHaveLength(Math.ceil(size / unit));
    expect(chunks[0]).toBe(`bytes 0-${unit - 1}/${size} auth=none ${unit}`);
    expect(chunks.at(-1)).toBe(
      `bytes ${(chunks.length - 1) * unit}-${size - 1}/${size} auth=none ${size % unit}`,
    );
  });
});
