import { RestError, type ContainerClient } from '@azure/storage-blob';
import { Readable } from 'node:stream';
import { checkObjectName } from './localStore';
import type { ObjectStore } from './objectStore';

/**
 * An {@link ObjectStore} over one Azure Blob container (Azurite locally). Block-blob uploads commit
 * atomically, so a reader sees the old object or the new one, never a mix. `prefix` scopes every name.
 */
export class BlobObjectStore implements ObjectStore {
  constructor(
    private readonly container: ContainerClient,
    private readonly prefix = '',
  ) {}

  /** Creates the container when it does not exist yet. */
  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  private blob(name: string): ReturnType<ContainerClient['getBlockBlobClient']> {
    checkObjectName(name);
    return this.container.getBlockBlobClient(this.prefix + name);
  }

  async put(name: string, data: Buffer | string | Readable, contentType?: string): Promise<void> {
    const blob = this.blob(name);
    const headers = contentType ? { blobHTTPHeaders: { blobContentType: contentType } } : {};
    if (data instanceof Readable) await blob.uploadStream(data, 4 * 1024 * 1024, 4, headers);
    else await blob.uploadData(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, headers);
  }

  async get(name: string): Promise<Buffer> {
    try {
      return await this.blob(name).downloadToBuffer();
    } catch (err) {
      throw this.missing(name, err);
    }
  }

  async stream(name: string, offset = 0): Promise<Readable> {
    if (
      offset > 0 &&
      offset >=
        ((
          await this.blob(name)
            .getProperties()
            .catch(() => undefined)
        )?.contentLength ?? Infinity)
    )
      return Readable.from([]);
    try {
      const body = (await this.blob(name).download(offset)).readableStreamBody;
      if (!body) throw new Error(`blob '${name}' has no body`);
      return body as Readable;
    } catch (err) {
      throw this.missing(name, err);
    }
  }

  async exists(name: string): Promise<boolean> {
    return this.blob(name).exists();
  }

  async list(prefix: string): Promise<string[]> {
    const names: string[] = [];
    for await (const item of this.container.listBlobsFlat({ prefix: this.prefix + prefix }))
      names.push(item.name.slice(this.prefix.length));
    return names.sort();
  }

  /** Deletes an object; deleting a missing object is not an error. */
  async delete(name: string): Promise<void> {
    await this.blob(name).deleteIfExists();
  }

  private missing(name: string, err: unknown): Error {
    if (err instanceof RestError && err.statusCode === 404)
      return new Error(`object '${name}' not found in blob container '${this.container.containerName}'.`);
    return err as Error;
  }
}
