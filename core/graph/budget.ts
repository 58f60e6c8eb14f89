import { createHash } from 'node:crypto';

/**
 * The right of one channel to post messages: while it is held, the channel posts at its own pace (5/s),
 * and since there are only `rateGlobal / ratePerChannel` slots per tenant, every channel of every migration
 * and process together stays within the app's budget (50/s).
 */
export interface PostingSlot {
  /** True while the slot is still known to be held, with room for a request sent now to land inside it. */
  held(): boolean;
  /** Gives the slot back (and says when another channel may first use it); never throws. */
  release(): Promise<void>;
}

/** The tenant's message-posting budget, shared through the app's storage by every migration and process. */
export interface PostingBudget {
  /**
   * Takes a free slot for `holder` (a channel), or answers undefined when every slot is taken or goes to a
   * waiting channel before it: the one with the highest `priority` (messages left) first.
   */
  take(holder: string, priority: number): Promise<PostingSlot | undefined>;
  /** How long a channel that found no free slot waits before it asks again, in ms. */
  retryMs(): number;
}

/** What a creation request counts against: POST /teams, or POST /teams/{id}/channels. */
export type CreationKind = 'team' | 'channel';

/** The tenant's team and channel creation limits, shared like the posting budget. */
export interface CreationBudget {
  /** Resolves, with the instant the creation was counted at, once one more of its kind keeps the limit. */
  admit(kind: CreationKind): Promise<number>;
}

/** A limit of `limit` requests in any window of `windowMs`. */
export interface WindowLimit {
  limit: number;
  windowMs: number;
}

/** POST /teams: 10 a second per app and tenant (Graph's Teams throttling limits). */
export const TEAM_CREATION_LIMIT: WindowLimit = { limit: 10, windowMs: 1000 };
/** POST channels: 20 in 10 seconds per app and tenant. */
export const CHANNEL_CREATION_LIMIT: WindowLimit = { limit: 20, windowMs: 10_000 };

/**
 * Slack added to each creation window: a creation is counted in storage before its request is sent, so its
 * arrival trails its count by a storage write, tens of milliseconds, more than the message pacing margin.
 */
export const CREATION_MARGIN_MS = 250;

/** Posting slots of a tenant: the app's budget over one channel's, at least one. */
export function slotCount(rateGlobal: number, ratePerChannel: number): number {
  return Math.max(1, Math.floor(rateGlobal / ratePerChannel));
}

/**
 * The storage key of an app's budget in a tenant: a hash of the Graph endpoint, the tenant and the app
 * registration (the service's limits are per app and tenant), so two tenants, or two apps, never share one
 * and the key carries no name.
 */
export function tenantBudgetKey(graphUrl: string, tenantId = '', clientId = ''): string {
  return createHash('sha256')
    .update(
      [graphUrl.replace(/\/+$/, '').toLowerCase(), tenantId.toLowerCase(), clientId.toLowerCase()].join('\n'),
    )
    .digest('hex')
    .slice(0, 32);
}
