/** The fault kinds the sandbox can inject into Graph answers. */
export type FaultKind =
  | '429'
  | '429noretry'
  | '429long'
  | '503'
  | '504'
  | 'latency'
  | 'lost'
  | 'teamlistlag'
  | 'refuse'
  | 'chatrefuse';

/** Kinds that change how a request is served without failing it, or that are decided per message, not per request. */
type ModifierKind = 'latency' | 'teamlistlag' | 'refuse' | 'chatrefuse';

/** One fault rule: a kind, a probability per request, and the kind's parameter (seconds or milliseconds). */
export interface FaultRule {
  kind: FaultKind;
  probability: number;
  param?: number;
}

/** A parsed fault specification. */
export type FaultSpec = FaultRule[];

/** What happens to one request: an optional delay, then at most one failure. */
export interface FaultDecision {
  latencyMs: number;
  /** For a team creation: seconds (unscaled) before the new team shows in team listings. */
  teamListLagSeconds?: number;
  failure?: { kind: Exclude<FaultKind, ModifierKind>; param?: number };
}

const KINDS: FaultKind[] = [
  '429',
  '429noretry',
  '429long',
  '503',
  '504',
  'latency',
  'lost',
  'teamlistlag',
  'refuse',
  'chatrefuse',
];

/** Default parameter of the kinds that take one: Retry-After or lag in seconds, latency in ms. */
const DEFAULT_PARAM: Partial<Record<FaultKind, number>> = {
  '429': 1,
  '429long': 120,
  latency: 100,
  teamlistlag: 60,
};

/**
 * Parses a fault specification. Grammar: `rule (',' rule)*`, `rule = kind ':' probability ['@' param]`,
 * kinds `429` (param: Retry-After seconds, default 1), `429noretry` (no Retry-After), `429long` (param:
 * Retry-After seconds, default 120, scaled by the time scale), `503` (param: Retry-After seconds, default
 * none), `504`, `latency` (param: delay in ms, default 100), `lost` (the request takes effect, then the
 * connection is dropped with no answer), `teamlistlag` (a team created by the request shows in team
 * listings only `param` seconds later, default 60, scaled), `refuse` (a message or reply POST is refused
 * with 400; decided per message from its createdDateTime, so the same message is refused every time) and
 * `chatrefuse` (a 1:1 chat's `startMigration` is refused with 412 PreconditionFailed; decided per chat id);
 * probability in [0, 1]. Example: `429:0.05,429noretry:0.02,503:0.02,504:0.01,latency:0.1@200,lost:0.02`.
 */
export function parseFaults(spec: string): FaultSpec {
  const rules: FaultSpec = [];
  for (const raw of spec.split(',').map((s) => s.trim())) {
    if (raw === '') continue;
    const m = /^([a-z0-9]+):([0-9.]+)(?:@([0-9.]+))?$/i.exec(raw);
    if (!m) throw new Error(`fault rule '${raw}' is not of the form kind:probability[@param]`);
    const kind = (m[1] ?? '').toLowerCase() as FaultKind;
    if (!KINDS.includes(kind))
      throw new Error(`fault rule '${raw}': unknown kind '${m[1]}' (one of ${KINDS.join(', ')})`);
    const probability = Number(m[2]);
    if (!Number.isFinite(probability) || probability < 0 || probability > 1) {
      throw new Error(`fault rule '${raw}': probability must be between 0 and 1`);
    }
    const param = m[3] === undefined ? undefined : Number(m[3]);
    if (param !== undefined && (!Number.isFinite(param) || param < 0)) {
      throw new Error(`fault rule '${raw}': parameter must be a non-negative number`);
    }
    if (
      param !== undefined &&
      (kind === '429noretry' ||
        kind === '504' ||
        kind === 'lost' ||
        kind === 'refuse' ||
        kind === 'chatrefuse')
    ) {
      throw new Error(`fault rule '${raw}': '${kind}' takes no parameter`);
    }
    rules.push({ kind, probability, param });
  }
  return rules;
}

function mix(seed: number, n: number, k: number): number {
  let h = (seed ^ Math.imul(n + 1, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h / 0x100000000;
}

/**
 * The fault decision for the n-th faultable request (0-based) under a spec and seed: a pure function, so
 * the same seed replays the same faults on the same request sequence. Each rule draws its own number;
 * latency and a team-list lag combine with a failure; among failures the first rule in the spec that fires
 * wins. `refuse` rules are not drawn here (see `refusesMessage`).
 */
export function decideFault(spec: FaultSpec, seed: number, n: number): FaultDecision {
  const decision: FaultDecision = { latencyMs: 0 };
  spec.forEach((rule, k) => {
    if (rule.kind === 'refuse' || rule.kind === 'chatrefuse' || mix(seed, n, k) >= rule.probability) return;
    const param = rule.param ?? DEFAULT_PARAM[rule.kind];
    if (rule.kind === 'latency') decision.latencyMs += param ?? 0;
    else if (rule.kind === 'teamlistlag') decision.teamListLagSeconds ??= param;
    else decision.failure ??= { kind: rule.kind, param };
  });
  return decision;
}

/**
 * Whether a `refuse` rule of the spec refuses the message planned at `createdMs` (epoch ms): a pure
 * function of (seed, time, rule), so a message refused once is refused on every attempt.
 */
export function refusesMessage(spec: FaultSpec, seed: number, createdMs: number): boolean {
  const n = (createdMs % 0x7fffffff) ^ Math.floor(createdMs / 0x7fffffff);
  return spec.some((rule, k) => rule.kind === 'refuse' && mix(seed ^ 0x5bd1e995, n, k) < rule.probability);
}

/**
 * Whether a `chatrefuse` rule of the spec refuses the import of the 1:1 chat `chatId`: a pure function of
 * (seed, chat id, rule), so a chat refused once is refused on every attempt.
 */
export function refusesChat(spec: FaultSpec, seed: number, chatId: string): boolean {
  let n = 0;
  for (const ch of chatId) n = (Math.imul(n, 31) + ch.charCodeAt(0)) >>> 0;
  return spec.some(
    (rule, k) => rule.kind === 'chatrefuse' && mix(seed ^ 0x2c1b3c6d, n, k) < rule.probability,
  );
}

/** Draws fault decisions for successive requests, counting them. */
export class FaultInjector {
  private count = 0;

  constructor(
    private spec: FaultSpec,
    private seed: number,
  ) {}

  /** Replaces the rules and seed and restarts the request count. */
  configure(spec: FaultSpec, seed: number): void {
    this.spec = spec;
    this.seed = seed;
    this.count = 0;
  }

  next(): FaultDecision {
    if (this.spec.length === 0) return { latencyMs: 0 };
    return decideFault(this.spec, this.seed, this.count++);
  }

  /** Whether the import of the 1:1 chat `chatId` is refused (see `refusesChat`). */
  refusesChat(chatId: string): boolean {
    return this.spec.length > 0 && refusesChat(this.spec, this.seed, chatId);
  }

  /** Whether the message planned at `createdMs` is refused (see `refusesMessage`). */
  refuses(createdMs: number): boolean {
    return this.spec.length > 0 && refusesMessage(this.spec, this.seed, createdMs);
  }
}
