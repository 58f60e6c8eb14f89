import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, type AzuriteHandle } from '../../devhost/azurite';

describe('embedded Azurite', () => {
  let azurite: AzuriteHandle;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('serves tables and blobs on loopback through its connection string', async () => {
    expect(azurite.tableEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const table = TableClient.fromConnectionString(azurite.connectionString, 'probe', {
      allowInsecureConnection: true,
    });
    await table.createTable();
    await table.upsertEntity({ partitionKey: 'p', rowKey: 'r', value: 42 });
    expect((await table.getEntity<{ value: number }>('p', 'r')).value).toBe(42);

    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      'probe',
    );
    await blobs.createIfNotExists();
    await blobs.getBlockBlobClient('a.txt').upload('hello', 5);
    expect((await blobs.getBlockBlobClient('a.txt').downloadToBuffer()).toString()).toBe('hello');
  });

  it('stops its child process', async () => {
    const other = await startAzurite();
    await other.stop();
    await expect(fetch(other.blobEndpoint)).rejects.toThrow();
  });
});
