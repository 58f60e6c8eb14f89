import type { Readable } from 'node:stream';

/**
 * A small store of named objects (staged plans, manifests, reports, downloaded files), implemented over a
 * local folder and over Azure Blob Storage. Names are `/`-separated relative paths; writes replace whole
 * objects, so a re-run that writes the same bytes leaves the same state.
 */
export interface ObjectStore {
  /** Writes (replaces) an object from bytes, text or a stream. */
  put(name: string, data: Buffer | string | Readable, contentType?: string): Promise<void>;
  /** Reads a whole object; throws an error naming the object when it is missing. */
  get(name: string): Promise<Buffer>;
  /** Streams an object from byte `offset` (0: the start); throws an error naming the object when it is missing. */
  stream(name: string, offset?: number): Promise<Readable>;
  exists(name: string): Promise<boolean>;
  /** Names of the objects under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  delete(name: string): Promise<void>;
}
