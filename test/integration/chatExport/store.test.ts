import { TableClient } from '@azure/data-tables';
import { randomBytes } from 'node:crypto';
import { startAzurite, type AzuriteHandle } from '../../../devhost/azurite';
import { ChatExportStore, type ChatExportUser } from '../../../core/state/chatExportTables';

describe('chat export store in Table Storage (Azurite)', () => {
  let azurite: AzuriteHandle;
  let store: ChatExportStore;
  const key = randomBytes(32);
  beforeAll(async () => {
    azurite = await startAzurite();
    store = ChatExportStore.create(azurite.connectionString, 'ce', key);
    await store.ensureTable();
    await store.ensureTable();
  });
  afterAll(() => azurite?.stop());

  const user: ChatExportUser = {
    id: 'u/1#?',
    upn: 'ada@contoso.test',
    targetUpn: 'ada@fabrikam.test',
    status: 'discovered',
    updatedAt: '2024-01-01T00:00:00.000Z',
  };

  it('keeps users with awkward ids and updates them under their ETag', async () => {
    await store.putUser(user);
    const updated = await store.updateUser(user.id, (u) => ({ ...u, status: 'link-sent' }));
    expect(updated.status).toBe('link-sent');
    expect(await store.getUser(user.id)).toEqual(updated);
    expect((await store.listUsers()).map((u) => u.id)).toEqual([user.id]);
    await expect(store.updateUser('nobody', (u) => u)).rejects.toThrow(/discover or add the user first/);
  });

  it('uses a nonce once (409 means already used) and hands a PKCE verifier out once', async () => {
    expect(await store.consume('nonce-1', Date.now() + 1000)).toBe(true);
    expect(await store.consume('nonce-1', Date.now() + 1000)).toBe(false);
    await store.savePkceVerifier('nonce-2', 'verifier-value-0123456789', Date.now() + 1000);
    expect(await store.takePkceVerifier('nonce-2')).toBe('verifier-value-0123456789');
    expect(await store.takePkceVerifier('nonce-2')).toBeUndefined();
  });

  it('stores refresh tokens only as AES-GCM envelopes bound to the user, and cursors per chat', async () => {
    const token = `rt-${randomBytes(24).toString('base64url')}`;
    await store.saveRefreshToken(user.id, token);
    expect(await store.loadRefreshToken(user.id)).toBe(token);
    const raw = TableClient.fromConnectionString(azurite.connectionString, 'ceChatExport', {
      allowInsecureConnection: true,
    });
    const rows: string[] = [];
    for await (const row of raw.listEntities()) rows.push(JSON.stringify(row));
    expect(rows.some((r) => r.includes(token))).toBe(false);
    const tokenRow = rows.find((r) => r.includes('"partitionKey":"token"'))!;
    expect(tokenRow).toMatch(/"envelope":"v1\./);
    const other = ChatExportStore.create(azurite.connectionString, 'ce', randomBytes(32));
    await expect(other.loadRefreshToken(user.id)).rejects.toThrow(/failed authentication/);

    await store.saveCursor(user.id, '19:a@thread.v2', {
      fileName: 'A-1.html',
      watermark: '2024-01-01T00:00:00Z',
    });
    await store.saveCursor(user.id, '19:b@thread.v2', { fileName: 'B-2.html' });
    expect(await store.loadCursors(user.id)).toEqual({
      '19:a@thread.v2': { fileName: 'A-1.html', watermark: '2024-01-01T00:00:00Z' },
      '19:b@thread.v2': { fileName: 'B-2.html' },
    });
    expect(await store.loadCursors('someone-else')).toEqual({});
  });
});
