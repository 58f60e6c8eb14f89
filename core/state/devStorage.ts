/** Azurite's fixed development account (public, documented by Microsoft; not a secret). */
export const DEVSTORE_ACCOUNT = 'devstoreaccount1';
const DEVSTORE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** The connection string of Azurite's development account at the given service endpoints. */
export function devStorageConnectionString(
  blob = 'http://127.0.0.1:10000',
  queue = 'http://127.0.0.1:10001',
  table = 'http://127.0.0.1:10002',
): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${DEVSTORE_ACCOUNT};AccountKey=${DEVSTORE_KEY};` +
    `BlobEndpoint=${blob}/${DEVSTORE_ACCOUNT};QueueEndpoint=${queue}/${DEVSTORE_ACCOUNT};TableEndpoint=${table}/${DEVSTORE_ACCOUNT};`
  );
}
