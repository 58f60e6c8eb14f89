import {
  RestError,
  type BlobLeaseClient,
  type BlockBlobClient,
  type ContainerClient,
} from '@azure/storage-blob';
import { createHash } from 'node:crypto';
import type { PostingBudget, PostingSlot } from '../graph/budget';

/** Settings of {@link LeaseSlots}. */
export interface LeaseSlotsOptions {
  /** The app's container: slots are the blobs `budget/<key>/slot-<n>`. */
  container: ContainerClient;
  /** The tenant budget's key (tenantBudgetKey): two tenants never share slots. */
  key: string;
  slots: number;
  /** Lease duration, 15-60 s (the storage service's range); a dead holder's slot comes back within it. */
  leaseSeconds: number;
  /** The service's rate window (1 s) and the pacing margin: a slot changes hands only a window apart. */
  windowMs: number;
  marginMs: number;
  /** How long a channel that found no slot free for it waits before it asks again (jittered by +-25%). */
  retryMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Metadata a holder leaves on its slot when it gives it back. */
const FREE_AT = 'freeat';
const HOLDER = 'holder';
/** Lease states in which a blob can be leased. */
const FREE_STATES = new Set(['available', 'expired', 'broken']);

/**
 * The tenant's posting slots as blob leases in the app's storage (Azure's own pattern for a lock shared by
 * processes; Azurite implements it locally). A slot is a blob; a channel holds it through a lease it renews
 * while it posts and releases when its batch ends; the lease of a process that died lapses, so its slot
 * comes back within one lease period.
 *
 * A free slot goes to the waiting channel with the most messages left (see WaitingLine): a channel takes
 * one only while fewer channels with more messages left wait than slots are free, else it joins the line.
 *
 * Invariant: in any window of `windowMs`, one slot carries the requests of one holder only. A holder renews
 * every quarter of the lease and stops sending once a renewal is overdue: a third of the lease (at least a
 * window plus margin) before the lease could lapse, counting from when its last renewal was sent, which the
 * service can only have seen later. One that releases a slot records, on the slot, the instant from which
 * another holder may send; a new holder waits for it. A holder re-taking its own slot needs no wait: its
 * own pacing window covers its earlier sends.
 */
export class LeaseSlots implements PostingBudget {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly prefix: string;
  private readonly line: WaitingLine;
  private created = false;

  constructor(private readonly options: LeaseSlotsOptions) {
    if (!(options.leaseSeconds >= 15 && options.leaseSeconds <= 60))
      throw new RangeError(`A slot lease lasts 15 to 60 seconds, got ${options.leaseSeconds}.`);
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.prefix = `budget/${options.key}/slot-`;
    this.line = new WaitingLine(
      options.container.getBlockBlobClient(`budget/${options.key}/waiting`),
      options.retryMs * STALE_RETRIES,
      this.now,
    );
  }

  retryMs(): number {
    return Math.round(this.options.retryMs * (0.75 + this.random() / 2));
  }

  async take(holder: string, priority: number): Promise<PostingSlot | undefined> {
    const me = holderTag(holder);
    const [slots, line] = await Promise.all([this.list(), this.line.read()]);
    const free = [...slots.entries()]
      .filter(([, s]) => FREE_STATES.has(s.leaseState ?? 'available'))
      .map(([n, s]) => ({ n, mine: s.metadata[HOLDER] === me, order: this.random() }))
      .sort((a, b) => Number(b.mine) - Number(a.mine) || a.order - b.order);
    const ahead = Object.entries(line.waiters).filter(
      ([tag, w]) => tag !== me && (w.priority > priority || (w.priority === priority && tag < me)),
    ).length;
    if (free.length <= ahead) {
      await this.line.join(me, priority);
      return undefined;
    }
    for (const { n } of free) {
      const blob = this.options.container.getBlockBlobClient(this.name(n));
      const lease = blob.getBlobLeaseClient();
      const sentAt = this.now();
      try {
        await lease.acquireLease(this.options.leaseSeconds);
      } catch (err) {
        if (err instanceof RestError && (err.statusCode === 409 || err.statusCode === 412)) continue;
        throw err;
      }
      const slot = new LeasedSlot(this.options, blob, lease, me, sentAt, this.now);
      try {
        const metadata =
          (await blob.getProperties({ conditions: { leaseId: lease.leaseId } })).metadata ?? {};
        const freeAt = Number(metadata[FREE_AT] ?? 0);
        if (metadata[HOLDER] !== me && freeAt > this.now()) await this.sleep(freeAt - this.now());
      } catch (err) {
        await slot.release();
        throw err;
      }
      if (me in line.waiters) await this.line.leave(me);
      return slot;
    }
    await this.line.join(me, priority);
    return undefined;
  }

  private name(n: number): string {
    return `${this.prefix}${n}`;
  }

  /** Every slot's lease state and metadata, creating the slot blobs that do not exist yet. */
  private async list(): Promise<Map<number, { leaseState?: string; metadata: Record<string, string> }>> {
    const slots = new Map<number, { leaseState?: string; metadata: Record<string, string> }>();
    for await (const item of this.options.container.listBlobsFlat({
      prefix: this.prefix,
      includeMetadata: true,
    })) {
      const n = Number(item.name.slice(this.prefix.length));
      if (Number.isInteger(n) && n >= 0 && n < this.options.slots)
        slots.set(n, { leaseState: item.properties.leaseState, metadata: item.metadata ?? {} });
    }
    if (slots.size < this.options.slots && !this.created) {
      for (let n = 0; n < this.options.slots; n++) {
        if (slots.has(n)) continue;
        await this.options.container
          .getBlockBlobClient(this.name(n))
          .uploadData(Buffer.alloc(0), { conditions: { ifNoneMatch: '*' } })
          .catch((err: unknown) => {
            if (!(err instanceof RestError && (err.statusCode === 409 || err.statusCode === 412))) throw err;
          });
        slots.set(n, { metadata: {} });
      }
      this.created = true;
    }
    return slots;
  }
}

/** A waiting holder that has not asked again for this many retry intervals has stopped waiting. */
const STALE_RETRIES = 4;
/** Attempts at one read-modify-write of the waiting line before giving up (the line only orders, never admits). */
const LINE_WRITES = 5;

/** A channel waiting for a slot: its priority (messages left) and when it last asked. */
interface Waiter {
  priority: number;
  at: number;
}

/**
 * The channels waiting for a slot, in one small blob written under its ETag. A free slot goes to the
 * waiting channel with the most messages left, so the longest channels start first whichever migration or
 * process they belong to; entries of channels that stopped asking age out.
 */
class WaitingLine {
  constructor(
    private readonly blob: BlockBlobClient,
    private readonly staleMs: number,
    private readonly now: () => number,
  ) {}

  /** The waiting channels that asked recently, by holder tag. */
  async read(): Promise<{ waiters: Record<string, Waiter>; etag?: string }> {
    try {
      const answer = await this.blob.download();
      const chunks: Buffer[] = [];
      for await (const chunk of answer.readableStreamBody as AsyncIterable<Buffer>) chunks.push(chunk);
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, Waiter>;
      const since = this.now() - this.staleMs;
      const waiters = Object.fromEntries(
        Object.entries(parsed).filter(([, w]) => typeof w?.priority === 'number' && w.at > since),
      );
      return { waiters, etag: answer.etag };
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return { waiters: {} };
      throw err;
    }
  }

  /** Records (or refreshes) a waiting channel. */
  join(tag: string, priority: number): Promise<void> {
    return this.update((waiters) => ({ ...waiters, [tag]: { priority, at: this.now() } }));
  }

  /** Removes a channel that got its slot. */
  leave(tag: string): Promise<void> {
    return this.update(({ [tag]: _gone, ...rest }) => rest);
  }

  private async update(change: (waiters: Record<string, Waiter>) => Record<string, Waiter>): Promise<void> {
    for (let attempt = 0; attempt < LINE_WRITES; attempt++) {
      const { waiters, etag } = await this.read();
      try {
        await this.blob.uploadData(Buffer.from(JSON.stringify(change(waiters)), 'utf8'), {
          conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' },
        });
        return;
      } catch (err) {
        if (!(err instanceof RestError && (err.statusCode === 409 || err.statusCode === 412))) throw err;
      }
    }
  }
}

/** A holder's tag on a slot: a hash, so no channel id is written into the budget's metadata. */
function holderTag(holder: string): string {
  return createHash('sha256').update(holder).digest('hex').slice(0, 16);
}

/** One held slot: renewed in the background, every quarter of the lease, until released. */
class LeasedSlot implements PostingSlot {
  private renewedAt: number;
  private lost = false;
  private released = false;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly options: LeaseSlotsOptions,
    private readonly blob: BlockBlobClient,
    private readonly lease: BlobLeaseClient,
    private readonly holder: string,
    acquiredAt: number,
    private readonly now: () => number,
  ) {
    this.renewedAt = acquiredAt;
    this.schedule();
  }

  held(): boolean {
    if (this.lost || this.released) return false;
    const leaseMs = this.options.leaseSeconds * 1000;
    const slack = Math.max(leaseMs / 3, this.options.windowMs + this.options.marginMs);
    return this.now() < this.renewedAt + leaseMs - slack;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearTimeout(this.timer);
    await this.renewing;
    if (this.lost) return;
    const freeAt = this.now() + this.options.windowMs + this.options.marginMs;
    try {
      await this.blob.setMetadata(
        { [FREE_AT]: String(freeAt), [HOLDER]: this.holder },
        { conditions: { leaseId: this.lease.leaseId } },
      );
      await this.lease.releaseLease();
    } catch {
      // The lease lapses on its own within its duration; a holder that stopped sending keeps the invariant.
    }
  }

  private schedule(): void {
    this.timer = setTimeout(
      () => {
        this.renewing = this.renew().finally(() => {
          this.renewing = undefined;
          if (!this.released && !this.lost) this.schedule();
        });
      },
      (this.options.leaseSeconds * 1000) / 4,
    );
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const sentAt = this.now();
    try {
      await this.lease.renewLease();
      this.renewedAt = sentAt;
    } catch (err) {
      if (err instanceof RestError && (err.statusCode === 409 || err.statusCode === 412)) this.lost = true;
    }
  }
}
