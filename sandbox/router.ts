import type { SandboxStore } from './state';
import type { Caller } from './rules';

/** HTTP methods a route can answer. */
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Where a route lives: `graph` routes sit under `/v1.0/` (and `/beta/`), need a bearer token, are throttled
 * and faulted and logged; `upload` routes (upload-session URLs) are absolute, need no token, and are
 * faulted and logged; `inspection` routes sit under `/_sandbox/`, need no token, and are never faulted or logged.
 */
export type RouteKind = 'graph' | 'upload' | 'inspection';

/** What a handler answers: a status, headers, and a JSON value, text, bytes, or nothing. */
export interface RouteResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A request as routes see it, after routing, auth, body parsing and throttling. */
export interface RouteContext {
  store: SandboxStore;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Lower-cased header names; the Authorization header is never passed on. */
  headers: Record<string, string | undefined>;
  /** Parsed JSON for `json` routes, a Buffer for `raw` routes, undefined for `none`. */
  body: unknown;
  /** The calling app on `graph` routes; null elsewhere. */
  caller: Caller | null;
  /** `http://127.0.0.1:<port>`, for links the sandbox hands out. */
  baseUrl: string;
  /** The sandbox clock (epoch ms) at dispatch. */
  now: number;
  settings: SandboxSettings;
  /** A team this request creates shows in team listings only this many ms later (fault `teamlistlag`; 0 = at once). */
  teamListLagMs: number;
  /** Runs a request through the whole pipeline (used by `$batch`). */
  dispatch(request: SubRequest): Promise<RouteResponse>;
  /** Resets the state, throttle and log (used by the inspection API). */
  reset(): void;
  /** The request log (used by the inspection API). */
  requestLog(): readonly unknown[];
}

/** Behaviour switches of a running sandbox that routes read. */
export interface SandboxSettings {
  /** How many polls of a team-creation operation answer `inProgress` before `succeeded`. */
  operationPolls: number;
  /** Whether `/beta/` is served as an alias of `/v1.0/`. */
  betaAlias: boolean;
  /** Whether imported messages may carry native reactions (a tenant that refuses them answers 400). */
  reactions: boolean;
}

/** A request dispatched from inside the sandbox, as a `$batch` item is. */
export interface SubRequest {
  method: string;
  /** Path and query relative to the Graph version root, e.g. `/users/abc?$select=id`. */
  url: string;
  headers: Record<string, string | undefined>;
  /** The JSON body, already parsed. */
  json?: unknown;
  /** Tag for the request log. */
  via: string;
}

/** What a creation counts against: POST /teams, or POST /teams/{id}/channels. */
export type CreationScope = 'team-creation' | 'channel-creation';

/**
 * One route: method, path pattern and handler. Patterns are literal segments with `{name}` (one segment)
 * and `{name+}` (one or more segments) placeholders; placeholders may carry literal text around them
 * (`{parentId}:`). Params arrive percent-decoded.
 */
export interface Route {
  method: Method;
  path: string;
  kind?: RouteKind;
  /** How to read the body; defaults to `json` for POST/PUT/PATCH and `none` for GET/DELETE. */
  body?: 'json' | 'raw' | 'none';
  /**
   * `message`: counts against the per-channel and per-app import throttle (needs `teamId`, `channelId`);
   * `chat-message`: against the app's chat import limit; `team-creation`, `channel-creation`: against the
   * app's creation limits.
   */
  throttle?: 'message' | 'chat-message' | CreationScope;
  /** A 2xx answer changed the state: schedule a save of `--state`. */
  mutates?: boolean;
  handler(ctx: RouteContext): RouteResponse | Promise<RouteResponse>;
}

/** The outcome of matching a request against the table. */
export type RouteMatch =
  | { route: Route; params: Record<string, string> }
  | { methodNotAllowed: Method[] }
  | { badParams: string }
  | undefined;

interface CompiledRoute {
  route: Route;
  kind: RouteKind;
  regex: RegExp;
  names: string[];
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  let source = '';
  let last = 0;
  for (const m of route.path.matchAll(/\{(\w+)(\+?)\}/g)) {
    source += escapeRegex(route.path.slice(last, m.index));
    names.push(m[1] ?? '');
    source += m[2] === '+' ? '(.+?)' : '([^/]+?)';
    last = (m.index ?? 0) + m[0].length;
  }
  source += escapeRegex(route.path.slice(last));
  return { route, kind: route.kind ?? 'graph', regex: new RegExp(`^${source}/?$`), names };
}

/**
 * The route table. Extension point: a feature adds a module under `sandbox/routes/` exporting a `Route[]`
 * and lists it in `sandbox/routes/index.ts`; routes are tried in table order, the first match wins, and
 * a handler validates the whole request (throwing `GraphError`s) before it mutates anything.
 */
export class Router {
  private readonly compiled: CompiledRoute[];

  constructor(routes: readonly Route[]) {
    this.compiled = routes.map(compile);
  }

  /** Finds the route for a method and a (still percent-encoded) path within a kind's namespace. */
  match(kind: RouteKind, method: string, path: string): RouteMatch {
    const allowed: Method[] = [];
    for (const c of this.compiled) {
      if (c.kind !== kind) continue;
      const m = c.regex.exec(path);
      if (!m) continue;
      if (c.route.method !== method) {
        allowed.push(c.route.method);
        continue;
      }
      const params: Record<string, string> = {};
      try {
        c.names.forEach((name, i) => {
          params[name] = decodeURIComponent(m[i + 1] ?? '');
        });
      } catch {
        return { badParams: path };
      }
      return { route: c.route, params };
    }
    return allowed.length > 0 ? { methodNotAllowed: allowed } : undefined;
  }
}

/** Rewrites OData key syntax (`/teams('id')/operations('op')`) to path segments (`/teams/id/operations/op`). */
export function normalizeKeySyntax(path: string): string {
  return path.replace(/\/([A-Za-z]+)\((?:'|%27)([^'/]*?)(?:'|%27)\)/g, '/$1/$2');
}
