import { createHash } from 'node:crypto';
import { DownloadError, FileTooLargeError } from '../files/download';
import { guidOfETag, inlineImageType } from '../files/image';
import { sharePointName } from '../files/names';
import type { FilesFolder, UploadedFile } from '../graph/files';
import type { PlannedFileLink, PlannedHostedContent, PlannedMessage } from '../model';
import type { ExportArchive } from '../sources/archive';
import type { SlackExport } from '../sources/slack/export';
import { parseJsonFile } from '../sources/slack/json';
import { stripUrlToken } from '../sources/slack/messages';
import type { FileLedger, FileRecord } from '../state/fileLedger';
import { escapeHtml } from '../transform/html';
import { MAX_INLINE_IMAGE_BYTES, fileNoticeHtml, formatSize } from '../transform/render';
import type { OpenedSource, PipelineDeps } from './deps';
import { readSourceRef, runPaths } from './runStore';

/** How the posting side reaches source files: the downloader, the file ledger and the size limit. */
export interface SourceFiles {
  /**
   * Downloads a file by its URL as the export gives it (with the export's token, if any); throws
   * DownloadError (`missing` when Slack no longer has it) or FileTooLargeError. Undefined when no
   * downloader is configured.
   */
  download?(url: string, mimeType?: string): Promise<Buffer>;
  ledger: FileLedger;
  /** Largest file moved, in bytes (`TEAMS_IMPORT_MAX_FILE_MB`). */
  maxFileBytes: number;
  /** A Slack bot token is configured, so files whose export URL has no token can still be downloaded. */
  botToken: boolean;
}

/** A file or inline image of one message could not be moved: the message fails with this reason. */
export class FileFailure extends Error {}

/** Where a message's files are uploaded when not to its channel's files folder (a chat's: the sender's OneDrive). */
export interface FileDestination {
  /** How failures name it ("Ada Lovelace's OneDrive"). */
  readonly label: string;
  /** Uploads `bytes` as `name`, replacing a file of that name; answers the item and the URL its attachment links to. */
  upload(name: string, bytes: Buffer): Promise<{ item: UploadedFile; contentUrl: string }>;
}

/** A planned message with its files resolved: the body and lists to send, and the bytes of inline images. */
export interface PreparedMessage {
  /** The message to post: placeholders replaced, `files` the reference attachments (id = eTag GUID). */
  message: PlannedMessage;
  hostedBytes: Map<string, Buffer>;
  /** Reference attachment id -> contentUrl. */
  fileUrls: Map<string, string>;
}

/** Names of a run's staged file bytes in its object store. */
export const filePaths = {
  channel: (runId: string, channelKey: string): string => `runs/${runId}/files/${channelKey}/`,
  staged: (runId: string, channelKey: string, fileId: string): string =>
    `runs/${runId}/files/${channelKey}/${encodeURIComponent(fileId)}`,
};

const DAY_CACHE = 4;
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Moves the files of one channel's messages, each once: download (or read from the export) into the run's
 * staging area with a ledger row (size, SHA-256), then by the bytes' real type and size an inline image
 * (an image Teams shows, while the message's inline images stay within 4 MiB together, so one POST never
 * carries more) or an upload to the channel's files folder attached as a reference
 * (`id` = the GUID of the item's eTag, `contentUrl` = the folder's webUrl + `/` + the item's name). Every
 * outcome is in the ledger before the message is posted, so a resume never downloads or uploads a file
 * again; a file's row is read by its id when a message that carries it is prepared, so a step reads the
 * rows of its own messages' files, whatever the channel holds before them. Notices replace files that are
 * gone, empty or over the size limit; other failures fail the message.
 */
export class MessageFiles {
  /** File rows read or written by this instance, by file id (a read that found none: undefined). */
  private readonly rows = new Map<string, FileRecord | undefined>();
  /** Rows of inline images of the messages posted through this instance whose staged bytes are still kept. */
  private readonly postedImages = new Map<string, FileRecord>();
  private folder?: Promise<FilesFolder>;
  private source?: Promise<{ opened: OpenedSource; archive: ExportArchive }>;
  private readonly days = new Map<string, Map<string, unknown[]>>();

  constructor(
    private readonly deps: PipelineDeps,
    private readonly runId: string,
    private readonly teamId: string,
    private readonly channelId: string,
    private readonly channelKey: string,
    /** Where files go instead of the channel's files folder (a chat's: the sender's OneDrive). */
    private readonly destination?: FileDestination,
  ) {}

  /** Resolves every file and inline image of a planned message; throws FileFailure naming what failed. */
  async prepare(msg: PlannedMessage): Promise<PreparedMessage> {
    const hostedBytes = new Map<string, Buffer>();
    for (const hosted of msg.hostedContents)
      hostedBytes.set(hosted.temporaryId, await this.hostedBytes(hosted));
    const hostedContents = [...msg.hostedContents];
    let inlineBytes = [...hostedBytes.values()].reduce((n, b) => n + b.length, 0);
    const files: PlannedFileLink[] = [];
    const fileUrls = new Map<string, string>();
    let html = msg.html;
    const replace = (file: PlannedFileLink, with_: string): void => {
      html = html.replace(`<attachment id="${file.attachmentId}"></attachment>`, with_);
    };
    const rows = await Promise.all(msg.files.map((file) => this.row(file)));
    for (const [at, file] of msg.files.entries()) {
      let row = rows[at];
      if (file.earlier && row?.target !== 'drive') {
        replace(file, fileNoticeHtml(file.name, file.permalink, 'shared earlier'));
        continue;
      }
      if (row?.target === 'notice') {
        replace(file, fileNoticeHtml(file.name, file.permalink, row.notice ?? 'not migrated'));
        continue;
      }
      if (row?.target === 'drive' && row.eTag && row.contentUrl) {
        const id = guidOfETag(row.eTag)!;
        if (fileUrls.has(id)) replace(file, '');
        else {
          replace(file, `<attachment id="${id}"></attachment>`);
          files.push({ ...file, attachmentId: id, name: row.name ?? file.name });
          fileUrls.set(id, row.contentUrl);
        }
        continue;
      }
      const got = await this.bytes(file, row);
      row = got.row;
      if (!got.bytes) {
        replace(file, fileNoticeHtml(file.name, file.permalink, row.notice ?? 'not migrated'));
        continue;
      }
      const imageType = inlineImageType(got.bytes);
      if (imageType && inlineBytes + got.bytes.length <= MAX_INLINE_IMAGE_BYTES) {
        inlineBytes += got.bytes.length;
        const temporaryId = nextTemporaryId(hostedContents);
        hostedContents.push({ temporaryId, contentType: imageType, name: file.name, size: got.bytes.length });
        hostedBytes.set(temporaryId, got.bytes);
        if (row.target !== 'hosted' || row.contentType !== imageType)
          await this.record({ ...row, target: 'hosted', contentType: imageType });
        const alt = escapeHtml([...file.name].slice(0, 100).join(''));
        replace(file, `<p><img src="../hostedContents/${temporaryId}/$value" alt="${alt}"></p>`);
        continue;
      }
      row = await this.upload(file, got.bytes, row);
      const id = guidOfETag(row.eTag)!;
      replace(file, `<attachment id="${id}"></attachment>`);
      files.push({ ...file, attachmentId: id, name: row.name ?? file.name });
      fileUrls.set(id, row.contentUrl!);
    }
    return { message: { ...msg, html, hostedContents, files }, hostedBytes, fileUrls };
  }

  /**
   * After a message is posted: drops the staged bytes of its files that now live in SharePoint or as notices.
   * Those of its inline images are kept until its outcome is in the ledger (a resume that posts it again
   * needs them): `close` drops them.
   */
  async posted(msg: PlannedMessage): Promise<void> {
    for (const file of msg.files) {
      const row = await this.row(file);
      if (!row?.staged) continue;
      if (row.target === 'hosted') {
        this.postedImages.set(row.fileId, row);
        continue;
      }
      await this.dropStaged(row);
    }
  }

  /**
   * Releases the export. `postedRecorded` (the outcomes of the messages posted through this instance are in
   * the ledger) drops the staged bytes of their inline images, known without a read, as far as the store
   * lets it; `channelDone` (every planned message posted) drops those too, then every staged byte an earlier
   * step left (one that died or could not delete them), found by the rows that still name staged bytes.
   */
  async close(channelDone: boolean, postedRecorded = false): Promise<void> {
    if (channelDone || postedRecorded) {
      for (const row of this.postedImages.values()) await this.dropStaged(row).catch(() => undefined);
      this.postedImages.clear();
    }
    if (channelDone)
      for (const row of await this.deps.files.ledger.staged(this.runId, this.channelKey))
        await this.dropStaged(row);
    if (!this.source) return;
    const { opened } = await this.source;
    await opened.release();
  }

  /** A file's row, read by its file id once (a point read: a batch reads the rows of its own files only). */
  private async row(file: PlannedFileLink): Promise<FileRecord | undefined> {
    const fileId = file.sourceId ?? file.attachmentId;
    if (this.rows.has(fileId)) return this.rows.get(fileId);
    const row = await this.deps.files.ledger.get(this.runId, this.channelKey, fileId);
    this.rows.set(fileId, row);
    return row;
  }

  /** Deletes a file's staged bytes, then says so in its row. */
  private async dropStaged(read: FileRecord): Promise<void> {
    const row = this.rows.get(read.fileId) ?? read;
    if (!row.staged) return;
    await this.deps.store.delete(row.staged);
    await this.record({ ...row, staged: undefined });
  }

  private async record(row: FileRecord): Promise<void> {
    const clean = Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined)) as FileRecord;
    await this.deps.files.ledger.put(this.runId, this.channelKey, clean);
    this.rows.set(clean.fileId, clean);
  }

  /**
   * A file's bytes, once: staged bytes whose SHA-256 still matches, else the export's copy or a download,
   * staged and recorded before use. Answers no bytes (with the row's notice) for a file that is gone in
   * Slack, empty, or over the size limit; throws FileFailure for any other failure.
   */
  private async bytes(
    file: PlannedFileLink,
    row: FileRecord | undefined,
  ): Promise<{ bytes?: Buffer; row: FileRecord }> {
    const fileId = file.sourceId ?? file.attachmentId;
    const base: FileRecord = row ?? { fileId };
    if (base.staged && base.sha256) {
      const staged = await this.deps.store.get(base.staged).catch(() => undefined);
      if (staged && sha256(staged) === base.sha256) return { bytes: staged, row: base };
    }
    const limit = this.deps.files.maxFileBytes;
    let bytes: Buffer;
    try {
      bytes = await this.fetch(file);
    } catch (err) {
      if (err instanceof FileTooLargeError) {
        const notice = `not migrated: ${err.size === undefined ? 'larger than' : `${formatSize(err.size)}, over`} the ${formatSize(limit)} limit`;
        const noticeRow: FileRecord = {
          fileId,
          target: 'notice',
          notice,
          ...(err.size ? { size: err.size } : {}),
        };
        await this.record(noticeRow);
        return { row: noticeRow };
      }
      if (err instanceof DownloadError && (err.missing || err.notSlack)) {
        const notice = err.missing
          ? 'not migrated: the file is no longer in Slack'
          : 'not migrated: its link is not on a Slack file host, so it was not downloaded';
        const noticeRow: FileRecord = { fileId, target: 'notice', notice };
        await this.record(noticeRow);
        return { row: noticeRow };
      }
      if (err instanceof FileFailure) throw err;
      throw new FileFailure(`file ${file.name} could not be downloaded: ${(err as Error).message}`);
    }
    if (bytes.length === 0 || bytes.length > limit) {
      const notice =
        bytes.length === 0
          ? 'empty file: 0 bytes'
          : `not migrated: ${formatSize(bytes.length)}, over the ${formatSize(limit)} limit`;
      const noticeRow: FileRecord = { fileId, target: 'notice', notice, size: bytes.length };
      await this.record(noticeRow);
      return { row: noticeRow };
    }
    const staged = filePaths.staged(this.runId, this.channelKey, fileId);
    await this.deps.store.put(staged, bytes, 'application/octet-stream');
    const recorded: FileRecord = { fileId, size: bytes.length, sha256: sha256(bytes), staged };
    await this.record(recorded);
    return { bytes, row: recorded };
  }

  /** Reads a file from the export when it carries the bytes, else downloads it by the export's own URL. */
  private async fetch(file: PlannedFileLink): Promise<Buffer> {
    if (file.exportPath) return (await this.archive()).read(file.exportPath);
    const download = this.deps.files.download?.bind(this.deps.files);
    if (!file.url || !download)
      throw new FileFailure(
        `file ${file.name} cannot be downloaded: no downloader is configured for Slack files`,
      );
    const url = file.locator ? await this.tokenizedUrl(file) : file.url;
    return download(url, file.mimeType);
  }

  /** The file's URL with the export's token, read from its day file (the plan keeps no token). */
  private async tokenizedUrl(file: PlannedFileLink): Promise<string> {
    const { dayFile, ts, index } = file.locator!;
    const archive = await this.archive();
    let messages = this.days.get(dayFile);
    if (!messages) {
      const path = archive.has(dayFile) ? dayFile : archive.paths().find((p) => p.endsWith(`/${dayFile}`));
      if (!path) throw new FileFailure(`file ${file.name}: the export has no day file ${dayFile}`);
      const parsed = parseJsonFile(path, await archive.read(path));
      messages = new Map();
      for (const raw of Array.isArray(parsed) ? parsed : []) {
        if (typeof raw !== 'object' || raw === null) continue;
        const m = raw as { ts?: unknown; files?: unknown; file?: unknown };
        if (typeof m.ts !== 'string') continue;
        const list = Array.isArray(m.files) ? m.files : m.file ? [m.file] : [];
        messages.set(m.ts, list);
      }
      if (this.days.size >= DAY_CACHE) this.days.delete(this.days.keys().next().value!);
      this.days.set(dayFile, messages);
    }
    const raw = messages.get(ts)?.[index] as
      { url_private_download?: unknown; url_private?: unknown } | undefined;
    const url = [raw?.url_private_download, raw?.url_private].find((u): u is string => typeof u === 'string');
    if (!url || stripUrlToken(url) !== file.url)
      throw new FileFailure(
        `file ${file.name}: message ${ts} of ${dayFile} no longer lists it as planned; plan the run again`,
      );
    return url;
  }

  /** Uploads a file to the channel's files folder once, recording the item before the message is posted. */
  private async upload(file: PlannedFileLink, bytes: Buffer, row: FileRecord): Promise<FileRecord> {
    if (this.destination) return this.uploadTo(this.destination, file, bytes, row);
    const folder = await (this.folder ??= this.deps.graph.getFilesFolder(this.teamId, this.channelId));
    if (!folder.webUrl)
      throw new FileFailure(
        `the files folder of this channel has no webUrl, so ${file.name} cannot be linked`,
      );
    const name = file.uploadName ?? sharePointName(file.name, file.sourceId ?? file.attachmentId);
    let item;
    try {
      item = await this.deps.graph.uploadFile(folder.driveId, folder.itemId, name, bytes);
    } catch (err) {
      throw new FileFailure(
        `upload of ${file.name} to the channel's files folder failed: ${(err as Error).message}`,
      );
    }
    if (!guidOfETag(item.eTag))
      throw new FileFailure(
        `the uploaded ${file.name} came back without an eTag GUID, which its attachment id must be`,
      );
    const uploaded: FileRecord = {
      ...row,
      target: 'drive',
      driveItemId: item.id,
      eTag: item.eTag,
      name: item.name,
      contentUrl: `${folder.webUrl.replace(/\/+$/, '')}/${encodeURIComponent(item.name)}`,
    };
    await this.record(uploaded);
    return uploaded;
  }

  /** Uploads a file to a destination other than the channel's folder once, recording the item first. */
  private async uploadTo(
    destination: FileDestination,
    file: PlannedFileLink,
    bytes: Buffer,
    row: FileRecord,
  ): Promise<FileRecord> {
    const name = file.uploadName ?? sharePointName(file.name, file.sourceId ?? file.attachmentId);
    let uploaded;
    try {
      uploaded = await destination.upload(name, bytes);
    } catch (err) {
      throw new FileFailure(
        `upload of ${file.name} to ${destination.label} failed: ${(err as Error).message}`,
      );
    }
    if (!guidOfETag(uploaded.item.eTag))
      throw new FileFailure(
        `the uploaded ${file.name} came back without an eTag GUID, which its attachment id must be`,
      );
    const recorded: FileRecord = {
      ...row,
      target: 'drive',
      driveItemId: uploaded.item.id,
      eTag: uploaded.item.eTag,
      name: uploaded.item.name,
      contentUrl: uploaded.contentUrl,
    };
    await this.record(recorded);
    return recorded;
  }

  private async hostedBytes(hosted: PlannedHostedContent): Promise<Buffer> {
    try {
      if (hosted.exportPath) return await (await this.archive()).read(hosted.exportPath);
      if (hosted.url && this.deps.files.download)
        return await this.deps.files.download(hosted.url, hosted.contentType);
    } catch (err) {
      throw new FileFailure(`inline image ${hosted.name} could not be read: ${(err as Error).message}`);
    }
    throw new FileFailure(
      `inline image ${hosted.name} has no readable source: neither in the export nor downloadable`,
    );
  }

  private async archive(): Promise<ExportArchive> {
    this.source ??= (async () => {
      const ref = await readSourceRef(this.deps.store, this.runId);
      if (!ref)
        throw new FileFailure(`run '${this.runId}' has no staged source (${runPaths.source(this.runId)})`);
      const opened = await this.deps.openSource(ref);
      if (!('archive' in opened.slack)) {
        await opened.release();
        throw new FileFailure(`the run's source (${ref.kind}) is not an export: it holds no file bytes`);
      }
      return { opened, archive: (opened.slack as SlackExport).archive };
    })();
    return (await this.source).archive;
  }
}

/** A temporary id not yet used by the message's hosted contents. */
function nextTemporaryId(hosted: PlannedHostedContent[]): string {
  const used = new Set(hosted.map((h) => h.temporaryId));
  let n = hosted.length + 1;
  while (used.has(String(n))) n++;
  return String(n);
}
