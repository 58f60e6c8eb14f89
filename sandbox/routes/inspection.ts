import { z } from 'zod';
import { dumpState } from '../dump';
import { notFound } from '../errors';
import { findChat } from '../chatState';
import { PREVIEW_CSP, renderChatPreview, renderIndex, renderTeamPreview } from '../preview';
import { parseInput } from '../rules';
import type { Route } from '../router';
import { sandboxUserSchema } from '../state';
import { requireTeam } from './common';

const html = (body: string): { status: number; headers: Record<string, string>; body: string } => ({
  status: 200,
  headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PREVIEW_CSP },
  body,
});

/** Inspection for tests and people under `/_sandbox/` (no token): state, request log, previews, reset, users. */
export const inspectionRoutes: Route[] = [
  { method: 'GET', path: '/_sandbox', kind: 'inspection', handler: (ctx) => html(renderIndex(ctx.store)) },
  {
    method: 'GET',
    path: '/_sandbox/state',
    kind: 'inspection',
    handler: (ctx) => ({ status: 200, body: dumpState(ctx.store) }),
  },
  {
    method: 'GET',
    path: '/_sandbox/requests',
    kind: 'inspection',
    handler: (ctx) => ({ status: 200, body: ctx.requestLog() }),
  },
  {
    method: 'POST',
    path: '/_sandbox/reset',
    kind: 'inspection',
    body: 'none',
    handler: (ctx) => {
      ctx.reset();
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/_sandbox/users',
    kind: 'inspection',
    mutates: true,
    handler: (ctx) => {
      const users = parseInput(z.union([sandboxUserSchema, z.array(sandboxUserSchema)]), ctx.body, 'users');
      const list = Array.isArray(users) ? users : [users];
      for (const user of list) {
        const i = ctx.store.data.users.findIndex((u) => u.id.toLowerCase() === user.id.toLowerCase());
        if (i >= 0) ctx.store.data.users[i] = user;
        else ctx.store.data.users.push(user);
      }
      return { status: 200, body: { value: list } };
    },
  },
  {
    method: 'GET',
    path: '/_sandbox/teams/{teamId}/preview',
    kind: 'inspection',
    handler: (ctx) => html(renderTeamPreview(ctx.store, requireTeam(ctx))),
  },
  {
    method: 'GET',
    path: '/_sandbox/chats/{chatId}/preview',
    kind: 'inspection',
    handler: (ctx) => {
      const chat = findChat(ctx.store, ctx.params.chatId ?? '');
      if (!chat) throw notFound(`Chat '${ctx.params.chatId}' was not found`);
      return html(renderChatPreview(ctx.store, chat));
    },
  },
  {
    method: 'GET',
    path: '/_sandbox/chats/{chatId}/hosted/{messageId}/{hostedContentId}',
    kind: 'inspection',
    handler: (ctx) => {
      const message = findChat(ctx.store, ctx.params.chatId ?? '')?.messages.find(
        (m) => m.id === ctx.params.messageId,
      );
      const hc = message?.hostedContents.find((h) => h.id === ctx.params.hostedContentId);
      if (!hc) throw notFound(`Hosted content '${ctx.params.hostedContentId}' was not found`);
      return {
        status: 200,
        headers: { 'content-type': hc.contentType },
        body: Buffer.from(hc.contentBytes, 'base64'),
      };
    },
  },
  {
    method: 'GET',
    path: '/_sandbox/hosted/{teamId}/{channelId}/{messageId}/{hostedContentId}',
    kind: 'inspection',
    handler: (ctx) => {
      const found = ctx.store.messageInChannel(ctx.params.channelId ?? '', ctx.params.messageId ?? '');
      const hc = found?.message.hostedContents.find((h) => h.id === ctx.params.hostedContentId);
      if (!hc) throw notFound(`Hosted content '${ctx.params.hostedContentId}' was not found`);
      return {
        status: 200,
        headers: { 'content-type': hc.contentType },
        body: Buffer.from(hc.contentBytes, 'base64'),
      };
    },
  },
  {
    method: 'GET',
    path: '/_sandbox/drives/{driveId}/items/{itemId}/content',
    kind: 'inspection',
    handler: (ctx) => {
      const item = ctx.store
        .drive(ctx.params.driveId ?? '')
        ?.items.find((i) => i.id === ctx.params.itemId && !i.folder);
      if (!item) throw notFound(`File '${ctx.params.itemId}' was not found`);
      return {
        status: 200,
        headers: {
          'content-type': item.mimeType ?? 'application/octet-stream',
          'content-disposition': `inline; filename*=UTF-8''${encodeURIComponent(item.name)}`,
        },
        body: Buffer.from(item.content ?? '', 'base64'),
      };
    },
  },
  {
    method: 'GET',
    path: '/_sandbox/drives/{driveId}/items/{itemId}',
    kind: 'inspection',
    handler: (ctx) => {
      const drive = ctx.store.drive(ctx.params.driveId ?? '');
      const item = drive?.items.find((i) => i.id === ctx.params.itemId);
      if (!drive || !item) throw notFound(`Item '${ctx.params.itemId}' was not found`);
      return {
        status: 200,
        body: {
          id: item.id,
          name: item.name,
          children: drive.items
            .filter((i) => i.parentId === item.id)
            .map((i) => ({ id: i.id, name: i.name, folder: i.folder })),
        },
      };
    },
  },
];
