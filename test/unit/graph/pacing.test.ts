import {
  Pacer,
  SendWindow,
  TokenBucket,
  channelKeyOfUrl,
  type PacingClock,
} from '../../../core/graph/pacing';

/** A clock that only moves when someone sleeps; records every sleep. */
function fakeClock(): PacingClock & { t: number; sleeps: number[] } {
  const clock = {
    t: 0,
    sleeps: [] as number[],
    now: () => clock.t,
    sleep: (ms: number) => {
      clock.sleeps.push(ms);
      clock.t += ms;
      return Promise.resolve();
    },
  };
  return clock;
}

/** A clock whose sleeps overlap like real timers: `run` fires the earliest pending sleep whenever all work is idle. */
function fakeScheduler(): PacingClock & { t: number; run<T>(work: Promise<T>): Promise<T> } {
  const timers: { at: number; resolve: () => void }[] = [];
  const clock = {
    t: 0,
    now: () => clock.t,
    sleep: (ms: number) => new Promise<void>((resolve) => timers.push({ at: clock.t + ms, resolve })),
    async run<T>(work: Promise<T>): Promise<T> {
      let done = false;
      void work.finally(() => (done = true));
      while (!done) {
        await new Promise((resolve) => setImmediate(resolve));
        timers.sort((x, y) => x.at - y.at);
        const next = timers.shift();
        if (next) {
          clock.t = Math.max(clock.t, next.at);
          next.resolve();
        }
      }
      return work;
    },
  };
  return clock;
}

async function timesOf(n: number, acquire: () => Promise<void>, clock: { t: number }): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    await acquire();
    times.push(clock.t);
  }
  return times;
}

/** The most sends found in any window of `windowMs` (a send at exactly t - windowMs is outside, as the service counts). */
function mostInAnyWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  return Math.max(0, ...sorted.map((t) => sorted.filter((u) => u > t - windowMs && u <= t).length));
}

describe('TokenBucket', () => {
  it('spaces takes 1/rate apart once the burst is spent', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(5, 1, clock);
    expect(await timesOf(4, () => bucket.acquire(), clock)).toEqual([0, 200, 400, 600]);
  });

  it('serves a saved-up burst at once, then the steady rate', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(10, 3, clock);
    expect(await timesOf(5, () => bucket.acquire(), clock)).toEqual([0, 0, 0, 100, 200]);
  });

  it('refills with elapsed time up to the burst, fractionally', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(4, 2, clock);
    void bucket.acquire();
    void bucket.acquire();
    return Promise.resolve().then(async () => {
      await bucket.acquire();
      expect(clock.t).toBe(250);
      clock.t += 125;
      expect(bucket.available()).toBeCloseTo(0.5);
      clock.t += 10_000;
      expect(bucket.available()).toBe(2);
    });
  });

  it('serves concurrent waiters in call order at the rate', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(2, 1, clock);
    const order: string[] = [];
    await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        bucket.acquire().then(() => {
          order.push(`${name}@${clock.t}`);
        }),
      ),
    );
    expect(order).toEqual(['a@0', 'b@500', 'c@1000']);
  });

  it('after pause(ms) takes nothing until the pause ends, then refills from empty', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(5, 5, clock);
    bucket.pause(3000);
    expect(bucket.available()).toBe(0);
    await bucket.acquire();
    expect(clock.t).toBe(3200);
    clock.t += 400;
    expect(bucket.available()).toBeCloseTo(2);
  });

  it('rejects a rate or burst that cannot work', () => {
    expect(() => new TokenBucket(0)).toThrow(/rate must be > 0/);
    expect(() => new TokenBucket(5, 0)).toThrow(/burst must be >= 1/);
  });
});

describe('SendWindow', () => {
  it('lets `limit` sends go at once, then the next when the oldest has left the window plus its margin', async () => {
    const clock = fakeClock();
    const window = new SendWindow(5, 1000, 10, clock);
    expect(await timesOf(12, () => window.acquire(), clock)).toEqual([
      0, 0, 0, 0, 0, 1010, 1010, 1010, 1010, 1010, 2020, 2020,
    ]);
  });

  it('never admits more than its limit in any window of the service, whatever the arrival pattern', async () => {
    const clock = fakeScheduler();
    const window = new SendWindow(5, 1000, 0, clock);
    const times: number[] = [];
    await clock.run(
      Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          await clock.sleep((i * 37) % 300);
          await window.acquire();
          times.push(clock.t);
        }),
      ),
    );
    expect(times).toHaveLength(40);
    expect(mostInAnyWindow(times, 1000)).toBe(5);
  });

  it('absorbs a late wake-up instead of pushing every later send back', async () => {
    const clock = fakeClock();
    const window = new SendWindow(5, 1000, 0, clock);
    await timesOf(5, () => window.acquire(), clock);
    clock.t = 1300;
    expect(await timesOf(6, () => window.acquire(), clock)).toEqual([1300, 1300, 1300, 1300, 1300, 2300]);
  });

  it('serves concurrent waiters in call order', async () => {
    const clock = fakeClock();
    const window = new SendWindow(1, 500, 0, clock);
    const order: string[] = [];
    await Promise.all(
      ['a', 'b', 'c'].map((name) => window.acquire().then(() => order.push(`${name}@${clock.t}`))),
    );
    expect(order).toEqual(['a@0', 'b@500', 'c@1000']);
  });

  it('counts a retry due after a pause against the window', async () => {
    const clock = fakeClock();
    const window = new SendWindow(1, 1000, 0, clock);
    window.pause(3000);
    expect(window.waitMs()).toBe(4000);
    await window.acquire();
    expect(clock.t).toBe(4000);
  });

  it('rejects a limit or window that cannot work', () => {
    expect(() => new SendWindow(0, 1000, 0)).toThrow(/limit of at least 1/);
    expect(() => new SendWindow(5, 0, 0)).toThrow(/window > 0 ms/);
  });
});

describe('Pacer', () => {
  it('holds each channel to its rate and all channels together to the global rate, in every window', async () => {
    const clock = fakeScheduler();
    const pacer = new Pacer({ perChannelPerSecond: 5, globalPerSecond: 10, marginMs: 0 }, clock);
    const times: Record<string, number[]> = { a: [], b: [], c: [] };
    await clock.run(
      Promise.all(
        Object.keys(times).map(async (key) => {
          for (let i = 0; i < 12; i++) {
            await pacer.acquire(key);
            times[key].push(clock.t);
          }
        }),
      ),
    );
    for (const key of Object.keys(times)) expect(mostInAnyWindow(times[key], 1000)).toBeLessThanOrEqual(5);
    const all = Object.values(times).flat();
    expect(all).toHaveLength(36);
    expect(mostInAnyWindow(all, 1000)).toBeLessThanOrEqual(10);
    const sorted = [...all].sort((x, y) => x - y);
    sorted.slice(1).forEach((t, k) => expect(t - sorted[k]).toBeGreaterThanOrEqual(100));
    expect(Math.max(...all)).toBe(3500);
  });

  it('slows only the throttled channel', async () => {
    const clock = fakeScheduler();
    const pacer = new Pacer({ perChannelPerSecond: 1, marginMs: 0 }, clock);
    await clock.run(Promise.all([pacer.acquire('t/a'), pacer.acquire('t/b')]));
    pacer.throttled('t/a', 2000);
    const start = clock.t;
    const done: Record<string, number> = {};
    await clock.run(
      Promise.all(
        ['t/a', 't/b'].map((key) =>
          pacer.acquire(key).then(() => {
            done[key] = clock.t - start;
          }),
        ),
      ),
    );
    expect(done['t/b']).toBe(1000);
    expect(done['t/a']).toBe(3000);
  });

  it('derives the channel key from message and reply URLs, decoding ids', () => {
    expect(channelKeyOfUrl('http://h/v1.0/teams/t1/channels/19%3Ax%40thread.tacv2/messages/17/replies')).toBe(
      't1/19:x@thread.tacv2',
    );
    expect(channelKeyOfUrl('http://h/v1.0/users/u1')).toBeUndefined();
  });
});
