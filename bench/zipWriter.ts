import { closeSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { constants, crc32, deflateRawSync } from 'node:zlib';

interface Written {
  name: Buffer;
  crc: number;
  compressed: number;
  size: number;
  offset: number;
  method: number;
}

/**
 * A minimal ZIP writer (deflate or store, no ZIP64: entries and archive under 4 GiB) that writes entries
 * one at a time to a file, so large synthetic exports never sit in memory. Names are written as given,
 * which lets tests build hostile archives (`../x`).
 */
export class ZipWriter {
  private readonly fd: number;
  private offset = 0;
  private readonly entries: Written[] = [];

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  /** Adds one file entry; `store` skips compression. */
  add(name: string, data: Buffer | string, store = false): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const body = store ? bytes : deflateRawSync(bytes);
    this.entry(name, crc32(bytes), bytes.length, store ? 0 : 8, [body]);
  }

  /**
   * Adds a deflated entry of `head`, `count` copies of `block`, then `tail`, holding only the three parts in
   * memory: each part is deflated once (ending on a sync flush, so the pieces concatenate into one valid
   * stream), which writes entries of hundreds of megabytes, such as ZIP bombs, in a moment.
   */
  addRepeated(name: string, head: Buffer, block: Buffer, count: number, tail: Buffer): void {
    const flush = { finishFlush: constants.Z_SYNC_FLUSH };
    const [h, b, t] = [deflateRawSync(head, flush), deflateRawSync(block, flush), deflateRawSync(tail)];
    let crc = crc32(head);
    for (let i = 0; i < count; i++) crc = crc32(block, crc);
    crc = crc32(tail, crc);
    const size = head.length + block.length * count + tail.length;
    this.entry(name, crc, size, 8, [h, ...Array<Buffer>(count).fill(b), t]);
  }

  private entry(name: string, crc: number, size: number, method: number, body: Buffer[]): void {
    const entry: Written = {
      name: Buffer.from(name, 'utf8'),
      crc,
      compressed: body.reduce((n, part) => n + part.length, 0),
      size,
      offset: this.offset,
      method,
    };
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(0x0800, 6);
    header.writeUInt16LE(entry.method, 8);
    header.writeUInt32LE(0x00210000, 10);
    header.writeUInt32LE(entry.crc, 14);
    header.writeUInt32LE(entry.compressed, 18);
    header.writeUInt32LE(entry.size, 22);
    header.writeUInt16LE(entry.name.length, 26);
    header.writeUInt16LE(0, 28);
    this.write(header);
    this.write(entry.name);
    for (const part of body) this.write(part);
    this.entries.push(entry);
  }

  /** Writes the central directory and closes the file. */
  close(): void {
    const start = this.offset;
    for (const e of this.entries) {
      const h = Buffer.alloc(46);
      h.writeUInt32LE(0x02014b50, 0);
      h.writeUInt16LE(20, 4);
      h.writeUInt16LE(20, 6);
      h.writeUInt16LE(0x0800, 8);
      h.writeUInt16LE(e.method, 10);
      h.writeUInt32LE(0x00210000, 12);
      h.writeUInt32LE(e.crc, 16);
      h.writeUInt32LE(e.compressed, 20);
      h.writeUInt32LE(e.size, 24);
      h.writeUInt16LE(e.name.length, 28);
      h.writeUInt32LE(e.offset, 42);
      this.write(h);
      this.write(e.name);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(this.entries.length, 8);
    end.writeUInt16LE(this.entries.length, 10);
    end.writeUInt32LE(this.offset - start, 12);
    end.writeUInt32LE(start, 16);
    this.write(end);
    closeSync(this.fd);
  }

  private write(buf: Buffer): void {
    writeSync(this.fd, buf);
    this.offset += buf.length;
  }
}

/** Zips a folder's files (sorted, `/`-separated names, optional prefix) into `zipPath`. */
export function zipFolder(folder: string, zipPath: string, prefix = ''): void {
  const zip = new ZipWriter(zipPath);
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(folder, rel)).sort()) {
      const child = rel ? `${rel}/${name}` : name;
      if (statSync(join(folder, child)).isDirectory()) walk(child);
      else zip.add(prefix + child, readFileSync(join(folder, child)));
    }
  };
  walk('');
  zip.close();
}
