import type { BlobServiceClient } from '@azure/storage-blob';
import { stat } from 'node:fs/promises';
import { tokenProviderFor } from '../core/graph/auth';
import { createGraphClient } from '../core/graph/client';
import { CHANNEL_CREATION_LIMIT, CREATION_MARGIN_MS, TEAM_CREATION_LIMIT } from '../core/graph/budget';
import { channelKeyOfUrl, MESSAGE_READS_PER_SECOND, Pacer, TokenBucket } from '../core/graph/pacing';
import { TeamsImportClient } from '../core/graph/teamsImport';
import type { SourceRef } from '../core/pipeline/contracts';
import type { OpenedSource, PipelineDeps, SourceDirectory, SourceScope } from '../core/pipeline/deps';
import { BlobInbox, FolderInbox } from '../core/pipeline/inbox';
import { SlackFileDownloader } from '../core/files/download';
import { openSlackExport } from '../core/sources/slack/export';
import { openSlackApi, slackApiScope } from '../core/sources/slack/webApi';
import { openBlobZip } from '../core/state/blobZip';
import { BlobObjectStore } from '../core/state/blobStore';
import { CreationRecord } from '../core/state/creationRecord';
import { FileLedger } from '../core/state/fileLedger';
import { LeaseSlots } from '../core/state/leaseSlots';
import { Ledger } from '../core/state/ledger';
import { storageClients } from '../core/state/storageAccount';
import type { AppSettings } from './settings';

/**
 * Builds the migration's dependencies from the settings: the Graph client (auth, retries, pacing at the
 * service's limits), the ledger tables, the staging container and the tenant budget, in the app's storage
 * account. The budget's slots bound the app's posting across processes; the in-process pacer still spreads
 * this process's sends over the second, so channels it holds do not leave in step.
 */
export async function createPipelineDeps(settings: AppSettings): Promise<PipelineDeps> {
  const { blobs: blobService, tables } = storageClients(settings.storage);
  const container = blobService.getContainerClient(settings.container);
  const store = new BlobObjectStore(container);
  await store.ensureContainer();
  const { budget } = settings;
  const pacer = new Pacer({
    perChannelPerSecond: settings.ratePerChannel,
    globalPerSecond: settings.rateGlobal,
    marginMs: settings.pacingMarginMs,
  });
  const throttled = new Map<string, number>();
  const pace = pacer.throttleHook();
  const handle = createGraphClient({
    baseUrl: settings.graphUrl,
    tokenProvider: tokenProviderFor(settings.graphAuth, settings.graphUrl),
    retry: { maxDelayMs: settings.maxRetryAfterSeconds * 1000 },
    onThrottled: (signal) => {
      pace(signal);
      const key = channelKeyOfUrl(signal.url);
      if (key) throttled.set(key, (throttled.get(key) ?? 0) + 1);
    },
  });
  const graph = new TeamsImportClient(handle, {
    pacer,
    readPacer: new TokenBucket(MESSAGE_READS_PER_SECOND),
    creations: new CreationRecord({
      container,
      key: budget.key,
      limits: {
        team: { ...TEAM_CREATION_LIMIT, limit: budget.teamCreationsPerSecond },
        channel: { ...CHANNEL_CREATION_LIMIT, limit: budget.channelCreationsPer10Seconds },
      },
      marginMs: CREATION_MARGIN_MS,
    }),
  });

  const ledger = Ledger.create(tables, settings.tablePrefix);
  await ledger.ensureTables();

  const fileLedger = FileLedger.create(tables, settings.tablePrefix);
  await fileLedger.ensureTable();
  const downloader = new SlackFileDownloader({
    filesUrl: settings.slackFilesUrl,
    botToken: settings.slackToken,
    maxBytes: settings.maxFileBytes,
  });
  return {
    graph,
    ledger,
    store,
    openSource: (source, scope, directory) => openSource(source, scope, directory, settings, blobService),
    stageConcurrency: settings.stageConcurrency,
    files: {
      download: (url, mimeType) => downloader.download(url, mimeType),
      ledger: fileLedger,
      maxFileBytes: settings.maxFileBytes,
      botToken: !!settings.slackToken,
    },
    throttles: { count: (key) => throttled.get(key) ?? 0 },
    inbox: settings.inboxDir
      ? new FolderInbox(settings.inboxDir)
      : new BlobInbox(blobService.getContainerClient(settings.container)),
    budget: new LeaseSlots({
      container,
      key: budget.key,
      slots: budget.slots,
      leaseSeconds: budget.leaseSeconds,
      windowMs: 1000,
      marginMs: settings.pacingMarginMs,
      retryMs: budget.retrySeconds * 1000,
    }),
    chatBudget: new LeaseSlots({
      container,
      key: `${budget.key}-chats`,
      slots: budget.chatSlots,
      leaseSeconds: budget.leaseSeconds,
      windowMs: 1000,
      marginMs: settings.pacingMarginMs,
      retryMs: budget.retrySeconds * 1000,
    }),
    now: () => Date.now(),
  };
}

/**
 * Opens a migration's source as a Slack source: an export path (local hosts only), a ZIP blob read by range
 * (never downloaded whole, so opening it again per channel or per posting batch costs its index and what is
 * read), or Slack's Web API (reusing an earlier opening's `directory` when given).
 */
async function openSource(
  source: SourceRef,
  scope: SourceScope | undefined,
  directory: SourceDirectory | undefined,
  settings: AppSettings,
  blobs: BlobServiceClient,
): Promise<OpenedSource> {
  if (source.kind === 'slack-api') {
    if (!settings.slackToken)
      throw new Error(
        "SLACK_TOKEN is not set: a migration from Slack's Web API reads the workspace with the token of the Slack app installed in it.",
      );
    const slack = await openSlackApi({
      token: settings.slackToken,
      apiUrl: settings.slackApiUrl,
      ...slackApiScope(source, scope),
      ...(directory ? { directory } : {}),
    });
    return { slack, release: () => slack.close() };
  }
  if (source.kind === 'path') {
    if (!settings.allowLocalPaths)
      throw new Error(
        'This app does not read exports from local paths (TEAMS_IMPORT_ALLOW_LOCAL_PATHS is off): upload the export to blob storage and name the blob.',
      );
    await stat(source.path).catch(() => {
      throw new Error(`The export '${source.path}' does not exist on the host running the app.`);
    });
    const slack = await openSlackExport(source.path);
    return { slack, release: () => slack.close() };
  }
  const archive = await openBlobZip(blobs.getContainerClient(source.container).getBlobClient(source.name));
  const slack = await openSlackExport(archive);
  return { slack, release: () => slack.close() };
}
