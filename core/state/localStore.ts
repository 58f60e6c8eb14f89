import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectStore } from './objectStore';

/** Checks an object name: non-empty, `/`-separated, relative, no `.`/`..`/empty segments, no backslash. */
export function checkObjectName(name: string): void {
  const bad =
    !name ||
    name.startsWith('/') ||
    /^[a-zA-Z]:/.test(name) ||
    name.includes('\\') ||
    name.includes('\0') ||
    name.split('/').some((s) => s === '' || s === '.' || s === '..');
  if (bad)
    throw new Error(
      `invalid object name ${JSON.stringify(name)}: use a relative '/'-separated path without '.', '..' or empty segments.`,
    );
}

let tempCounter = 0;

/**
 * An {@link ObjectStore} over a local folder. Writes go to a temporary file in the same folder and are
 * renamed into place, so a reader never sees a half-written object and a crash leaves the old one.
 */
export class LocalFolderStore implements ObjectStore {
  constructor(readonly root: string) {}

  private path(name: string): string {
    checkObjectName(name);
    return join(this.root, ...name.split('/'));
  }

  /** Writes (replaces) an object atomically: temp file, then rename. */
  async put(name: string, data: Buffer | string | Readable, _contentType?: string): Promise<void> {
    const target = this.path(name);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.tmp-${process.pid}-${++tempCounter}`;
    try {
      if (data instanceof Readable) await pipeline(data, createWriteStream(temp));
      else await writeFile(temp, data);
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async get(name: string): Promise<Buffer> {
    try {
      return await readFile(this.path(name));
    } catch (err) {
      throw this.missing(name, err);
    }
  }

  async stream(name: string, offset = 0): Promise<Readable> {
    const path = this.path(name);
    try {
      if (!(await stat(path)).isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
    } catch (err) {
      throw this.missing(name, err);
    }
    return createReadStream(path, { start: offset });
  }

  async exists(name: string): Promise<boolean> {
    try {
      return (await stat(this.path(name))).isFile();
    } catch {
      return false;
    }
  }

  /** Names under a prefix (plain string prefix of the name), sorted; temporary files are not listed. */
  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      let dirents;
      try {
        dirents = await readdir(rel ? join(this.root, ...rel.split('/')) : this.root, {
          withFileTypes: true,
        });
      } catch {
        return;
      }
      for (const d of dirents) {
        const name = rel ? `${rel}/${d.name}` : d.name;
        if (d.isDirectory()) {
          if (prefix.startsWith(`${name}/`) || name.startsWith(prefix) || prefix === '') await walk(name);
        } else if (d.isFile() && name.startsWith(prefix) && !/\.tmp-\d+-\d+$/.test(name)) out.push(name);
      }
    };
    await walk('');
    return out.sort();
  }

  /** Deletes an object; deleting a missing object is not an error. */
  async delete(name: string): Promise<void> {
    await unlink(this.path(name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  private missing(name: string, err: unknown): Error {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR')
      return new Error(`object '${name}' not found in the store at '${this.root}'.`);
    return err as Error;
  }
}
