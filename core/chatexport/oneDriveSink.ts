import type { Client } from '@microsoft/microsoft-graph-client';
import { encodePathSegment } from './graphSource';
import { EXPORT_FOLDER } from './names';
import type { ConversationStaging, ExportSink, UploadedFile } from './ports';
import type { StagedConversation } from './types';

/** Files up to this size go in one PUT; larger ones through an upload session. */
export const SIMPLE_UPLOAD_LIMIT = 4 * 1024 * 1024;

/** Upload-session chunks must be multiples of 320 KiB (all but the last). */
export const UPLOAD_CHUNK_UNIT = 320 * 1024;

/** The default upload-session chunk: 10 x 320 KiB, well under the 60 MiB per-request cap. */
export const DEFAULT_CHUNK_SIZE = 10 * UPLOAD_CHUNK_UNIT;

/** How OneDriveSink uploads: Graph client (app-only on the target tenant), staging, and upload-session tuning. */
export interface OneDriveSinkOptions {
  client: Client;
  staging: ConversationStaging;
  folder?: string;
  chunkSize?: number;
  fetch?: typeof fetch;
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

interface DriveItem {
  id?: string;
  name?: string;
  size?: number;
}

interface SessionStatus {
  nextExpectedRanges?: string[];
}

function nextOffset(status: SessionStatus, fallback: number): number {
  const range = status.nextExpectedRanges?.[0];
  const start = range ? Number(range.split('-')[0]) : NaN;
  return Number.isInteger(start) ? start : fallback;
}

/**
 * The ExportSink of the real run: staging through a ConversationStaging, files to the target user's
 * `/users/{id}/drive/root:/TeamsHistory/<name>` replacing any existing file, by simple PUT up to 4 MB and by
 * an upload session above (sequential chunks of a multiple of 320 KiB, no Authorization header on the
 * pre-authenticated uploadUrl, 5xx and network errors retried with backoff).
 */
export class OneDriveSink implements ExportSink {
  private readonly folder: string;
  private readonly chunkSize: number;
  private readonly fetch: typeof fetch;
  private readonly maxAttempts: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: OneDriveSinkOptions) {
    this.folder = options.folder ?? EXPORT_FOLDER;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (
      this.chunkSize <= 0 ||
      this.chunkSize % UPLOAD_CHUNK_UNIT !== 0 ||
      this.chunkSize >= 60 * 1024 * 1024
    ) {
      throw new Error(
        `Upload chunk size ${this.chunkSize} is invalid: it must be a multiple of ${UPLOAD_CHUNK_UNIT} bytes (320 KiB) below 60 MiB`,
      );
    }
    this.fetch = options.fetch ?? globalThis.fetch;
    this.maxAttempts = options.maxAttempts ?? 4;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  loadConversation(ownerId: string, chatId: string): Promise<StagedConversation | undefined> {
    return this.options.staging.loadConversation(ownerId, chatId);
  }

  saveConversation(ownerId: string, chatId: string, conversation: StagedConversation): Promise<void> {
    return this.options.staging.saveConversation(ownerId, chatId, conversation);
  }

  async uploadFile(targetUserId: string, fileName: string, content: Buffer): Promise<UploadedFile> {
    const item = `/users/${encodePathSegment(targetUserId)}/drive/root:/${encodePathSegment(this.folder)}/${encodePathSegment(fileName)}:`;
    const where = `${this.folder}/${fileName} of user ${targetUserId}`;
    try {
      const result =
        content.length <= SIMPLE_UPLOAD_LIMIT
          ? await this.simpleUpload(item, content)
          : await this.sessionUpload(item, content, where);
      return {
        ...(result.id ? { id: result.id } : {}),
        name: result.name ?? fileName,
        size: result.size ?? content.length,
      };
    } catch (error) {
      const status = (error as { statusCode?: unknown }).statusCode;
      const detail = error instanceof Error ? error.message : String(error);
      throw new Error(
        `Upload of ${where} failed${typeof status === 'number' ? ` with ${status}` : ''}: ${detail}; the file is retried on the next pass`,
      );
    }
  }

  private async simpleUpload(item: string, content: Buffer): Promise<DriveItem> {
    return (await this.options.client
      .api(`${item}/content?@microsoft.graph.conflictBehavior=replace`)
      .header('Content-Type', 'text/html; charset=utf-8')
      .put(content)) as DriveItem;
  }

  private async sessionUpload(item: string, content: Buffer, where: string): Promise<DriveItem> {
    const session = (await this.options.client
      .api(`${item}/createUploadSession`)
      .post({ item: { '@microsoft.graph.conflictBehavior': 'replace' } })) as { uploadUrl?: string };
    const uploadUrl = session.uploadUrl;
    if (!uploadUrl) throw new Error('createUploadSession returned no uploadUrl');
    try {
      return await this.sendChunks(uploadUrl, content, where);
    } catch (error) {
      await this.fetch(uploadUrl, { method: 'DELETE' }).then(
        (response) => response.body?.cancel(),
        () => undefined,
      );
      throw error;
    }
  }

  private async sendChunks(uploadUrl: string, content: Buffer, where: string): Promise<DriveItem> {
    const total = content.length;
    const maxRequests = Math.ceil(total / this.chunkSize) * 3 + 10;
    let offset = 0;
    for (let request = 0; request < maxRequests; request += 1) {
      const end = Math.min(offset + this.chunkSize, total);
      const response = await this.withRetries(() =>
        this.fetch(uploadUrl, {
          method: 'PUT',
          headers: {
            'Content-Length': String(end - offset),
            'Content-Range': `bytes ${offset}-${end - 1}/${total}`,
          },
          body: content.subarray(offset, end),
        }),
      );
      if (response.status === 200 || response.status === 201) return (await response.json()) as DriveItem;
      if (response.status === 202) {
        offset = nextOffset((await response.json()) as SessionStatus, end);
      } else if (response.status === 416) {
        await response.body?.cancel();
        const status = await this.withRetries(() => this.fetch(uploadUrl, { method: 'GET' }));
        offset = nextOffset((await status.json()) as SessionStatus, end);
      } else {
        const text = (await response.text()).slice(0, 300);
        throw new Error(`upload session answered ${response.status} at bytes ${offset}-${end - 1}: ${text}`);
      }
      if (offset >= total)
        throw new Error(`upload session expects no more bytes but did not return the file`);
    }
    throw new Error(`upload session of ${where} made no progress after ${maxRequests} requests`);
  }

  private async withRetries(send: () => Promise<Response>): Promise<Response> {
    for (let attempt = 1; ; attempt += 1) {
      let failure: string;
      try {
        const response = await send();
        if (response.status < 500) return response;
        failure = `status ${response.status}`;
        await response.body?.cancel();
      } catch (error) {
        failure = (error as Error).message;
      }
      if (attempt >= this.maxAttempts) {
        throw new Error(`upload session request failed ${attempt} times, last: ${failure}`);
      }
      await this.sleep(1000 * 2 ** (attempt - 1));
    }
  }
}
