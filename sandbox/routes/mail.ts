import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { outboxOf } from '../chatState';
import { badRequest, notFound } from '../errors';
import { parseInput } from '../rules';
import type { Route, RouteContext, RouteResponse } from '../router';
import { delegatedUser } from './chats';

const recipient = z.object({
  emailAddress: z.object({ address: z.string().min(3), name: z.string().optional() }),
});

const sendMailSchema = z.object({
  message: z.object({
    subject: z.string().default(''),
    body: z.object({ contentType: z.enum(['text', 'html', 'Text', 'HTML', 'Html']), content: z.string() }),
    toRecipients: z.array(recipient).default([]),
    ccRecipients: z.array(recipient).default([]),
  }),
  saveToSentItems: z.boolean().optional(),
});

function sendMail(ctx: RouteContext, senderId: string): RouteResponse {
  const sender = ctx.store.user(senderId);
  if (!sender) throw notFound(`Mailbox '${senderId}' does not exist or has no mailbox`);
  const input = parseInput(sendMailSchema, ctx.body, 'sendMail');
  const to = [...input.message.toRecipients, ...input.message.ccRecipients].map(
    (r) => r.emailAddress.address,
  );
  if (to.length === 0) throw badRequest('ErrorInvalidRecipients: at least one recipient is required');
  outboxOf(ctx.store).push({
    id: randomUUID(),
    fromUserId: sender.id,
    fromAddress: sender.mail,
    to,
    subject: input.message.subject,
    bodyType: input.message.body.contentType.toLowerCase(),
    body: input.message.body.content,
    sentDateTime: new Date(ctx.now).toISOString(),
  });
  return { status: 202 };
}

/** `sendMail` from a user's mailbox (app-only, or `/me` delegated) into an outbox read with `GET /_sandbox/outbox`. */
export const mailRoutes: Route[] = [
  {
    method: 'POST',
    path: '/users/{userId}/sendMail',
    mutates: true,
    handler: (ctx) => sendMail(ctx, ctx.params.userId ?? ''),
  },
  {
    method: 'POST',
    path: '/me/sendMail',
    mutates: true,
    handler: (ctx) => {
      const me = delegatedUser(ctx);
      if (!me) throw badRequest('/me request is only valid with delegated authentication flow.');
      return sendMail(ctx, me);
    },
  },
  {
    method: 'GET',
    path: '/_sandbox/outbox',
    kind: 'inspection',
    handler: (ctx) => {
      const to = ctx.query.get('to')?.toLowerCase();
      const mails = outboxOf(ctx.store).filter((m) => !to || m.to.some((a) => a.toLowerCase() === to));
      return { status: 200, body: { value: mails } };
    },
  },
];
