import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import type { TokenProvider } from '../auth';
import { GraphAuthError, TeamsImportClientError } from '../errors';
import { urlOf } from './context';

/**
 * Sets `Authorization: Bearer` on every request to the Graph origin, over https or plain http (the SDK's
 * own handler skips http). Requests to any other origin (upload URLs) go without the token.
 */
export class AuthMiddleware implements Middleware {
  private next?: Middleware;
  private readonly origin: string;

  constructor(
    private readonly tokens: TokenProvider,
    baseUrl: string,
  ) {
    this.origin = new URL(baseUrl).origin;
  }

  async execute(context: Context): Promise<void> {
    if (new URL(urlOf(context)).origin === this.origin) {
      const token = await this.tokens.getToken().catch((err: unknown) => {
        throw err instanceof TeamsImportClientError ? err : new GraphAuthError(err);
      });
      context.options = {
        ...context.options,
        headers: withHeader(context.options?.headers, 'Authorization', `Bearer ${token}`),
      };
    }
    await this.next!.execute(context);
  }

  setNext(next: Middleware): void {
    this.next = next;
  }
}

function withHeader(
  headers: ConstructorParameters<typeof Headers>[0],
  name: string,
  value: string,
): Record<string, string> {
  const result: Record<string, string> = {};
  new Headers(headers).forEach((v, k) => {
    result[k] = v;
  });
  result[name.toLowerCase()] = value;
  return result;
}
