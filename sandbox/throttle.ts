import type { CreationScope } from './router';

/** The scope of a throttle that refused a request. */
export type ThrottleScope = 'channel' | 'global' | 'chat' | CreationScope;

/** The answer of a limiter: admitted, or refused with how long until a slot frees up (real milliseconds). */
export type Admission = { admitted: true } | { admitted: false; scope: ThrottleScope; retryAfterMs: number };

/**
 * Sliding-window rate limits: at most `limit` admissions per key in any window of `windowMs`. Only
 * admitted requests take a slot. A limit of 0 disables that scope.
 */
export class SlidingWindow {
  private readonly admitted = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Milliseconds until the key has a free slot at `now` (0 when it has one now). */
  waitFor(key: string, now: number): number {
    if (this.limit <= 0) return 0;
    const times = this.prune(key, now);
    if (times.length < this.limit) return 0;
    return (times[times.length - this.limit] ?? now) + this.windowMs - now;
  }

  /** Records an admission at `now`. */
  take(key: string, now: number): void {
    if (this.limit <= 0) return;
    const times = this.prune(key, now);
    times.push(now);
    this.admitted.set(key, times);
  }

  reset(): void {
    this.admitted.clear();
  }

  private prune(key: string, now: number): number[] {
    const times = this.admitted.get(key) ?? [];
    let drop = 0;
    while (drop < times.length && (times[drop] ?? 0) <= now - this.windowMs) drop++;
    const kept = drop > 0 ? times.slice(drop) : times;
    if (kept.length === 0) this.admitted.delete(key);
    else if (drop > 0) this.admitted.set(key, kept);
    return kept;
  }
}

/** Settings of the message throttle; `timeScale` K shrinks the one-second window to 1000/K ms. */
export interface ThrottleOptions {
  ratePerChannel: number;
  rateGlobal: number;
  /** Chat message imports per app (Graph: 20 a second per app per tenant), a budget of their own. */
  rateChatGlobal: number;
  timeScale: number;
}

/**
 * The import throttle: message and reply POSTs per channel and per app, each in a sliding one-second
 * window (scaled by `timeScale`). A request is admitted only when both scopes have room, and then takes a
 * slot in both. Chat message imports count against their own per-app window (`rateChatGlobal`).
 */
export class ImportThrottle {
  private readonly perChannel: SlidingWindow;
  private readonly global: SlidingWindow;
  private readonly chats: SlidingWindow;

  constructor(readonly options: ThrottleOptions) {
    const windowMs = 1000 / options.timeScale;
    this.perChannel = new SlidingWindow(options.ratePerChannel, windowMs);
    this.global = new SlidingWindow(options.rateGlobal, windowMs);
    this.chats = new SlidingWindow(options.rateChatGlobal, windowMs);
  }

  /** Admits (and records) or refuses one chat message import of `app` at `now`. */
  admitChat(app: string, now: number): Admission {
    const wait = this.chats.waitFor(app, now);
    if (wait > 0) return { admitted: false, scope: 'chat', retryAfterMs: wait };
    this.chats.take(app, now);
    return { admitted: true };
  }

  /** Admits (and records) or refuses one message POST of `app` to `channelKey` at `now` (channels are shared by all apps). */
  admit(app: string, channelKey: string, now: number): Admission {
    const channelWait = this.perChannel.waitFor(channelKey, now);
    if (channelWait > 0) return { admitted: false, scope: 'channel', retryAfterMs: channelWait };
    const globalWait = this.global.waitFor(app, now);
    if (globalWait > 0) return { admitted: false, scope: 'global', retryAfterMs: globalWait };
    this.perChannel.take(channelKey, now);
    this.global.take(app, now);
    return { admitted: true };
  }

  reset(): void {
    this.perChannel.reset();
    this.global.reset();
    this.chats.reset();
  }
}

/** Settings of the creation throttle: per app, `timeScale` K shrinks each window K times. A limit of 0 disables it. */
export interface CreationThrottleOptions {
  /** POST /teams per second. */
  teamsPerSecond: number;
  /** POST /teams/{id}/channels per 10 seconds. */
  channelsPer10Seconds: number;
  timeScale: number;
}

/** The service's creation limits per app and tenant: POST /teams 10 a second, POST channels 20 in 10 seconds. */
export class CreationThrottle {
  private readonly windows: Record<CreationScope, SlidingWindow>;

  constructor(readonly options: CreationThrottleOptions) {
    this.windows = {
      'team-creation': new SlidingWindow(options.teamsPerSecond, 1000 / options.timeScale),
      'channel-creation': new SlidingWindow(options.channelsPer10Seconds, 10_000 / options.timeScale),
    };
  }

  /** Admits (and records) or refuses one creation of `app` at `now`. */
  admit(app: string, scope: CreationScope, now: number): Admission {
    const window = this.windows[scope];
    const wait = window.waitFor(app, now);
    if (wait > 0) return { admitted: false, scope, retryAfterMs: wait };
    window.take(app, now);
    return { admitted: true };
  }

  /** The limit and the window (in service seconds) of a scope, for messages. */
  describe(scope: CreationScope): string {
    return scope === 'team-creation'
      ? `${this.options.teamsPerSecond} team creations per second`
      : `${this.options.channelsPer10Seconds} channel creations per 10 seconds`;
  }

  reset(): void {
    this.windows['team-creation'].reset();
    this.windows['channel-creation'].reset();
  }
}

/** `Retry-After` in whole seconds, at least 1, never shorter than the real wait. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}
