import type { Context } from '@microsoft/microsoft-graph-client';

/** Per-request traits a caller attaches with `.middlewareOptions([new RequestTraits(...)])`. */
export class RequestTraits {
  constructor(
    /** Safe to send again after a lost answer (a retried PUT, a POST whose repeat is harmless). */
    readonly idempotent: boolean,
  ) {}
}

/** The request's method, upper case. */
export function methodOf(context: Context): string {
  if (context.request instanceof Request) return context.request.method.toUpperCase();
  return (context.options?.method ?? 'GET').toUpperCase();
}

/** The request's absolute URL. */
export function urlOf(context: Context): string {
  return typeof context.request === 'string' ? context.request : context.request.url;
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** Whether sending the request twice has the same effect as once (by method, or by RequestTraits). */
export function isIdempotent(context: Context): boolean {
  const traits = context.middlewareControl?.getMiddlewareOptions(RequestTraits) as RequestTraits | undefined;
  return traits?.idempotent ?? IDEMPOTENT_METHODS.has(methodOf(context));
}

const STATIC_SEGMENTS = new Set([
  'v1.0',
  'beta',
  'teams',
  'channels',
  'messages',
  'replies',
  'primaryChannel',
  'completeMigration',
  'members',
  'add',
  'users',
  'operations',
  'filesFolder',
  'drives',
  'items',
  'content',
  'createUploadSession',
  'hostedContents',
  '$batch',
  '$value',
]);

/** The route template of a URL (`POST /teams/{id}/channels/{id}/messages`): ids replaced, query dropped. */
export function routeOf(method: string, url: string): string {
  const path = new URL(url, 'http://x').pathname;
  const segments = path
    .split('/')
    .filter(Boolean)
    .map((raw) => {
      const segment = safeDecode(raw);
      if (STATIC_SEGMENTS.has(segment)) return segment;
      const keyed = /^([A-Za-z]+)\(.*\)$/.exec(segment);
      return keyed ? `${keyed[1]}({id})` : '{id}';
    });
  return `${method} /${segments.join('/')}`;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
