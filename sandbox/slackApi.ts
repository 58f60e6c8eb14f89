import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { openSlackExport } from '../core/sources/slack/export';
import { parseJsonFile } from '../core/sources/slack/json';
import { TS_PATTERN, withoutUrlToken } from '../core/sources/slack/messages';
import { BASE_SCOPES, PRIVATE_SCOPES } from '../core/sources/slack/webApi';

/** The path under the sandbox's URL where it answers Slack's Web API methods (`SLACK_API_URL`). */
export const SLACK_API_PREFIX = '/slack-api/';
/** The path of the stand-in's own routes: messages added while it runs, and the record of what it served. */
export const SLACK_API_CONTROL = '/_sandbox/slack-api';
/** The token the stand-in accepts when none is configured. */
export const SANDBOX_SLACK_TOKEN = 'xoxb-sandbox';

/** A rule that answers Slack's `ratelimited` (HTTP 429 with Retry-After) to the next `count` calls of a method. */
export interface SlackRateLimit {
  /** The method it applies to (`conversations.history`); every method when absent. */
  method?: string;
  count: number;
  /** The Retry-After the answers carry, in seconds. Default 1. */
  retryAfterSeconds?: number;
}

/** How the sandbox stands in for Slack's Web API. */
export interface SlackApiOptions {
  /** The Slack export (ZIP or folder) whose workspace is served. */
  export: string;
  /** The only token accepted (`Authorization: Bearer` or a `token` parameter). Default {@link SANDBOX_SLACK_TOKEN}. */
  token?: string;
  /** The scopes the token has (sent as `x-oauth-scopes`). Default every scope a migration can need. */
  scopes?: string[];
  /** The workspace `auth.test` names. Default the export's `team_info.json`, else its file name. */
  team?: { id?: string; name?: string; domain?: string };
  /** Rate limits to answer, in order. */
  rateLimits?: SlackRateLimit[];
}

/** One call the stand-in answered, for tests: never the token. */
export interface SlackApiCall {
  seq: number;
  method: string;
  /** The call's parameters (the token left out). */
  params: Record<string, string>;
  status: number;
  /** Slack's `error` when the answer was `ok: false`. */
  error?: string;
  /** What the answer listed: message `ts`s, user or channel ids. */
  served: string[];
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const byTs = (a: Json, b: Json): number =>
  Number(a.ts) - Number(b.ts) || String(a.ts).localeCompare(String(b.ts));

/** A channel of the served workspace: its metadata as Slack lists it, its members and its messages. */
interface Channel {
  raw: Json;
  isPrivate: boolean;
  members: string[];
  /** Messages that are not replies, and replies also sent to the channel, in `ts` order. */
  history: Json[];
  /** Every message by `ts`. */
  byTs: Map<string, Json>;
  /** Each thread's replies in `ts` order, by the parent's `ts`. */
  replies: Map<string, Json[]>;
}

/** A Slack answer: status, body and extra headers. */
interface Answer {
  status: number;
  body: Json;
  headers?: Record<string, string>;
}

/** What `conversations.list` types need. */
const TYPE_SCOPES: Record<string, string> = {
  public_channel: 'channels:read',
  private_channel: 'groups:read',
  im: 'im:read',
  mpim: 'mpim:read',
};

const MAX_BODY = 1024 * 1024;
const cursorOf = (value: string): string => Buffer.from(value, 'utf8').toString('base64');
const valueOf = (cursor: string, prefix: string): string | undefined => {
  const text = Buffer.from(cursor, 'base64').toString('utf8');
  return text.startsWith(prefix) ? text.slice(prefix.length) : undefined;
};

class SlackRefusal extends Error {
  constructor(
    readonly error: string,
    readonly extra: Json = {},
  ) {
    super(error);
  }
}

/**
 * Slack's Web API for a rehearsal, served from an export: `auth.test`, `users.list`, `conversations.list`,
 * `conversations.members`, `conversations.history` and `conversations.replies` with Slack's paging (`limit`,
 * `cursor`, `has_more`, `response_metadata.next_cursor`), time windows (`oldest`/`latest`, `inclusive`) and
 * threads as Slack serves them (history: parents with `reply_count`, and replies also sent to the channel;
 * replies through `conversations.replies`), its `ok: false` answers (`not_authed`, `invalid_auth`,
 * `missing_scope` with `needed`/`provided`, `channel_not_found`, `thread_not_found`, `ratelimited` as HTTP 429
 * with Retry-After) and its `x-oauth-scopes` header. File URLs are the export's without its token, to be
 * downloaded from the sandbox's Slack file host with the token as Bearer. Messages can be added while it runs.
 */
export class SlackApiStandIn {
  readonly calls: SlackApiCall[] = [];
  private seq = 0;
  private readonly rateLimits: SlackRateLimit[];

  private constructor(
    private readonly users: Json[],
    private readonly channels: Map<string, Channel>,
    private readonly team: { id: string; name: string; domain: string },
    readonly token: string,
    readonly scopes: ReadonlySet<string>,
    rateLimits: SlackRateLimit[],
  ) {
    this.rateLimits = rateLimits.map((r) => ({ ...r }));
  }

  /** Reads the export: users, public and private channels with their members, and every message. */
  static async load(options: SlackApiOptions): Promise<SlackApiStandIn> {
    const exp = await openSlackExport(options.export);
    try {
      const { archive } = exp;
      const root =
        archive
          .paths()
          .find((p) => /^([^/]+\/)?channels\.json$/.test(p))
          ?.slice(0, -13) ?? '';
      const list = async (file: string): Promise<Json[]> => {
        if (!archive.has(root + file)) return [];
        const parsed = parseJsonFile(root + file, await archive.read(root + file));
        return Array.isArray(parsed) ? parsed.filter(isObj) : [];
      };
      const teamInfo = archive.has(`${root}team_info.json`)
        ? parseJsonFile(`${root}team_info.json`, await archive.read(`${root}team_info.json`))
        : undefined;
      const info = isObj(teamInfo) && isObj(teamInfo.team) ? teamInfo.team : {};
      const fallbackName = basename(options.export).replace(/\.zip$/i, '');
      const name = options.team?.name ?? str(info.name) ?? fallbackName;
      const team = {
        id: options.team?.id ?? str(info.id) ?? 'T0SANDBOX',
        name,
        domain:
          options.team?.domain ??
          str(info.domain) ??
          (name
            .toLowerCase()
            .replace(/[^a-z0-9-]+/g, '-')
            .replace(/^-+|-+$/g, '') ||
            'sandbox'),
      };
      const raws = new Map<string, { raw: Json; isPrivate: boolean }>();
      for (const raw of await list('channels.json'))
        if (str(raw.id)) raws.set(str(raw.id)!, { raw, isPrivate: false });
      for (const raw of await list('groups.json'))
        if (str(raw.id)) raws.set(str(raw.id)!, { raw, isPrivate: true });
      const channels = new Map<string, Channel>();
      for (const conversation of exp.conversations) {
        const meta = raws.get(conversation.sourceId);
        if (!meta) continue;
        const messages: Json[] = [];
        for (const path of conversation.dayFiles) {
          const parsed = parseJsonFile(path, await archive.read(path));
          for (const m of Array.isArray(parsed) ? parsed : [])
            if (isObj(m) && typeof m.ts === 'string' && TS_PATTERN.test(m.ts)) messages.push(served(m));
        }
        const { members, ...raw } = meta.raw;
        const channel: Channel = {
          raw,
          isPrivate: meta.isPrivate,
          members: Array.isArray(members) ? members.filter((m): m is string => typeof m === 'string') : [],
          history: [],
          byTs: new Map(),
          replies: new Map(),
        };
        const replies = (m: Json): boolean => !!str(m.thread_ts) && m.thread_ts !== m.ts;
        messages.sort(byTs);
        for (const m of messages.filter((m) => !replies(m))) place(channel, m);
        for (const m of messages.filter(replies)) place(channel, m);
        channels.set(conversation.sourceId, channel);
      }
      return new SlackApiStandIn(
        await list('users.json'),
        channels,
        team,
        options.token ?? SANDBOX_SLACK_TOKEN,
        new Set(options.scopes ?? [...BASE_SCOPES, ...PRIVATE_SCOPES]),
        options.rateLimits ?? [],
      );
    } finally {
      await exp.close();
    }
  }

  /** Adds a rate limit rule (after those still pending). */
  rateLimit(rule: SlackRateLimit): void {
    this.rateLimits.push({ ...rule });
  }

  /**
   * Adds messages to a channel (id or name) as if people had just written them: each gets a `ts` after every
   * message of the channel unless it has one; a message with a `thread_ts` is a reply to that thread.
   * Answers the messages as stored; throws naming what is wrong (unknown channel or thread, a `ts` taken).
   */
  addMessages(channelRef: string, messages: Json[]): Json[] {
    const id = this.channelId(channelRef);
    const channel = id ? this.channels.get(id) : undefined;
    if (!channel) throw new Error(`no channel '${channelRef}' in the served workspace`);
    const added: Json[] = [];
    for (const given of messages) {
      const m: Json = { type: 'message', ...served(given) };
      if (m.ts === undefined) m.ts = nextTs(channel);
      if (typeof m.ts !== 'string' || !TS_PATTERN.test(m.ts))
        throw new Error(`'ts' ${JSON.stringify(m.ts)} is not a Slack ts`);
      if (channel.byTs.has(m.ts)) throw new Error(`a message with the ts ${m.ts} is already in the channel`);
      const thread = str(m.thread_ts);
      if (thread && thread !== m.ts && !channel.byTs.has(thread))
        throw new Error(`no thread ${thread} in the channel to reply to`);
      place(channel, m);
      added.push(m);
    }
    return added;
  }

  /** Answers one request whose path starts with {@link SLACK_API_PREFIX}. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = decodeURIComponent(url.pathname.slice(SLACK_API_PREFIX.length));
    const params: Record<string, string> = Object.fromEntries(url.searchParams);
    const body = await readBody(req);
    if (body === undefined)
      return write(res, { status: 413, body: { ok: false, error: 'request_too_large' } });
    const type = String(req.headers['content-type'] ?? '');
    if (body.length > 0) {
      if (/json/i.test(type)) {
        try {
          const json: unknown = JSON.parse(body.toString('utf8'));
          if (isObj(json)) for (const [k, v] of Object.entries(json)) params[k] = String(v);
        } catch {
          return write(
            res,
            this.record(method, params, { status: 200, body: { ok: false, error: 'invalid_json' } }),
          );
        }
      } else Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    const token = bearer ?? params.token;
    delete params.token;
    write(res, this.record(method, params, this.answer(method, params, token)));
  }

  /** Answers the stand-in's own routes: `POST .../messages` adds messages, `GET .../calls` the record. */
  async control(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://sandbox').pathname.slice(SLACK_API_CONTROL.length);
    if (req.method === 'GET' && path === '/calls')
      return write(res, { status: 200, body: { calls: this.calls } });
    if (req.method === 'POST' && (path === '/messages' || path === '/ratelimit')) {
      const body = await readBody(req);
      let json: unknown;
      try {
        json = JSON.parse(body?.toString('utf8') ?? '');
      } catch {
        return write(res, { status: 400, body: { error: 'the body must be JSON' } });
      }
      if (!isObj(json)) return write(res, { status: 400, body: { error: 'the body must be a JSON object' } });
      if (path === '/ratelimit') {
        if (typeof json.count !== 'number' || json.count < 1)
          return write(res, {
            status: 400,
            body: { error: '{"method"?, "count": n, "retryAfterSeconds"?}' },
          });
        this.rateLimit({
          count: json.count,
          ...(typeof json.method === 'string' ? { method: json.method } : {}),
          ...(typeof json.retryAfterSeconds === 'number'
            ? { retryAfterSeconds: json.retryAfterSeconds }
            : {}),
        });
        return write(res, { status: 200, body: { ok: true } });
      }
      if (typeof json.channel !== 'string' || !Array.isArray(json.messages) || !json.messages.every(isObj))
        return write(res, {
          status: 400,
          body: { error: '{"channel": "<id or name>", "messages": [{...}]}' },
        });
      try {
        return write(res, { status: 200, body: { messages: this.addMessages(json.channel, json.messages) } });
      } catch (err) {
        return write(res, { status: 400, body: { error: (err as Error).message } });
      }
    }
    write(res, { status: 404, body: { error: `no route ${req.method} ${SLACK_API_CONTROL}${path}` } });
  }

  private record(method: string, params: Record<string, string>, answer: Answer): Answer {
    const body = answer.body;
    const served = [
      ...(Array.isArray(body.messages) ? body.messages : []),
      ...(Array.isArray(body.channels) ? body.channels : []),
      ...(Array.isArray(body.members) ? body.members : []),
    ].map((x) => (isObj(x) ? String(x.ts ?? x.id) : String(x)));
    this.calls.push({
      seq: ++this.seq,
      method,
      params,
      status: answer.status,
      ...(body.ok === false ? { error: String(body.error) } : {}),
      served,
    });
    return answer;
  }

  private answer(method: string, params: Record<string, string>, token: string | undefined): Answer {
    const limit = this.rateLimits.find((r) => r.count > 0 && (r.method === undefined || r.method === method));
    if (limit) {
      limit.count--;
      return {
        status: 429,
        body: { ok: false, error: 'ratelimited' },
        headers: { 'retry-after': String(limit.retryAfterSeconds ?? 1) },
      };
    }
    if (!token) return { status: 200, body: { ok: false, error: 'not_authed' } };
    if (token !== this.token) return { status: 200, body: { ok: false, error: 'invalid_auth' } };
    const scopes = [...this.scopes].join(',');
    let needed: string[] = [];
    try {
      const run = this.methods[method];
      if (!run) throw new SlackRefusal('unknown_method');
      const { body, needs } = run(params);
      needed = needs;
      const missing = needs.filter((s) => !this.scopes.has(s));
      if (missing.length)
        throw new SlackRefusal('missing_scope', { needed: missing.join(','), provided: scopes });
      return {
        status: 200,
        body: { ok: true, ...body },
        headers: { 'x-oauth-scopes': scopes, 'x-accepted-oauth-scopes': needs.join(',') },
      };
    } catch (err) {
      if (!(err instanceof SlackRefusal)) throw err;
      if (err.extra.needed) needed = String(err.extra.needed).split(',');
      return {
        status: 200,
        body: { ok: false, error: err.error, ...err.extra },
        headers: { 'x-oauth-scopes': scopes, 'x-accepted-oauth-scopes': needed.join(',') },
      };
    }
  }

  private channelId(ref: string): string | undefined {
    if (this.channels.has(ref)) return ref;
    const name = ref.replace(/^#/, '');
    return [...this.channels].find(([, c]) => c.raw.name === name)?.[0];
  }

  /** The channel a call names, and the scope reading it needs (`channels:` or `groups:`). */
  private channel(
    params: Record<string, string>,
    what: 'read' | 'history',
  ): { channel: Channel; needs: string } {
    const channel = this.channels.get(params.channel ?? '');
    if (!channel) throw new SlackRefusal('channel_not_found');
    const needs = `${channel.isPrivate ? 'groups' : 'channels'}:${what}`;
    if (!this.scopes.has(needs))
      throw new SlackRefusal('missing_scope', { needed: needs, provided: [...this.scopes].join(',') });
    return { channel, needs };
  }

  private readonly methods: Record<string, (p: Record<string, string>) => { body: Json; needs: string[] }> = {
    'auth.test': () => ({
      needs: [],
      body: {
        url: `https://${this.team.domain}.slack.com/`,
        team: this.team.name,
        user: 'migration',
        team_id: this.team.id,
        user_id: 'U0MIGRATION',
      },
    }),
    'users.list': (p) => {
      const email = this.scopes.has('users:read.email');
      const users = this.users.map((u) => {
        if (email || !isObj(u.profile)) return u;
        const { email: _hidden, ...profile } = u.profile;
        void _hidden;
        return { ...u, profile };
      });
      const { items, next } = offsetPage(users, p, 'members');
      return { needs: ['users:read'], body: { members: items, cache_ts: 0, ...next } };
    },
    'conversations.list': (p) => {
      const types = (p.types || 'public_channel').split(',').map((t) => t.trim());
      const unknown = types.find((t) => !TYPE_SCOPES[t]);
      if (unknown) throw new SlackRefusal('invalid_types');
      const needs = types.map((t) => TYPE_SCOPES[t]!);
      const wanted = [...this.channels.values()].filter(
        (c) =>
          types.includes(c.isPrivate ? 'private_channel' : 'public_channel') &&
          !(p.exclude_archived === 'true' && c.raw.is_archived === true),
      );
      const { items, next } = offsetPage(wanted, p, 'channels');
      return { needs, body: { channels: items.map((c) => listed(c)), ...next } };
    },
    'conversations.members': (p) => {
      const { channel, needs } = this.channel(p, 'read');
      const { items, next } = offsetPage(channel.members, p, 'members');
      return { needs: [needs], body: { members: items, ...next } };
    },
    'conversations.history': (p) => {
      const { channel, needs } = this.channel(p, 'history');
      const inWindow = window(p);
      const newestFirst = channel.history.filter(inWindow).reverse();
      const from = p.cursor ? valueOf(p.cursor, 'next_ts:') : undefined;
      if (p.cursor && from === undefined) throw new SlackRefusal('invalid_cursor');
      const start = from === undefined ? 0 : newestFirst.findIndex((m) => Number(m.ts) <= Number(from));
      const { items, next } = tsPage(newestFirst, start < 0 ? newestFirst.length : start, p, 100, 999);
      return { needs: [needs], body: { messages: items, pin_count: 0, ...next } };
    },
    'conversations.replies': (p) => {
      const { channel, needs } = this.channel(p, 'history');
      if (!p.ts) throw new SlackRefusal('invalid_arguments');
      const parent = channel.byTs.get(p.ts);
      if (!parent) throw new SlackRefusal('thread_not_found');
      const parentTs = str(parent.thread_ts) ?? p.ts;
      const root = channel.byTs.get(parentTs) ?? parent;
      const thread = [root, ...(channel.replies.get(parentTs) ?? []).filter(window(p))];
      const from = p.cursor ? valueOf(p.cursor, 'next_ts:') : undefined;
      if (p.cursor && from === undefined) throw new SlackRefusal('invalid_cursor');
      const start = from === undefined ? 0 : thread.findIndex((m) => Number(m.ts) >= Number(from));
      const { items, next } = tsPage(thread, start < 0 ? thread.length : start, p, 10, 1000);
      return { needs: [needs], body: { messages: items, ...next } };
    },
  };
}

/** A message as the API serves it: a copy, with the export's file token taken out of every file URL. */
function served(m: Json): Json {
  const copy = JSON.parse(JSON.stringify(m)) as Json;
  const files = Array.isArray(copy.files) ? copy.files : isObj(copy.file) ? [copy.file] : [];
  for (const f of files.filter(isObj))
    for (const [k, v] of Object.entries(f))
      if (typeof v === 'string' && /^https?:\/\//.test(v)) f[k] = withoutUrlToken(v);
  return copy;
}

/** Files a message in its channel: in the history unless it is a reply, and in its thread (updating the parent). */
function place(channel: Channel, m: Json): void {
  const ts = m.ts as string;
  channel.byTs.set(ts, m);
  const thread = str(m.thread_ts);
  const reply = !!thread && thread !== ts;
  const broadcast = m.subtype === 'thread_broadcast' || m.subtype === 'reply_broadcast';
  if (!reply || broadcast) insertByTs(channel.history, m);
  if (!reply) return;
  const parent = channel.byTs.get(thread);
  if (!parent) return;
  const replies = channel.replies.get(thread) ?? [];
  insertByTs(replies, m);
  channel.replies.set(thread, replies);
  const users = [...new Set(replies.map((r) => str(r.user)).filter((u): u is string => !!u))];
  Object.assign(parent, {
    thread_ts: thread,
    reply_count: replies.length,
    reply_users_count: users.length,
    reply_users: users.slice(0, 5),
    latest_reply: replies[replies.length - 1]!.ts,
  });
}

function insertByTs(list: Json[], m: Json): void {
  let i = list.length;
  while (i > 0 && byTs(list[i - 1]!, m) > 0) i--;
  list.splice(i, 0, m);
}

/** A `ts` after every message of the channel and not before now. */
function nextTs(channel: Channel): string {
  const last = [...channel.byTs.keys()].reduce((max, ts) => Math.max(max, Number(ts)), 0);
  const now = Date.now() / 1000;
  return Math.max(now, last + 0.000001).toFixed(6);
}

/** A channel as `conversations.list` answers it: without its members, with Slack's type flags. */
function listed(c: Channel): Json {
  return {
    ...c.raw,
    is_channel: !c.isPrivate,
    is_group: c.isPrivate,
    is_im: false,
    is_mpim: false,
    is_private: c.isPrivate,
    is_member: true,
    num_members: c.members.length,
  };
}

/** Whether a message lies in a call's `oldest`/`latest` window (bounds excluded unless `inclusive`). */
function window(p: Record<string, string>): (m: Json) => boolean {
  const inclusive = p.inclusive === 'true' || p.inclusive === '1';
  const oldest = p.oldest ? Number(p.oldest) : -Infinity;
  const latest = p.latest ? Number(p.latest) : Infinity;
  return (m) => {
    const ts = Number(m.ts);
    return inclusive ? ts >= oldest && ts <= latest : ts > oldest && ts < latest;
  };
}

/** Slack's page size: `limit` (default `fallback`, at most `max`). */
function limitOf(p: Record<string, string>, fallback: number, max: number): number {
  const n = Number(p.limit);
  if (!p.limit || !Number.isInteger(n) || n < 1) return fallback;
  return Math.min(n, max);
}

/** A page of a message list from `start`, with `has_more` and the cursor of the next message. */
function tsPage(
  list: Json[],
  start: number,
  p: Record<string, string>,
  fallback: number,
  max: number,
): { items: Json[]; next: Json } {
  const size = limitOf(p, fallback, max);
  const items = list.slice(start, start + size);
  const following = list[start + size];
  return {
    items,
    next: {
      has_more: !!following,
      response_metadata: { next_cursor: following ? cursorOf(`next_ts:${String(following.ts)}`) : '' },
    },
  };
}

/** A page of a list by offset, for `users.list`, `conversations.list` and `conversations.members`. */
function offsetPage<T>(list: T[], p: Record<string, string>, what: string): { items: T[]; next: Json } {
  const from = p.cursor ? Number(valueOf(p.cursor, `${what}:`)) : 0;
  if (!Number.isInteger(from) || from < 0) throw new SlackRefusal('invalid_cursor');
  const size = limitOf(p, 100, 1000);
  const items = list.slice(from, from + size);
  const more = from + size < list.length;
  return {
    items,
    next: { response_metadata: { next_cursor: more ? cursorOf(`${what}:${from + size}`) : '' } },
  };
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function write(res: ServerResponse, answer: Answer): void {
  const payload = Buffer.from(JSON.stringify(answer.body), 'utf8');
  res.writeHead(answer.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(payload.length),
    ...(answer.headers ?? {}),
  });
  res.end(payload);
}
