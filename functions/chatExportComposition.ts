import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import {
  credentialFromEnv,
  credentialTokenProvider,
  graphScopeFor,
  tokenProviderFromEnv,
} from '../core/graph/auth';
import { createGraphClient } from '../core/graph/client';
import { ChatExportService } from '../core/chatexport/service';
import { ObjectStoreStaging } from '../core/chatexport/staging';
import { BlobObjectStore } from '../core/state/blobStore';
import { ChatExportStore } from '../core/state/chatExportTables';
import type { ChatExportSettings } from './chatExportSettings';

function requirePublicUrl(settings: ChatExportSettings): string {
  if (!settings.publicUrl)
    throw new Error(
      'The app does not know its public URL for consent links: set CHAT_EXPORT_PUBLIC_URL (e.g. https://<app>.azurewebsites.net)',
    );
  return settings.publicUrl;
}

/**
 * Builds the chat export's service from its settings: the state table and staging container in the app's
 * storage, app-only Graph clients for the source tenant (discovery, mail) and the target tenant (OneDrive),
 * and a factory of delegated Graph clients over the users' refreshed tokens.
 */
export async function createChatExportService(settings: ChatExportSettings): Promise<ChatExportService> {
  const storage = settings.app.storage;
  const connection =
    'connectionString' in storage
      ? storage.connectionString
      : {
          endpoint: `https://${storage.accountName}.table.core.windows.net`,
          credential: new DefaultAzureCredential(),
        };
  const store = ChatExportStore.create(connection, settings.app.tablePrefix, settings.encryptionKey);
  await store.ensureTable();
  const blobs =
    'connectionString' in storage
      ? BlobServiceClient.fromConnectionString(storage.connectionString)
      : new BlobServiceClient(
          `https://${storage.accountName}.blob.core.windows.net`,
          new DefaultAzureCredential(),
        );
  const objects = new BlobObjectStore(blobs.getContainerClient(settings.app.container));
  await objects.ensureContainer();

  const graphUrl = settings.app.graphUrl;
  const source = createGraphClient({
    baseUrl: graphUrl,
    tokenProvider: tokenProviderFromEnv(graphUrl).provider,
  });
  const targetProvider = settings.targetTenantId
    ? credentialTokenProvider(
        credentialFromEnv({ ...process.env, AZURE_TENANT_ID: settings.targetTenantId }).credential,
        [graphScopeFor(settings.targetGraphUrl)],
      )
    : tokenProviderFromEnv(settings.targetGraphUrl).provider;
  const target = createGraphClient({ baseUrl: settings.targetGraphUrl, tokenProvider: targetProvider });

  return new ChatExportService({
    store,
    staging: new ObjectStoreStaging(objects, settings.encryptionKey),
    stagingRetentionMs: settings.stagingRetentionMs,
    sourceGraph: source.client,
    targetGraph: target.client,
    delegatedGraph: (tokens) => createGraphClient({ baseUrl: graphUrl, tokenProvider: tokens }).client,
    graphUrl,
    consent: () => {
      if (!settings.clientId)
        throw new Error(
          'No app registration for the consent: set CHAT_EXPORT_CLIENT_ID (or AZURE_CLIENT_ID) and its secret CHAT_EXPORT_CLIENT_SECRET (or AZURE_CLIENT_SECRET)',
        );
      return {
        authorityHost: settings.authorityHost,
        tenant: settings.tenant,
        clientId: settings.clientId,
        ...(settings.clientSecret ? { clientSecret: settings.clientSecret } : {}),
        redirectUri: `${requirePublicUrl(settings)}/api/chat-export/callback`,
      };
    },
    links: {
      baseUrl: () => requirePublicUrl(settings),
      stateKey: settings.stateKey,
      ttlMs: settings.linkTtlMs,
      ...(settings.sender ? { sender: settings.sender } : {}),
    },
    timeZone: settings.timeZone,
    now: () => Date.now(),
  });
}
