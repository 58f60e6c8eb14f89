import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { devStorageConnectionString } from '../core/state/devStorage';

/** Runs Azurite's entry script in a child that exits as soon as its parent is gone, even after a SIGKILL. */
const EXIT_WITH_PARENT =
  "process.channel.unref(); process.on('disconnect', () => process.exit(0)); require(process.argv[1]);";

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
    EXIT_WITH_PARENT,
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
    args.push('--location', options.location);
  } else {
    args.push('--inMemoryPersistence');
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  child.channel?.unref();
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
