import {
  GraphCounters,
  GraphError,
  MaybeCommittedError,
  Pacer,
  TeamsImportClient,
  buildImportMessage,
  createGraphClient,
  messageIdFor,
} from '../../../core/graph';
import type { PlannedMessage } from '../../../core/model';
import { sandboxUserFor, startSandbox, type SandboxHandle } from '../../../sandbox';

const ANA = sandboxUserFor('ana@contoso.test', 'Ana');
const BO = sandboxUserFor('bo@contoso.test', 'Bo');
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

const planned = (
  seq: number,
  createdDateTime: string,
  html: string,
  over: Partial<PlannedMessage> = {},
): PlannedMessage => ({
  seq,
  key: `k${seq}`,
  createdDateTime,
  author: { sourceUserId: `U${seq}`, displayName: 'Ana Slack', kind: 'user' },
  html,
  hostedContents: [],
  files: [],
  ...over,
});

describe('TeamsImportClient against the sandbox', () => {
  let sandbox: SandboxHandle;
  let client: TeamsImportClient;
  const counters = new GraphCounters();

  beforeAll(async () => {
    sandbox = await startSandbox({ users: [ANA, BO], operationPolls: 1, timeScale: 10 });
    const pacer = new Pacer({ perChannelPerSecond: 50, globalPerSecond: 500 });
    client = new TeamsImportClient(
      createGraphClient({
        baseUrl: sandbox.url,
        staticToken: 'local',
        telemetry: counters.sink,
        onThrottled: pacer.throttleHook(),
        retry: { maxRetries: 3, baseDelayMs: 10, maxDelayMs: 2000 },
      }),
      { pacer },
    );
  });
  afterAll(() => sandbox.stop());

  it('imports a team end to end: team, channel, messages, reply, 409 lookup, lost answer, completion, members, files', async () => {
    const users = await client.resolveUsers(['ana@contoso.test', 'BO@contoso.test', 'nobody@contoso.test']);
    expect(users.get('ana@contoso.test')).toEqual({ id: ANA.id, displayName: 'Ana' });
    expect(users.get('BO@contoso.test')?.id).toBe(BO.id);
    expect(users.get('nobody@contoso.test')).toBeNull();

    const { teamId, operationUrl } = await client.createTeamInMigration({
      displayName: "Ops & O'Neil",
      description: 'Imported from Slack',
      createdDateTime: '2020-01-01T00:00:00.000Z',
    });
    let operation = await client.getOperation(operationUrl);
    while (operation.status !== 'succeeded' && operation.status !== 'failed')
      operation = await client.getOperation(operationUrl);
    expect(operation).toMatchObject({ status: 'succeeded', targetResourceId: teamId });
    expect((await client.findTeamsByName("Ops & O'Neil")).map((t) => t.id)).toEqual([teamId]);
    expect((await client.getTeam(teamId)).displayName).toBe("Ops & O'Neil");

    const general = await client.getPrimaryChannel(teamId);
    const random = await client.createChannelInMigration(teamId, {
      displayName: 'random',
      description: 'off-topic',
      createdDateTime: '2020-01-02T00:00:00.000Z',
    });
    expect((await client.listChannels(teamId)).map((c) => c.id).sort()).toEqual(
      [general.id, random.id].sort(),
    );

    const ana = { entraId: ANA.id, displayName: 'Ana' };
    const parentPlan = planned(
      0,
      '2020-01-03T10:00:00.123Z',
      '<p>hello <img src="../hostedContents/1/$value"></p>',
      {
        hostedContents: [{ temporaryId: '1', contentType: 'image/png', name: 'dot.png' }],
      },
    );
    const parent = await client.postMessage(
      teamId,
      random.id,
      buildImportMessage(parentPlan, ana, new Map([['1', PNG]])),
    );
    expect(parent.id).toBe(messageIdFor(parentPlan.createdDateTime));

    const replyPlan = planned(1, '2020-01-03T10:05:00.000Z', '<p>a reply</p>');
    const reply = await client.postReply(
      teamId,
      random.id,
      parent.id,
      buildImportMessage(replyPlan, { fallback: { entraId: BO.id, displayName: 'Bo' } }, new Map()),
    );
    const storedReply = await client.getReply(teamId, random.id, parent.id, reply.id);
    expect(storedReply?.body?.content).toContain('Originally posted by Ana Slack');
    expect(storedReply?.from?.user?.id).toBe(BO.id);

    const again = await client
      .postMessage(teamId, random.id, buildImportMessage(parentPlan, ana, new Map([['1', PNG]])))
      .catch((e: unknown) => e);
    expect(again).toBeInstanceOf(GraphError);
    expect((again as GraphError).status).toBe(409);
    const found = await client.getMessage(teamId, random.id, messageIdFor(parentPlan.createdDateTime));
    expect(found?.id).toBe(parent.id);

    const lostPlan = planned(2, '2020-01-03T11:00:00.000Z', '<p>answer lost</p>');
    sandbox.setFaults('lost:1');
    const lost = await client
      .postMessage(teamId, random.id, buildImportMessage(lostPlan, ana, new Map()))
      .catch((e: unknown) => e);
    sandbox.setFaults('');
    expect(lost).toBeInstanceOf(MaybeCommittedError);
    expect((await client.getMessage(teamId, random.id, messageIdFor(lostPlan.createdDateTime)))?.id).toBe(
      messageIdFor(lostPlan.createdDateTime),
    );
    expect(await client.getMessage(teamId, random.id, messageIdFor('2020-01-03T12:00:00.000Z'))).toBeNull();

    const folder = await client.getFilesFolder(teamId, random.id);
    const small = await client.uploadFile(folder.driveId, folder.itemId, 'notes.txt', Buffer.from('hello'));
    const big = await client.uploadFile(
      folder.driveId,
      folder.itemId,
      'big.bin',
      Buffer.alloc(5 * 1024 * 1024, 1),
    );
    expect(small).toMatchObject({ name: 'notes.txt', webUrl: expect.stringMatching(/^http/) });
    expect(big.name).toBe('big.bin');
    const guid = /\{(.+)\}/.exec(small.eTag ?? '')![1];
    const withFile = planned(3, '2020-01-03T12:30:00.000Z', '<p>a file</p>', {
      files: [{ attachmentId: guid, name: 'notes.txt' }],
    });
    await client.postMessage(
      teamId,
      random.id,
      buildImportMessage(withFile, ana, new Map(), new Map([[guid, `${folder.webUrl}/notes.txt`]])),
    );

    await client.postMessage(
      teamId,
      general.id,
      buildImportMessage(planned(4, '2020-01-04T00:00:00.000Z', '<p>general</p>'), ana, new Map()),
    );
    await expect(client.completeTeam(teamId)).rejects.toThrow(/completeTeam failed with 400/);
    expect(await client.completeChannel(teamId, random.id)).toEqual({ alreadyCompleted: false });
    expect(await client.completeChannel(teamId, random.id)).toEqual({ alreadyCompleted: true });
    expect(await client.completeChannel(teamId, general.id)).toEqual({ alreadyCompleted: false });
    expect(await client.completeTeam(teamId)).toEqual({ alreadyCompleted: false });
    expect(await client.completeTeam(teamId)).toEqual({ alreadyCompleted: true });

    const members = await client.addMembers(teamId, [
      { userId: ANA.id, owner: true },
      { userId: BO.id },
      { userId: '00000000-0000-0000-0000-000000000000' },
    ]);
    expect(members.map((m) => [m.userId, m.ok])).toEqual([
      [ANA.id, true],
      [BO.id, true],
      ['00000000-0000-0000-0000-000000000000', false],
    ]);
    expect((await client.addMembers(teamId, [{ userId: ANA.id, owner: true }]))[0].ok).toBe(true);

    const dumped = sandbox.dump();
    expect(JSON.stringify(dumped)).toContain('answer lost');
    expect(counters.requests).toBeGreaterThan(20);
    expect(
      counters.routes.get('POST /v1.0/teams/{id}/channels/{id}/messages')?.requests,
    ).toBeGreaterThanOrEqual(5);
  });
});
