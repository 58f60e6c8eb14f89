import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registration, RpcHttpCookie, RpcHttpData } from './functionsCore';
import { RPC_PREFIX, WEBHOOK_PREFIX, type ApiRequest, type ApiResponse } from './rpc';
import { triggerOf, type Worker } from './worker';

/** Largest request body the local host reads; a larger one is answered 413 before it is read whole. */
export const MAX_REQUEST_BODY_BYTES = 32 * 1024 * 1024;

/** A request body over the cap, found from its Content-Length or while it streamed in. */
class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(
      `The request body is larger than the local host's limit of ${limit} bytes (${limit / 1024 / 1024} MiB): ` +
        'send a smaller body (a start request needs well under 1 MiB besides its user map).',
    );
  }
}

/** How the server hands work to the rest of the host. */
export interface HttpHandlers {
  worker: Worker;
  routePrefix: string;
  durableApi(req: ApiRequest, mode: 'webhook' | 'rpc'): Promise<ApiResponse>;
  invokeHttpFunction(reg: Registration, request: RpcHttpData): Promise<RpcHttpData | undefined>;
  invokeAdmin(reg: Registration, body: Buffer): Promise<void>;
  log(line: string): void;
}

/** A running loopback HTTP server. */
export interface HttpServerHandle {
  url: string;
  port: number;
  close(): Promise<void>;
}

interface Route {
  reg: Registration;
  methods: string[] | undefined;
  pattern: RegExp;
  params: string[];
}

/** Compiles a Functions route template (`items/{id}`, `{id:int?}`, `{*rest}`) into a matcher. */
export function compileRoute(template: string): { pattern: RegExp; params: string[] } {
  const params: string[] = [];
  const segments = template.replace(/^\/+|\/+$/g, '').split('/');
  let source = '';
  for (const segment of segments) {
    const m = /^\{(\*?)([A-Za-z_][\w]*)(?::[^}?]+)?(\??)\}$/.exec(segment);
    if (!m) {
      source += '/' + segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      continue;
    }
    params.push(m[2]);
    if (m[1]) source += '(?:/(.*))?';
    else if (m[3]) source += '(?:/([^/]+))?';
    else source += '/([^/]+)';
  }
  return { pattern: new RegExp(`^${source}/?$`, 'i'), params };
}

function routesOf(worker: Worker): Route[] {
  return worker
    .functions()
    .filter((reg) => triggerOf(reg).binding.type?.toLowerCase() === 'httptrigger')
    .map((reg) => {
      const binding = triggerOf(reg).binding;
      const template = typeof binding.route === 'string' && binding.route ? binding.route : reg.metadata.name;
      const methods = Array.isArray(binding.methods)
        ? (binding.methods as string[]).map((m) => m.toUpperCase())
        : undefined;
      return { reg, methods, ...compileRoute(template) };
    });
}

/** Starts the loopback server: app HTTP triggers under `/<routePrefix>/`, the durable APIs, and `/admin/functions/{name}`. */
export async function startHttpServer(port: number, handlers: HttpHandlers): Promise<HttpServerHandle> {
  const routes = routesOf(handlers.worker);
  const server = http.createServer((req, res) => {
    void serve(req, res).catch((err: unknown) => {
      handlers.log(
        `[http] ${req.method} ${(req.url ?? '/').split('?')[0]} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end();
    });
  });

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody(req, MAX_REQUEST_BODY_BYTES);
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      res.writeHead(413, { 'Content-Type': 'application/json; charset=utf-8', Connection: 'close' });
      res.end(JSON.stringify({ error: err.message }), () => req.destroy());
      return;
    }
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    if (url.pathname.startsWith(WEBHOOK_PREFIX) || url.pathname.startsWith(RPC_PREFIX)) {
      const mode = url.pathname.startsWith(RPC_PREFIX) ? 'rpc' : 'webhook';
      return sendApi(res, await handlers.durableApi({ method, url, body }, mode));
    }
    const admin = /^\/admin\/functions\/([^/]+)\/?$/.exec(url.pathname);
    if (admin && method === 'POST') {
      const reg = handlers.worker
        .functions()
        .find((r) => r.metadata.name.toLowerCase() === admin[1].toLowerCase());
      if (!reg) return sendApi(res, { status: 404, body: { error: `No function named '${admin[1]}'.` } });
      await handlers.invokeAdmin(reg, body);
      return sendApi(res, { status: 202 });
    }
    const prefix = handlers.routePrefix ? `/${handlers.routePrefix}` : '';
    if (!url.pathname.toLowerCase().startsWith(prefix.toLowerCase())) return sendApi(res, { status: 404 });
    const path = url.pathname.slice(prefix.length) || '/';
    for (const route of routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      if (route.methods && !route.methods.includes(method)) continue;
      const params: Record<string, string> = {};
      route.params.forEach((name, i) => {
        if (m[i + 1] !== undefined) params[name] = decodeURIComponent(m[i + 1]);
      });
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
      }
      const response = await handlers.invokeHttpFunction(route.reg, {
        method,
        url: url.href,
        headers,
        params,
        body: body.length ? { bytes: body } : undefined,
      });
      return sendFunctionResponse(res, response);
    }
    return sendApi(res, { status: 404, body: { error: `No function serves ${method} ${url.pathname}.` } });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `Port ${port} on 127.0.0.1 is already in use: stop the other process or pass --port 0 for a free port.`,
            )
          : err,
      ),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Reads a request body of at most `limit` bytes; a larger one is refused from its Content-Length, or as soon as it passes the limit. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      reject(new BodyTooLargeError(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size <= limit) {
        chunks.push(c);
        return;
      }
      chunks.length = 0;
      req.off('data', onData);
      reject(new BodyTooLargeError(limit));
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendApi(res: http.ServerResponse, api: ApiResponse): void {
  const headers: Record<string, string> = { ...(api.headers ?? {}) };
  let payload: Buffer | undefined;
  if (api.body !== undefined) {
    const text = typeof api.body === 'string' ? api.body : JSON.stringify(api.body);
    headers['Content-Type'] ??=
      typeof api.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
    payload = Buffer.from(text);
  }
  res.writeHead(api.status, headers);
  res.end(payload);
}

function sendFunctionResponse(res: http.ServerResponse, response: RpcHttpData | undefined): void {
  if (!response) {
    res.writeHead(204);
    res.end();
    return;
  }
  const headers: Record<string, string | string[]> = { ...(response.headers ?? {}) };
  const cookies = (response.cookies ?? []).map(cookieHeader);
  if (cookies.length) headers['Set-Cookie'] = cookies;
  const body =
    response.body?.bytes ?? (response.body?.string ? Buffer.from(response.body.string) : undefined);
  res.writeHead(Number(response.statusCode ?? 200), headers);
  res.end(body ? Buffer.from(body) : undefined);
}

function cookieHeader(c: RpcHttpCookie): string {
  const parts = [`${c.name ?? ''}=${c.value ?? ''}`];
  if (c.domain?.value) parts.push(`Domain=${c.domain.value}`);
  if (c.path?.value) parts.push(`Path=${c.path.value}`);
  if (c.expires?.value?.seconds)
    parts.push(`Expires=${new Date(c.expires.value.seconds * 1000).toUTCString()}`);
  if (c.maxAge?.value !== undefined && c.maxAge?.value !== null) parts.push(`Max-Age=${c.maxAge.value}`);
  if (c.secure?.value) parts.push('Secure');
  if (c.httpOnly?.value) parts.push('HttpOnly');
  const sameSite = { lax: 'Lax', strict: 'Strict', explicitNone: 'None' }[c.sameSite ?? ''];
  if (sameSite) parts.push(`SameSite=${sameSite}`);
  return parts.join('; ');
}
