import { randomBytes, randomUUID } from 'node:crypto';
import { badRequest, forbidden, GraphError, notFound } from '../errors';
import { INITIATOR_MESSAGE } from '../rules';
import type { RouteContext } from '../router';
import type {
  ChannelRecord,
  DriveItemRecord,
  DriveRecord,
  MessageRecord,
  SandboxUser,
  TeamRecord,
} from '../state';

/** The public Graph root that stored links (hosted contents) point to, as the real service writes them. */
export const GRAPH_ROOT = 'https://graph.microsoft.com/v1.0';

/** The team addressed by the request, or 404. */
export function requireTeam(ctx: RouteContext, teamId = ctx.params.teamId ?? ''): TeamRecord {
  const team = ctx.store.team(teamId);
  if (!team) throw notFound(`No team found with Group Id ${teamId}`);
  return team;
}

/** The live channel addressed by the request, or 404. */
export function requireChannel(ctx: RouteContext, team: TeamRecord): ChannelRecord {
  const channelId = ctx.params.channelId ?? '';
  const channel = ctx.store.channel(team.id, channelId);
  if (!channel) throw notFound(`Channel '${channelId}' was not found in team '${team.id}'`);
  return channel;
}

/** A top-level message of a channel, or 404 (replies are not addressable as `messages/{id}`). */
export function requireMessage(
  ctx: RouteContext,
  channel: ChannelRecord,
  id = ctx.params.messageId ?? '',
): MessageRecord {
  const found = ctx.store.messageInChannel(channel.id, id);
  if (!found || found.parent) throw notFound(`Message '${id}' was not found in channel '${channel.id}'`);
  return found.message;
}

/** A reply of a message, or 404. */
export function requireReply(
  ctx: RouteContext,
  channel: ChannelRecord,
  parent: MessageRecord,
): MessageRecord {
  const id = ctx.params.replyId ?? '';
  const found = ctx.store.messageInChannel(channel.id, id);
  if (!found || found.parent !== parent)
    throw notFound(`Reply '${id}' was not found under message '${parent.id}'`);
  return found.message;
}

/** Only the app that opened a team's import session may write into it (teams created normally have none). */
export function assertInitiator(ctx: RouteContext, team: TeamRecord): void {
  if (team.initiator !== null && ctx.caller !== null && ctx.caller.app !== team.initiator) {
    throw forbidden(INITIATOR_MESSAGE);
  }
}

/**
 * Only the app that opened a channel's import session may import into it or complete it: the app that called
 * the channel's `startMigration`, else the app that created the team in migration mode.
 */
export function assertChannelInitiator(ctx: RouteContext, team: TeamRecord, channel: ChannelRecord): void {
  const initiator = channel.initiator ?? team.initiator;
  if (initiator !== null && ctx.caller !== null && ctx.caller.app !== initiator) {
    throw forbidden(INITIATOR_MESSAGE);
  }
}

/** Channels of a team that still exist, in creation order. */
export function liveChannels(team: TeamRecord): ChannelRecord[] {
  return team.channels.filter((c) => c.deletedAt === null);
}

/** A Graph collection page: `$top` (1..maxTop) and `$skiptoken`, with `@odata.nextLink` while more remain. */
export function page<T>(
  ctx: RouteContext,
  items: readonly T[],
  path: string,
  options: { maxTop: number; defaultTop: number; context?: string },
): Record<string, unknown> {
  const topText = ctx.query.get('$top');
  const top = topText === null ? options.defaultTop : Number(topText);
  if (!Number.isInteger(top) || top < 1 || top > options.maxTop) {
    throw badRequest(`Invalid $top '${topText}': it must be an integer from 1 to ${options.maxTop}`);
  }
  const tokenText = ctx.query.get('$skiptoken');
  let skip = 0;
  if (tokenText !== null) {
    const decoded = /^skip=(\d+)$/.exec(Buffer.from(tokenText, 'base64url').toString('utf8'));
    if (!decoded) throw badRequest(`Invalid $skiptoken '${tokenText}'`);
    skip = Number(decoded[1]);
  }
  const result: Record<string, unknown> = {};
  if (options.context) result['@odata.context'] = `${GRAPH_ROOT}/$metadata#${options.context}`;
  result.value = items.slice(skip, skip + top);
  if (skip + top < items.length) {
    const next = new URLSearchParams();
    for (const [k, v] of ctx.query) if (k !== '$skiptoken' && k !== '$top') next.append(k, v);
    next.set('$top', String(top));
    next.set('$skiptoken', Buffer.from(`skip=${skip + top}`, 'utf8').toString('base64url'));
    result['@odata.nextLink'] = `${ctx.baseUrl}/v1.0${path}?${next.toString()}`;
  }
  return result;
}

type Token = { t: 'id' | 'str' | 'punct'; v: string };

function tokenize(filter: string, errors: FilterErrors): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter[i] ?? '';
    if (/\s/.test(c)) i++;
    else if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= filter.length) throw errors.syntax('unterminated string');
        if (filter[i] === "'" && filter[i + 1] === "'") {
          value += "'";
          i += 2;
        } else if (filter[i] === "'") {
          i++;
          break;
        } else value += filter[i++];
      }
      tokens.push({ t: 'str', v: value });
    } else if ('(),:'.includes(c)) {
      tokens.push({ t: 'punct', v: c });
      i++;
    } else {
      const m = /^[A-Za-z_][\w/.@]*/.exec(filter.slice(i));
      if (!m) throw errors.syntax(`unexpected '${c}'`);
      tokens.push({ t: 'id', v: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

/** How a `$filter` the sandbox cannot use is refused: Graph's answers differ between resource families. */
export interface FilterErrors {
  /** A filter that does not parse. */
  syntax: (why: string) => GraphError;
  /** A property the resource does not have. */
  unknownProperty: (name: string) => GraphError;
  /** A known property with an operator or function the service does not support on it. */
  unsupported: (name: string, what: string) => GraphError;
}

/** Teams and chats: every refusal a 400 `BadRequest` naming the filter. */
function teamFilterErrors(filter: string, fields: readonly string[]): FilterErrors {
  return {
    syntax: (why) => badRequest(`Invalid $filter '${filter}': ${why}`),
    unknownProperty: (name) =>
      badRequest(
        `Invalid $filter '${filter}': unsupported property '${name}' (supported: ${fields.join(', ')})`,
      ),
    unsupported: (_name, what) =>
      badRequest(
        `Invalid $filter '${filter}': unsupported operator '${what}' (supported: eq, in, startswith)`,
      ),
  };
}

/**
 * Directory objects (`/groups`): Graph answers `Request_BadRequest` for a property the resource lacks,
 * `Request_UnsupportedQuery` for a clause it does not support on a property, and `BadRequest` "Invalid filter
 * clause" for a filter that does not parse.
 */
export function directoryFilterErrors(resource: string): FilterErrors {
  return {
    syntax: (why) => new GraphError(400, 'BadRequest', `Invalid filter clause: ${why}`),
    unknownProperty: (name) =>
      new GraphError(
        400,
        'Request_BadRequest',
        `Property '${name}' does not exist as a declared property or extension property.`,
      ),
    unsupported: (name) =>
      new GraphError(
        400,
        'Request_UnsupportedQuery',
        `Unsupported or invalid query filter clause specified for property '${name}' of resource '${resource}'.`,
      ),
  };
}

/**
 * Compiles the `$filter` subset the product uses into a predicate: `field eq 'v'`, `field in ('a','b')`,
 * `startswith(field,'v')`, and over a string collection `field/any(x:x eq 'v')`, joined with `and` / `or` and
 * parentheses; a quote inside a string is written twice (`'O''Neil'`); string comparison ignores case.
 */
export function compileFilter(
  filter: string,
  fields: readonly string[],
  options: { collections?: readonly string[]; errors?: FilterErrors } = {},
): (item: Record<string, unknown>) => boolean {
  const collections = options.collections ?? [];
  const errors = options.errors ?? teamFilterErrors(filter, fields);
  const tokens = tokenize(filter, errors);
  let pos = 0;
  const fail = (why: string): never => {
    throw errors.syntax(why);
  };
  const peek = (): Token | undefined => tokens[pos];
  const take = (t?: Token['t'], v?: string): Token => {
    const token = tokens[pos];
    if (!token || (t && token.t !== t) || (v && token.v.toLowerCase() !== v)) {
      return fail(`expected ${v ?? t ?? 'more'} at token ${pos + 1}`);
    }
    pos++;
    return token;
  };
  const known = (name: string): string | undefined =>
    [...fields, ...collections].find((f) => f.toLowerCase() === name.toLowerCase());
  const field = (): string => {
    const name = take('id').v;
    const found = fields.find((f) => f.toLowerCase() === name.toLowerCase());
    if (found) return found;
    throw known(name)
      ? errors.unsupported(known(name)!, 'a collection compared as one value')
      : errors.unknownProperty(name);
  };
  const text = (item: Record<string, unknown>, name: string): string =>
    String(item[name] ?? '').toLowerCase();
  type Pred = (item: Record<string, unknown>) => boolean;
  const lambda = (token: Token): Pred | undefined => {
    const m = /^([A-Za-z_]\w*)\/(any|all)$/i.exec(token.v);
    if (!m) return undefined;
    const name = known(m[1] ?? '');
    if (!name) throw errors.unknownProperty(m[1] ?? '');
    if (!collections.includes(name) || m[2]!.toLowerCase() !== 'any')
      throw errors.unsupported(name, `${m[2]}()`);
    take();
    take('punct', '(');
    const variable = take('id').v;
    take('punct', ':');
    if (take('id').v !== variable) fail(`the lambda compares '${variable}' only`);
    const op = take('id').v.toLowerCase();
    if (op !== 'eq') throw errors.unsupported(name, op);
    const value = take('str').v.toLowerCase();
    take('punct', ')');
    return (item) => {
      const values = item[name];
      return Array.isArray(values) && values.some((v) => String(v).toLowerCase() === value);
    };
  };
  const primary = (): Pred => {
    const token = peek();
    if (token?.t === 'punct' && token.v === '(') {
      take();
      const inner = orExpr();
      take('punct', ')');
      return inner;
    }
    if (token?.t === 'id' && token.v.toLowerCase() === 'startswith') {
      take();
      take('punct', '(');
      const name = field();
      take('punct', ',');
      const prefix = take('str').v.toLowerCase();
      take('punct', ')');
      return (item) => text(item, name).startsWith(prefix);
    }
    const any = token?.t === 'id' ? lambda(token) : undefined;
    if (any) return any;
    const name = field();
    const op = take('id').v.toLowerCase();
    if (op === 'eq') {
      const value = take('str').v.toLowerCase();
      return (item) => text(item, name) === value;
    }
    if (op === 'in') {
      take('punct', '(');
      const values = [take('str').v.toLowerCase()];
      while (peek()?.v === ',') {
        take();
        values.push(take('str').v.toLowerCase());
      }
      take('punct', ')');
      return (item) => values.includes(text(item, name));
    }
    throw errors.unsupported(name, op);
  };
  const andExpr = (): Pred => {
    let left = primary();
    while (peek()?.t === 'id' && peek()?.v.toLowerCase() === 'and') {
      take();
      const a = left;
      const b = primary();
      left = (item) => a(item) && b(item);
    }
    return left;
  };
  const orExpr = (): Pred => {
    let left = andExpr();
    while (peek()?.t === 'id' && peek()?.v.toLowerCase() === 'or') {
      take();
      const a = left;
      const b = andExpr();
      left = (item) => a(item) || b(item);
    }
    return left;
  };
  const predicate = orExpr();
  if (pos !== tokens.length) fail(`unexpected '${tokens[pos]?.v}'`);
  return predicate;
}

/** Applies `$select` (comma-separated property names) to an entity; without it the entity is unchanged. */
export function select(ctx: RouteContext, entity: Record<string, unknown>): Record<string, unknown> {
  const selectText = ctx.query.get('$select');
  if (!selectText) return entity;
  const names = selectText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entity)) if (k.startsWith('@odata') || names.includes(k)) out[k] = v;
  return out;
}

/** A team as `GET /teams/{id}` answers it, with its `migrationMode` (`inProgress`, `completed`, or null). */
export function teamJson(ctx: RouteContext, team: TeamRecord): Record<string, unknown> {
  return {
    id: team.id,
    createdDateTime: team.createdDateTime,
    displayName: team.displayName,
    description: team.description,
    internalId: `19:${team.id.replace(/-/g, '')}@thread.tacv2`,
    classification: null,
    specialization: 'none',
    visibility: 'public',
    webUrl: `${ctx.baseUrl}/_sandbox/teams/${team.id}/preview`,
    isArchived: false,
    tenantId: SANDBOX_TENANT_ID,
    isMembershipLimitedToOwners: false,
    migrationMode: team.migrationMode,
  };
}

/** The tenant id the sandbox reports. */
export const SANDBOX_TENANT_ID = '5a5db0c5-0000-4000-8000-000000000001';

/** A channel as `GET /teams/{id}/channels/{id}` answers it. */
export function channelJson(
  ctx: RouteContext,
  team: TeamRecord,
  channel: ChannelRecord,
): Record<string, unknown> {
  return {
    id: channel.id,
    createdDateTime: channel.createdDateTime,
    displayName: channel.displayName,
    description: channel.description,
    isFavoriteByDefault: null,
    email: '',
    tenantId: SANDBOX_TENANT_ID,
    webUrl: `${ctx.baseUrl}/_sandbox/teams/${team.id}/preview#${encodeURIComponent(channel.id)}`,
    membershipType: channel.membershipType,
    migrationMode: channel.migrationMode,
  };
}

/** A chat message as the service answers it (replies inline only when asked, as `$expand=replies` does). */
export function messageJson(
  team: TeamRecord,
  channel: ChannelRecord,
  message: MessageRecord,
  withReplies = false,
): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: message.id,
    replyToId: message.replyToId,
    etag: message.id,
    messageType: 'message',
    createdDateTime: message.createdDateTime,
    lastModifiedDateTime: message.createdDateTime,
    lastEditedDateTime: null,
    deletedDateTime: null,
    subject: message.subject,
    summary: message.summary,
    chatId: null,
    importance: message.importance,
    locale: 'en-us',
    webUrl: null,
    policyViolation: null,
    eventDetail: null,
    from: message.from ? { application: null, device: null, user: message.from.user } : null,
    body: message.body,
    channelIdentity: { teamId: team.id, channelId: channel.id },
    attachments: message.attachments,
    mentions: message.mentions,
    reactions: message.reactions,
  };
  if (withReplies) json.replies = message.replies.map((r) => messageJson(team, channel, r));
  return json;
}

/** A user as `GET /users/{id}` answers it. */
export function userJson(user: SandboxUser): Record<string, unknown> {
  return {
    id: user.id,
    displayName: user.displayName,
    mail: user.mail,
    userPrincipalName: user.userPrincipalName,
    businessPhones: [],
    givenName: null,
    surname: null,
    jobTitle: null,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
  };
}

/** A new drive item id in OneDrive's shape (`01` + 32 upper-case base32-like characters). */
export function newDriveItemId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return `01${[...randomBytes(32)].map((b) => alphabet[b % 32]).join('')}`;
}

/** A new document-library drive id (`b!` + 64 base64url characters). */
export function newDriveId(): string {
  return `b!${randomBytes(48).toString('base64url')}`;
}

/** The GUID in a drive item's eTag, given to items from older state files on first use. */
export function itemGuid(item: DriveItemRecord): string {
  item.guid ??= randomUUID().toUpperCase();
  return item.guid;
}

/** Office documents, whose own `webUrl` SharePoint gives as a `Doc.aspx` page rather than the file's path. */
const OFFICE = /\.(docx?|xlsx?|pptx?|docm|xlsm|pptm|vsdx|one)$/i;

/** The web root of a team's document library: `…/_sandbox/sites/{teamId}/Shared%20Documents`. */
export function libraryUrl(baseUrl: string, drive: DriveRecord): string {
  return `${baseUrl}/_sandbox/sites/${drive.teamId}/Shared%20Documents`;
}

/** The item's path under the library root, each name percent-encoded (`General/design%20spec.pdf`). */
export function itemPath(drive: DriveRecord, item: DriveItemRecord): string {
  const names: string[] = [];
  for (let at: DriveItemRecord | undefined = item; at && at.parentId !== null;) {
    names.unshift(encodeURIComponent(at.name));
    const parent: string = at.parentId;
    at = drive.items.find((i) => i.id === parent);
  }
  return names.join('/');
}

/**
 * An item's `webUrl` as SharePoint gives it: the library URL and the item's path, except an Office document,
 * whose `webUrl` is a `_layouts/15/Doc.aspx` page (which a reference attachment's `contentUrl` must not be).
 */
export function itemWebUrl(baseUrl: string, drive: DriveRecord, item: DriveItemRecord): string {
  if (!item.folder && OFFICE.test(item.name))
    return `${baseUrl}/_sandbox/sites/${drive.teamId}/_layouts/15/Doc.aspx?sourcedoc=%7B${itemGuid(item)}%7D&file=${encodeURIComponent(item.name)}&action=default`;
  const path = itemPath(drive, item);
  return path ? `${libraryUrl(baseUrl, drive)}/${path}` : libraryUrl(baseUrl, drive);
}

/** A drive item as `GET /drives/{d}/items/{i}` answers it; `webUrl` serves the bytes from the sandbox. */
export function driveItemJson(
  ctx: RouteContext,
  drive: DriveRecord,
  item: DriveItemRecord,
): Record<string, unknown> {
  const size = item.content ? Buffer.byteLength(item.content, 'base64') : 0;
  const json: Record<string, unknown> = {
    id: item.id,
    name: item.name,
    createdDateTime: item.createdDateTime,
    lastModifiedDateTime: item.createdDateTime,
    eTag: `"{${itemGuid(item)}},${item.version ?? 1}"`,
    size,
    webUrl: itemWebUrl(ctx.baseUrl, drive, item),
    parentReference: { driveId: drive.id, driveType: 'documentLibrary', id: item.parentId },
  };
  if (item.folder) {
    json.folder = { childCount: drive.items.filter((i) => i.parentId === item.id).length };
  } else json.file = { mimeType: item.mimeType ?? 'application/octet-stream' };
  return json;
}
