import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One canned answer: a status with headers and a JSON (or raw string) body, or a dropped connection. */
export interface CannedResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  drop?: boolean;
}

/** A request as the canned server saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A loopback HTTP server answering each request from a handler, recording what it saw. */
export interface CannedServer {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/** Starts a canned server on 127.0.0.1 and a free port. */
export async function startCannedServer(
  handler: (req: SeenRequest) => CannedResponse,
): Promise<CannedServer> {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(seen);
      const answer = handler(seen);
      if (answer.drop) {
        req.socket.destroy();
        return;
      }
      const body =
        answer.body === undefined
          ? ''
          : typeof answer.body === 'string'
            ? answer.body
            : JSON.stringify(answer.body);
      res.writeHead(answer.status ?? 200, {
        ...(typeof answer.body === 'object' ? { 'content-type': 'application/json' } : {}),
        ...answer.headers,
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A handler that answers with the given responses in order, then 200 `{}` for ever. */
export function inOrder(...responses: CannedResponse[]): (req: SeenRequest) => CannedResponse {
  return () => responses.shift() ?? { status: 200, body: {} };
}
