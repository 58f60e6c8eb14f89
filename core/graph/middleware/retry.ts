import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import {
  GraphNetworkError,
  MaybeCommittedError,
  TeamsImportClientError,
  graphErrorFromResponse,
} from '../errors';
import { isIdempotent, methodOf, routeOf, urlOf } from './context';
import type { GraphTelemetrySink } from './telemetry';

/** How the HTTP layer retries throttling and transient failures. */
export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables retries. */
  maxRetries: number;
  /** The first backoff ceiling when the service names no wait; it doubles with each attempt. */
  baseDelayMs: number;
  /**
   * No single wait is longer; a Retry-After beyond it is surfaced to the caller (a GraphError with
   * `longWait`) instead of waited out, so a durable caller can wait on a timer instead of in a request.
   */
  maxDelayMs: number;
}

/** Defaults close to the Graph SDK's RetryHandler, with a longer cap for throttled imports. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 5, baseDelayMs: 1000, maxDelayMs: 60_000 };

/** What the retry layer reports when the service throttles a request. */
export interface ThrottleSignal {
  url: string;
  method: string;
  /** The wait the service asked for, or the backoff chosen when it named none. */
  delayMs: number;
}

/** Injectable pieces of RetryMiddleware. */
export interface RetryDeps {
  random: () => number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  sink?: GraphTelemetrySink;
  onThrottled?: (signal: ThrottleSignal) => void;
}

const RETRYABLE_STATUS = new Set([429, 503, 504]);

/** The wait a response asks for, in ms: `retry-after-ms`, `x-ms-retry-after-ms`, then `Retry-After` (seconds or HTTP date). */
export function retryAfterMs(headers: Headers, now: number): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = Number(headers.get(name) ?? NaN);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const header = headers.get('retry-after')?.trim();
  if (!header) return undefined;
  if (/^\d+(\.\d+)?$/.test(header)) return Number(header) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)). */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  return random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
}

/**
 * Retries 429, 503 and 504 answers and network failures, honouring the service's wait. Invariant: a
 * request that is not idempotent (a POST) is never sent twice after it may have been committed: a network
 * failure or a 504 on it surfaces as MaybeCommittedError. Exhausted retries surface as GraphError.
 */
export class RetryMiddleware implements Middleware {
  private next?: Middleware;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly deps: RetryDeps,
  ) {}

  async execute(context: Context): Promise<void> {
    const method = methodOf(context);
    const url = urlOf(context);
    const route = routeOf(method, url);
    const idempotent = isIdempotent(context);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.next!.execute(context);
      } catch (err) {
        if (err instanceof TeamsImportClientError) throw err;
        if (!idempotent) throw new MaybeCommittedError(method, route, err);
        if (attempt >= this.policy.maxRetries) throw new GraphNetworkError(method, route, attempt + 1, err);
        await this.wait({
          kind: 'retry',
          method,
          route,
          attempt: attempt + 1,
          delayMs: backoffMs(this.policy, attempt, this.deps.random),
        });
        continue;
      }
      const response = context.response!;
      if (!RETRYABLE_STATUS.has(response.status)) return;
      if (response.status === 504 && !idempotent) throw new MaybeCommittedError(method, route, response);
      const asked = retryAfterMs(response.headers, this.deps.now());
      const delayMs = asked ?? backoffMs(this.policy, attempt, this.deps.random);
      if (response.status === 429) this.deps.onThrottled?.({ url, method, delayMs });
      if (delayMs > this.policy.maxDelayMs)
        throw await graphErrorFromResponse(response, route, {
          retries: attempt,
          retryAfterMs: asked,
          longWait: true,
        });
      if (attempt >= this.policy.maxRetries)
        throw await graphErrorFromResponse(response, route, { retries: attempt, retryAfterMs: asked });
      await response.body?.cancel().catch(() => undefined);
      await this.wait({
        kind: 'retry',
        method,
        route,
        status: response.status,
        attempt: attempt + 1,
        delayMs,
      });
    }
  }

  setNext(next: Middleware): void {
    this.next = next;
  }

  private async wait(event: {
    kind: 'retry';
    method: string;
    route: string;
    status?: number;
    attempt: number;
    delayMs: number;
  }): Promise<void> {
    this.deps.sink?.(event);
    await this.deps.sleep(event.delayMs);
  }
}
