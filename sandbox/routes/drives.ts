import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { GraphError, badRequest, notFound } from '../errors';
import { parseInput } from '../rules';
import type { Route, RouteContext, RouteResponse } from '../router';
import type { DriveItemRecord, DriveRecord } from '../state';
import { driveItemJson, itemPath, newDriveItemId } from './common';

/** Upload-session fragments must be multiples of 320 KiB, except the last. */
export const UPLOAD_FRAGMENT_UNIT = 320 * 1024;
/** The largest fragment one PUT to an upload URL may carry (60 MiB). */
export const MAX_UPLOAD_FRAGMENT = 60 * 1024 * 1024;
const SESSION_LIFETIME_MS = 24 * 60 * 60 * 1000;

type ConflictBehavior = 'fail' | 'replace' | 'rename';

/** An upload session in progress (kept in memory only: sessions do not survive a restart, as they expire anyway). */
export interface UploadSession {
  id: string;
  driveId: string;
  parentId: string;
  path: string;
  conflictBehavior: ConflictBehavior;
  chunks: Buffer[];
  next: number;
  total: number | null;
  expires: number;
}

const sessionsByStore = new WeakMap<object, Map<string, UploadSession>>();

/** The upload sessions of one sandbox (keyed by its store, so two sandboxes in a process stay apart). */
export function uploadSessions(ctx: RouteContext): Map<string, UploadSession> {
  let sessions = sessionsByStore.get(ctx.store);
  if (!sessions) {
    sessions = new Map();
    sessionsByStore.set(ctx.store, sessions);
  }
  return sessions;
}

const BAD_NAME_CHARS = ['"', '*', ':', '<', '>', '?', '\\', '|'];

function splitPath(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.length === 0) throw badRequest('The item path is empty');
  for (const part of parts) {
    const bad = BAD_NAME_CHARS.find((c) => part.includes(c));
    if (bad)
      throw badRequest(
        `The item name '${part}' is not valid in OneDrive/SharePoint: '${bad}' is not allowed`,
      );
    if (part === '.' || part === '..') throw badRequest(`The item name '${part}' is not valid`);
  }
  return parts;
}

function requireDrive(ctx: RouteContext): DriveRecord {
  const drive = ctx.store.drive(ctx.params.driveId ?? '');
  if (!drive) throw notFound(`Drive '${ctx.params.driveId}' was not found`);
  return drive;
}

function requireItem(drive: DriveRecord, id: string): DriveItemRecord {
  const item = drive.items.find((i) => i.id === id);
  if (!item) throw new GraphError(404, 'itemNotFound', `The resource could not be found: item '${id}'`);
  return item;
}

function requireFolder(drive: DriveRecord, id: string): DriveItemRecord {
  const folder = requireItem(drive, id);
  if (!folder.folder) throw badRequest(`Item '${id}' is a file, not a folder`);
  return folder;
}

function conflictBehavior(value: string | null | undefined): ConflictBehavior {
  if (value === null || value === undefined) return 'replace';
  if (value === 'fail' || value === 'replace' || value === 'rename') return value;
  throw badRequest(`@microsoft.graph.conflictBehavior '${value}' is not one of fail, replace, rename`);
}

function renamed(name: string, n: number): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? `${name.slice(0, dot)} ${n}${name.slice(dot)}` : `${name} ${n}`;
}

/** Checks that a file can be written at `parentId`/`path` under a conflict behaviour; nothing is changed. */
function planWrite(drive: DriveRecord, parentId: string, path: string, behavior: ConflictBehavior): void {
  requireFolder(drive, parentId);
  const parts = splitPath(path);
  let parent = parentId;
  for (const [i, part] of parts.entries()) {
    const existing = drive.items.find(
      (x) => x.parentId === parent && x.name.toLowerCase() === part.toLowerCase(),
    );
    if (i < parts.length - 1) {
      if (!existing) return;
      if (!existing.folder) throw badRequest(`'${part}' is a file, not a folder`);
      parent = existing.id;
    } else if (existing?.folder) {
      throw new GraphError(409, 'nameAlreadyExists', `A folder named '${part}' already exists`);
    } else if (existing && behavior === 'fail') {
      throw new GraphError(409, 'nameAlreadyExists', `The specified item name '${part}' already exists`);
    }
  }
}

/**
 * The eTag GUID of a new file: derived from its path in the drive, so two sandboxes given the same uploads
 * answer the same GUIDs (runs can be compared); SharePoint's are random, which nothing may rely on either way.
 */
function guidForPath(drive: DriveRecord, parentId: string, name: string): string {
  const parent = drive.items.find((i) => i.id === parentId);
  const path = `${parent ? itemPath(drive, parent) : ''}/${name}`.toLowerCase();
  const hex = createHash('sha1').update(`drive-item:${path}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`.toUpperCase();
}

/** Writes a file (creating missing folders) after `planWrite` passed; answers whether it was created. */
function writeFile(
  drive: DriveRecord,
  parentId: string,
  path: string,
  behavior: ConflictBehavior,
  bytes: Buffer,
  mimeType: string | null,
): { item: DriveItemRecord; created: boolean } {
  const parts = splitPath(path);
  const now = new Date().toISOString();
  let parent = parentId;
  for (const part of parts.slice(0, -1)) {
    let folder = drive.items.find(
      (x) => x.parentId === parent && x.name.toLowerCase() === part.toLowerCase(),
    );
    if (!folder) {
      folder = {
        id: newDriveItemId(),
        name: part,
        parentId: parent,
        folder: true,
        mimeType: null,
        createdDateTime: now,
      };
      drive.items.push(folder);
    }
    parent = folder.id;
  }
  let name = parts[parts.length - 1] ?? '';
  const siblings = (n: string): DriveItemRecord | undefined =>
    drive.items.find((x) => x.parentId === parent && x.name.toLowerCase() === n.toLowerCase());
  const existing = siblings(name);
  if (existing && behavior === 'replace') {
    existing.content = bytes.toString('base64');
    existing.mimeType = mimeType ?? existing.mimeType;
    existing.version = (existing.version ?? 1) + 1;
    return { item: existing, created: false };
  }
  if (existing && behavior === 'rename') {
    let n = 1;
    while (siblings(renamed(name, n))) n++;
    name = renamed(name, n);
  }
  const item: DriveItemRecord = {
    id: newDriveItemId(),
    name,
    parentId: parent,
    folder: false,
    mimeType: mimeType ?? 'application/octet-stream',
    createdDateTime: now,
    content: bytes.toString('base64'),
    guid: guidForPath(drive, parent, name),
    version: 1,
  };
  drive.items.push(item);
  return { item, created: true };
}

function simpleUpload(ctx: RouteContext): RouteResponse {
  const drive = requireDrive(ctx);
  const behavior = conflictBehavior(ctx.query.get('@microsoft.graph.conflictBehavior'));
  const parentId = ctx.params.parentId ?? '';
  const path = ctx.params.path ?? '';
  planWrite(drive, parentId, path, behavior);
  const bytes = Buffer.isBuffer(ctx.body) ? ctx.body : Buffer.alloc(0);
  const { item, created } = writeFile(
    drive,
    parentId,
    path,
    behavior,
    bytes,
    ctx.headers['content-type'] ?? null,
  );
  return { status: created ? 201 : 200, body: driveItemJson(ctx, drive, item) };
}

const sessionSchema = z
  .object({
    item: z
      .looseObject({
        '@microsoft.graph.conflictBehavior': z.string().optional(),
        name: z.string().optional(),
      })
      .optional(),
    deferCommit: z.boolean().optional(),
  })
  .optional();

function sessionStatus(session: UploadSession): Record<string, unknown> {
  return {
    expirationDateTime: new Date(session.expires).toISOString(),
    nextExpectedRanges: [`${session.next}-${session.total === null ? '' : session.total - 1}`],
  };
}

function createSession(ctx: RouteContext): RouteResponse {
  const drive = requireDrive(ctx);
  const input = parseInput(sessionSchema, ctx.body ?? {}, 'createUploadSession');
  const behavior = conflictBehavior(input?.item?.['@microsoft.graph.conflictBehavior']);
  const parentId = ctx.params.parentId ?? '';
  const path = ctx.params.path ?? '';
  planWrite(drive, parentId, path, behavior);
  const session: UploadSession = {
    id: randomBytes(24).toString('base64url'),
    driveId: drive.id,
    parentId,
    path,
    conflictBehavior: behavior,
    chunks: [],
    next: 0,
    total: null,
    expires: Date.now() + SESSION_LIFETIME_MS,
  };
  uploadSessions(ctx).set(session.id, session);
  return {
    status: 200,
    body: {
      '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.uploadSession',
      uploadUrl: `${ctx.baseUrl}/_upload/${session.id}`,
      ...sessionStatus(session),
    },
  };
}

function requireSession(ctx: RouteContext): UploadSession {
  const session = uploadSessions(ctx).get(ctx.params.sessionId ?? '');
  if (!session || session.expires < Date.now()) {
    throw new GraphError(404, 'itemNotFound', 'The upload session was not found or has expired');
  }
  return session;
}

function uploadFragment(ctx: RouteContext): RouteResponse {
  const session = requireSession(ctx);
  const bytes = Buffer.isBuffer(ctx.body) ? ctx.body : Buffer.alloc(0);
  const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(ctx.headers['content-range'] ?? '');
  if (!range) {
    throw badRequest(
      `Content-Range '${ctx.headers['content-range'] ?? ''}' is not of the form 'bytes start-end/total'`,
    );
  }
  const [start, end, total] = [Number(range[1]), Number(range[2]), Number(range[3])];
  if (end < start || end >= total)
    throw badRequest(`Content-Range 'bytes ${start}-${end}/${total}' is not a valid range`);
  if (end - start + 1 !== bytes.length) {
    throw badRequest(`Content-Range announces ${end - start + 1} bytes but the fragment has ${bytes.length}`);
  }
  if (bytes.length > MAX_UPLOAD_FRAGMENT)
    throw badRequest(`A fragment may be at most ${MAX_UPLOAD_FRAGMENT} bytes`);
  if (session.total !== null && total !== session.total) {
    throw badRequest(`Content-Range total ${total} differs from the file size ${session.total} given before`);
  }
  if (start !== session.next) {
    throw new GraphError(
      416,
      'invalidRange',
      `The uploaded fragment overlaps or skips data: expected bytes from ${session.next}, got ${start}-${end}`,
    );
  }
  const last = end === total - 1;
  if (!last && bytes.length % UPLOAD_FRAGMENT_UNIT !== 0) {
    throw badRequest(
      `Fragment of ${bytes.length} bytes: every fragment but the last must be a multiple of 320 KiB (${UPLOAD_FRAGMENT_UNIT} bytes)`,
    );
  }
  const drive = ctx.store.drive(session.driveId);
  if (!drive) throw notFound(`Drive '${session.driveId}' no longer exists`);
  if (last) planWrite(drive, session.parentId, session.path, session.conflictBehavior);
  session.total = total;
  session.chunks.push(bytes);
  session.next = end + 1;
  if (!last) return { status: 202, body: sessionStatus(session) };
  uploadSessions(ctx).delete(session.id);
  const { item, created } = writeFile(
    drive,
    session.parentId,
    session.path,
    session.conflictBehavior,
    Buffer.concat(session.chunks),
    null,
  );
  return { status: created ? 201 : 200, body: driveItemJson(ctx, drive, item) };
}

/** Drive items for file links: get, simple upload, upload sessions with 320 KiB-multiple fragments. */
export const driveRoutes: Route[] = [
  {
    method: 'GET',
    path: '/drives/{driveId}/items/{itemId}',
    handler: (ctx) => {
      const drive = requireDrive(ctx);
      return { status: 200, body: driveItemJson(ctx, drive, requireItem(drive, ctx.params.itemId ?? '')) };
    },
  },
  {
    method: 'GET',
    path: '/drives/{driveId}/items/{itemId}/content',
    handler: (ctx) => {
      const item = requireItem(requireDrive(ctx), ctx.params.itemId ?? '');
      if (item.folder) throw badRequest(`Item '${item.name}' is a folder and has no content`);
      return {
        status: 200,
        headers: { 'content-type': item.mimeType ?? 'application/octet-stream' },
        body: Buffer.from(item.content ?? '', 'base64'),
      };
    },
  },
  {
    method: 'PUT',
    path: '/drives/{driveId}/items/{parentId}:/{path+}:/content',
    body: 'raw',
    mutates: true,
    handler: simpleUpload,
  },
  {
    method: 'POST',
    path: '/drives/{driveId}/items/{parentId}:/{path+}:/createUploadSession',
    mutates: true,
    handler: createSession,
  },
  {
    method: 'PUT',
    path: '/_upload/{sessionId}',
    kind: 'upload',
    body: 'raw',
    mutates: true,
    handler: uploadFragment,
  },
  {
    method: 'GET',
    path: '/_upload/{sessionId}',
    kind: 'upload',
    handler: (ctx) => ({ status: 200, body: sessionStatus(requireSession(ctx)) }),
  },
  {
    method: 'DELETE',
    path: '/_upload/{sessionId}',
    kind: 'upload',
    handler: (ctx) => {
      uploadSessions(ctx).delete(requireSession(ctx).id);
      return { status: 204 };
    },
  },
];
