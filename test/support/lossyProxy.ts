import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A proxy in front of a sandbox that loses answers: the request reaches the sandbox, the answer never comes back. */
export interface LossyProxy {
  url: string;
  /** Requests whose answer was dropped. */
  dropped: string[];
  stop(): Promise<void>;
}

/**
 * Forwards every request to `target`; for the first `times` requests that `lose(method, path)` picks, it
 * lets the sandbox take and answer the request, then destroys the client's connection without an answer,
 * as a gateway or a network failure would after the service committed it.
 */
export async function startLossyProxy(
  target: string,
  lose: (method: string, path: string) => boolean,
  times = 1,
): Promise<LossyProxy> {
  const dropped: string[] = [];
  const server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const drop = dropped.length < times && lose(method, path);
    const upstream = request(
      `${target}${path}`,
      { method, headers: req.headers },
      (answer: IncomingMessage) => {
        if (drop) {
          dropped.push(`${method} ${path}`);
          answer.resume();
          answer.on('end', () => req.socket.destroy());
          return;
        }
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
    dropped,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
