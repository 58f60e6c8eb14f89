import { z } from 'zod';
import { checkReferenceAttachments } from '../attachments';
import { GraphError, badRequest, conflict, forbidden, notFound } from '../errors';
import {
  HOSTED_CONTENT_LIMIT,
  IMPORT_ONLY_MESSAGE,
  MESSAGE_SIZE_LIMIT,
  assertApplicationCaller,
  assertNotFuture,
  attachmentRefs,
  type GraphTime,
  decodeBase64,
  hostedContentRefs,
  messageSize,
  parseGraphTime,
  parseInput,
  rewriteHostedContentRefs,
} from '../rules';
import type { Route, RouteContext, RouteResponse } from '../router';
import type { ChannelRecord, HostedContentRecord, MessageRecord, TeamRecord } from '../state';
import {
  GRAPH_ROOT,
  assertChannelInitiator,
  liveChannels,
  messageJson,
  page,
  requireChannel,
  requireMessage,
  requireReply,
  requireTeam,
} from './common';

const identity = z.looseObject({
  id: z.string(),
  displayName: z.string().nullable().optional(),
  userIdentityType: z.string().optional(),
});

const postMessageSchema = z.object({
  body: z.object({
    contentType: z.enum(['html', 'text']).optional(),
    content: z.string(),
  }),
  createdDateTime: z.unknown().optional(),
  from: z
    .object({
      user: z.object({
        id: z.string(),
        displayName: z.string().nullable().optional(),
        userIdentityType: z.string().optional(),
      }),
    })
    .nullable()
    .optional(),
  subject: z.string().nullable().optional(),
  summary: z.string().nullable().optional(),
  importance: z.enum(['normal', 'high', 'urgent']).optional(),
  messageType: z.literal('message').optional(),
  attachments: z
    .array(
      z.looseObject({
        id: z.string().min(1),
        contentType: z.string(),
        contentUrl: z.string().nullable().optional(),
        content: z.string().nullable().optional(),
        name: z.string().nullable().optional(),
      }),
    )
    .optional(),
  mentions: z
    .array(
      z.looseObject({
        id: z.number().int(),
        mentionText: z.string().nullable().optional(),
        mentioned: z.looseObject({
          user: identity.optional(),
          conversation: z
            .looseObject({
              id: z.string(),
              displayName: z.string().nullable().optional(),
              conversationIdentityType: z.string().optional(),
            })
            .optional(),
        }),
      }),
    )
    .optional(),
  reactions: z
    .array(
      z.looseObject({
        reactionType: z.string(),
        createdDateTime: z.unknown(),
        user: z.looseObject({ user: identity }),
      }),
    )
    .optional(),
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

type PostMessage = z.infer<typeof postMessageSchema>;

function hostedContentId(messageId: string, temporaryId: string): string {
  return Buffer.from(`id=x_${messageId}_${temporaryId},type=1`, 'utf8').toString('base64url');
}

function checkHostedContents(
  input: PostMessage,
): { temporaryId: string; contentType: string; bytes: Buffer }[] {
  const refs = hostedContentRefs(input.body.content);
  const items = input.hostedContents ?? [];
  const ids = items.map((h) => h['@microsoft.graph.temporaryId']);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) throw badRequest(`hostedContents: temporaryId '${dup}' is used twice`);
  const missing = refs.find((r) => !ids.includes(r));
  if (missing !== undefined) {
    throw badRequest(
      `body references ../hostedContents/${missing}/$value but no hostedContents item has @microsoft.graph.temporaryId '${missing}'`,
    );
  }
  const unused = ids.find((id) => !refs.includes(id));
  if (unused !== undefined) {
    throw badRequest(
      `hostedContents item with @microsoft.graph.temporaryId '${unused}' is not referenced by the body as ../hostedContents/${unused}/$value`,
    );
  }
  return items.map((h) => {
    const temporaryId = h['@microsoft.graph.temporaryId'];
    if (!/^image\//i.test(h.contentType)) {
      throw badRequest(
        `hostedContents '${temporaryId}': contentType '${h.contentType}' is not an image; inline images are the only hosted content`,
      );
    }
    const bytes = decodeBase64(h.contentBytes);
    if (!bytes) throw badRequest(`hostedContents '${temporaryId}': contentBytes is not valid base64`);
    if (bytes.length > HOSTED_CONTENT_LIMIT) {
      throw badRequest(
        `hostedContents '${temporaryId}' is ${bytes.length} bytes; an inline image may be at most ${HOSTED_CONTENT_LIMIT} bytes (4 MB)`,
      );
    }
    return { temporaryId, contentType: h.contentType, bytes };
  });
}

function checkAttachments(input: PostMessage): void {
  const refs = attachmentRefs(input.body.content);
  const ids = (input.attachments ?? []).map((a) => a.id);
  const missing = refs.find((r) => !ids.includes(r));
  if (missing !== undefined)
    throw badRequest(
      `body has <attachment id="${missing}"> but attachments has no item with id '${missing}'`,
    );
  const unused = ids.find((id) => !refs.includes(id));
  if (unused !== undefined)
    throw badRequest(
      `attachments item '${unused}' is not referenced by the body as <attachment id="${unused}"></attachment>`,
    );
}

const AT_TAG = /<at\b[^>]*\bid\s*=\s*["']([^"']*)["'][^>]*>/gi;
/** The reaction types the service names instead of an emoji. */
const NAMED_REACTIONS = new Set(['like', 'angry', 'sad', 'laugh', 'heart', 'surprised']);
/** Reactions one message may carry. */
export const MAX_REACTIONS = 250;
const SINGLE_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');

/**
 * Mentions: the body's `<at id>` tags and `mentions[]` one-to-one, ids contiguous from 0; each mentions a user
 * of the tenant (`aadUser`), a channel of this team, or this team.
 */
function checkMentions(ctx: RouteContext, team: TeamRecord, input: PostMessage): void {
  const tags = [...input.body.content.matchAll(AT_TAG)].map((m) => m[1] ?? '');
  const mentions = input.mentions ?? [];
  const dupTag = tags.find((t, i) => tags.indexOf(t) !== i);
  if (dupTag !== undefined) throw badRequest(`mentions: the body has <at id="${dupTag}"> more than once`);
  const ids = mentions.map((m) => m.id);
  const dupId = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dupId !== undefined) throw badRequest(`mentions: id ${dupId} is used by more than one mention`);
  const missing = tags.find((t) => !ids.some((id) => String(id) === t));
  if (missing !== undefined)
    throw badRequest(
      `mentions: the body has <at id="${missing}"> but mentions has no item with id ${missing}`,
    );
  const unused = ids.find((id) => !tags.includes(String(id)));
  if (unused !== undefined)
    throw badRequest(`mentions: item ${unused} has no <at id="${unused}"> in the body`);
  const gap = [...ids].sort((a, b) => a - b).findIndex((id, i) => id !== i);
  if (gap !== -1) throw badRequest(`mentions: ids must be contiguous from 0; ${gap} is missing`);
  for (const m of mentions) {
    const { user, conversation } = m.mentioned;
    if (!!user === !!conversation)
      throw badRequest(`mentions: item ${m.id} must mention exactly one user or one conversation`);
    if (user) {
      if (user.userIdentityType !== 'aadUser')
        throw badRequest(`mentions: item ${m.id} user.userIdentityType must be 'aadUser'`);
      if (!ctx.store.data.users.some((u) => u.id.toLowerCase() === user.id.toLowerCase()))
        throw badRequest(`mentions: item ${m.id} mentions '${user.id}', which is not a user of this tenant`);
    } else if (conversation?.conversationIdentityType === 'channel') {
      if (!liveChannels(team).some((c) => c.id === conversation.id))
        throw badRequest(
          `mentions: item ${m.id} mentions channel '${conversation.id}', which is not a channel of this team`,
        );
    } else if (conversation?.conversationIdentityType === 'team') {
      if (conversation.id !== team.id)
        throw badRequest(`mentions: item ${m.id} mentions team '${conversation.id}', which is not this team`);
    } else {
      throw badRequest(
        `mentions: item ${m.id} conversationIdentityType must be 'channel' or 'team', not '${conversation?.conversationIdentityType ?? ''}'`,
      );
    }
  }
}

/**
 * Reactions (their number, at most 250, is checked with the request's shape): each by a user of the tenant (`aadUser`), once per user and reaction type; the type
 * a single emoji or one of the named reactions; dated neither before the message nor in the future.
 */
function checkReactions(ctx: RouteContext, input: PostMessage, created: GraphTime, now: number): void {
  const reactions = input.reactions ?? [];
  const seen = new Set<string>();
  reactions.forEach((r, i) => {
    if (!NAMED_REACTIONS.has(r.reactionType) && !SINGLE_EMOJI.test(r.reactionType))
      throw badRequest(
        `reactions: item ${i} reactionType '${r.reactionType}' is neither a single emoji nor one of ${[...NAMED_REACTIONS].join(', ')}`,
      );
    const user = r.user.user;
    if (user.userIdentityType !== 'aadUser')
      throw badRequest(`reactions: item ${i} user.userIdentityType must be 'aadUser'`);
    if (!ctx.store.data.users.some((u) => u.id.toLowerCase() === user.id.toLowerCase()))
      throw badRequest(`reactions: item ${i} is by '${user.id}', which is not a user of this tenant`);
    const key = `${user.id.toLowerCase()} ${r.reactionType}`;
    if (seen.has(key))
      throw badRequest(`reactions: user '${user.id}' reacts with ${r.reactionType} more than once`);
    seen.add(key);
    const time = parseGraphTime(r.createdDateTime, `reactions: item ${i} createdDateTime`);
    if (time.ms < created.ms)
      throw badRequest(
        `reactions: item ${i} createdDateTime ${time.iso} is earlier than the message's ${created.iso}`,
      );
    assertNotFuture(time, now, `reactions: item ${i}`);
  });
}

function postMessage(ctx: RouteContext, asReply: boolean): RouteResponse {
  const team = requireTeam(ctx);
  const channel = requireChannel(ctx, team);
  const parent = asReply ? requireMessage(ctx, channel) : null;
  if (ctx.caller) assertApplicationCaller(ctx.caller);
  if (channel.migrationMode !== 'inProgress') {
    throw forbidden(
      `${IMPORT_ONLY_MESSAGE}: channel '${channel.displayName}' is ${channel.migrationMode === 'completed' ? 'no longer' : 'not'} in migration mode`,
    );
  }
  assertChannelInitiator(ctx, team, channel);
  const input = parseInput(postMessageSchema, ctx.body, asReply ? 'reply' : 'message');
  const reactionCount = input.reactions?.length ?? 0;
  if (reactionCount > 0 && !ctx.settings.reactions)
    throw badRequest('reactions: this tenant does not accept reactions on imported messages');
  if (reactionCount > MAX_REACTIONS)
    throw badRequest(`reactions: ${reactionCount} reactions; a message may have at most ${MAX_REACTIONS}`);
  const size = messageSize(input.body, input.mentions, input.reactions);
  if (size > MESSAGE_SIZE_LIMIT) {
    throw new GraphError(
      413,
      'RequestEntityTooLarge',
      `Request Entity too large: the message (body, mentions and reactions) is ${size} bytes, the limit is ${MESSAGE_SIZE_LIMIT}`,
    );
  }
  const now = Date.now();
  const created =
    input.createdDateTime === undefined
      ? parseGraphTime(new Date(now).toISOString(), 'createdDateTime')
      : parseGraphTime(input.createdDateTime, 'createdDateTime');
  assertNotFuture(created, now, asReply ? 'reply' : 'message');
  if (created.ms < Date.parse(channel.createdDateTime)) {
    throw badRequest(
      `createdDateTime ${created.iso} is earlier than channel '${channel.displayName}' createdDateTime ${channel.createdDateTime}`,
    );
  }
  if (parent && created.ms < Date.parse(parent.createdDateTime)) {
    throw badRequest(
      `reply createdDateTime ${created.iso} is earlier than its thread's createdDateTime ${parent.createdDateTime}`,
    );
  }
  if (input.from) {
    const user = input.from.user;
    if (user.userIdentityType !== 'aadUser') {
      throw badRequest(`from.user.userIdentityType must be 'aadUser', not '${user.userIdentityType ?? ''}'`);
    }
    if (!ctx.store.data.users.some((u) => u.id.toLowerCase() === user.id.toLowerCase())) {
      throw badRequest(`from.user.id '${user.id}' is not the object id of a user of this tenant`);
    }
  }
  const hosted = checkHostedContents(input);
  checkAttachments(input);
  checkReferenceAttachments(ctx.store, ctx.baseUrl, team, channel, input.attachments ?? []);
  checkMentions(ctx, team, input);
  checkReactions(ctx, input, created, now);
  const id = String(created.ms);
  const existing = ctx.store.messageInChannel(channel.id, id);
  if (existing) {
    throw conflict(
      `A message with createdDateTime ${created.iso} already exists in channel '${channel.displayName}' (id ${id}${existing.parent ? `, a reply to ${existing.parent.id}` : ''}); createdDateTime must be unique to the millisecond per channel`,
    );
  }

  const messagePath = parent ? `messages/${parent.id}/replies/${id}` : `messages/${id}`;
  const hostedContents: HostedContentRecord[] = hosted.map((h) => ({
    id: hostedContentId(id, h.temporaryId),
    temporaryId: h.temporaryId,
    contentType: h.contentType,
    contentBytes: h.bytes.toString('base64'),
  }));
  const content = rewriteHostedContentRefs(
    input.body.content,
    (temporaryId) =>
      `${GRAPH_ROOT}/teams/${team.id}/channels/${channel.id}/${messagePath}/hostedContents/${hostedContentId(id, temporaryId)}/$value`,
  );
  const message: MessageRecord = {
    id,
    replyToId: parent?.id ?? null,
    createdDateTime: created.iso,
    from: input.from
      ? {
          user: {
            id: input.from.user.id,
            displayName: input.from.user.displayName ?? null,
            userIdentityType: 'aadUser',
          },
        }
      : null,
    subject: input.subject ?? null,
    summary: input.summary ?? null,
    importance: input.importance ?? 'normal',
    body: { contentType: input.body.contentType ?? 'text', content },
    attachments: input.attachments ?? [],
    mentions: input.mentions ?? [],
    reactions: input.reactions ?? [],
    hostedContents,
    replies: [],
    postedAt: now,
  };
  ctx.store.addMessage(channel, message, parent);
  return {
    status: 201,
    body: {
      '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#teams('${team.id}')/channels('${encodeURIComponent(channel.id)}')/messages/$entity`,
      ...messageJson(team, channel, message),
    },
  };
}

function addressed(ctx: RouteContext): { team: TeamRecord; channel: ChannelRecord; message: MessageRecord } {
  const team = requireTeam(ctx);
  const channel = requireChannel(ctx, team);
  const parent = requireMessage(ctx, channel);
  return {
    team,
    channel,
    message: ctx.params.replyId === undefined ? parent : requireReply(ctx, channel, parent),
  };
}

function hostedContent(ctx: RouteContext): HostedContentRecord {
  const { message } = addressed(ctx);
  const hc = message.hostedContents.find((h) => h.id === ctx.params.hostedContentId);
  if (!hc)
    throw notFound(`Hosted content '${ctx.params.hostedContentId}' was not found on message '${message.id}'`);
  return hc;
}

function hostedContentRoutes(base: string): Route[] {
  return [
    {
      method: 'GET',
      path: `${base}/hostedContents`,
      handler: (ctx) => ({
        status: 200,
        body: {
          value: addressed(ctx).message.hostedContents.map((h) => ({
            id: h.id,
            contentType: h.contentType,
            contentBytes: null,
          })),
        },
      }),
    },
    {
      method: 'GET',
      path: `${base}/hostedContents/{hostedContentId}`,
      handler: (ctx) => {
        const hc = hostedContent(ctx);
        return {
          status: 200,
          body: { id: hc.id, contentType: hc.contentType, contentBytes: hc.contentBytes },
        };
      },
    },
    {
      method: 'GET',
      path: `${base}/hostedContents/{hostedContentId}/$value`,
      handler: (ctx) => {
        const hc = hostedContent(ctx);
        return {
          status: 200,
          headers: { 'content-type': hc.contentType },
          body: Buffer.from(hc.contentBytes, 'base64'),
        };
      },
    },
  ];
}

const MESSAGES = '/teams/{teamId}/channels/{channelId}/messages';

/** Messages and replies: import (every rule of the import API), get, list with paging, hosted contents. */
export const messageRoutes: Route[] = [
  {
    method: 'POST',
    path: MESSAGES,
    throttle: 'message',
    mutates: true,
    handler: (ctx) => postMessage(ctx, false),
  },
  {
    method: 'POST',
    path: `${MESSAGES}/{messageId}/replies`,
    throttle: 'message',
    mutates: true,
    handler: (ctx) => postMessage(ctx, true),
  },
  {
    method: 'GET',
    path: MESSAGES,
    handler: (ctx) => {
      const team = requireTeam(ctx);
      const channel = requireChannel(ctx, team);
      const expand = ctx.query.get('$expand') === 'replies';
      const items = channel.messages.map((m) => messageJson(team, channel, m, expand));
      return {
        status: 200,
        body: page(ctx, items, `/teams/${team.id}/channels/${channel.id}/messages`, {
          maxTop: 50,
          defaultTop: 20,
        }),
      };
    },
  },
  {
    method: 'GET',
    path: `${MESSAGES}/{messageId}`,
    handler: (ctx) => {
      const { team, channel, message } = addressed(ctx);
      return {
        status: 200,
        body: messageJson(team, channel, message, ctx.query.get('$expand') === 'replies'),
      };
    },
  },
  {
    method: 'GET',
    path: `${MESSAGES}/{messageId}/replies`,
    handler: (ctx) => {
      const { team, channel, message } = addressed(ctx);
      const items = message.replies.map((r) => messageJson(team, channel, r));
      return {
        status: 200,
        body: page(ctx, items, `/teams/${team.id}/channels/${channel.id}/messages/${message.id}/replies`, {
          maxTop: 50,
          defaultTop: 20,
        }),
      };
    },
  },
  {
    method: 'GET',
    path: `${MESSAGES}/{messageId}/replies/{replyId}`,
    handler: (ctx) => {
      const { team, channel, message } = addressed(ctx);
      return { status: 200, body: messageJson(team, channel, message) };
    },
  },
  ...hostedContentRoutes(`${MESSAGES}/{messageId}`),
  ...hostedContentRoutes(`${MESSAGES}/{messageId}/replies/{replyId}`),
];
