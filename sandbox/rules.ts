import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { badRequest, forbidden } from './errors';

/** The message size limit and its measure: one definition, shared with the planner and the poster. */
export { MESSAGE_SIZE_LIMIT, messageSize } from '../core/graph/messageSize';
/** The largest decoded inline image (`hostedContents[].contentBytes`): 4 MB, read as 4 × 1024 × 1024 bytes. */
export const HOSTED_CONTENT_LIMIT = 4 * 1024 * 1024;
/** Channels per team, deleted ones included for `DELETED_CHANNEL_RETENTION_MS`. */
export const MAX_CHANNELS_PER_TEAM = 1000;
/** How long a deleted channel's name stays taken and the channel counts toward the team's limit. */
export const DELETED_CHANNEL_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** Members per `POST /teams/{id}/members/add` call. */
export const MAX_BULK_MEMBERS = 200;
/** Requests per `POST /$batch` call. */
export const MAX_BATCH_REQUESTS = 20;
/** The 403 message for imports the service refuses to take from this caller into this channel. */
export const IMPORT_ONLY_MESSAGE =
  'Message POST is allowed in application-only context only for import purposes';
/** The 403 message when another app than the import session's creator writes into it. */
export const INITIATOR_MESSAGE = 'Request Initiator does not match the import session initiator';

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

/** A `createdDateTime` as the service stores it: truncated (never rounded) to the millisecond. */
export interface GraphTime {
  ms: number;
  iso: string;
}

/** Parses an ISO 8601 `DateTimeOffset` with up to 7 fractional digits and truncates it to milliseconds. */
export function parseGraphTime(value: unknown, field: string): GraphTime {
  if (typeof value !== 'string') throw badRequest(`${field} must be an ISO 8601 date-time string`);
  const m = DATE_TIME.exec(value);
  if (!m)
    throw badRequest(`${field} '${value}' is not an ISO 8601 date-time (yyyy-MM-ddTHH:mm:ss[.fffffff]Z)`);
  const [, y, mo, d, h, mi, s, frac = '', zone] = m;
  if (frac.length > 7) throw badRequest(`${field} '${value}' has more than 7 fractional digits`);
  const fields = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const local = Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5]);
  const check = new Date(local);
  if (
    check.getUTCFullYear() !== fields[0] ||
    check.getUTCMonth() !== fields[1] - 1 ||
    check.getUTCDate() !== fields[2] ||
    fields[3] > 23 ||
    fields[4] > 59 ||
    fields[5] > 59
  ) {
    throw badRequest(`${field} '${value}' is not a valid calendar date-time`);
  }
  const offsetMinutes =
    zone === 'Z'
      ? 0
      : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const ms = local + Number(frac.padEnd(3, '0').slice(0, 3)) - offsetMinutes * 60_000;
  return { ms, iso: new Date(ms).toISOString() };
}

/** Rejects a `createdDateTime` later than the sandbox clock (the service refuses future timestamps). */
export function assertNotFuture(time: GraphTime, now: number, what: string): void {
  if (time.ms > now) {
    throw badRequest(
      `${what} createdDateTime ${time.iso} is in the future (service time ${new Date(now).toISOString()})`,
    );
  }
}

const FORBIDDEN_NAME_CHARS = [
  '~',
  '#',
  '%',
  '&',
  '*',
  '{',
  '}',
  '+',
  '/',
  '\\',
  ':',
  '<',
  '>',
  '?',
  '|',
  "'",
  '"',
  ',',
];

/** Checks a channel display name against Teams' naming rules (length, characters, dots, underscores). */
export function assertChannelName(name: string): void {
  const bad = (why: string): never => {
    throw badRequest(`channel name '${name}' is not valid in Teams: ${why}`);
  };
  if (name.trim().length === 0) bad('it is empty');
  if ([...name].length > 50) bad(`it has ${[...name].length} characters, the limit is 50`);
  const found = FORBIDDEN_NAME_CHARS.find((c) => name.includes(c));
  if (found) bad(`'${found}' is not allowed`);
  if (name.includes('..')) bad("'..' is not allowed");
  if (name.startsWith('_')) bad("it may not start with '_'");
  if (name.startsWith('.')) bad("it may not start with '.'");
  if (name.endsWith('.')) bad("it may not end with '.'");
  if ([...name].some((c) => c.charCodeAt(0) < 0x20)) bad('control characters are not allowed');
}

const HOSTED_REF = /\.\.\/hostedContents\/([^/"'\s<>]+)\/\$value/g;

/** The temporary ids a message body references as `../hostedContents/{id}/$value`, in order, deduplicated. */
export function hostedContentRefs(html: string): string[] {
  return [...new Set([...html.matchAll(HOSTED_REF)].map((m) => decodeURIComponent(m[1] ?? '')))];
}

/** Rewrites `../hostedContents/{temporaryId}/$value` references to the stored hosted contents' URLs. */
export function rewriteHostedContentRefs(html: string, urlFor: (temporaryId: string) => string): string {
  return html.replace(HOSTED_REF, (_all, id: string) => urlFor(decodeURIComponent(id)));
}

const ATTACHMENT_REF = /<attachment\b[^>]*\bid\s*=\s*["']([^"']*)["'][^>]*>/gi;

/** The ids a message body references as `<attachment id="...">`, deduplicated. */
export function attachmentRefs(html: string): string[] {
  return [...new Set([...html.matchAll(ATTACHMENT_REF)].map((m) => m[1] ?? ''))];
}

/** Decodes strict base64 (standard alphabet, padded, whitespace ignored); undefined when it is not base64. */
export function decodeBase64(value: string): Buffer | undefined {
  const compact = value.replace(/\s+/g, '');
  const body = compact.replace(/={1,2}$/, '');
  if (compact.length % 4 !== 0 || /[^A-Za-z0-9+/]/.test(body)) return undefined;
  return Buffer.from(compact, 'base64');
}

/** Who is calling: a stable app identity (never the token itself) and whether the token is delegated. */
export interface Caller {
  app: string;
  delegated: boolean;
  /** The signed-in user (`oid`) and token id (`jti`) of a delegated token, when it carries them. */
  userId?: string;
  tokenId?: string;
}

/**
 * Derives the caller's identity from a bearer token: a JWT's `appid`/`azp` claim when it has one, else the
 * token string itself; hashed, so no token is ever stored. A JWT with `scp` and no `roles` is delegated.
 */
export function callerFromToken(token: string): Caller {
  let identity = token;
  let delegated = false;
  let user: { userId?: string; tokenId?: string } = {};
  const parts = token.split('.');
  if (parts.length === 3) {
    try {
      const claims = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')) as Record<
        string,
        unknown
      >;
      const appId = claims.appid ?? claims.azp;
      if (typeof appId === 'string') identity = `appid:${appId}`;
      delegated = typeof claims.scp === 'string' && claims.roles === undefined;
      if (delegated && typeof claims.oid === 'string' && typeof claims.jti === 'string')
        user = { userId: claims.oid, tokenId: claims.jti };
    } catch {
      identity = token;
    }
  }
  return {
    app: `app-${createHash('sha256').update(identity).digest('hex').slice(0, 16)}`,
    delegated,
    ...user,
  };
}

/** Rejects delegated callers on import-only operations with the service's 403. */
export function assertApplicationCaller(caller: Caller): void {
  if (caller.delegated) throw forbidden(IMPORT_ONLY_MESSAGE);
}

/** Validates a value with a zod schema; a failure becomes a 400 naming the field and the problem. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue && issue.path.length > 0 ? ` '${issue.path.join('.')}'` : '';
  throw badRequest(`${what}${path}: ${issue?.message ?? 'invalid'}`);
}
