import type { MigrationStatus } from '../pipeline/contracts';
import { explainChannel, type PassReport } from '../pipeline/report';
import type { ChannelRecord } from '../state/ledgerRecords';
import { effectivePhase, ENDED } from './phase';
import { decodeSeries, etaSeconds, measuredRate, sumSeries } from './throughput';

/** A planned channel as the dashboard needs it (from the staged manifest). */
export interface DashboardChannelPlan {
  key: string;
  sourceName: string;
  teamsName: string;
  messages: number;
}

/** What the live page of one migration is built from. */
export interface DashboardInput {
  migrationId: string;
  instanceId: string;
  team: string;
  runtimeStatus?: string;
  customStatus?: Partial<MigrationStatus>;
  output?: unknown;
  createdTime?: string;
  lastUpdatedTime?: string;
  /** The staged plan's channels; absent until staging has written it. */
  channels?: DashboardChannelPlan[];
  records: ChannelRecord[];
  passes?: PassReport[];
  now: number;
}

/** One channel on the live page. */
export interface DashboardChannel {
  key: string;
  source: string;
  teamsName: string;
  state: string;
  planned: number;
  posted: number;
  failed: number;
  missing: number;
  throttled: number;
  /** Every planned message has been tried in this pass, or the channel is completed. */
  done: boolean;
  /** Posting has begun and the channel is not done. */
  inFlight: boolean;
  waitingUntil?: string;
  lastError?: string;
  error?: string;
  why: string[];
}

/** The live state of one migration: the JSON the page polls (`GET /api/migrations/{id}/dashboard?format=json`). */
export interface MigrationDashboard {
  id: string;
  instanceId: string;
  team: string;
  runtimeStatus: string;
  phase: string;
  /** While the export is staged: its channels and conversations, and how many are planned so far. */
  staging?: { items: number; planned: number };
  /** The orchestration has ended (completed, failed or cancelled): the page stops polling. */
  ended: boolean;
  createdTime?: string;
  lastUpdatedTime?: string;
  generatedAt: string;
  lastError?: string;
  totals: {
    planned: number;
    posted: number;
    failed: number;
    missing: number;
    notTried: number;
    throttled: number;
    channels: number;
    channelsDone: number;
    channelsInFlight: number;
  };
  channels: DashboardChannel[];
  /** Messages posted per minute over all channels, and the rate measured over the last 5 minutes. */
  throughput: { series: { minute: string; messages: number }[]; ratePerSecond?: number };
  /** When the remaining plan should be posted at the measured rate; absent without a rate or once ended. */
  eta?: { seconds: number; at: string };
  /** Channels waiting out a long throttle of the service. */
  waiting: { channel: string; until: string }[];
  passes?: PassReport[];
  output?: unknown;
}

/** Builds a migration's live state from its orchestration status, its staged plan and its ledger rows. */
export function buildDashboard(input: DashboardInput): MigrationDashboard {
  const runtimeStatus = input.runtimeStatus ?? 'Unknown';
  const ended = ENDED.has(runtimeStatus);
  const records = new Map(input.records.map((r) => [r.channelKey, r]));
  const channels: DashboardChannel[] = (input.channels ?? []).map((c) => {
    const r = records.get(c.key);
    const posted = r?.posted ?? 0;
    const failed = r?.failed ?? 0;
    const missing = r?.missing ?? 0;
    const state = r?.state ?? 'pending';
    const done = state === 'completed' || state === 'posted' || posted + failed + missing >= c.messages;
    const outcome = {
      state,
      planned: c.messages,
      posted,
      failed,
      missing,
      failures: r?.lastError ? [{ key: '', error: r.lastError }] : [],
      missingMessages: [],
      ...(r?.error ? { error: r.error } : {}),
      ...(r?.notCreated ? { notCreated: r.notCreated } : {}),
    };
    return {
      key: c.key,
      source: c.sourceName,
      teamsName: c.teamsName,
      state,
      planned: c.messages,
      posted,
      failed,
      missing,
      throttled: r?.throttled ?? 0,
      done,
      inFlight: !done && !ended && (state === 'posting' || state === 'created'),
      ...(r?.waitUntil ? { waitingUntil: r.waitUntil } : {}),
      ...(r?.lastError ? { lastError: r.lastError } : {}),
      ...(r?.error ? { error: r.error } : {}),
      why: explainChannel(outcome, ended),
    };
  });
  const sum = (f: (c: DashboardChannel) => number): number => channels.reduce((n, c) => n + f(c), 0);
  const planned = channels.length ? sum((c) => c.planned) : (input.customStatus?.messagesTotal ?? 0);
  const posted = channels.length ? sum((c) => c.posted) : (input.customStatus?.messagesPosted ?? 0);
  const failed = sum((c) => c.failed);
  const missing = sum((c) => c.missing);
  const notTried = Math.max(0, planned - posted - failed - missing);
  const series = sumSeries(input.records.map((r) => decodeSeries(r.throughput)));
  const rate = ended ? undefined : measuredRate(series, input.now);
  const eta = ended ? undefined : etaSeconds(notTried, rate);
  return {
    id: input.migrationId,
    instanceId: input.instanceId,
    team: input.team,
    runtimeStatus,
    phase: effectivePhase(input.runtimeStatus, input.customStatus?.phase, input.output),
    ...(input.customStatus?.staging && !ended ? { staging: input.customStatus.staging } : {}),
    ended,
    ...(input.createdTime ? { createdTime: input.createdTime } : {}),
    ...(input.lastUpdatedTime ? { lastUpdatedTime: input.lastUpdatedTime } : {}),
    generatedAt: new Date(input.now).toISOString(),
    ...(input.customStatus?.lastError ? { lastError: input.customStatus.lastError } : {}),
    totals: {
      planned,
      posted,
      failed,
      missing,
      notTried,
      throttled: sum((c) => c.throttled),
      channels: channels.length || (input.customStatus?.channelsTotal ?? 0),
      channelsDone: channels.filter((c) => c.done).length,
      channelsInFlight: channels.filter((c) => c.inFlight).length,
    },
    channels,
    throughput: {
      series: series.map((b) => ({ minute: new Date(b.minute).toISOString(), messages: b.messages })),
      ...(rate !== undefined ? { ratePerSecond: rate } : {}),
    },
    ...(eta !== undefined
      ? { eta: { seconds: eta, at: new Date(input.now + eta * 1000).toISOString() } }
      : {}),
    waiting: channels
      .filter((c) => c.waitingUntil && !ended && Date.parse(c.waitingUntil) > input.now)
      .map((c) => ({ channel: c.teamsName, until: c.waitingUntil! })),
    ...(input.passes ? { passes: input.passes } : {}),
    ...(input.output !== undefined && input.output !== null ? { output: input.output } : {}),
  };
}
