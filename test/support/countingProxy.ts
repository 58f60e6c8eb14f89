import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { devStorageConnectionString } from '../../core/state/devStorage';
import type { AzuriteHandle } from '../../devhost/azurite';

/** One request that went through the proxy: what was asked and how many body bytes came back. */
export interface ProxiedRequest {
  method: string;
  /** The path, without the query. */
  path: string;
  /** The Range asked for (`x-ms-range` or `Range`), when any. */
  range?: string;
  status: number;
  bytes: number;
}

/** A proxy in front of a service that records every request and the bytes of every answer. */
export interface CountingProxy {
  url: string;
  requests: ProxiedRequest[];
  stop(): Promise<void>;
}

/** Forwards every request to `target` unchanged, counting the answer's body bytes as they pass. */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const requests: ProxiedRequest[] = [];
  const server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const rangeHeader = req.headers['x-ms-range'] ?? req.headers.range;
    const range = Array.isArray(rangeHeader) ? rangeHeader[0] : rangeHeader;
    const upstream = request(
      `${target}${path}`,
      { method, headers: req.headers },
      (answer: IncomingMessage) => {
        const entry: ProxiedRequest = {
          method,
          path: decodeURIComponent(path.split('?')[0]),
          ...(range ? { range } : {}),
          status: answer.statusCode ?? 0,
          bytes: 0,
        };
        requests.push(entry);
        answer.on('data', (chunk: Buffer) => (entry.bytes += chunk.length));
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A connection string for Azurite whose blob endpoint is the proxy (queues and tables reached directly). */
export function proxiedStorage(azurite: AzuriteHandle, proxy: CountingProxy): string {
  return devStorageConnectionString(proxy.url, azurite.queueEndpoint, azurite.tableEndpoint);
}
