import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { methodOf, routeOf, urlOf } from './context';

/** One observation of the Graph client: an answered attempt, a failed attempt, or a scheduled retry. */
export type GraphTelemetryEvent =
  | { kind: 'response'; method: string; route: string; status: number; durationMs: number }
  | { kind: 'network-error'; method: string; route: string; durationMs: number; error: string }
  | { kind: 'retry'; method: string; route: string; status?: number; attempt: number; delayMs: number };

/** Receives telemetry events; must not throw. */
export type GraphTelemetrySink = (event: GraphTelemetryEvent) => void;

/** Emits one event per attempt that reaches the transport, with its latency and route template. */
export class TelemetryMiddleware implements Middleware {
  private next?: Middleware;

  constructor(
    private readonly sink: GraphTelemetrySink,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async execute(context: Context): Promise<void> {
    const method = methodOf(context);
    const route = routeOf(method, urlOf(context));
    const started = this.now();
    try {
      await this.next!.execute(context);
    } catch (err) {
      this.sink({
        kind: 'network-error',
        method,
        route,
        durationMs: this.now() - started,
        error: String(err),
      });
      throw err;
    }
    this.sink({
      kind: 'response',
      method,
      route,
      status: context.response!.status,
      durationMs: this.now() - started,
    });
  }

  setNext(next: Middleware): void {
    this.next = next;
  }
}

/** Per-route figures kept by GraphCounters. */
export interface RouteStats {
  requests: number;
  throttled: number;
  retries: number;
  errors: number;
  totalMs: number;
  maxMs: number;
}

/** Aggregates telemetry events into counts: requests, 429s, retries, network errors, latency by route. */
export class GraphCounters {
  requests = 0;
  throttled = 0;
  retries = 0;
  networkErrors = 0;
  readonly routes = new Map<string, RouteStats>();

  /** The sink to pass to createGraphClient. */
  readonly sink: GraphTelemetrySink = (event) => {
    const stats = this.route(event.route);
    if (event.kind === 'retry') {
      this.retries++;
      stats.retries++;
      return;
    }
    this.requests++;
    stats.requests++;
    stats.totalMs += event.durationMs;
    stats.maxMs = Math.max(stats.maxMs, event.durationMs);
    if (event.kind === 'network-error') {
      this.networkErrors++;
      stats.errors++;
    } else if (event.status === 429) {
      this.throttled++;
      stats.throttled++;
    } else if (event.status >= 400) {
      stats.errors++;
    }
  };

  private route(route: string): RouteStats {
    let stats = this.routes.get(route);
    if (!stats) {
      stats = { requests: 0, throttled: 0, retries: 0, errors: 0, totalMs: 0, maxMs: 0 };
      this.routes.set(route, stats);
    }
    return stats;
  }
}
