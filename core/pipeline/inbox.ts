import type { ContainerClient } from '@azure/storage-blob';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import type { SourceRef } from './contracts';

/**
 * Where newer snapshots of a migration are dropped for the delta-sync timer: `inbox/<migrationId>/` in the
 * app's blob container, or a local folder's `<migrationId>/`. Each snapshot is applied by one delta, oldest
 * first, then moved to the migration's `processed/` folder.
 */
export interface SnapshotInbox {
  /** The migration's waiting snapshots, oldest first (by when they were dropped, then by name). */
  list(migrationId: string): Promise<SourceRef[]>;
  /**
   * Moves a snapshot of the inbox to its migration's `processed/` folder and answers where it is now; a
   * snapshot not in the inbox is left alone (undefined).
   */
  markProcessed(source: SourceRef): Promise<SourceRef | undefined>;
}

const PROCESSED = 'processed';

/** The inbox in blob storage: blobs `inbox/<migrationId>/<name>` of the app's container. */
export class BlobInbox implements SnapshotInbox {
  constructor(private readonly container: ContainerClient) {}

  async list(migrationId: string): Promise<SourceRef[]> {
    const prefix = `inbox/${migrationId}/`;
    const found: { name: string; at: number }[] = [];
    for await (const blob of this.container.listBlobsFlat({ prefix })) {
      if (blob.name.slice(prefix.length).includes('/')) continue;
      found.push({ name: blob.name, at: blob.properties.lastModified?.getTime() ?? 0 });
    }
    return found
      .sort((a, b) => a.at - b.at || (a.name < b.name ? -1 : 1))
      .map((b) => ({ kind: 'blob', container: this.container.containerName, name: b.name }));
  }

  async markProcessed(source: SourceRef): Promise<SourceRef | undefined> {
    if (source.kind !== 'blob' || source.container !== this.container.containerName) return undefined;
    const match = /^inbox\/([^/]+)\/([^/]+)$/.exec(source.name);
    if (!match) return undefined;
    const moved: SourceRef = { ...source, name: `inbox/${match[1]}/${PROCESSED}/${match[2]}` };
    const from = this.container.getBlockBlobClient(source.name);
    if (!(await from.exists())) return moved;
    const to = this.container.getBlockBlobClient(moved.name);
    const body = (await from.download()).readableStreamBody;
    if (!body) throw new Error(`The inbox snapshot '${source.name}' has no body.`);
    await to.uploadStream(body as NodeJS.ReadableStream as never, 4 * 1024 * 1024, 4);
    await from.deleteIfExists();
    return moved;
  }
}

/**
 * The inbox as a local folder (`TEAMS_IMPORT_INBOX_DIR`, local hosts only): `<folder>/<migrationId>/` holds
 * snapshots as ZIP files or extracted folders.
 */
export class FolderInbox implements SnapshotInbox {
  constructor(private readonly root: string) {}

  async list(migrationId: string): Promise<SourceRef[]> {
    const dir = path.join(this.root, migrationId);
    if (!existsSync(dir)) return [];
    const found: { path: string; at: number; name: string }[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name === PROCESSED || entry.name.startsWith('.')) continue;
      if (!entry.isFile() && !entry.isDirectory()) continue;
      const full = path.join(dir, entry.name);
      found.push({ path: full, name: entry.name, at: (await stat(full)).mtimeMs });
    }
    return found
      .sort((a, b) => a.at - b.at || (a.name < b.name ? -1 : 1))
      .map((f) => ({ kind: 'path', path: f.path }));
  }

  async markProcessed(source: SourceRef): Promise<SourceRef | undefined> {
    if (source.kind !== 'path') return undefined;
    const dir = path.dirname(path.resolve(source.path));
    if (path.dirname(dir) !== path.resolve(this.root)) return undefined;
    const moved = path.join(dir, PROCESSED, path.basename(source.path));
    if (existsSync(source.path)) {
      await mkdir(path.join(dir, PROCESSED), { recursive: true });
      await rename(source.path, moved);
    }
    return { kind: 'path', path: moved };
  }
}
