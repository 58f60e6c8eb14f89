import type { TokenCredential } from '@azure/identity';
import { Client } from '@microsoft/microsoft-graph-client';
import {
  GraphConfigError,
  credentialTokenProvider,
  graphScopeFor,
  isLoopbackUrl,
  staticTokenProvider,
  type TokenProvider,
} from './auth';
import { AuthMiddleware } from './middleware/auth';
import {
  DEFAULT_RETRY_POLICY,
  RetryMiddleware,
  type RetryPolicy,
  type ThrottleSignal,
} from './middleware/retry';
import { TelemetryMiddleware, type GraphTelemetrySink } from './middleware/telemetry';
import { TransportMiddleware } from './middleware/transport';

/** Options of createGraphClient. Exactly one of `credential`, `staticToken`, `tokenProvider` is expected. */
export interface GraphClientOptions {
  /** The service root without version: `https://graph.microsoft.com` or `http://127.0.0.1:PORT`. */
  baseUrl: string;
  /** `v1.0` unless told otherwise. */
  version?: string;
  credential?: TokenCredential;
  /** A fixed bearer token, for loopback sandboxes. */
  staticToken?: string;
  tokenProvider?: TokenProvider;
  retry?: Partial<RetryPolicy>;
  telemetry?: GraphTelemetrySink;
  /** Called on every 429, e.g. Pacer.throttleHook() to slow the channel down. */
  onThrottled?: (signal: ThrottleSignal) => void;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  fetch?: typeof fetch;
}

/** A Graph client plus what the typed wrapper needs to know about it. */
export interface GraphClientHandle {
  client: Client;
  baseUrl: string;
  version: string;
  retry: RetryPolicy;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  now: () => number;
}

/** Waits ms milliseconds. */
export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Builds a Graph client with this project's chain: auth (every request to the Graph origin, http or https)
 * -> retry (429/503/504, Retry-After, jittered backoff, no blind POST retries) -> telemetry -> fetch.
 */
export function createGraphClient(options: GraphClientOptions): GraphClientHandle {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const tokens = tokenProviderOf(options, baseUrl);
  const retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const sink = options.telemetry ?? (() => undefined);
  const client = Client.initWithMiddleware({
    baseUrl,
    defaultVersion: options.version ?? 'v1.0',
    middleware: [
      new AuthMiddleware(tokens, baseUrl),
      new RetryMiddleware(retry, {
        random,
        sleep,
        now,
        sink,
        onThrottled: options.onThrottled,
      }),
      new TelemetryMiddleware(sink),
      new TransportMiddleware(options.fetch),
    ],
  });
  return { client, baseUrl, version: options.version ?? 'v1.0', retry, sleep, random, now };
}

function tokenProviderOf(options: GraphClientOptions, baseUrl: string): TokenProvider {
  if (options.tokenProvider) return options.tokenProvider;
  if (options.credential) return credentialTokenProvider(options.credential, [graphScopeFor(baseUrl)]);
  if (options.staticToken !== undefined) return staticTokenProvider(options.staticToken);
  if (isLoopbackUrl(baseUrl)) return staticTokenProvider('local');
  throw new GraphConfigError(
    `No credential for ${baseUrl}: pass a credential (see credentialFor) or a static token; only loopback endpoints default to the token "local".`,
  );
}
