import type { DriveItem, UploadSession } from '@microsoft/microsoft-graph-types';
import { GraphNetworkError, graphErrorFromResponse } from './errors';
import { backoffMs, retryAfterMs } from './middleware/retry';
import { seg, type GraphCaller } from './request';
import { UPLOAD_CHUNK_UNIT, sendUploadSession } from './uploadSession';

/** Where a channel keeps its files: the drive and the folder item. */
export interface FilesFolder {
  driveId: string;
  itemId: string;
  webUrl?: string;
}

/** An uploaded file: its drive item id, its name in the folder, its own webUrl and its eTag (`"{GUID},n"`). */
export interface UploadedFile {
  id: string;
  name: string;
  webUrl: string;
  eTag?: string;
}

/** Files at or under this size go in one PUT; larger ones through an upload session. */
export const SIMPLE_UPLOAD_LIMIT = 4 * 1024 * 1024;
export { UPLOAD_CHUNK_UNIT };

/** The channel's files folder (`GET /teams/{id}/channels/{id}/filesFolder`). */
export async function getFilesFolder(
  caller: GraphCaller,
  teamId: string,
  channelId: string,
): Promise<FilesFolder> {
  const { body } = await caller.call<DriveItem>(
    'getFilesFolder',
    'GET',
    `/teams/${seg(teamId)}/channels/${seg(channelId)}/filesFolder`,
  );
  const driveId = body.parentReference?.driveId;
  if (!body.id || !driveId)
    throw new Error(
      `getFilesFolder: the answer for channel ${channelId} has no item id or drive id; open the channel's Files tab once in Teams to provision the folder, then resume.`,
    );
  return { driveId, itemId: body.id, webUrl: body.webUrl ?? undefined };
}

/** Options of uploadFile. */
export interface UploadOptions {
  /** Session chunk size, a multiple of 320 KiB (default 10 x 320 KiB). */
  chunkBytes?: number;
  /** Fetch for the upload-session PUTs, which carry no Authorization header. */
  fetch?: typeof fetch;
}

/**
 * Uploads bytes as `name` under a folder, replacing a file of that name (so a resumed upload is harmless):
 * one PUT up to 4 MiB, else an upload session whose chunk PUTs go to the session URL without a token.
 */
export async function uploadFile(
  caller: GraphCaller,
  driveId: string,
  parentId: string,
  name: string,
  bytes: Buffer,
  options: UploadOptions = {},
): Promise<UploadedFile> {
  return uploadToPath(
    caller,
    `/drives/${seg(driveId)}/items/${seg(parentId)}:/${seg(name)}:`,
    name,
    bytes,
    options,
  );
}

/**
 * Uploads bytes to a drive item path (`/drives/{d}/items/{p}:/{name}:`, `/users/{id}/drive/root:/{path}:`),
 * replacing a file there, as uploadFile does.
 */
export async function uploadToPath(
  caller: GraphCaller,
  itemPath: string,
  name: string,
  bytes: Buffer,
  options: UploadOptions = {},
): Promise<UploadedFile> {
  if (bytes.length <= SIMPLE_UPLOAD_LIMIT) {
    const { body } = await caller.call<DriveItem>(
      'uploadFile',
      'PUT',
      `${itemPath}/content?@microsoft.graph.conflictBehavior=replace`,
      { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } },
    );
    return toUploaded(body, name);
  }
  const chunkBytes = options.chunkBytes ?? 10 * UPLOAD_CHUNK_UNIT;
  if (chunkBytes <= 0 || chunkBytes % UPLOAD_CHUNK_UNIT !== 0)
    throw new RangeError(
      `Upload chunk size ${chunkBytes} is not a positive multiple of 320 KiB (${UPLOAD_CHUNK_UNIT} bytes).`,
    );
  const { retry, sleep, random, now } = caller.handle;
  const { body: session } = await caller.call<UploadSession>(
    'uploadFile',
    'POST',
    `${itemPath}/createUploadSession`,
    {
      body: { item: { '@microsoft.graph.conflictBehavior': 'replace', name } },
      idempotent: true,
    },
  );
  if (!session.uploadUrl) throw new Error(`uploadFile: the upload session for ${name} has no uploadUrl.`);
  const item = await sendUploadSession(session.uploadUrl, bytes, {
    chunkBytes,
    fetch: options.fetch ?? fetch,
    sleep,
    resync: true,
    retryDelay: ({ response }, attempt) => {
      if (attempt > retry.maxRetries) return undefined;
      if (!response) return backoffMs(retry, attempt - 1, random);
      if (![429, 500, 502, 503, 504].includes(response.status)) return undefined;
      return Math.min(
        retryAfterMs(response.headers, now()) ?? backoffMs(retry, attempt - 1, random),
        retry.maxDelayMs,
      );
    },
    giveUp: ({ response, error }, attempts) =>
      response
        ? graphErrorFromResponse(response, 'uploadFile')
        : new GraphNetworkError('PUT', 'uploadUrl', attempts, error),
  });
  return toUploaded(item as DriveItem, name);
}

function toUploaded(item: DriveItem, name: string): UploadedFile {
  if (!item.id || !item.webUrl)
    throw new Error(
      `uploadFile: the service answered without an id or webUrl for ${name}; re-run the upload.`,
    );
  return {
    id: item.id,
    name: item.name ?? name,
    webUrl: item.webUrl,
    ...(item.eTag ? { eTag: item.eTag } : {}),
  };
}
