import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { devStorageConnectionString } from '../core/state/devStorage';

/**
 * The child's entry: runs Azurite's entry script (`process.argv[1]`) so that every write it acknowledges is
 * on disk first, and so that it shuts down as soon as its parent is gone.
 *
 * Azurite keeps its metadata in LokiJS databases saved by a 5 s autosave, so a SIGKILL (of the process group,
 * or a power loss) used to lose the last seconds of acknowledged writes. Here each service's handler
 * middleware (blob, queue, table: the step between a handler and the serializer that writes the answer) saves
 * every LokiJS database the request left dirty, or that is mid-save, through LokiJS's own `saveDatabase`
 * before the answer goes out; concurrent requests share one save (LokiJS queues saves asked for during one).
 * Saves go through a file adapter that writes a temporary file, fsyncs it, renames it over the database and
 * fsyncs the folder, so a save is whole and on the disk before the write is answered.
 *
 * When the parent dies the child signals itself SIGTERM, on which Azurite closes its servers and saves its
 * metadata (writes to the dead parent's pipes are ignored).
 */
const CHILD_MAIN = `
const fs = require('fs');
const path = require('path');
process.channel.unref();
for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
const src = path.dirname(process.argv[1]);
const Loki = require(require.resolve('lokijs', { paths: [src] }));
const databases = new Set();
const configureOptions = Loki.prototype.configureOptions;
Loki.prototype.configureOptions = function (...args) {
  databases.add(this);
  return configureOptions.apply(this, args);
};
async function writeDurably(file, text) {
  const temp = file + '~';
  const handle = await fs.promises.open(temp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(temp, file);
  const folder = await fs.promises.open(path.dirname(file), 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
Loki.LokiFsAdapter.prototype.saveDatabase = function (file, text, callback) {
  writeDurably(file, text).then(() => callback(null), (err) => callback(err));
};
function saveDirty() {
  const dirty = [...databases].filter(
    (db) => db.persistenceMethod === 'fs' && (db.throttledSavePending || db.autosaveDirty()),
  );
  return Promise.all(
    dirty.map((db) => new Promise((resolve, reject) => db.saveDatabase((err) => (err ? reject(err) : resolve())))),
  );
}
for (const service of ['blob', 'queue', 'table']) {
  const Factory = require(path.join(src, service, 'generated', 'ExpressMiddlewareFactory.js')).default;
  const createHandlerMiddleware = Factory.prototype.createHandlerMiddleware;
  Factory.prototype.createHandlerMiddleware = function (handlers) {
    const handle = createHandlerMiddleware.call(this, handlers);
    return (req, res, next) => handle(req, res, (err) => saveDirty().then(() => next(err), next));
  };
}
require(process.argv[1]);
`;

/** A running Azurite: its endpoints, a connection string for the SDKs, and a way to stop it. */
export interface AzuriteHandle {
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  connectionString: string;
  /** Stops the child process and resolves when it has exited. */
  stop(): Promise<void>;
}

/** Options for {@link startAzurite}: a data folder, or in-memory storage when none is given. */
export interface AzuriteOptions {
  location?: string;
  /** How long to wait for the three services to listen, in ms. */
  startTimeoutMs?: number;
}

/**
 * Starts Azurite from the `azurite` npm package on free loopback ports (telemetry off) and resolves once
 * blob, queue and table all listen. The child is killed when this process exits.
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteHandle> {
  const script = require.resolve('azurite/dist/src/azurite.js');
  const args = [
    '-e',
    CHILD_MAIN,
    script,
    '--silent',
    '--skipApiVersionCheck',
    '--disableTelemetry',
    '--blobHost',
    '127.0.0.1',
    '--queueHost',
    '127.0.0.1',
    '--tableHost',
    '127.0.0.1',
    '--blobPort',
    '0',
    '--queuePort',
    '0',
    '--tablePort',
    '0',
  ];
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    await waitForPreviousOwner(options.location, options.startTimeoutMs ?? 30000);
    args.push('--location', options.location);
  } else {
    args.push('--inMemoryPersistence');
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  child.channel?.unref();
  if (options.location && child.pid)
    writeFileSync(path.join(options.location, OWNER_FILE), String(child.pid));
  const killOnExit = (): void => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  process.once('exit', killOnExit);

  const endpoints = await new Promise<Record<'Blob' | 'Queue' | 'Table', string>>((resolve, reject) => {
    const found: Partial<Record<'Blob' | 'Queue' | 'Table', string>> = {};
    const output: string[] = [];
    const timer = setTimeout(
      () =>
        fail(
          new Error(
            `Azurite did not start within ${options.startTimeoutMs ?? 30000} ms:\n${output.join('\n')}`,
          ),
        ),
      options.startTimeoutMs ?? 30000,
    );
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    const onLine = (line: string): void => {
      output.push(line);
      const m = /Azurite (Blob|Queue|Table) service is successfully listening at (http:\/\/\S+)/.exec(line);
      if (!m) return;
      found[m[1] as 'Blob' | 'Queue' | 'Table'] = m[2];
      if (found.Blob && found.Queue && found.Table) {
        clearTimeout(timer);
        resolve(found as Record<'Blob' | 'Queue' | 'Table', string>);
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
    child.once('error', fail);
    child.once('exit', (code) =>
      fail(new Error(`Azurite exited with code ${code} before listening:\n${output.join('\n')}`)),
    );
  });

  return {
    blobEndpoint: endpoints.Blob,
    queueEndpoint: endpoints.Queue,
    tableEndpoint: endpoints.Table,
    connectionString: devStorageConnectionString(endpoints.Blob, endpoints.Queue, endpoints.Table),
    stop: () => stopChild(child, killOnExit),
  };
}

/** The file naming the process that serves a data folder, so a second Azurite never opens it at the same time. */
const OWNER_FILE = 'azurite.pid';

/** Waits until the Azurite that last served `location` (after a crash, possibly still saving) has exited. */
async function waitForPreviousOwner(location: string, timeoutMs: number): Promise<void> {
  const file = path.join(location, OWNER_FILE);
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8'));
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    const cmdline = `/proc/${pid}/cmdline`;
    return !existsSync(cmdline) || readFileSync(cmdline, 'utf8').includes('azurite');
  };
  const deadline = Date.now() + timeoutMs;
  while (Number.isInteger(pid) && pid > 0 && alive()) {
    if (Date.now() > deadline)
      throw new Error(
        `Azurite (pid ${pid}) still serves ${location}: stop it, or give this run another state folder.`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function stopChild(child: ChildProcess, killOnExit: () => void): Promise<void> {
  process.removeListener('exit', killOnExit);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.removeAllListeners('exit');
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
