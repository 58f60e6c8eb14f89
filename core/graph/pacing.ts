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
  /** Slack added to each one-second window for the time between a send here and its arrival there. */
  marginMs: number;
}

/** The service's published import limits, with 10 ms of slack per window. */
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
 * Paces message POSTs with sliding windows of actual send instants: one per channel and one shared by all.
 * `acquire(key)` waits for the channel's window first, then the global one, and records the send in both at
 * the instant it is released, so no channel holds global capacity while it waits for its own turn.
 */
export class Pacer {
  private readonly channels = new Map<string, SendWindow>();
  private readonly global: SendWindow;
  private readonly options: PacerOptions;

  constructor(
    options: Partial<PacerOptions> = {},
    private readonly clock: PacingClock = realClock,
  ) {
    this.options = { ...DEFAULT_PACING, ...options };
    this.global = new SendWindow(this.options.globalPerSecond, 1000, this.options.marginMs, clock);
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

  /** Milliseconds until the channel may send (the longer of its own and the global wait). */
  waitMs(channelKey: string): number {
    return Math.max(this.window(channelKey).waitMs(), this.global.waitMs());
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
