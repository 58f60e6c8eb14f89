import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  addChatMessages,
  addSeedChats,
  chatsOf,
  findChat,
  GRAPH_ROOT_PLACEHOLDER,
  seedChatSchema,
  seedMessageSchema,
  type ChatMessageRecord,
  type ChatRecord,
} from '../chatState';
import { GraphError, badRequest, conflict, forbidden, notFound } from '../errors';
import {
  assertApplicationCaller,
  assertNotFuture,
  attachmentRefs,
  decodeBase64,
  HOSTED_CONTENT_LIMIT,
  hostedContentRefs,
  IMPORT_ONLY_MESSAGE,
  INITIATOR_MESSAGE,
  parseGraphTime,
  parseInput,
  rewriteHostedContentRefs,
} from '../rules';
import type { Route, RouteContext } from '../router';
import { page, SANDBOX_TENANT_ID, userJson } from './common';
import { accessTokenValid } from './identity';

/** Graph's largest `$top` for chats and chat messages. */
export const CHAT_PAGE_MAX = 50;

/** The user behind a delegated token issued by the sandbox's authority, or undefined for app-only callers. */
export function delegatedUser(ctx: RouteContext): string | undefined {
  const caller = ctx.caller;
  if (!caller?.delegated) return undefined;
  if (
    !caller.userId ||
    !caller.tokenId ||
    !accessTokenValid(ctx.store, caller.tokenId, caller.userId, ctx.now)
  )
    throw new GraphError(
      401,
      'InvalidAuthenticationToken',
      'Lifetime validation failed, the token is expired.',
    );
  return caller.userId;
}

function requireMe(ctx: RouteContext): string {
  const userId = delegatedUser(ctx);
  if (!userId) throw badRequest('/me request is only valid with delegated authentication flow.');
  return userId;
}

function onlyOptions(ctx: RouteContext, allowed: string[]): void {
  for (const key of ctx.query.keys()) {
    if (key.startsWith('$') && !allowed.includes(key))
      throw badRequest(
        `Query option '${key}' is not supported on this resource (supported: ${allowed.join(', ')})`,
      );
  }
}

function chatJson(ctx: RouteContext, chat: ChatRecord, expandMembers: boolean): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: chat.id,
    topic: chat.topic,
    createdDateTime: chat.createdDateTime,
    lastUpdatedDateTime: chat.lastUpdatedDateTime,
    chatType: chat.chatType,
    webUrl: `https://teams.microsoft.com/l/chat/${encodeURIComponent(chat.id)}/0?tenantId=${SANDBOX_TENANT_ID}`,
    tenantId: SANDBOX_TENANT_ID,
    onlineMeetingInfo: null,
    migrationMode: chat.migrationMode ?? null,
  };
  if (expandMembers) {
    json.members = chat.memberIds.slice(0, 25).map((userId) => {
      const user = ctx.store.user(userId);
      return {
        '@odata.type': '#microsoft.graph.aadUserConversationMember',
        id: Buffer.from(`${chat.id}#${userId}`).toString('base64'),
        roles: ['owner'],
        displayName: user?.displayName ?? null,
        userId,
        email: user?.mail ?? null,
        tenantId: SANDBOX_TENANT_ID,
      };
    });
  }
  return json;
}

function listChatsOf(ctx: RouteContext, userId: string, path: string) {
  onlyOptions(ctx, ['$top', '$skiptoken', '$expand', '$filter', '$orderby']);
  const expand = ctx.query.get('$expand');
  const parts = expand ? expand.split(',').map((s) => s.trim()) : [];
  const unknown = parts.find((p) => p !== 'members' && p !== 'lastMessagePreview');
  if (unknown)
    throw badRequest(`Could not find a property named '${unknown}' to expand on 'microsoft.graph.chat'`);
  const orderby = ctx.query.get('$orderby');
  if (orderby !== null && orderby !== 'lastMessagePreview/createdDateTime desc')
    throw badRequest(
      `$orderby '${orderby}' is not supported: only 'lastMessagePreview/createdDateTime desc' is`,
    );
  const chats = chatsOf(ctx.store)
    .filter((chat) => chat.memberIds.includes(userId))
    .map((chat) => chatJson(ctx, chat, parts.includes('members')));
  return {
    status: 200,
    body: page(ctx, chats, path, { maxTop: CHAT_PAGE_MAX, defaultTop: 20, context: 'chats' }),
  };
}

function requireChat(ctx: RouteContext): ChatRecord {
  const chat = findChat(ctx.store, ctx.params.chatId ?? '');
  if (!chat) throw notFound(`Chat '${ctx.params.chatId}' was not found or the caller is not a member`);
  const userId = delegatedUser(ctx);
  if (userId && !chat.memberIds.includes(userId))
    throw forbidden(`The signed-in user is not a member of chat '${chat.id}'`);
  return chat;
}

function messageJson(ctx: RouteContext, chat: ChatRecord, m: ChatMessageRecord) {
  const user = ctx.store.user(m.fromUserId);
  return {
    id: m.id,
    replyToId: null,
    etag: m.lastModifiedDateTime === m.createdDateTime ? m.id : String(Date.parse(m.lastModifiedDateTime)),
    messageType: 'message',
    createdDateTime: m.createdDateTime,
    lastModifiedDateTime: m.lastModifiedDateTime,
    lastEditedDateTime: m.lastEditedDateTime,
    deletedDateTime: m.deletedDateTime,
    subject: null,
    summary: null,
    chatId: chat.id,
    importance: 'normal',
    locale: 'en-us',
    webUrl: null,
    channelIdentity: null,
    policyViolation: null,
    eventDetail: null,
    from: {
      application: null,
      device: null,
      user: { id: m.fromUserId, displayName: user?.displayName ?? null, userIdentityType: 'aadUser' },
    },
    body: {
      contentType: m.body.contentType,
      content: m.body.content.split(GRAPH_ROOT_PLACEHOLDER).join(`${ctx.baseUrl}/v1.0`),
    },
    attachments: m.attachments,
    mentions: [],
    reactions: m.reactions,
  };
}

const FILTER =
  /^(lastModifiedDateTime|createdDateTime) (gt|lt) (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,7})?Z)$/;

function listMessages(ctx: RouteContext) {
  onlyOptions(ctx, ['$top', '$skiptoken', '$orderby', '$filter']);
  const chat = requireChat(ctx);
  const orderby = ctx.query.get('$orderby') ?? 'lastModifiedDateTime desc';
  const field = /^(lastModifiedDateTime|createdDateTime)( desc)?$/.exec(orderby)?.[1] as
    'lastModifiedDateTime' | 'createdDateTime' | undefined;
  if (!field || !orderby.endsWith(' desc'))
    throw badRequest(
      `$orderby '${orderby}' is not supported: use 'lastModifiedDateTime desc' or 'createdDateTime desc'`,
    );
  let messages = [...chat.messages];
  const filter = ctx.query.get('$filter');
  if (filter !== null) {
    const clauses = filter.split(/\s+and\s+/).map((clause) => {
      const m = FILTER.exec(clause.trim());
      if (!m)
        throw badRequest(
          `$filter '${filter}' is not supported: use 'lastModifiedDateTime gt|lt <time>' or 'createdDateTime lt <time>'`,
        );
      if (m[1] === 'createdDateTime' && m[2] !== 'lt')
        throw badRequest('$filter on createdDateTime supports lt only');
      return {
        field: m[1] as 'lastModifiedDateTime' | 'createdDateTime',
        op: m[2],
        at: Date.parse(m[3] ?? ''),
      };
    });
    for (const clause of clauses.filter((c) => c.field === field)) {
      messages = messages.filter((m) => {
        const t = Date.parse(m[clause.field]);
        return clause.op === 'gt' ? t > clause.at : t < clause.at;
      });
    }
  }
  messages.sort((a, b) => Date.parse(b[field]) - Date.parse(a[field]) || Number(b.id) - Number(a.id));
  const body = page(
    ctx,
    messages.map((m) => messageJson(ctx, chat, m)),
    `/chats/${encodeURIComponent(chat.id)}/messages`,
    { maxTop: CHAT_PAGE_MAX, defaultTop: 20, context: `chats('${chat.id}')/messages` },
  );
  return { status: 200, body: { '@odata.count': messages.length, ...body } };
}

const startMigrationSchema = z.object({ conversationCreationDateTime: z.unknown().optional() }).strict();

/**
 * `POST /chats/{id}/startMigration`: opens a chat for import (app-only); 400 when it is already in migration;
 * `conversationCreationDateTime` only earlier than the chat's `createdDateTime`, which it replaces.
 */
function startChatMigration(ctx: RouteContext) {
  if (ctx.caller?.delegated)
    throw forbidden('startMigration needs an application token (Teamwork.Migrate.All)');
  const chat = requireChat(ctx);
  if (chat.migrationMode === 'inProgress') throw badRequest(`Chat '${chat.id}' is already in migration.`);
  const input = parseInput(startMigrationSchema, ctx.body ?? {}, 'startMigration');
  if (input.conversationCreationDateTime !== undefined) {
    const time = parseGraphTime(input.conversationCreationDateTime, 'conversationCreationDateTime');
    assertNotFuture(time, Date.now(), 'conversation');
    if (time.ms >= Date.parse(chat.createdDateTime))
      throw badRequest(
        `conversationCreationDateTime ${time.iso} must be earlier than chat '${chat.id}' createdDateTime ${chat.createdDateTime}`,
      );
    chat.createdDateTime = time.iso;
  }
  chat.migrationMode = 'inProgress';
  chat.initiator = ctx.caller?.app ?? null;
  return { status: 204 };
}

/** `POST /chats/{id}/completeMigration`: ends the chat's import session; only its initiator may. */
function completeChatMigration(ctx: RouteContext) {
  const chat = requireChat(ctx);
  if (chat.migrationMode === 'completed') throw badRequest('Chat has already been finalized.');
  if (chat.migrationMode !== 'inProgress') throw badRequest(`Chat '${chat.id}' is not in migration mode.`);
  if (chat.initiator && ctx.caller && ctx.caller.app !== chat.initiator) throw forbidden(INITIATOR_MESSAGE);
  chat.migrationMode = 'completed';
  return { status: 204 };
}

const USER_BIND = /^https?:\/\/[^/]+\/(?:v1\.0|beta)\/users\(['"]?([^'")]+)['"]?\)$/i;

const createChatSchema = z.object({
  chatType: z.enum(['oneOnOne', 'group']),
  topic: z.string().nullable().optional(),
  members: z.array(
    z.looseObject({
      '@odata.type': z.literal('#microsoft.graph.aadUserConversationMember'),
      roles: z.array(z.string()),
      'user@odata.bind': z.string(),
    }),
  ),
});

/**
 * `POST /chats`: every member an `aadUserConversationMember` bound to a user of the tenant, at least two; a
 * `oneOnOne` chat has exactly two, and there is one per pair: asked again, it answers the existing chat.
 */
function createChat(ctx: RouteContext) {
  const input = parseInput(createChatSchema, ctx.body, 'chat');
  if (input.members.length < 2)
    throw badRequest(`A chat needs at least two members; ${input.members.length} given.`);
  const ids = input.members.map((m, i) => {
    const bound = USER_BIND.exec(m['user@odata.bind']);
    if (!bound)
      throw badRequest(
        `members[${i}].user@odata.bind '${m['user@odata.bind']}' is not https://graph.microsoft.com/v1.0/users('<id>')`,
      );
    const user = ctx.store.user(decodeURIComponent(bound[1] ?? ''));
    if (!user) throw notFound(`members[${i}]: user '${bound[1]}' is not a user of this tenant`);
    return user.id;
  });
  const members = [...new Set(ids)];
  if (members.length !== ids.length) throw badRequest('A chat lists a member more than once.');
  const delegated = delegatedUser(ctx);
  if (delegated && !members.includes(delegated))
    throw forbidden('A delegated caller must be a member of the chat it creates.');
  const now = new Date(ctx.now).toISOString();
  if (input.chatType === 'oneOnOne') {
    if (members.length !== 2)
      throw badRequest(`A oneOnOne chat has exactly two members; ${members.length} given.`);
    const id = `19:${[...members].sort().join('_')}@unq.gbl.spaces`;
    const existing = findChat(ctx.store, id);
    if (existing) return { status: 201, body: chatJson(ctx, existing, false) };
    const chat: ChatRecord = {
      id,
      topic: null,
      chatType: 'oneOnOne',
      createdDateTime: now,
      lastUpdatedDateTime: now,
      memberIds: members,
      messages: [],
    };
    chatsOf(ctx.store).push(chat);
    return { status: 201, body: chatJson(ctx, chat, false) };
  }
  const chat: ChatRecord = {
    id: `19:${randomBytes(16).toString('hex')}@thread.v2`,
    topic: input.topic ?? null,
    chatType: 'group',
    createdDateTime: now,
    lastUpdatedDateTime: now,
    memberIds: members,
    messages: [],
  };
  chatsOf(ctx.store).push(chat);
  return { status: 201, body: chatJson(ctx, chat, false) };
}

const importChatMessageSchema = z.object({
  body: z.object({ contentType: z.enum(['html', 'text']).optional(), content: z.string() }),
  createdDateTime: z.unknown(),
  from: z.object({
    user: z.object({
      id: z.string(),
      displayName: z.string().nullable().optional(),
      userIdentityType: z.string().optional(),
    }),
  }),
  attachments: z
    .array(
      z.looseObject({
        id: z.string().min(1),
        contentType: z.string(),
        contentUrl: z.string().nullable().optional(),
        name: z.string().nullable().optional(),
      }),
    )
    .optional(),
  mentions: z.array(z.looseObject({ id: z.number().int() })).optional(),
  reactions: z.array(z.looseObject({ reactionType: z.string() })).optional(),
  hostedContents: z
    .array(
      z.object({
        '@microsoft.graph.temporaryId': z.string().min(1),
        contentBytes: z.string(),
        contentType: z.string(),
      }),
    )
    .optional(),
});

/**
 * `POST /chats/{id}/messages` of an import: only by an app, only while the chat is in migration (after
 * `startMigration`, before `completeMigration`), `from` a member of the chat, `createdDateTime` not before
 * the chat's creation nor in the future and unique to the millisecond in the chat (409 otherwise), every
 * inline image and attachment referenced by the body. Counted against the app's chat import budget.
 */
function importChatMessage(ctx: RouteContext) {
  const chat = requireChat(ctx);
  if (ctx.caller) assertApplicationCaller(ctx.caller);
  if (chat.migrationMode !== 'inProgress')
    throw forbidden(
      `${IMPORT_ONLY_MESSAGE}: chat '${chat.id}' is ${chat.migrationMode === 'completed' ? 'no longer' : 'not'} in migration mode`,
    );
  if (chat.initiator && ctx.caller && ctx.caller.app !== chat.initiator) throw forbidden(INITIATOR_MESSAGE);
  const input = parseInput(importChatMessageSchema, ctx.body, 'chat message');
  const user = input.from.user;
  if (user.userIdentityType !== 'aadUser')
    throw badRequest(`from.user.userIdentityType must be 'aadUser', not '${user.userIdentityType ?? ''}'`);
  const author = ctx.store.user(user.id);
  if (!author) throw badRequest(`from.user.id '${user.id}' is not the object id of a user of this tenant`);
  if (!chat.memberIds.includes(author.id))
    throw badRequest(`from.user.id '${user.id}' is not a member of chat '${chat.id}'`);
  const now = Date.now();
  const created = parseGraphTime(input.createdDateTime, 'createdDateTime');
  assertNotFuture(created, now, 'message');
  if (created.ms < Date.parse(chat.createdDateTime))
    throw badRequest(
      `createdDateTime ${created.iso} is earlier than chat '${chat.id}' createdDateTime ${chat.createdDateTime}`,
    );
  const refs = hostedContentRefs(input.body.content);
  const hosted = input.hostedContents ?? [];
  for (const ref of refs)
    if (!hosted.some((h) => h['@microsoft.graph.temporaryId'] === ref))
      throw badRequest(
        `body references ../hostedContents/${ref}/$value but no hostedContents item has that temporaryId`,
      );
  for (const h of hosted) {
    const bytes = decodeBase64(h.contentBytes);
    if (!/^image\//i.test(h.contentType) || !bytes || bytes.length > HOSTED_CONTENT_LIMIT)
      throw badRequest(
        `hostedContents '${h['@microsoft.graph.temporaryId']}': an inline image (image/*, base64, at most 4 MB) is the only hosted content`,
      );
  }
  const attachmentIds = (input.attachments ?? []).map((a) => a.id);
  const unlinked = attachmentRefs(input.body.content).find((r) => !attachmentIds.includes(r));
  if (unlinked !== undefined)
    throw badRequest(`body has <attachment id="${unlinked}"> but attachments has no item with that id`);
  const id = String(created.ms);
  if (chat.messages.some((m) => m.id === id))
    throw conflict(
      `A message with createdDateTime ${created.iso} already exists in chat '${chat.id}' (id ${id}); createdDateTime must be unique to the millisecond per chat`,
    );
  const hostedContents = hosted.map((h, i) => ({
    id: Buffer.from(`id=${i},type=1,url=${id}`).toString('base64url'),
    temporaryId: h['@microsoft.graph.temporaryId'],
    contentType: h.contentType,
    contentBytes: h.contentBytes,
  }));
  const content = rewriteHostedContentRefs(input.body.content, (temporaryId) => {
    const hc = hostedContents.find((h) => h.temporaryId === temporaryId);
    return `${GRAPH_ROOT_PLACEHOLDER}/chats/${encodeURIComponent(chat.id)}/messages/${id}/hostedContents/${hc?.id ?? ''}/$value`;
  });
  const record: ChatMessageRecord = {
    id,
    createdDateTime: created.iso,
    lastModifiedDateTime: created.iso,
    lastEditedDateTime: null,
    deletedDateTime: null,
    fromUserId: author.id,
    body: { contentType: input.body.contentType ?? 'text', content },
    attachments: input.attachments ?? [],
    reactions: input.reactions ?? [],
    hostedContents: hostedContents.map(({ id: hcId, contentType, contentBytes }) => ({
      id: hcId,
      contentType,
      contentBytes,
    })),
  };
  const at = chat.messages.findIndex((m) => Number(m.id) > created.ms);
  if (at < 0) chat.messages.push(record);
  else chat.messages.splice(at, 0, record);
  return { status: 201, body: messageJson(ctx, chat, record) };
}

const addSchema = z.union([
  z.object({ chats: z.array(seedChatSchema) }),
  z.object({ chatId: z.string().min(1), messages: z.array(seedMessageSchema).min(1) }),
]);

/**
 * Chats (delegated `/me/chats`, `/chats`, `/users/{id}/chats`; `$top` at most 50, `$expand=members`, paging), their
 * messages (`$top` at most 50; `$orderby` lastModifiedDateTime desc (default) or createdDateTime desc; `$filter`
 * lastModifiedDateTime gt/lt and createdDateTime lt, applied only when ordered by the same property), inline
 * images (`hostedContents/{id}/$value`), `/me`, and `POST /_sandbox/chats` to create chats or add messages.
 */
export const chatRoutes: Route[] = [
  {
    method: 'GET',
    path: '/me',
    handler: (ctx) => {
      const user = ctx.store.user(requireMe(ctx));
      if (!user) throw notFound('The signed-in user no longer exists');
      return {
        status: 200,
        body: {
          '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users/$entity',
          ...userJson(user),
        },
      };
    },
  },
  { method: 'GET', path: '/me/chats', handler: (ctx) => listChatsOf(ctx, requireMe(ctx), '/me/chats') },
  { method: 'GET', path: '/chats', handler: (ctx) => listChatsOf(ctx, requireMe(ctx), '/chats') },
  {
    method: 'GET',
    path: '/users/{userId}/chats',
    handler: (ctx) => {
      const user = ctx.store.user(ctx.params.userId ?? '');
      if (!user) throw notFound(`User '${ctx.params.userId}' does not exist`);
      const me = delegatedUser(ctx);
      if (me && me !== user.id) throw forbidden("A delegated token may list only the signed-in user's chats");
      return listChatsOf(ctx, user.id, `/users/${encodeURIComponent(user.id)}/chats`);
    },
  },
  {
    method: 'GET',
    path: '/chats/{chatId}',
    handler: (ctx) => ({
      status: 200,
      body: chatJson(ctx, requireChat(ctx), ctx.query.get('$expand') === 'members'),
    }),
  },
  { method: 'GET', path: '/chats/{chatId}/messages', handler: listMessages },
  { method: 'POST', path: '/chats', mutates: true, handler: createChat },
  {
    method: 'POST',
    path: '/chats/{chatId}/messages',
    throttle: 'chat-message',
    mutates: true,
    handler: importChatMessage,
  },
  {
    method: 'GET',
    path: '/chats/{chatId}/messages/{messageId}',
    handler: (ctx) => {
      const chat = requireChat(ctx);
      const message = chat.messages.find((m) => m.id === ctx.params.messageId);
      if (!message) throw notFound(`Message '${ctx.params.messageId}' was not found in chat '${chat.id}'`);
      return { status: 200, body: messageJson(ctx, chat, message) };
    },
  },
  { method: 'POST', path: '/chats/{chatId}/startMigration', mutates: true, handler: startChatMigration },
  {
    method: 'POST',
    path: '/chats/{chatId}/completeMigration',
    body: 'none',
    mutates: true,
    handler: completeChatMigration,
  },
  { method: 'GET', path: '/me/chats/{chatId}/messages', handler: listMessages },
  {
    method: 'GET',
    path: '/chats/{chatId}/messages/{messageId}/hostedContents/{hostedContentId}/$value',
    handler: (ctx) => {
      const chat = requireChat(ctx);
      const message = chat.messages.find((m) => m.id === ctx.params.messageId);
      const content = message?.hostedContents.find((h) => h.id === ctx.params.hostedContentId);
      if (!content) throw notFound(`Hosted content '${ctx.params.hostedContentId}' was not found`);
      return {
        status: 200,
        headers: { 'content-type': content.contentType },
        body: Buffer.from(content.contentBytes, 'base64'),
      };
    },
  },
  {
    method: 'POST',
    path: '/_sandbox/chats',
    kind: 'inspection',
    mutates: true,
    handler: (ctx) => {
      const input = parseInput(addSchema, ctx.body, 'chats');
      if ('chats' in input) {
        const created = addSeedChats(ctx.store, input.chats, ctx.now);
        return {
          status: 201,
          body: { value: created.map((c) => ({ id: c.id, messages: c.messages.length })) },
        };
      }
      const added = addChatMessages(ctx.store, input.chatId, input.messages, ctx.now);
      return {
        status: 201,
        body: {
          chatId: input.chatId,
          value: added.map((m) => ({ id: m.id, createdDateTime: m.createdDateTime })),
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/_sandbox/chats',
    kind: 'inspection',
    handler: (ctx) => ({
      status: 200,
      body: {
        value: chatsOf(ctx.store).map((c) => ({
          id: c.id,
          topic: c.topic,
          chatType: c.chatType,
          memberIds: c.memberIds,
          messages: c.messages.length,
        })),
      },
    }),
  },
];
