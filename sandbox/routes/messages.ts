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
  assertInitiator,
  messageJson,
  page,
  requireChannel,
  requireMessage,
  requireReply,
  requireTeam,
} from './common';

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
  assertInitiator(ctx, team);
  const input = parseInput(postMessageSchema, ctx.body, asReply ? 'reply' : 'message');
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
