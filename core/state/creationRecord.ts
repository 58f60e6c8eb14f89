import { RestError, type ContainerClient } from '@azure/storage-blob';
import type { CreationBudget, CreationKind, WindowLimit } from '../graph/budget';

/** Settings of {@link CreationRecord}. */
export interface CreationRecordOptions {
  /** The app's container: the records are the blobs `budget/<key>/creations-<kind>`. */
  container: ContainerClient;
  /** The tenant budget's key (tenantBudgetKey). */
  key: string;
  limits: Record<CreationKind, WindowLimit>;
  /** Slack added to each window for the time between a request here and its arrival at the service. */
  marginMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * The tenant's team and channel creations as a sliding log in the app's storage: one small blob per kind
 * holding the instants of the creations of the last window, read and rewritten under its ETag, so
 * processes that create at the same moment each count their own (one of two conflicting writes fails
 * and tries again). A creation is admitted only when the window has room, and counted before it is sent.
 *
 * A record, not a lease: creations are short and rare, and a lease (15 s at least) would let one creation
 * at a time through where the service allows 10 a second; a record admits exactly what the service counts,
 * and a process that dies leaves only instants that age out of the window.
 */
export class CreationRecord implements CreationBudget {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: CreationRecordOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async admit(kind: CreationKind): Promise<number> {
    const { limit, windowMs } = this.options.limits[kind];
    const span = windowMs + this.options.marginMs;
    const blob = this.options.container.getBlockBlobClient(`budget/${this.options.key}/creations-${kind}`);
    for (;;) {
      const { times, etag } = await read(blob);
      const now = this.now();
      const live = times.filter((t) => t > now - span).sort((a, b) => a - b);
      if (live.length < limit) {
        const body = Buffer.from(JSON.stringify([...live, now]), 'utf8');
        try {
          await blob.uploadData(body, {
            conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' },
            blobHTTPHeaders: { blobContentType: 'application/json' },
          });
          return now;
        } catch (err) {
          if (err instanceof RestError && (err.statusCode === 412 || err.statusCode === 409)) continue;
          throw err;
        }
      }
      await this.sleep(Math.max(1, live[live.length - limit] + span - now));
    }
  }
}

async function read(
  blob: ReturnType<ContainerClient['getBlockBlobClient']>,
): Promise<{ times: number[]; etag?: string }> {
  try {
    const answer = await blob.download();
    const chunks: Buffer[] = [];
    for await (const chunk of answer.readableStreamBody as AsyncIterable<Buffer>) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString('utf8');
    const parsed: unknown = text ? JSON.parse(text) : [];
    const times = Array.isArray(parsed) ? parsed.filter((t): t is number => typeof t === 'number') : [];
    return { times, etag: answer.etag };
  } catch (err) {
    if (err instanceof RestError && err.statusCode === 404) return { times: [] };
    throw err;
  }
}
