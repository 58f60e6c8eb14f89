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

/**
 * A sliding log of send instants that mirrors how the service counts: at most `limit` sends in any window of
 * `windowMs` (plus `marginMs` of slack for latency between this process and the service). Callers are served
 * in order; a late wake-up is absorbed by the window instead of pushing every later send back.
 */
export class SendWindow {
  private sends: number[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    readonly marginMs: number,
    private readonly clock: PacingClock = realClock,
  ) {
    if (!(limit >= 1)) throw new RangeError(`A send window needs a limit of at least 1, got ${limit}.`);
    if (!(windowMs > 0)) throw new RangeError(`A send window needs a window > 0 ms, got ${windowMs}.`);
  }

  /**
   * Waits until one more send keeps the window, runs `beforeSend` (another limiter's wait), then records the
   * send at that instant.
   */
  acquire(beforeSend?: () => Promise<void>): Promise<void> {
    const turn = this.queue.then(async () => {
      for (let wait = this.waitMs(); wait > 0; wait = this.waitMs()) await this.clock.sleep(wait);
      if (beforeSend) await beforeSend();
      this.record(this.clock.now());
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Counts a send this window did not admit (a retry after a 429, due `delayMs` from now). */
  pause(delayMs: number): void {
    this.record(this.clock.now() + Math.max(0, delayMs));
  }

  /** Milliseconds until a send would keep the window (0 when one may go now). */
  waitMs(): number {
    if (this.sends.length < this.limit) return 0;
    return Math.max(
      0,
      this.sends[this.sends.length - this.limit] + this.windowMs + this.marginMs - this.clock.now(),
    );
  }

  private record(at: number): void {
    this.sends.push(at);
    this.sends.sort((a, b) => a - b);
    if (this.sends.length > this.limit) this.sends.splice(0, this.sends.length - this.limit);
  }
}

/** Rates of a Pacer: the service's 5 messages/s per channel and about 50/s per app and tenant. */
export interface PacerOptions {
  perChannelPerSecond: number;
  globalPerSecond: number;
  /** Slack added to each channel's one-second window for the time between a send here and its arrival there. */
  marginMs: number;
}

/** GET channel message: the service's limit per app and tenant (message lookups of resumes are paced to it). */
export const MESSAGE_READS_PER_SECOND = 20;

/** The service's published import limits, with 10 ms of slack per channel window. */
export const DEFAULT_PACING: PacerOptions = { perChannelPerSecond: 5, globalPerSecond: 50, marginMs: 10 };

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
 * Paces message POSTs: per channel a sliding window of actual send instants (as the service counts), and
 * for the whole app a burst-1 token bucket that spreads sends out instead of releasing channels in
 * lockstep. `acquire(key)` waits for the channel's window, then the app's token, and records the send in
 * the channel's window at the instant it is released, so no channel holds app capacity while it waits.
 */
export class Pacer {
  private readonly channels = new Map<string, SendWindow>();
  private readonly global: TokenBucket;
  private readonly options: PacerOptions;

  constructor(
    options: Partial<PacerOptions> = {},
    private readonly clock: PacingClock = realClock,
  ) {
    this.options = { ...DEFAULT_PACING, ...options };
    this.global = new TokenBucket(this.options.globalPerSecond, 1, clock);
  }

  /** Resolves when one more request to the channel keeps both the channel's and the global rate. */
  acquire(channelKey: string): Promise<void> {
    return this.window(channelKey).acquire(() => this.global.acquire());
  }

  /** Counts a 429's retry, due after `delayMs`, against the channel (or everything, when not channel-specific). */
  throttled(channelKey: string | undefined, delayMs: number): void {
    (channelKey === undefined ? this.global : this.window(channelKey)).pause(delayMs);
  }

  /** A callback for createGraphClient's `onThrottled` that slows the channel a 429 came from (other routes are ignored). */
  throttleHook(): (signal: ThrottleSignal) => void {
    return (signal) => {
      const key = channelKeyOfUrl(signal.url);
      if (key !== undefined) this.throttled(key, signal.delayMs);
    };
  }

  /** Milliseconds until the channel's own window lets it send (the app's token aside). */
  waitMs(channelKey: string): number {
    return this.window(channelKey).waitMs();
  }

  private window(channelKey: string): SendWindow {
    let window = this.channels.get(channelKey);
    if (!window) {
      window = new SendWindow(this.options.perChannelPerSecond, 1000, this.options.marginMs, this.clock);
      this.channels.set(channelKey, window);
    }
    return window;
  }
}
