import type { Context, Middleware } from '@microsoft/microsoft-graph-client';

/** The end of the chain: sends the request with fetch (injectable for tests) and stores the response. */
export class TransportMiddleware implements Middleware {
  constructor(private readonly fetchImpl: typeof fetch = fetch) {}

  async execute(context: Context): Promise<void> {
    context.response = await this.fetchImpl(context.request, context.options as RequestInit);
  }
}
