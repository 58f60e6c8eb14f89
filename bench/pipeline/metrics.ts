import type { RequestLogEntry } from '../../sandbox';

/** What a sandbox request was, for the benchmark's counts. */
export type RequestRole = 'post' | 'lookup' | 'other';

const MESSAGE_PATH = /\/teams\/[^/]+\/channels\/([^/]+)\/messages(?:\/([^/]+)(?:\/replies(?:\/([^/]+))?)?)?$/;

/** The role of a request (message or reply POST, message or reply lookup, anything else) and its channel. */
export function classify(entry: RequestLogEntry): { role: RequestRole; channel?: string } {
  const match = MESSAGE_PATH.exec(entry.path.split('?')[0]);
  if (!match) return { role: 'other' };
  const channel = decodeURIComponent(match[1]);
  const [, , messageId, replyId] = match;
  const isReplies = /\/replies(\/[^/]+)?$/.test(entry.path.split('?')[0]);
  if (entry.method === 'POST' && (messageId === undefined || (isReplies && replyId === undefined)))
    return { role: 'post', channel };
  if (entry.method === 'GET' && messageId !== undefined && (!isReplies || replyId !== undefined))
    return { role: 'lookup', channel };
  return { role: 'other', channel };
}

/** One channel's admitted POSTs and where its time went beyond the 200 ms spacing of 5/s. */
export interface ChannelPace {
  channel: string;
  admitted: number;
  throttled: number;
  /** First and last admitted POST (epoch ms). */
  first: number;
  last: number;
  /** (last - first) / ((admitted - 1) * 1000 / ratePerChannel): 1.0 is the limit exactly. */
  spanOverIdeal: number;
  /** Seconds lost to gaps between consecutive admitted POSTs, beyond the ideal spacing, by kind of gap. */
  lostSeconds: { jitter: number; after429: number; longGaps: number };
  /** Gaps of at least `longGapMs` with no 429 in them (activity boundaries, host stalls), in ms. */
  longGaps: number[];
  /** Admitted POSTs per whole second since the channel's first one (min, median, max over full seconds). */
  perSecond: { min: number; median: number; max: number };
  /** Gaps between consecutive admitted POSTs, in ms (percentiles). */
  gapMs: { p10: number; p50: number; p90: number; p99: number };
  /** Sandbox time from arrival to answer of the admitted POSTs, in ms (percentiles). */
  serviceMs: { p50: number; p99: number };
  /**
   * For gaps over the ideal spacing + 10 ms with no 429: ms from the answer of one POST to the arrival of the
   * next (the client's own turnaround: ledger write, pacing wait, event-loop delay), and how many such gaps.
   */
  slowTurnaroundMs: { count: number; p50: number; p90: number };
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The pacing of every channel's message POSTs, from the sandbox's request log. */
export function channelPaces(log: RequestLogEntry[], ratePerChannel: number, longGapMs = 400): ChannelPace[] {
  const ideal = 1000 / ratePerChannel;
  const byChannel = new Map<string, RequestLogEntry[]>();
  for (const e of log) {
    const c = classify(e);
    if (c.role !== 'post' || !c.channel) continue;
    const entries = byChannel.get(c.channel) ?? [];
    entries.push(e);
    byChannel.set(c.channel, entries);
  }
  const paces: ChannelPace[] = [];
  for (const [channel, entries] of byChannel) {
    entries.sort((a, b) => a.t - b.t);
    const admitted = entries.filter((e) => e.status !== 429);
    const lost = { jitter: 0, after429: 0, longGaps: 0 };
    const longGaps: number[] = [];
    const gaps: number[] = [];
    const turnarounds: number[] = [];
    const refusals = entries.filter((e) => e.status === 429).map((e) => e.t);
    let nextRefusal = 0;
    for (let i = 1; i < admitted.length; i++) {
      const gap = admitted[i].t - admitted[i - 1].t;
      gaps.push(gap);
      const excess = Math.max(0, gap - ideal) / 1000;
      while (nextRefusal < refusals.length && refusals[nextRefusal] <= admitted[i - 1].t) nextRefusal++;
      const refused = nextRefusal < refusals.length && refusals[nextRefusal] < admitted[i].t;
      if (refused) lost.after429 += excess;
      else if (gap >= longGapMs) {
        lost.longGaps += excess;
        longGaps.push(Math.round(gap));
      } else {
        lost.jitter += excess;
        if (gap > ideal + 10) turnarounds.push(admitted[i].t - (admitted[i - 1].t + admitted[i - 1].ms));
      }
    }
    const first = admitted[0]?.t ?? 0;
    const last = admitted.at(-1)?.t ?? 0;
    const seconds = new Map<number, number>();
    for (const e of admitted) {
      const s = Math.floor((e.t - first) / 1000);
      seconds.set(s, (seconds.get(s) ?? 0) + 1);
    }
    const full = Math.floor((last - first) / 1000);
    const counts = Array.from({ length: full }, (_, s) => seconds.get(s) ?? 0);
    paces.push({
      channel,
      admitted: admitted.length,
      throttled: entries.length - admitted.length,
      first,
      last,
      spanOverIdeal: admitted.length > 1 ? (last - first) / ((admitted.length - 1) * ideal) : 1,
      lostSeconds: {
        jitter: round(lost.jitter, 2),
        after429: round(lost.after429, 2),
        longGaps: round(lost.longGaps, 2),
      },
      longGaps,
      perSecond: {
        min: counts.length ? Math.min(...counts) : 0,
        median: median(counts),
        max: counts.length ? Math.max(...counts) : 0,
      },
      gapMs: {
        p10: round(percentile(gaps, 10), 1),
        p50: round(percentile(gaps, 50), 1),
        p90: round(percentile(gaps, 90), 1),
        p99: round(percentile(gaps, 99), 1),
      },
      serviceMs: {
        p50: round(
          percentile(
            admitted.map((e) => e.ms),
            50,
          ),
          1,
        ),
        p99: round(
          percentile(
            admitted.map((e) => e.ms),
            99,
          ),
          1,
        ),
      },
      slowTurnaroundMs: {
        count: turnarounds.length,
        p50: round(percentile(turnarounds, 50), 1),
        p90: round(percentile(turnarounds, 90), 1),
      },
    });
  }
  return paces.sort((a, b) => b.admitted - a.admitted);
}

/**
 * How close the arrivals of one channel came to the sliding window: for each admitted POST, the time since
 * the POST `ratePerChannel` admissions earlier (the window needs more than 1000 ms). Returns the count of
 * 429s per cause: `windowShort` when the refused POST arrived less than 1000 ms after the one
 * `ratePerChannel` admissions before it (the client's spacing was compressed in transit), `global` when the
 * app-wide window refused it.
 */
export function throttleCauses(
  log: RequestLogEntry[],
  ratePerChannel: number,
): { channel: number; global: number; windowGapsMs: number[] } {
  let channel = 0;
  let global = 0;
  const windowGapsMs: number[] = [];
  const admittedBy = new Map<string, number[]>();
  for (const e of [...log].sort((a, b) => a.t - b.t)) {
    const c = classify(e);
    if (c.role !== 'post' || !c.channel) continue;
    const times = admittedBy.get(c.channel) ?? [];
    if (e.status === 429) {
      if (e.throttled === 'global') global++;
      else channel++;
      const before = times.at(-ratePerChannel);
      if (before !== undefined) windowGapsMs.push(round(e.t - before, 1));
    } else {
      times.push(e.t);
      admittedBy.set(c.channel, times);
    }
  }
  return { channel, global, windowGapsMs };
}

/** Admitted message POSTs per whole second across the app, between two instants. */
export function globalPerSecond(log: RequestLogEntry[], from: number, to: number): number[] {
  const full = Math.floor((to - from) / 1000);
  const counts = new Array<number>(Math.max(0, full)).fill(0);
  for (const e of log) {
    if (e.status === 429 || classify(e).role !== 'post') continue;
    const s = Math.floor((e.t - from) / 1000);
    if (s >= 0 && s < full) counts[s]++;
  }
  return counts;
}

/** Rounds to `digits` decimals. */
export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The median of a list of numbers (the mean of the middle two for an even count), and nearest-rank percentiles. */
export { median, percentile };

/** The least and the greatest of a list of numbers, without spreading it into arguments (lists of millions). */
export function extent(xs: Iterable<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { min, max };
}

/** The run's rates as the sandbox enforced them (the real limits times the time scale). */
export interface EnforcedRates {
  ratePerChannel: number;
  rateGlobal: number;
  /** Admissions per channel in one of the sandbox's windows (its window is 1000 / time scale ms); default ratePerChannel. */
  perChannelWindowLimit?: number;
}

/** Wall time against the bound, 429s and requests per message of one migration, from the sandbox's request log. */
export interface PostingFigures {
  seconds: {
    wall: number;
    staging: number;
    teamSetUp: number;
    posting: number;
    completion: number;
    bound: number;
    postingBound: number;
  };
  wallOverBound: number;
  postingOverPostingBound: number;
  throttled: {
    total: number;
    steadyState: number;
    channelScope: number;
    globalScope: number;
    /** Every 429 by the scope that refused it (`channel`, `global`, creations...). */
    byScope: Record<string, number>;
  };
  /** For the 429s, ms since the POST `perChannelWindowLimit` admissions earlier in their channel. */
  windowGapsMs: { min: number; p50: number; max: number; under990: number };
  requests: {
    posts: number;
    admittedPosts: number;
    lookups: number;
    perMessage: number;
    admittedPerMessage: number;
  };
  /** First and last message POST (epoch ms). */
  firstPost: number;
  lastPost: number;
}

/**
 * The figures of one migration: wall = the team orchestration's creation to its last update; staging = to
 * the sandbox's first request; team set-up = to the first message POST; posting = to the last one;
 * completion = from there to the end. Bound = max(planned / rateGlobal, largest / ratePerChannel) + team
 * set-up. Requests per message = message and reply POSTs (refused ones included) and look-ups per planned message.
 */
export function postingFigures(
  log: RequestLogEntry[],
  run: { planned: number; largest: number; teamTimes: { created: number; done: number } },
  rates: EnforcedRates,
): PostingFigures {
  const posts = log.filter((e) => classify(e).role === 'post');
  const lookups = log.filter((e) => classify(e).role === 'lookup').length;
  const firstRequest = extent(log.map((e) => e.t)).min;
  const { min: firstPost, max: lastPost } = extent(posts.map((e) => e.t));
  const throttledPosts = posts.filter((e) => e.status === 429);
  const steady = throttledPosts.filter((e) => e.t >= firstPost && e.t <= lastPost).length;
  const refused = log.filter((e) => e.status === 429);
  const byScope: Record<string, number> = {};
  for (const e of refused) byScope[e.throttled ?? 'fault'] = (byScope[e.throttled ?? 'fault'] ?? 0) + 1;
  const causes = throttleCauses(log, rates.perChannelWindowLimit ?? rates.ratePerChannel);
  const { teamTimes, planned, largest } = run;
  const teamSetUp = (firstPost - firstRequest) / 1000;
  const posting = (lastPost - firstPost) / 1000;
  const completion = (teamTimes.done - lastPost) / 1000;
  const wall = (teamTimes.done - teamTimes.created) / 1000;
  const postingBound = Math.max(planned / rates.rateGlobal, largest / rates.ratePerChannel);
  const bound = postingBound + teamSetUp;
  const gaps = extent(causes.windowGapsMs);
  return {
    seconds: {
      wall: round(wall, 1),
      staging: round((firstRequest - teamTimes.created) / 1000, 2),
      teamSetUp: round(teamSetUp, 2),
      posting: round(posting, 1),
      completion: round(completion, 2),
      bound: round(bound, 1),
      postingBound: round(postingBound, 1),
    },
    wallOverBound: round(wall / bound),
    postingOverPostingBound: round(posting / postingBound),
    throttled: {
      total: refused.length,
      steadyState: steady,
      channelScope: causes.channel,
      globalScope: causes.global,
      byScope,
    },
    windowGapsMs: {
      min: causes.windowGapsMs.length ? gaps.min : 0,
      p50: median(causes.windowGapsMs),
      max: causes.windowGapsMs.length ? gaps.max : 0,
      under990: causes.windowGapsMs.filter((g) => g < 990).length,
    },
    requests: {
      posts: posts.length,
      admittedPosts: posts.length - throttledPosts.length,
      lookups,
      perMessage: round((posts.length + lookups) / planned, 4),
      admittedPerMessage: round((posts.length - throttledPosts.length + lookups) / planned, 4),
    },
    firstPost,
    lastPost,
  };
}

/** One `postMessages` batch of a channel that posted: where in the channel it started and how long before its first POST. */
export interface BatchStart {
  /** Admitted POSTs into the channel before the batch started (its cursor, without failures). */
  atMessage: number;
  /** Ms from the activity's start to its first message POST. */
  msToFirstPost: number;
  /** Message POSTs the batch sent (refused ones included). */
  posts: number;
}

/**
 * The batches of one channel that sent at least one POST, in order, from their activity spans and the
 * request log: the time from each batch's start to its first POST and the channel's admitted POSTs before it.
 */
export function batchStarts(
  log: RequestLogEntry[],
  channelId: string,
  spans: { channelId: string; start: number; end: number }[],
): BatchStart[] {
  const posts = log
    .filter((e) => {
      const c = classify(e);
      return c.role === 'post' && c.channel === channelId;
    })
    .sort((a, b) => a.t - b.t);
  const starts: BatchStart[] = [];
  let i = 0;
  let admitted = 0;
  for (const span of spans.filter((s) => s.channelId === channelId).sort((a, b) => a.start - b.start)) {
    for (; i < posts.length && posts[i].t < span.start; i++) if (posts[i].status !== 429) admitted++;
    const atMessage = admitted;
    let sent = 0;
    let first: number | undefined;
    for (; i < posts.length && posts[i].t <= span.end; i++) {
      first ??= posts[i].t;
      sent++;
      if (posts[i].status !== 429) admitted++;
    }
    if (first !== undefined)
      starts.push({ atMessage, msToFirstPost: Math.round(first - span.start), posts: sent });
  }
  return starts;
}
