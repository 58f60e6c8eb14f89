import { emptyTotals } from '../../../core/chatexport/passTotals';
import { TableClient } from '@azure/data-tables';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveKey, issueState } from '../../../core/chatexport/crypto';
import { ChatExportService, type ChatExportServiceDeps } from '../../../core/chatexport/service';
import { ObjectStoreStaging, stagedConversationName } from '../../../core/chatexport/staging';
import { ChatExportStore, type ChatExportUser } from '../../../core/state/chatExportTables';
import { LocalFolderStore } from '../../../core/state/localStore';
import { startAzurite, type AzuriteHandle } from '../../../devhost/azurite';
import { tempDir } from '../../support/fixtures';
import { chat, message, staged } from '../../unit/chatexport/builders';

const HOUR = 3_600_000;
const KEY = randomBytes(32);

function user(id: string): ChatExportUser {
  return {
    id,
    upn: `${id}@contoso.test`,
    targetUpn: `${id}@contoso.test`,
    status: 'consented',
    updatedAt: '',
  };
}

describe('private chat content and consent rows at rest (Azurite)', () => {
  let azurite: AzuriteHandle;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(() => azurite?.stop());

  let prefix = 0;
  async function setup(retentionHours: number) {
    const store = ChatExportStore.create(azurite.connectionString, `priv${++prefix}`, KEY);
    await store.ensureTable();
    const root = tempDir('chat-staging-');
    const staging = new ObjectStoreStaging(new LocalFolderStore(root), KEY);
    let now = Date.parse('2026-01-01T00:00:00Z');
    const stateKey = deriveKey(KEY, 'state');
    const service = new ChatExportService({
      store,
      staging,
      stagingRetentionMs: retentionHours * HOUR,
      consent: () => ({
        authorityHost: 'http://127.0.0.1:1',
        tenant: 'contoso',
        clientId: 'app',
        redirectUri: 'http://127.0.0.1:1/api/chat-export/callback',
      }),
      links: { baseUrl: () => 'http://127.0.0.1:1', stateKey, ttlMs: 24 * HOUR },
      timeZone: 'UTC',
      now: () => now,
    } as unknown as ChatExportServiceDeps);
    for (const id of ['ada', 'bob']) await store.putUser(user(id));
    const stage = async (owner: string, chatId: string) =>
      staging.saveConversation(
        owner,
        chatId,
        staged(chat(chatId), [message('1', '2025-12-01T09:00:00.000Z', `<p>secret of ${owner}</p>`)]),
      );
    const stagedFiles = async () => (await new LocalFolderStore(root).list('chat-export/')).length;
    const finish = (userId: string) => service.finishPass({ userId, mode: 'full', totals: emptyTotals() });
    const rows = async (partition: string) => {
      const table = TableClient.fromConnectionString(azurite.connectionString, `priv${prefix}ChatExport`, {
        allowInsecureConnection: true,
      });
      const keys: string[] = [];
      for await (const row of table.listEntities({
        queryOptions: { filter: `PartitionKey eq '${partition}'` },
      }))
        keys.push(row.rowKey!);
      return keys.sort();
    };
    return {
      store,
      staging,
      service,
      root,
      stage,
      stagedFiles,
      finish,
      rows,
      stateKey,
      advance: (ms: number) => (now += ms),
      now: () => now,
    };
  }

  it('stages conversations only encrypted, and deletes them when the pass ends (retention 0)', async () => {
    const t = await setup(0);
    await t.stage('ada', '19:a@thread.v2');
    await t.stage('ada', '19:b@thread.v2');
    await t.stage('bob', '19:c@thread.v2');
    const blob = readFileSync(
      join(t.root, ...stagedConversationName('ada', '19:a@thread.v2').split('/')),
      'utf8',
    );
    expect(blob.startsWith('v1.')).toBe(true);
    expect(blob).not.toContain('secret of ada');
    await t.finish('ada');
    expect(await t.staging.loadConversation('ada', '19:a@thread.v2')).toBeUndefined();
    expect(await t.staging.loadConversation('ada', '19:b@thread.v2')).toBeUndefined();
    expect((await t.staging.loadConversation('bob', '19:c@thread.v2'))?.chat.id).toBe('19:c@thread.v2');
    expect(await t.stagedFiles()).toBe(1);
  });

  it('keeps them for the retention, then the next pass or consent landing deletes them', async () => {
    const t = await setup(24);
    await t.stage('ada', '19:a@thread.v2');
    await t.finish('ada');
    expect(await t.stagedFiles()).toBe(1);
    t.advance(23 * HOUR);
    await t.finish('bob');
    expect(await t.stagedFiles()).toBe(1);
    t.advance(2 * HOUR);
    const { state } = issueState('bob', t.stateKey, { ttlMs: HOUR, now: t.now });
    await t.service.beginConsent(state);
    expect(await t.stagedFiles()).toBe(0);
    expect(await t.rows('staging')).toEqual(['bob']);
  });

  it('purges nonce and PKCE rows once their link has expired, on the consent landing and at the end of a pass', async () => {
    const t = await setup(0);
    await t.store.consume('old-nonce', t.now() + HOUR);
    await t.store.savePkceVerifier('old-nonce', 'verifier-0123456789-0123456789-0123456789', t.now() + HOUR);
    await t.store.consume('live-nonce', t.now() + 48 * HOUR);
    t.advance(2 * HOUR);
    const { state, claims } = issueState('ada', t.stateKey, { ttlMs: HOUR, now: t.now });
    await t.service.beginConsent(state);
    expect(await t.rows('nonce')).toEqual(['live-nonce']);
    expect(await t.rows('pkce')).toEqual([claims.nonce]);
    t.advance(2 * HOUR);
    await t.finish('ada');
    expect(await t.rows('pkce')).toEqual([]);
    expect(await t.rows('nonce')).toEqual(['live-nonce']);
  });
});
