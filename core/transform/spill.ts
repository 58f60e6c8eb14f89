import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where a record is in a {@link SpillFile}: byte offset and byte length. */
export interface SpillRef {
  offset: number;
  length: number;
}

const FLUSH_BYTES = 1 << 16;
const WINDOW_BYTES = 1 << 20;

/**
 * A temporary file of text records: appended in one order, read back by position in another. Writes are
 * buffered; reads go through a window, so reading in roughly the written order costs few system calls.
 */
export class SpillFile {
  private readonly dir: string;
  private readonly fd: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private written = 0;
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'teams-import-plan-'));
    this.fd = openSync(join(this.dir, 'records'), 'w+');
  }

  /** Appends a record and returns where it is. */
  append(text: string): SpillRef {
    const length = Buffer.byteLength(text);
    const ref = { offset: this.written + this.pendingBytes, length };
    this.pending.push(text);
    this.pendingBytes += length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    return ref;
  }

  /** Reads a record appended earlier. */
  read(offset: number, length: number): string {
    if (offset + length > this.written) this.flush();
    const start = offset - this.windowStart;
    if (start < 0 || start + length > this.window.length) {
      if (this.window.length < Math.max(WINDOW_BYTES, length))
        this.window = Buffer.allocUnsafe(Math.max(WINDOW_BYTES, length));
      const n = readSync(this.fd, this.window, 0, this.window.length, offset);
      this.window = this.window.subarray(0, n);
      this.windowStart = offset;
      return this.window.toString('utf8', 0, length);
    }
    return this.window.toString('utf8', start, start + length);
  }

  /** Forgets every record, keeping the file for reuse. */
  clear(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.written = 0;
    this.window = Buffer.alloc(0);
    this.windowStart = 0;
    ftruncateSync(this.fd, 0);
  }

  /** Closes and deletes the file. */
  close(): void {
    closeSync(this.fd);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    const bytes = Buffer.from(this.pending.join(''));
    writeSync(this.fd, bytes, 0, bytes.length, this.written);
    this.written += bytes.length;
    this.pending = [];
    this.pendingBytes = 0;
  }
}
