import '../devhost/register';
import { InvalidArgumentError, type Command } from 'commander';
import { startHost, type HostOptions } from '../devhost/host';
import type { CommandRegistrar } from './command';

/** Options of `teams-import serve`. */
export interface ServeOptions {
  port: number;
  stateDir?: string;
  storage?: string;
  /** Graph base URL of the app (GRAPH_URL), e.g. a sandbox's URL. */
  graphUrl?: string;
  /** Identity authority host of the chat export's consent (AZURE_AUTHORITY_HOST). */
  authorityHost?: string;
  /** Mailbox the chat export's consent e-mails are sent from (CHAT_EXPORT_SENDER). */
  sender?: string;
}

/** Where `serve` writes, and what stops it (SIGINT/SIGTERM when no signal is given). */
export interface ServeIo {
  out(line: string): void;
  signal?: AbortSignal;
  /** Test seam: the app module to load instead of functions/index. */
  appEntry?: string;
}

/** Runs the app on the local host until stopped; prints `Listening on <url>` first and resolves to the exit code. */
export async function runServe(opts: ServeOptions, io: ServeIo): Promise<number> {
  const early: string[] = [];
  let listening = false;
  const log = (line: string): void => {
    if (listening) io.out(line);
    else early.push(line);
  };
  const hostOptions: HostOptions = {
    port: opts.port,
    stateDir: opts.stateDir,
    storageConnectionString: opts.storage,
    appEntry: io.appEntry,
    log,
    values: {
      GRAPH_URL: opts.graphUrl,
      AZURE_AUTHORITY_HOST: opts.authorityHost,
      CHAT_EXPORT_SENDER: opts.sender,
    },
  };
  const host = await startHost(hostOptions);
  io.out(`Listening on ${host.url}`);
  listening = true;
  early.forEach((line) => io.out(line));
  io.out(
    `Health: ${host.url}/api/health  Durable API: ${host.url}/runtime/webhooks/durabletask/  (Ctrl-C stops)`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    if (io.signal) {
      if (io.signal.aborted) return stop();
      io.signal.addEventListener('abort', stop);
    } else {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }
  });
  await host.stop();
  io.out('Stopped.');
  return 0;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError('--port must be an integer from 0 to 65535 (0 picks a free port).');
  }
  return port;
}

function httpUrl(flag: string): (value: string) => string {
  return (value) => {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (url?.protocol !== 'http:' && url?.protocol !== 'https:')
      throw new InvalidArgumentError(`${flag} must be an http(s) URL such as http://127.0.0.1:4000`);
    return value.replace(/\/+$/, '');
  };
}

/** Adds `teams-import serve`: the Functions app on the local host (embedded Azurite, HTTP API on loopback). */
export const registerServe: CommandRegistrar = (program: Command, setExitCode) => {
  program
    .command('serve')
    .description(
      'Run the Functions app on the local host: HTTP triggers under /api, the Durable client API, embedded Azurite.',
    )
    .option('--port <port>', 'loopback port (0 picks a free one)', parsePort, 7071)
    .option('--state-dir <dir>', 'folder for local state (Azurite data under <dir>/azurite)')
    .option('--storage <connection-string>', 'use this storage account instead of starting Azurite')
    .option(
      '--graph-url <url>',
      'Graph base URL (GRAPH_URL), e.g. a sandbox at http://127.0.0.1:4000',
      httpUrl('--graph-url'),
    )
    .option(
      '--authority-host <url>',
      'identity authority of the chat export consent (AZURE_AUTHORITY_HOST)',
      httpUrl('--authority-host'),
    )
    .option('--sender <upn>', 'mailbox the chat export consent e-mails come from (CHAT_EXPORT_SENDER)')
    .action(async (opts: ServeOptions) => {
      setExitCode(await runServe(opts, { out: (line) => console.log(line) }));
    });
};
