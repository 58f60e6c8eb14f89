import type { ThrottleSignal } from './middleware/retry';

/** Clock and sleep for the pacing classes; tests pass a fake pair. */
export interface PacingClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

const realClock: PacingClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A token bucket: `ratePerSecond` tokens a second, at most `burst` saved up. Waiters are served in call
 * order, so no caller starves; `pause(ms)` empties the bucket and refills only from the end of the pause.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number = 1,
    private readonly clock: PacingClock = realClock,
  ) {
    if (!(ratePerSecond > 0))
      throw new RangeError(`Token bucket rate must be > 0 per second, got ${ratePerSecond}.`);
    if (!(burst >= 1)) throw new RangeError(`Token bucket burst must be >= 1, got ${burst}.`);
    this.tokens = burst;
    this.refilledAt = clock.now();
  }

  /** Resolves when a token has been taken. */
  acquire(): Promise<void> {
    const turn = this.queue.then(() => this.take());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Takes no new token for `ms` (a 429's Retry-After) and starts the refill afterwards from empty. */
  pause(ms: number): void {
    const until = this.clock.now() + ms;
    if (until <= this.refilledAt && this.tokens === 0) return;
    this.tokens = 0;
    this.refilledAt = Math.max(this.refilledAt, until);
  }

  /** Tokens available now (fractional), for tests and diagnostics. */
  available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const now = this.clock.now();
    if (now <= this.refilledAt) return;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.ratePerSecond) / 1000);
    this.refilledAt = now;
  }

  private async take(): Promise<void> {
    for (;;) {
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const now = this.clock.now();
      const pausedFor = Math.max(0, this.refilledAt - now);
      await this.clock.sleep(pausedFor + ((1 - this.tokens) * 1000) / this.ratePerSecond);
    }
  }
}

/** Rates of a Pacer: the service's 5 messages/s per channel and about 50/s per app and tenant. */
export interface PacerOptions {
  perChannelPerSecond: number;
  globalPerSecond: number;
  /** Tokens a bucket may save up; 1 keeps every 1-second window within the rate. */
  burst: number;
}

/** The service's published import limits. */
export const DEFAULT_PACING: PacerOptions = { perChannelPerSecond: 5, globalPerSecond: 50, burst: 1 };

/** The pacing key of a channel: `${teamId}/${channelId}`, the same key the throttle hook derives from URLs. */
export function channelPacingKey(teamId: string, channelId: string): string {
  return `${teamId}/${channelId}`;
}

/** The channel pacing key of a Graph URL under `/teams/{id}/channels/{id}`, if it has one. */
export function channelKeyOfUrl(url: string): string | undefined {
  const match = /\/teams\/([^/?]+)\/channels\/([^/?]+)/.exec(new URL(url, 'http://x').pathname);
  return match ? channelPacingKey(decodeURIComponent(match[1]), decodeURIComponent(match[2])) : undefined;
}

/**
 * Paces message POSTs: one bucket per channel and one shared by all. `acquire(key)` takes the channel's
 * token first, then the global one, so a channel waiting for its own turn holds no global capacity.
 */
export class Pacer {
  private readonly channels = new Map<string, TokenBucket>();
  private readonly global: TokenBucket;
  private readonly options: PacerOptions;

  constructor(
    options: Partial<PacerOptions> = {},
    private readonly clock: PacingClock = realClock,
  ) {
    this.options = { ...DEFAULT_PACING, ...options };
    this.global = new TokenBucket(this.options.globalPerSecond, this.options.burst, clock);
  }

  /** Resolves when one more request to the channel keeps both the channel's and the global rate. */
  async acquire(channelKey: string): Promise<void> {
    await this.bucket(channelKey).acquire();
    await this.global.acquire();
  }

  /** Slows a channel down after a 429 (or everything, when the 429 was not channel-specific). */
  throttled(channelKey: string | undefined, delayMs: number): void {
    (channelKey === undefined ? this.global : this.bucket(channelKey)).pause(delayMs);
  }

  /** A callback for createGraphClient's `onThrottled` that pauses the channel a 429 came from (other routes are ignored). */
  throttleHook(): (signal: ThrottleSignal) => void {
    return (signal) => {
      const key = channelKeyOfUrl(signal.url);
      if (key !== undefined) this.throttled(key, signal.delayMs);
    };
  }

  /** Tokens a channel could use now: the smaller of its own and the global bucket's. */
  available(channelKey: string): number {
    return Math.min(this.bucket(channelKey).available(), this.global.available());
  }

  private bucket(channelKey: string): TokenBucket {
    let bucket = this.channels.get(channelKey);
    if (!bucket) {
      bucket = new TokenBucket(this.options.perChannelPerSecond, this.options.burst, this.clock);
      this.channels.set(channelKey, bucket);
    }
    return bucket;
  }
}
