import type { Client } from '@microsoft/microsoft-graph-client';
import { SIMPLE_UPLOAD_LIMIT } from '../graph/files';
import { UPLOAD_CHUNK_UNIT, sendUploadSession } from '../graph/uploadSession';
import { encodePathSegment } from './graphSource';
import { EXPORT_FOLDER } from './names';
import type { ConversationStaging, ExportSink, UploadedFile } from './ports';
import type { StagedConversation } from './types';

export { SIMPLE_UPLOAD_LIMIT, UPLOAD_CHUNK_UNIT };

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
          : await this.sessionUpload(item, content);
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

  private async sessionUpload(item: string, content: Buffer): Promise<DriveItem> {
    const session = (await this.options.client
      .api(`${item}/createUploadSession`)
      .post({ item: { '@microsoft.graph.conflictBehavior': 'replace' } })) as { uploadUrl?: string };
    const uploadUrl = session.uploadUrl;
    if (!uploadUrl) throw new Error('createUploadSession returned no uploadUrl');
    try {
      return await this.sendChunks(uploadUrl, content);
    } catch (error) {
      await this.fetch(uploadUrl, { method: 'DELETE' }).then(
        (response) => response.body?.cancel(),
        () => undefined,
      );
      throw error;
    }
  }

  private async sendChunks(uploadUrl: string, content: Buffer): Promise<DriveItem> {
    return (await sendUploadSession(uploadUrl, content, {
      chunkBytes: this.chunkSize,
      fetch: this.fetch,
      sleep: this.sleep,
      resync: false,
      retryDelay: ({ response }, attempt) =>
        (response && response.status < 500) || attempt >= this.maxAttempts
          ? undefined
          : 1000 * 2 ** (attempt - 1),
      giveUp: async ({ response, error }, attempts) => {
        if (response && response.status < 500)
          return new Error(
            `upload session answered ${response.status}: ${(await response.text()).slice(0, 300)}`,
          );
        const last = response ? `status ${response.status}` : (error as Error).message;
        return new Error(`upload session request failed ${attempts} times, last: ${last}`);
      },
    })) as DriveItem;
  }
}
