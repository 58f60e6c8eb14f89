import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import type { LedgerConnection } from './tables';

/**
 * The app's storage account: a connection string (Azurite, or keys), or an account reached through the
 * Function App's managed identity. The identity is always named explicitly: the Graph app registration's
 * `AZURE_CLIENT_ID`/`AZURE_CLIENT_SECRET` in the same environment must never sign in to storage.
 */
export type StorageSettings =
  | { connectionString: string }
  | {
      accountName: string;
      /** Client id of a user-assigned identity; absent for the system-assigned one. */
      identityClientId?: string;
      /** Service URLs when they are not the public cloud's `https://<account>.<service>.core.windows.net`. */
      blobServiceUri?: string;
      tableServiceUri?: string;
    };

/** Clients of the account's blob and table services, built one way for every part of the app. */
export interface StorageClients {
  blobs: BlobServiceClient;
  tables: LedgerConnection;
}

/** Builds the blob service client and the table connection for the storage settings. */
export function storageClients(storage: StorageSettings): StorageClients {
  if ('connectionString' in storage)
    return {
      blobs: BlobServiceClient.fromConnectionString(storage.connectionString),
      tables: storage.connectionString,
    };
  const credential: TokenCredential = storage.identityClientId
    ? new ManagedIdentityCredential({ clientId: storage.identityClientId })
    : new ManagedIdentityCredential();
  const service = (name: 'blob' | 'table', uri?: string): string =>
    (uri ?? `https://${storage.accountName}.${name}.core.windows.net`).replace(/\/+$/, '');
  return {
    blobs: new BlobServiceClient(service('blob', storage.blobServiceUri), credential),
    tables: { endpoint: service('table', storage.tableServiceUri), credential },
  };
}
