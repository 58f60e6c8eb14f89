import { RestError, type BlobClient } from '@azure/storage-blob';
import { PassThrough, type Readable } from 'node:stream';
import * as yauzl from 'yauzl';
import {
  DEFAULT_ARCHIVE_LIMITS,
  ExportReadError,
  openZip,
  type ArchiveLimits,
  type ExportArchive,
} from '../sources/archive';

/**
 * Bytes one ranged request reads at least: 4 MiB, the planner's day-file read-ahead, so one request serves a
 * channel's next compressed day files (and the central directory of an export of some 30,000 files) at once.
 */
export const BLOB_READ_WINDOW_BYTES = 4 * 1024 * 1024;

/** Windows kept for reads that fall inside them again: at most this many times the window in memory. */
const WINDOWS_KEPT = 4;

/**
 * A window starts at a multiple of this below the read that opens it, so entries next to each other read out
 * of order (users.json before channels.json) share it.
 */
const WINDOW_ALIGN_BYTES = 64 * 1024;

/** What the reader needs of a blob: its ranged download (one request per call). */
export type RangedBlob = Pick<BlobClient, 'download'>;

interface Window {
  start: number;
  end: number;
  bytes: Promise<Buffer>;
}

/**
 * yauzl's random-access reader over a blob, through the Azure SDK's ranged download: a range smaller than the
 * window is served from a window of {@link BLOB_READ_WINDOW_BYTES} read in one request (kept for the reads
 * after it, reads in flight shared), a larger range (a big file's bytes) is streamed in one request of its
 * own. Every request names the blob's ETag, so a blob replaced while it is read fails rather than mixing two
 * exports.
 */
export class BlobRangeReader extends yauzl.RandomAccessReader {
  private windows: Window[] = [];

  constructor(
    private readonly blob: RangedBlob,
    private readonly size: number,
    private readonly etag?: string,
    private readonly windowBytes = BLOB_READ_WINDOW_BYTES,
  ) {
    super();
    if (windowBytes < 2 * WINDOW_ALIGN_BYTES)
      throw new Error(`BlobRangeReader: a window of ${windowBytes} bytes is under ${2 * WINDOW_ALIGN_BYTES}`);
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const out = new PassThrough();
    if (end - start > this.windowBytes - WINDOW_ALIGN_BYTES) {
      this.download(start, end - start).then(
        (body) => {
          body.on('error', (err) => out.destroy(err));
          out.on('close', () => body.destroy());
          body.pipe(out);
        },
        (err: Error) => out.destroy(err),
      );
      return out;
    }
    const window = this.window(start, end);
    window.bytes.then(
      (bytes) => out.end(bytes.subarray(start - window.start, end - window.start)),
      (err: Error) => out.destroy(err),
    );
    return out;
  }

  /** A read that fits a window is copied out of it; a larger one goes through yauzl's stream of the range. */
  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (err: Error | null) => void,
  ): void {
    if (position + length > this.size)
      return void setImmediate(() => callback(new Error(`unexpected end of the blob at byte ${this.size}`)));
    if (length > this.windowBytes - WINDOW_ALIGN_BYTES)
      return super.read(buffer, offset, length, position, callback);
    const window = this.window(position, position + length);
    window.bytes.then(
      (bytes) => {
        bytes.copy(buffer, offset, position - window.start, position - window.start + length);
        callback(null);
      },
      (err: Error) => callback(err),
    );
  }

  /** The kept or pending window holding [start, end), or a new one from just below it (or the blob's last). */
  private window(start: number, end: number): Window {
    const at = this.windows.findIndex((w) => w.start <= start && end <= w.end);
    if (at >= 0) {
      const [hit] = this.windows.splice(at, 1);
      this.windows.push(hit);
      return hit;
    }
    const aligned = start - (start % WINDOW_ALIGN_BYTES);
    const from = Math.max(0, Math.min(aligned, this.size - this.windowBytes));
    const to = Math.min(this.size, from + this.windowBytes);
    const window: Window = { start: from, end: to, bytes: this.fetch(from, to - from) };
    window.bytes.catch(() => {
      this.windows = this.windows.filter((w) => w !== window);
    });
    this.windows.push(window);
    if (this.windows.length > WINDOWS_KEPT) this.windows.shift();
    return window;
  }

  private async fetch(offset: number, count: number): Promise<Buffer> {
    const body = await this.download(offset, count);
    const bytes = Buffer.allocUnsafe(count);
    let at = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (at + chunk.length > count) throw new Error(`the blob answered more than the ${count} bytes asked`);
      chunk.copy(bytes, at);
      at += chunk.length;
    }
    if (at !== count) throw new Error(`the blob ended ${count - at} bytes early`);
    return bytes;
  }

  private async download(offset: number, count: number): Promise<NodeJS.ReadableStream & Readable> {
    const answer = await this.blob.download(offset, count, {
      maxRetryRequests: 3,
      ...(this.etag ? { conditions: { ifMatch: this.etag } } : {}),
    });
    if (!answer.readableStreamBody) throw new Error('the blob service answered no body');
    return answer.readableStreamBody as NodeJS.ReadableStream & Readable;
  }
}

/** A blob the reader can open: its properties and its ranged download. */
export type ZipBlob = Pick<BlobClient, 'download' | 'getProperties' | 'containerName' | 'name'>;

/**
 * Opens a ZIP export held in a blob without downloading it: its central directory, then each entry, are read
 * by range ({@link BlobRangeReader}); the archive gets every check of a ZIP file on disk. A blob that is
 * missing, unreadable or not a ZIP is refused with an {@link ExportReadError} saying what to do.
 */
export async function openBlobZip(
  blob: ZipBlob,
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
  windowBytes = BLOB_READ_WINDOW_BYTES,
): Promise<ExportArchive> {
  const label = `${blob.containerName}/${blob.name}`;
  let size: number;
  let etag: string | undefined;
  try {
    const props = await blob.getProperties();
    size = props.contentLength ?? 0;
    etag = props.etag;
  } catch (err) {
    if (err instanceof RestError && err.statusCode === 404)
      throw new ExportReadError(
        `The export blob '${label}' does not exist: upload the export ZIP (POST /api/uploads gives a URL to put it to) and name its blob.`,
      );
    throw new ExportReadError(
      `The export blob '${label}' cannot be read: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const name = blob.name.slice(blob.name.lastIndexOf('/') + 1) || blob.name;
  return openZip({ reader: new BlobRangeReader(blob, size, etag, windowBytes), size, name, label }, limits);
}
