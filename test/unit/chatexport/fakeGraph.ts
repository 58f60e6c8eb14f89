import type { Context, Middleware } from '@microsoft/microsoft-graph-client';

/** A request as the fake Graph received it. */
export interface GraphCall {
  method: string;
  url: URL;
  headers: Headers;
  body?: unknown;
}

/** A route handler: returns a Response, or undefined to fall through to 404. */
export type GraphRoute = (call: GraphCall) => Response | undefined | Promise<Response | undefined>;

/** JSON response helper. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/**
 * The last middleware of a Graph SDK client in tests: answers from handlers in memory instead of the
 * network (the DummyHTTPMessageHandler pattern) and records every call.
 */
export class FakeGraph implements Middleware {
  readonly calls: GraphCall[] = [];
  private readonly routes: GraphRoute[] = [];

  route(handler: GraphRoute): this {
    this.routes.push(handler);
    return this;
  }

  async execute(context: Context): Promise<void> {
    const request = context.request;
    const url = new URL(typeof request === 'string' ? request : request.url);
    const options = context.options ?? {};
    const headers = new Headers(options.headers as ConstructorParameters<typeof Headers>[0]);
    let body: unknown = options.body;
    if (typeof body === 'string' && headers.get('content-type')?.includes('json')) body = JSON.parse(body);
    const call: GraphCall = { method: (options.method ?? 'GET').toUpperCase(), url, headers, body };
    this.calls.push(call);
    for (const route of this.routes) {
      const response = await route(call);
      if (response) {
        context.response = response;
        return;
      }
    }
    context.response = json(404, {
      error: { code: 'itemNotFound', message: `no route for ${call.method} ${url.pathname}` },
    });
  }

  setNext(): void {}
}
