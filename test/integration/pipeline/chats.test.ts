import { chatLedgerRun, ensureChat } from '../../../core/pipeline/chats';
import type { ChatWork } from '../../../core/pipeline/contracts';
import type { PipelineDeps } from '../../../core/pipeline/deps';
import { startAzurite, type AzuriteHandle } from '../../../devhost/azurite';
import { createPipelineDeps } from '../../../functions/composition';
import { readSettings } from '../../../functions/settings';
import { sandboxUserFor, startSandbox, type SandboxHandle } from '../../../sandbox';

const ADA = sandboxUserFor('ada@contoso.test', 'Ada');
const BO = sandboxUserFor('bo@contoso.test', 'Bo');
const CY = sandboxUserFor('cy@contoso.test', 'Cy');

const work = (key: string, kind: ChatWork['kind'], memberIds: string[]): ChatWork => ({
  key,
  label: key,
  kind,
  messages: 1,
  createdDateTime: '2024-01-01T00:00:00.000Z',
  way: 'chat',
  memberIds,
});

describe('ensureChat: the chat of a conversation, recorded and never made twice', () => {
  let azurite: AzuriteHandle;
  let sandbox: SandboxHandle;
  let deps: PipelineDeps;
  beforeAll(async () => {
    azurite = await startAzurite();
    sandbox = await startSandbox({ users: [ADA, BO, CY] });
    deps = await createPipelineDeps(
      readSettings({ AzureWebJobsStorage: azurite.connectionString, GRAPH_URL: sandbox.url }),
    );
  });
  afterAll(async () => {
    await sandbox.stop();
    await azurite.stop();
  });

  const chatCreations = (): number =>
    sandbox.requestLog().filter((r) => r.method === 'POST' && /\/chats$/.test(r.path)).length;
  const chatsInTenant = async (): Promise<{ id: string; chatType: string; memberIds: string[] }[]> =>
    (
      (await (await fetch(`${sandbox.url}/_sandbox/chats`)).json()) as {
        value: { id: string; chatType: string; memberIds: string[] }[];
      }
    ).value;

  it('a 1:1 reuses the chat the two people already have, and a second call uses the recorded id without asking again', async () => {
    const existing = await fetch(`${sandbox.url}/_sandbox/chats`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        chats: [{ members: [ADA.mail, BO.mail], messages: [{ from: ADA.mail, text: 'hi' }] }],
      }),
    });
    const [{ id }] = ((await existing.json()) as { value: { id: string }[] }).value;
    const first = await ensureChat(deps, { migrationId: 'chats-1', chat: work('D1', 'dm', [ADA.id, BO.id]) });
    expect(first.chatId).toBe(id);
    const before = chatCreations();
    const again = await ensureChat(deps, { migrationId: 'chats-1', chat: work('D1', 'dm', [ADA.id, BO.id]) });
    expect(again.chatId).toBe(id);
    expect(chatCreations()).toBe(before);
    expect((await deps.ledger.getChannel(chatLedgerRun('chats-1'), 'D1'))?.value.teamsChannelId).toBe(id);
  });

  it("a group chat whose creation got no answer is found among the first member's chats, not created again", async () => {
    const runId = 'chats-2';
    const members = [ADA.id, BO.id, CY.id];
    await deps.ledger.ensureChannelRow(chatLedgerRun(runId), 'G1');
    await deps.ledger.updateChannel(chatLedgerRun(runId), 'G1', {
      requestedAt: new Date(Date.now() - 1000).toISOString(),
    });
    // The creation the lost answer belonged to: the service made the chat.
    const made = await deps.graph.chats.createChat('group', members);
    const groupsBefore = (await chatsInTenant()).filter((c) => c.chatType === 'group').length;
    const ensured = await ensureChat(deps, { migrationId: runId, chat: work('G1', 'groupDm', members) });
    expect(ensured.chatId).toBe(made.id);
    expect((await chatsInTenant()).filter((c) => c.chatType === 'group')).toHaveLength(groupsBefore);
  });

  it('a group chat never asked for is created once, with every member', async () => {
    const members = [ADA.id, CY.id, BO.id];
    const ensured = await ensureChat(deps, { migrationId: 'chats-3', chat: work('G2', 'groupDm', members) });
    const chat = (await chatsInTenant()).find((c) => c.id === ensured.chatId)!;
    expect({ chatType: chat.chatType, members: [...chat.memberIds].sort() }).toEqual({
      chatType: 'group',
      members: [...members].sort(),
    });
  });
});
