import { inTenant, tokenProviderFor } from '../core/graph/auth';
import { createGraphClient } from '../core/graph/client';
import { ChatExportService } from '../core/chatexport/service';
import { ObjectStoreStaging } from '../core/chatexport/staging';
import { BlobObjectStore } from '../core/state/blobStore';
import { ChatExportStore } from '../core/state/chatExportTables';
import { storageClients } from '../core/state/storageAccount';
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
  const { blobs, tables } = storageClients(settings.app.storage);
  const store = ChatExportStore.create(tables, settings.app.tablePrefix, settings.encryptionKey);
  await store.ensureTable();
  const objects = new BlobObjectStore(blobs.getContainerClient(settings.app.container));
  await objects.ensureContainer();

  const { graphUrl, graphAuth } = settings.app;
  const source = createGraphClient({
    baseUrl: graphUrl,
    tokenProvider: tokenProviderFor(graphAuth, graphUrl),
  });
  const targetAuth = settings.targetTenantId ? inTenant(graphAuth, settings.targetTenantId) : graphAuth;
  const target = createGraphClient({
    baseUrl: settings.targetGraphUrl,
    tokenProvider: tokenProviderFor(targetAuth, settings.targetGraphUrl),
  });

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
