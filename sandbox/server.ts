import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { dumpState, type SandboxDump } from './dump';
import { GraphError, badRequest, graphErrorBody } from './errors';
import { FaultInjector, parseFaults, type FaultDecision, type FaultSpec } from './faults';
import {
  Router,
  normalizeKeySyntax,
  type Route,
  type RouteContext,
  type RouteKind,
  type RouteResponse,
  type SandboxSettings,
  type SubRequest,
} from './router';
import { addSeedChats, type SeedChat } from './chatState';
import {
  SLACK_API_CONTROL,
  SLACK_API_PREFIX,
  SlackApiStandIn,
  type SlackApiCall,
  type SlackApiOptions,
} from './slackApi';
import { SLACK_FILES_PREFIX, SlackFileHost, type ServedFile, type SlackFilesOptions } from './slackFiles';
import { sandboxRoutes } from './routes';
import { configureIdentity, issuedTokenValid, type IdentityOptions } from './routes/identity';
import { callerFromToken, type Caller } from './rules';
import {
  SandboxStore,
  emptyData,
  loadStateFile,
  saveStateFile,
  type SandboxData,
  type SandboxUser,
} from './state';
import { findChat } from './chatState';
import { CreationThrottle, ImportThrottle, retryAfterSeconds, type ThrottleScope } from './throttle';

/** How to start a sandbox; every field is optional. */
export interface SandboxOptions {
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** The tenant's users (merged into a loaded state by id). */
  users?: SandboxUser[];
  /** Message/reply POSTs per channel per sliding second; 0 disables. Default 5. */
  ratePerChannel?: number;
  /** Message/reply POSTs per app per sliding second; 0 disables. Default 50. */
  rateGlobal?: number;
  /** Chat message imports (POST /chats/{id}/messages) per app per sliding second; 0 disables. Default 20. */
  rateChatGlobal?: number;
  /** Team creations (POST /teams) per app per sliding second; 0 disables. Default 10. */
  rateTeamCreation?: number;
  /** Channel creations (POST /teams/{id}/channels) per app per sliding 10 seconds; 0 disables. Default 20. */
  rateChannelCreation?: number;
  /** Time runs K times faster for the rate limits (K = 10: 50/s per channel). Default 1. */
  timeScale?: number;
  /** Faults to inject, parsed or in the `parseFaults` grammar. Default none. */
  faults?: FaultSpec | string;
  /** Seed of the fault decisions. Default 1. */
  seed?: number;
  /** Load the state from this file at start; save it on stop and (debounced, atomically) after changes. */
  stateFile?: string;
  /** When set, the only bearer token accepted; otherwise any token is. */
  token?: string;
  /**
   * Graph accepts only access tokens this sandbox's own authority issued and that have not expired (app-only
   * tokens from the client-credentials grant, delegated ones from the code flow), as a tenant does. Default false.
   */
  issuedTokensOnly?: boolean;
  /** Serve https with this key and certificate (PEM) instead of http: an identity authority must be https. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Largest request body read, in bytes; larger ones get 413 before being read. Default 16 MiB. */
  maxBodyBytes?: number;
  /** Polls of a team-creation operation that answer `inProgress` before `succeeded`. Default 1. */
  operationPolls?: number;
  /** Serve `/beta/` as an alias of `/v1.0/`. Default true. */
  betaAlias?: boolean;
  /** Accept native reactions on imported messages; false stands for a tenant that refuses them (400). Default true. */
  reactions?: boolean;
  /** Delay before a change is saved to `stateFile`, in ms. Default 200. */
  saveDebounceMs?: number;
  /** Entries kept in the request log (oldest dropped first). Default 100000. */
  logLimit?: number;
  /** Users' chats to seed (the chat export's source); members and authors are e-mails or user ids. */
  chats?: SeedChat[];
  /** The app registration the local authorization server accepts (`/{tenant}/oauth2/v2.0/...`). */
  identity?: IdentityOptions;
  /** Serve an export's files under `/slack-files` as Slack's file host does, token check included. */
  slackFiles?: SlackFilesOptions;
  /**
   * Stand in for Slack's Web API under `/slack-api/`, serving an export's workspace; its files are served under
   * `/slack-files` too (the stand-in's token accepted as Bearer) unless `slackFiles` says otherwise.
   */
  slackApi?: SlackApiOptions;
}

/** One request as logged: no bodies and no header values. `t` is the sandbox clock when it was dispatched. */
export interface RequestLogEntry {
  seq: number;
  /** Epoch ms (fractional) at dispatch: the instant the throttle judged the request. */
  t: number;
  time: string;
  method: string;
  path: string;
  status: number;
  /** Milliseconds from arrival to answer. */
  ms: number;
  kind: RouteKind;
  /** The injected fault, if any (`429`, `429noretry`, `429long`, `503`, `504`, `lost`, `latency`, `refuse`). */
  fault?: string;
  /** The throttle scope that refused it, if it did. */
  throttled?: ThrottleScope;
  /** `$batch:<id>` for a request run inside a batch. */
  via?: string;
}

/** A running sandbox. */
export interface SandboxHandle {
  /** `http://127.0.0.1:<port>` (`https` with `tls`); Graph lives under `${url}/v1.0`. */
  url: string;
  port: number;
  /** Closes the server and every connection, then saves the state file (if any). Idempotent. */
  stop(): Promise<void>;
  /** A deep copy of the whole state (what `GET /_sandbox/state` answers). */
  dump(): SandboxDump;
  /** A copy of the request log (what `GET /_sandbox/requests` answers). */
  requestLog(): RequestLogEntry[];
  /** Empties teams, channels, messages and the log; keeps the configured users. */
  reset(): void;
  /** Adds or replaces users (by id). */
  addUsers(users: SandboxUser[]): void;
  /** Replaces the fault rules (and seed) and restarts the fault sequence. */
  setFaults(faults: FaultSpec | string, seed?: number): void;
  /** Saves the state file now (no-op without one). */
  save(): Promise<void>;
  /** With `slackFiles`: the base to give as `SLACK_FILES_URL` (`${url}/slack-files`). */
  slackFilesUrl?: string;
  /** With `slackFiles`: every answer of the Slack file host so far (path, file id, status, bytes). */
  slackFilesServed(): ServedFile[];
  /** With `slackApi`: the base to give as `SLACK_API_URL` (`${url}/slack-api/`). */
  slackApiUrl?: string;
  /** With `slackApi`: every call the Web API stand-in answered, in order (never the token). */
  slackApiCalls(): SlackApiCall[];
  /**
   * With `slackApi`: adds messages to a channel (id or name) as if just written (`POST /_sandbox/slack-api/messages`);
   * answers them as stored, each with its `ts`.
   */
  addSlackMessages(channel: string, messages: Record<string, unknown>[]): Record<string, unknown>[];
}

interface Outcome {
  response: RouteResponse;
  kind: RouteKind;
  t: number;
  fault?: string;
  throttled?: ThrottleScope;
  lost?: boolean;
  closeAfter?: boolean;
}

const JSON_TYPE =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
const MALFORMED_JSON =
  'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.';

function clock(): number {
  return performance.timeOrigin + performance.now();
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class TooLarge extends GraphError {
  constructor(limit: number) {
    super(413, 'RequestEntityTooLarge', `Request Entity too large: the request body exceeds ${limit} bytes`, {
      connection: 'close',
    });
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(headerValue(req, 'content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new TooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        done = true;
        req.off('data', onData);
        reject(new TooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!done) reject(err);
    });
  });
}

class Sandbox {
  store: SandboxStore;
  readonly router: Router;
  readonly throttle: ImportThrottle;
  readonly creations: CreationThrottle;
  readonly faults: FaultInjector;
  readonly settings: SandboxSettings;
  private log: RequestLogEntry[] = [];
  private seq = 0;
  private readonly initialUsers: SandboxUser[];
  private readonly maxBodyBytes: number;
  private readonly logLimit: number;
  private readonly saveDebounceMs: number;
  private saveTimer: NodeJS.Timeout | undefined;
  private saveChain: Promise<void> = Promise.resolve();
  private stopped: Promise<void> | undefined;
  baseUrl = '';
  readonly server: Server;
  slackFiles?: SlackFileHost;
  slackApi?: SlackApiStandIn;

  constructor(
    readonly options: SandboxOptions,
    data: SandboxData,
    routes: readonly Route[],
  ) {
    this.initialUsers = options.users ?? [];
    this.store = new SandboxStore(data);
    this.router = new Router(routes);
    this.throttle = new ImportThrottle({
      ratePerChannel: options.ratePerChannel ?? 5,
      rateGlobal: options.rateGlobal ?? 50,
      rateChatGlobal: options.rateChatGlobal ?? 20,
      timeScale: options.timeScale ?? 1,
    });
    this.creations = new CreationThrottle({
      teamsPerSecond: options.rateTeamCreation ?? 10,
      channelsPer10Seconds: options.rateChannelCreation ?? 20,
      timeScale: options.timeScale ?? 1,
    });
    const spec = typeof options.faults === 'string' ? parseFaults(options.faults) : (options.faults ?? []);
    this.faults = new FaultInjector(spec, options.seed ?? 1);
    this.settings = {
      operationPolls: options.operationPolls ?? 1,
      betaAlias: options.betaAlias ?? true,
      reactions: options.reactions ?? true,
    };
    this.maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
    this.logLimit = options.logLimit ?? 100_000;
    this.saveDebounceMs = options.saveDebounceMs ?? 200;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      void this.serve(req, res);
    };
    this.server = options.tls ? createTlsServer(options.tls, handler) : createServer(handler);
  }

  requestLog(): RequestLogEntry[] {
    return this.log.map((e) => ({ ...e }));
  }

  reset(): void {
    this.store = new SandboxStore(emptyData(this.initialUsers));
    configureIdentity(this.store, this.options.identity ?? {});
    this.throttle.reset();
    this.creations.reset();
    this.log = [];
    this.scheduleSave();
  }

  addUsers(users: SandboxUser[]): void {
    for (const user of users) {
      const i = this.store.data.users.findIndex((u) => u.id.toLowerCase() === user.id.toLowerCase());
      if (i >= 0) this.store.data.users[i] = { ...user };
      else this.store.data.users.push({ ...user });
    }
    this.scheduleSave();
  }

  scheduleSave(): void {
    if (!this.options.stateFile || this.stopped) return;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.save().catch((err: unknown) => {
        console.error(`sandbox: saving ${this.options.stateFile} failed: ${(err as Error).message}`);
      });
    }, this.saveDebounceMs);
    this.saveTimer.unref();
  }

  save(): Promise<void> {
    const file = this.options.stateFile;
    if (!file) return Promise.resolve();
    const snapshot = JSON.parse(JSON.stringify(this.store.data)) as SandboxData;
    this.saveChain = this.saveChain.catch(() => undefined).then(() => saveStateFile(file, snapshot));
    return this.saveChain;
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      if (this.saveTimer) clearTimeout(this.saveTimer);
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
      const file = this.options.stateFile;
      if (file) {
        const snapshot = JSON.parse(JSON.stringify(this.store.data)) as SandboxData;
        await this.saveChain.catch(() => undefined);
        await saveStateFile(file, snapshot);
      }
    })();
    return this.stopped;
  }

  private record(entry: Omit<RequestLogEntry, 'seq' | 'time'> & { seq?: number }): void {
    this.log.push({ ...entry, seq: entry.seq ?? ++this.seq, time: new Date(entry.t).toISOString() });
    if (this.log.length > this.logLimit) this.log.splice(0, this.log.length - this.logLimit);
  }

  private errorResponse(err: unknown, requestId: string, clientRequestId: string): RouteResponse {
    if (err instanceof GraphError) {
      return {
        status: err.status,
        headers: err.headers,
        body: graphErrorBody(err.code, err.message, requestId, clientRequestId, new Date()),
      };
    }
    console.error('sandbox: unexpected error', err);
    return {
      status: 500,
      body: graphErrorBody(
        'InternalServerError',
        `The sandbox failed on this request: ${(err as Error)?.message ?? String(err)}`,
        requestId,
        clientRequestId,
        new Date(),
      ),
    };
  }

  private classify(pathname: string): { kind: RouteKind; path: string } {
    if (pathname === '/_sandbox' || pathname.startsWith('/_sandbox/'))
      return { kind: 'inspection', path: pathname };
    if (pathname.startsWith('/_upload/')) return { kind: 'upload', path: pathname };
    if (
      /^\/[^/]+\/(oauth2\/v2\.0\/(authorize|token)|v2\.0\/\.well-known\/openid-configuration)$/.test(pathname)
    )
      return { kind: 'inspection', path: pathname };
    const m = /^\/(v1\.0|beta)(\/.*)?$/.exec(pathname);
    if (m && (m[1] === 'v1.0' || this.settings.betaAlias)) {
      return { kind: 'graph', path: normalizeKeySyntax((m[2] ?? '/').replace(/%24/gi, '$')) };
    }
    const first = pathname.split('/')[1] ?? '';
    throw badRequest(`Invalid version: '${decodeURIComponent(first)}'. Graph requests go under /v1.0/`);
  }

  private findRoute(
    kind: RouteKind,
    method: string,
    path: string,
  ): { route: Route; params: Record<string, string> } {
    const match = this.router.match(kind, method, path);
    if (match && 'route' in match) return match;
    if (match && 'methodNotAllowed' in match) {
      throw new GraphError(
        405,
        'MethodNotAllowed',
        `${method} is not supported on ${path} (supported: ${match.methodNotAllowed.join(', ')})`,
      );
    }
    if (match && 'badParams' in match)
      throw badRequest(`The path '${path}' is not correctly percent-encoded`);
    const segments = path.split('/').filter(Boolean);
    throw badRequest(`Resource not found for the segment '${segments[segments.length - 1] ?? path}'.`);
  }

  private authenticate(authorization: string | undefined): Caller {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    const token = m[1] ?? '';
    if (this.options.token !== undefined && token !== this.options.token) {
      throw new GraphError(
        401,
        'InvalidAuthenticationToken',
        'Access token validation failure. Invalid audience.',
      );
    }
    if (this.options.issuedTokensOnly && !issuedTokenValid(this.store, token, Date.now()))
      throw new GraphError(
        401,
        'InvalidAuthenticationToken',
        'Access token validation failure: the token was not issued by this tenant or has expired.',
      );
    return callerFromToken(token);
  }

  /** Parses the body, throttles, and runs the handler; shared by HTTP requests and `$batch` items. */
  private async execute(
    route: Route,
    params: Record<string, string>,
    query: URLSearchParams,
    headers: Record<string, string | undefined>,
    body: { raw: Buffer } | { json: unknown },
    caller: Caller | null,
    requestId: string,
    clientRequestId: string,
    teamListLagMs = 0,
  ): Promise<{ response: RouteResponse; t: number; throttled?: ThrottleScope; fault?: string }> {
    const mode = route.body ?? (route.method === 'GET' || route.method === 'DELETE' ? 'none' : 'json');
    let parsed: unknown;
    if (mode === 'raw')
      parsed = 'raw' in body ? body.raw : Buffer.from(JSON.stringify(body.json ?? ''), 'utf8');
    else if (mode === 'json') {
      if ('json' in body) parsed = body.json;
      else if (body.raw.length > 0) {
        try {
          parsed = JSON.parse(body.raw.toString('utf8'));
        } catch {
          return {
            response: this.errorResponse(badRequest(MALFORMED_JSON), requestId, clientRequestId),
            t: clock(),
          };
        }
      }
    }
    const t = clock();
    const admission =
      route.throttle === undefined || !caller
        ? undefined
        : route.throttle === 'message'
          ? this.throttle.admit(caller.app, `${params.teamId}/${params.channelId}`, t)
          : route.throttle === 'chat-message'
            ? this.throttle.admitChat(caller.app, t)
            : this.creations.admit(caller.app, route.throttle, t);
    if (admission && !admission.admitted) {
      const seconds = retryAfterSeconds(admission.retryAfterMs);
      const extra: Record<string, string> =
        this.throttle.options.timeScale === 1
          ? {}
          : { 'x-ms-retry-after-ms': String(Math.ceil(admission.retryAfterMs)) };
      const limit =
        admission.scope === 'channel'
          ? `${this.throttle.options.ratePerChannel} message POSTs per second per channel`
          : admission.scope === 'global'
            ? `${this.throttle.options.rateGlobal} message POSTs per second per app`
            : admission.scope === 'chat'
              ? `${this.throttle.options.rateChatGlobal} chat message POSTs per second per app`
              : `${this.creations.describe(admission.scope)} per app`;
      const err = new GraphError(
        429,
        'TooManyRequests',
        `Too many requests: at most ${limit} are accepted; retry after ${seconds} s`,
        { 'retry-after': String(seconds), ...extra },
      );
      return {
        response: this.errorResponse(err, requestId, clientRequestId),
        t,
        throttled: admission.scope,
      };
    }
    const refused = this.refusal(route, params, parsed);
    if (refused)
      return { response: this.errorResponse(refused, requestId, clientRequestId), t, fault: 'refuse' };
    const ctx: RouteContext = {
      store: this.store,
      params,
      query,
      headers,
      body: parsed,
      caller,
      baseUrl: this.baseUrl,
      now: t,
      settings: this.settings,
      teamListLagMs,
      dispatch: (sub) => this.dispatchSub(sub, caller, requestId, clientRequestId),
      reset: () => this.reset(),
      requestLog: () => this.requestLog(),
    };
    let response: RouteResponse;
    try {
      response = await route.handler(ctx);
    } catch (err) {
      response = this.errorResponse(err, requestId, clientRequestId);
    }
    if (route.mutates && response.status < 300) this.scheduleSave();
    return { response, t };
  }

  private async dispatchSub(
    sub: SubRequest,
    caller: Caller | null,
    requestId: string,
    clientRequestId: string,
  ): Promise<RouteResponse> {
    const arrived = clock();
    const url = new URL(sub.url, 'http://sandbox');
    let result: { response: RouteResponse; t: number; throttled?: ThrottleScope; fault?: string };
    try {
      const path = normalizeKeySyntax(url.pathname.replace(/%24/gi, '$'));
      const { route, params } = this.findRoute('graph', sub.method, path);
      result = await this.execute(
        route,
        params,
        url.searchParams,
        sub.headers,
        { json: sub.json },
        caller,
        requestId,
        clientRequestId,
      );
    } catch (err) {
      result = { response: this.errorResponse(err, requestId, clientRequestId), t: arrived };
    }
    this.record({
      t: result.t,
      method: sub.method,
      path: `${url.pathname}${url.search}`,
      status: result.response.status,
      ms: Math.round(clock() - arrived),
      kind: 'graph',
      fault: result.fault,
      throttled: result.throttled,
      via: sub.via,
    });
    return result.response;
  }

  private faultResponse(
    decision: FaultDecision,
    requestId: string,
    clientRequestId: string,
  ): RouteResponse | undefined {
    const failure = decision.failure;
    if (!failure || failure.kind === 'lost') return undefined;
    const err =
      failure.kind === '429'
        ? new GraphError(429, 'TooManyRequests', 'Too many requests (sandbox fault injection)', {
            'retry-after': String(failure.param ?? 1),
          })
        : failure.kind === '429long'
          ? this.longThrottle(failure.param ?? 120)
          : failure.kind === '429noretry'
            ? new GraphError(
                429,
                'TooManyRequests',
                'Too many requests (sandbox fault injection, no Retry-After)',
              )
            : failure.kind === '503'
              ? new GraphError(
                  503,
                  'ServiceUnavailable',
                  'Service unavailable (sandbox fault injection)',
                  failure.param === undefined ? {} : { 'retry-after': String(failure.param) },
                )
              : new GraphError(504, 'GatewayTimeout', 'Gateway timeout (sandbox fault injection)');
    return this.errorResponse(err, requestId, clientRequestId);
  }

  /** A 429 asking for a long wait: `seconds` of service time, shortened by the time scale like the throttle's. */
  private longThrottle(seconds: number): GraphError {
    const ms = (seconds * 1000) / this.throttle.options.timeScale;
    const scaled: Record<string, string> =
      this.throttle.options.timeScale === 1 ? {} : { 'x-ms-retry-after-ms': String(Math.ceil(ms)) };
    return new GraphError(
      429,
      'TooManyRequests',
      `Too many requests (sandbox fault injection, long throttle): retry after ${retryAfterSeconds(ms)} s`,
      { 'retry-after': String(retryAfterSeconds(ms)), ...scaled },
    );
  }

  /** The 400 of a `refuse` fault, for a message POST into a channel that would otherwise take it; else undefined. */
  private refusal(route: Route, params: Record<string, string>, body: unknown): GraphError | undefined {
    if (route.path === '/chats/{chatId}/startMigration') {
      const chat = findChat(this.store, params.chatId ?? '');
      if (chat?.chatType !== 'oneOnOne' || !this.faults.refusesChat(chat.id)) return undefined;
      return new GraphError(
        412,
        'PreconditionFailed',
        `The import of 1:1 chat '${chat.id}' is refused (sandbox fault injection 'chatrefuse'): it is refused on every attempt`,
      );
    }
    if (route.throttle !== 'message') return undefined;
    const created = (body as { createdDateTime?: unknown } | undefined)?.createdDateTime;
    const ms = typeof created === 'string' ? Date.parse(created) : NaN;
    if (Number.isNaN(ms) || !this.faults.refuses(ms)) return undefined;
    const channel = this.store.channel(params.teamId ?? '', params.channelId ?? '');
    if (channel?.migrationMode !== 'inProgress') return undefined;
    return badRequest(
      `The message at ${new Date(ms).toISOString()} is refused (sandbox fault injection 'refuse'): it is refused on every attempt`,
    );
  }

  private async process(req: IncomingMessage, requestId: string, clientRequestId: string): Promise<Outcome> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://sandbox');
    let kind: RouteKind = url.pathname.startsWith('/_sandbox') ? 'inspection' : 'graph';
    try {
      const classified = this.classify(url.pathname);
      kind = classified.kind;
      const { route, params } = this.findRoute(kind, method, classified.path);
      const caller = kind === 'graph' ? this.authenticate(headerValue(req, 'authorization')) : null;
      const mode = route.body ?? (method === 'GET' || method === 'DELETE' ? 'none' : 'json');
      const raw = mode === 'none' ? Buffer.alloc(0) : await readBody(req, this.maxBodyBytes);
      if (mode === 'none') req.resume();
      let fault: string | undefined;
      let decision: FaultDecision = { latencyMs: 0 };
      if (kind !== 'inspection') {
        decision = this.faults.next();
        if (decision.latencyMs > 0) {
          fault = 'latency';
          await sleep(decision.latencyMs);
        }
        const injected = this.faultResponse(decision, requestId, clientRequestId);
        if (injected) return { response: injected, kind, t: clock(), fault: decision.failure?.kind };
        if (decision.failure?.kind === 'lost') fault = 'lost';
      }
      const headers: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (name !== 'authorization') headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      const lagSeconds = decision.teamListLagSeconds ?? 0;
      const result = await this.execute(
        route,
        params,
        url.searchParams,
        headers,
        { raw },
        caller,
        requestId,
        clientRequestId,
        (lagSeconds * 1000) / this.throttle.options.timeScale,
      );
      return { ...result, kind, fault: result.fault ?? fault, lost: fault === 'lost' };
    } catch (err) {
      return {
        response: this.errorResponse(err, requestId, clientRequestId),
        kind,
        t: clock(),
        closeAfter: err instanceof TooLarge,
      };
    }
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = (req.url ?? '/').split('?')[0] ?? '/';
    if (this.slackApi && pathname.startsWith(SLACK_API_PREFIX)) {
      await this.slackApi.handle(req, res).catch(() => res.destroy());
      return;
    }
    if (this.slackApi && pathname.startsWith(`${SLACK_API_CONTROL}/`)) {
      await this.slackApi.control(req, res).catch(() => res.destroy());
      return;
    }
    if (this.slackFiles && pathname.startsWith(`${SLACK_FILES_PREFIX}/`)) {
      await this.slackFiles.handle(req, res).catch(() => res.destroy());
      return;
    }
    if (pathname === '/_sandbox/slack-files') {
      const body = Buffer.from(JSON.stringify(this.slackFiles?.served ?? []), 'utf8');
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(body.length),
      });
      res.end(body);
      return;
    }
    const arrived = clock();
    const requestId = randomUUID();
    const clientRequestId = headerValue(req, 'client-request-id') ?? requestId;
    const seq = ++this.seq;
    const outcome = await this.process(req, requestId, clientRequestId);
    if (outcome.kind !== 'inspection') {
      this.record({
        seq,
        t: outcome.t,
        method: (req.method ?? 'GET').toUpperCase(),
        path: req.url ?? '/',
        status: outcome.response.status,
        ms: Math.round(clock() - arrived),
        kind: outcome.kind,
        fault: outcome.fault,
        throttled: outcome.throttled,
      });
    }
    if (outcome.lost) {
      req.socket.destroy();
      return;
    }
    this.write(res, outcome.response, outcome.kind, requestId, clientRequestId);
    if (outcome.closeAfter) {
      req.on('data', () => undefined);
      const timer = setTimeout(() => req.socket.destroy(), 5000);
      timer.unref();
      res.on('finish', () => req.resume());
    }
  }

  private write(
    res: ServerResponse,
    response: RouteResponse,
    kind: RouteKind,
    requestId: string,
    clientRequestId: string,
  ): void {
    const headers: Record<string, string> = {
      'request-id': requestId,
      'client-request-id': clientRequestId,
      ...(response.headers ?? {}),
    };
    let payload: Buffer | undefined;
    if (Buffer.isBuffer(response.body)) {
      payload = response.body;
      headers['content-type'] ??= 'application/octet-stream';
    } else if (typeof response.body === 'string') {
      payload = Buffer.from(response.body, 'utf8');
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else if (response.body !== undefined) {
      payload = Buffer.from(JSON.stringify(response.body), 'utf8');
      headers['content-type'] ??= kind === 'inspection' ? 'application/json; charset=utf-8' : JSON_TYPE;
    }
    headers['content-length'] = String(payload?.length ?? 0);
    if (res.headersSent || res.destroyed) return;
    res.writeHead(response.status, headers);
    res.end(payload);
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    this.baseUrl = `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${address.port}`;
  }
}

/** Starts a sandbox on 127.0.0.1 and resolves once it listens; an unreadable state file rejects, naming it. */
export async function startSandbox(options: SandboxOptions = {}): Promise<SandboxHandle> {
  const users = options.users ?? [];
  const loaded = options.stateFile ? await loadStateFile(options.stateFile) : undefined;
  const data = loaded ?? emptyData(users);
  const sandbox = new Sandbox(options, data, sandboxRoutes);
  if (options.slackApi) sandbox.slackApi = await SlackApiStandIn.load(options.slackApi);
  const slackFiles =
    options.slackFiles ?? (options.slackApi ? { export: options.slackApi.export } : undefined);
  if (slackFiles)
    sandbox.slackFiles = await SlackFileHost.load({
      ...slackFiles,
      ...(slackFiles.botToken === undefined && sandbox.slackApi ? { botToken: sandbox.slackApi.token } : {}),
    });
  if (loaded) sandbox.addUsers(users);
  if (options.chats) addSeedChats(sandbox.store, options.chats, Date.now());
  configureIdentity(sandbox.store, options.identity ?? {});
  await sandbox.listen(options.port ?? 0);
  const port = Number(new URL(sandbox.baseUrl).port);
  return {
    url: sandbox.baseUrl,
    port,
    stop: () => sandbox.stop(),
    dump: () => dumpState(sandbox.store),
    requestLog: () => sandbox.requestLog(),
    reset: () => sandbox.reset(),
    addUsers: (list) => sandbox.addUsers(list),
    setFaults: (faults, seed) =>
      sandbox.faults.configure(
        typeof faults === 'string' ? parseFaults(faults) : faults,
        seed ?? options.seed ?? 1,
      ),
    save: () => sandbox.save(),
    ...(sandbox.slackFiles ? { slackFilesUrl: `${sandbox.baseUrl}${SLACK_FILES_PREFIX}` } : {}),
    slackFilesServed: () => (sandbox.slackFiles?.served ?? []).map((s) => ({ ...s })),
    ...(sandbox.slackApi ? { slackApiUrl: `${sandbox.baseUrl}${SLACK_API_PREFIX}` } : {}),
    slackApiCalls: () => (sandbox.slackApi?.calls ?? []).map((c) => ({ ...c, params: { ...c.params } })),
    addSlackMessages: (channel, messages) => {
      if (!sandbox.slackApi) throw new Error('the sandbox was started without slackApi');
      return sandbox.slackApi.addMessages(channel, messages);
    },
  };
}
