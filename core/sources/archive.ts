import { inflateRaw } from 'node:zlib';
import { close as closeFd, createReadStream, fstat, open, read as readFd } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { basename, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import * as yauzl from 'yauzl';
import type { Problem } from '../model';

/** Limits applied while reading an export; they bound memory and time and refuse ZIP bombs. */
export interface ArchiveLimits {
  /** Largest total expanded size of all entries (bytes). */
  maxExpandedBytes: number;
  /** Largest single file read (bytes): metadata files are read whole, day files streamed. */
  maxEntryBytes: number;
}

/**
 * Defaults: 20 GiB expanded in total, 256 MiB for one JSON file. The per-file limit stays well below V8's
 * largest string (`buffer.constants.MAX_STRING_LENGTH`, 512 MiB less 24 characters), so a file that is
 * accepted can always be decoded, and no Slack day file comes near it.
 */
export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxExpandedBytes: 20 * 1024 ** 3,
  maxEntryBytes: 256 * 1024 ** 2,
};

/** A byte count with its binary unit, for messages: `268435456 bytes (256 MiB)`. */
export function bytesText(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = '';
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return unit ? `${n} bytes (${Number(value.toFixed(1))} ${unit})` : `${n} bytes`;
}

/** An export opened for reading (a ZIP or a folder): `/`-separated relative paths, entries read lazily. */
export interface ExportArchive {
  /** The file or folder name, for messages. */
  readonly name: string;
  /** Every readable file path, sorted; unsafe entries are left out and reported in `problems`. */
  paths(): string[];
  has(path: string): boolean;
  /** Expanded size of an entry in bytes. */
  size(path: string): number;
  /** Reads one entry into memory; refuses entries over `maxEntryBytes`. */
  read(path: string): Promise<Buffer>;
  /** Streams one entry (file bytes for upload, large JSON files). */
  stream(path: string): Promise<Readable>;
  /** The limits the archive was opened with. */
  readonly limits: ArchiveLimits;
  readonly problems: Problem[];
  close(): Promise<void>;
}

/** An export that cannot be read at all (not a ZIP, corrupt, too large): the message says what to do. */
export class ExportReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportReadError';
  }
}

/** An entry over the per-file limit: refused before a byte of it is read. */
export class EntryTooLargeError extends ExportReadError {
  constructor(message: string) {
    super(message);
    this.name = 'EntryTooLargeError';
  }
}

/** Why a relative path may not be used, or undefined when it is safe (no `..`, not absolute, no drive). */
export function unsafePathReason(path: string): string | undefined {
  if (path.includes('\\')) return 'contains a backslash';
  if (path.startsWith('/') || /^[a-zA-Z]:/.test(path)) return 'is an absolute path';
  if (path.split('/').includes('..')) return "contains a '..' segment";
  if (path.includes('\0')) return 'contains a NUL character';
  return undefined;
}

/** Opens a Slack export ZIP or extracted folder, choosing by what the path is. */
export async function openExportArchive(
  path: string,
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
): Promise<ExportArchive> {
  const info = await stat(path).catch(() => {
    throw new ExportReadError(`'${path}' does not exist: pass a Slack export ZIP or its extracted folder.`);
  });
  return info.isDirectory() ? openFolder(path, limits) : openZipFile(path, limits);
}

async function openFolder(root: string, limits: ArchiveLimits): Promise<ExportArchive> {
  const sizes = new Map<string, number>();
  const problems: Problem[] = [];
  const walk = async (rel: string): Promise<void> => {
    const dirents = await readdir(join(root, rel), { withFileTypes: true });
    for (const d of dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const child = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) await walk(child);
      else if (d.isFile()) sizes.set(child, (await stat(join(root, child))).size);
      else
        problems.push({
          severity: 'warning',
          code: 'folder-entry-skipped',
          message: `'${child}' in the export folder is ${
            d.isSymbolicLink() ? 'a symbolic link' : 'not a regular file (a device, pipe or socket)'
          }; it was skipped and nothing it points to is read. Copy the real file into the folder if it belongs to the export.`,
          where: child,
        });
    }
  };
  await walk('');
  const sorted = [...sizes.keys()].sort();
  const full = (p: string): string => {
    if (!sizes.has(p)) throw new ExportReadError(`'${p}' is not in the export folder '${root}'.`);
    return join(root, ...p.split('/'));
  };
  return {
    name: basename(root.replace(new RegExp(`\\${sep}+$`), '')),
    paths: () => sorted,
    has: (p) => sizes.has(p),
    size: (p) => sizes.get(p) ?? 0,
    read: async (p) => {
      checkEntrySize(p, sizes.get(p) ?? 0, limits);
      return readFile(full(p));
    },
    stream: async (p) => createReadStream(full(p)),
    limits,
    problems,
    close: async () => undefined,
  };
}

/** Throws the refusal of an entry over the per-file limit, naming the entry and the limit. */
export function checkEntrySize(path: string, size: number, limits: ArchiveLimits): void {
  if (size > limits.maxEntryBytes)
    throw new EntryTooLargeError(
      `'${path}' expands to ${bytesText(size)}, over the ${bytesText(limits.maxEntryBytes)} limit for one ` +
        'file of an export; no Slack JSON file is that large: the export is damaged or was altered, export it again.',
    );
}

/**
 * A ZIP to read by position: yauzl's random-access reader over its bytes (a local file, a blob read by range),
 * its size in bytes, its file name (`ExportArchive.name`) and how messages name it (a path, `container/blob`).
 */
export interface ZipSource {
  reader: yauzl.RandomAccessReader;
  size: number;
  name: string;
  label: string;
}

/** Bytes asked of the file per positioned read. */
const FILE_READ_BYTES = 64 * 1024;
const inflateRawAsync = promisify(inflateRaw);

/** yauzl's reader over an open file descriptor: positioned reads (streams never close it), closed when yauzl is done. */
class FileRangeReader extends yauzl.RandomAccessReader {
  constructor(private readonly fd: number) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const { fd } = this;
    let at = start;
    return new Readable({
      highWaterMark: FILE_READ_BYTES,
      read(size) {
        const want = Math.min(size, end - at);
        if (want <= 0) {
          this.push(null);
          return;
        }
        const bytes = Buffer.allocUnsafe(want);
        readFd(fd, bytes, 0, want, at, (err, got) => {
          if (err) this.destroy(err);
          else if (got === 0) this.push(null);
          else {
            at += got;
            this.push(got < want ? bytes.subarray(0, got) : bytes);
          }
        });
      },
    });
  }

  /** One positioned read (or a few, when the system answers short) instead of yauzl's stream per read. */
  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (err: Error | null) => void,
  ): void {
    if (length === 0) return void setImmediate(() => callback(null));
    readFd(this.fd, buffer, offset, length, position, (err, got) => {
      if (err) callback(err);
      else if (got === 0) callback(new Error(`unexpected end of file at byte ${position}`));
      else if (got < length) this.read(buffer, offset + got, length - got, position + got, callback);
      else callback(null);
    });
  }

  override close(callback: (err: Error | null) => void): void {
    closeFd(this.fd, (err) => callback(err));
  }
}

/** Opens a ZIP file on disk through {@link openZip}. */
async function openZipFile(path: string, limits: ArchiveLimits): Promise<ExportArchive> {
  const fd = await promisify(open)(path, 'r');
  let size: number;
  try {
    size = (await promisify(fstat)(fd)).size;
  } catch (err) {
    closeFd(fd, () => undefined);
    throw err;
  }
  return openZip({ reader: new FileRangeReader(fd), size, name: basename(path), label: path }, limits);
}

/**
 * Opens a ZIP export over any random-access reader: reads its central directory (entry names and sizes),
 * leaves out unsafe names as problems, refuses a ZIP bomb by the expanded total, and reads entries on demand
 * with yauzl's size checks (`validateEntrySizes`). The reader is closed by `close()`, or at once when the
 * bytes are not a readable ZIP.
 */
export async function openZip(
  source: ZipSource,
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
): Promise<ExportArchive> {
  const { label } = source;
  const zip = await yauzl
    .fromRandomAccessReaderPromise(source.reader, source.size, {
      lazyEntries: true,
      decodeStrings: false,
      autoClose: false,
      validateEntrySizes: true,
    })
    .catch(async (err: Error) => {
      await new Promise<void>((resolve) => source.reader.close(() => resolve()));
      throw new ExportReadError(
        `'${label}' is not a readable ZIP file (${err.message}): it may be truncated or not a ZIP; download the export again.`,
      );
    });
  const entries = new Map<string, yauzl.Entry>();
  const problems: Problem[] = [];
  let expanded = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', resolve);
      zip.on('entry', (entry: yauzl.Entry) => {
        const name = yauzl.getFileNameLowLevel(
          entry.generalPurposeBitFlag,
          entry.fileNameRaw,
          entry.extraFields,
          false,
        );
        const reason = unsafePathReason(name);
        if (reason) {
          problems.push({
            severity: 'warning',
            code: 'zip-unsafe-path',
            message: `ZIP entry '${name}' ${reason}; it was skipped and nothing is written outside the target.`,
            where: name,
          });
        } else if (!name.endsWith('/')) {
          expanded += entry.uncompressedSize;
          if (expanded > limits.maxExpandedBytes) {
            reject(
              new ExportReadError(
                `'${label}' expands to more than ${bytesText(limits.maxExpandedBytes)} in all (the ZIP bomb ` +
                  'limit for a whole export): check where the file came from and export it again.',
              ),
            );
            return;
          }
          entries.set(name, entry);
        }
        zip.readEntry();
      });
      zip.readEntry();
    });
  } catch (err) {
    zip.close();
    if (err instanceof ExportReadError) throw err;
    throw new ExportReadError(
      `'${label}' has a damaged ZIP directory (${(err as Error).message}): download the export again.`,
    );
  }
  const sorted = [...entries.keys()].sort();
  const entryOf = (p: string): yauzl.Entry => {
    const e = entries.get(p);
    if (!e) throw new ExportReadError(`'${p}' is not in the ZIP '${label}'.`);
    return e;
  };
  const openStream = async (p: string): Promise<Readable> => {
    try {
      return await zip.openReadStreamPromise(entryOf(p));
    } catch (err) {
      throw damaged(label, p, err as Error);
    }
  };
  return {
    name: source.name,
    paths: () => sorted,
    has: (p) => entries.has(p),
    size: (p) => entries.get(p)?.uncompressedSize ?? 0,
    read: async (p) => {
      const entry = entryOf(p);
      checkEntrySize(p, entry.uncompressedSize, limits);
      try {
        return await readEntry(zip, source.reader, entry);
      } catch (err) {
        throw damaged(label, p, err as Error);
      }
    },
    stream: openStream,
    limits,
    problems,
    close: async () => {
      zip.close();
    },
  };
}

/**
 * Collects an entry's stream into one buffer of its expanded size. The bytes come through yauzl's stream
 * (positioned reads of the file, inflated by zlib off the event loop), so reading a large entry never
 * blocks the loop that paces other work; yauzl checks the expanded size against the directory's.
 */
/** Entries up to this compressed size are read in one piece and inflated in one call on libuv's pool. */
const WHOLE_INFLATE_BYTES = 1024 * 1024;

/**
 * An entry's bytes. A small deflated one (every day file of an export) costs two positioned reads (yauzl reads
 * its local header, then its data is read in one piece) and one asynchronous zlib call, off the event loop and
 * without the streams a piped inflate sets up per entry; anything else streams through yauzl's inflating stream
 * (which also refuses encrypted entries). Either way the size is checked.
 */
async function readEntry(
  zip: yauzl.ZipFile,
  reader: yauzl.RandomAccessReader,
  entry: yauzl.Entry,
): Promise<Buffer> {
  if (entry.compressionMethod !== 8 || entry.isEncrypted() || entry.compressedSize > WHOLE_INFLATE_BYTES)
    return readWhole(await zip.openReadStreamPromise(entry), entry.uncompressedSize);
  const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
  const raw = Buffer.allocUnsafe(entry.compressedSize);
  await new Promise<void>((resolve, reject) =>
    reader.read(raw, 0, raw.length, fileDataStart, (err) => (err ? reject(err) : resolve())),
  );
  // A lying directory cannot make it expand past the size checked against the limits.
  const bytes = await inflateRawAsync(raw, { maxOutputLength: Math.max(1, entry.uncompressedSize) });
  if (bytes.length !== entry.uncompressedSize)
    throw new Error(`expected ${entry.uncompressedSize} bytes, found ${bytes.length}`);
  return bytes;
}

async function readWhole(stream: Readable, size: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(size);
  let at = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (at + chunk.length > size) {
      stream.destroy();
      throw new Error(`expected ${size} bytes, found more`);
    }
    chunk.copy(bytes, at);
    at += chunk.length;
  }
  if (at !== size) throw new Error(`expected ${size} bytes, found ${at}`);
  return bytes;
}

function damaged(zipLabel: string, entry: string, err: Error): ExportReadError {
  return new ExportReadError(
    `'${entry}' in '${zipLabel}' cannot be read (${err.message}): the ZIP is corrupt or truncated; download the export again.`,
  );
}
