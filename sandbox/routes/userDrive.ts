import { notFound, GraphError, badRequest } from '../errors';
import type { Route, RouteContext, RouteResponse } from '../router';
import type { DriveItemRecord, DriveRecord } from '../state';
import { driveItemJson, newDriveId, newDriveItemId } from './common';
import { driveRoutes } from './drives';

/** The drive of a user's OneDrive (created on first use; held with the document libraries, keyed `user:<id>`). */
export function userDrive(ctx: RouteContext, idOrUpn: string): DriveRecord {
  const user = ctx.store.user(idOrUpn);
  if (!user) throw notFound(`User '${idOrUpn}' does not exist or has no OneDrive`);
  const key = `user:${user.id}`;
  let drive = ctx.store.data.drives.find((d) => d.teamId === key);
  if (!drive) {
    const rootId = newDriveItemId();
    drive = {
      id: newDriveId(),
      teamId: key,
      rootId,
      items: [
        {
          id: rootId,
          name: 'root',
          parentId: null,
          folder: true,
          mimeType: null,
          createdDateTime: new Date(ctx.now).toISOString(),
        },
      ],
    };
    ctx.store.data.drives.push(drive);
  }
  return drive;
}

function itemAt(drive: DriveRecord, path: string): DriveItemRecord {
  let current = drive.items.find((i) => i.id === drive.rootId);
  for (const part of path.split('/').filter(Boolean)) {
    current = drive.items.find(
      (i) => i.parentId === current?.id && i.name.toLowerCase() === part.toLowerCase(),
    );
    if (!current) break;
  }
  if (!current) throw new GraphError(404, 'itemNotFound', `The resource could not be found: '${path}'`);
  return current;
}

function delegate(routePath: string): (ctx: RouteContext) => RouteResponse | Promise<RouteResponse> {
  const route = driveRoutes.find((r) => r.path === routePath);
  if (!route) throw new Error(`sandbox: drive route ${routePath} is missing`);
  return (ctx) => {
    const drive = userDrive(ctx, ctx.params.userId ?? '');
    return route.handler({
      ...ctx,
      params: { driveId: drive.id, parentId: drive.rootId, path: ctx.params.path ?? '' },
    });
  };
}

/** A user's OneDrive by path: simple upload, upload sessions (through the document-library rules), item, children, content. */
export const userDriveRoutes: Route[] = [
  {
    method: 'PUT',
    path: '/users/{userId}/drive/root:/{path+}:/content',
    body: 'raw',
    mutates: true,
    handler: delegate('/drives/{driveId}/items/{parentId}:/{path+}:/content'),
  },
  {
    method: 'POST',
    path: '/users/{userId}/drive/root:/{path+}:/createUploadSession',
    mutates: true,
    handler: delegate('/drives/{driveId}/items/{parentId}:/{path+}:/createUploadSession'),
  },
  {
    method: 'GET',
    path: '/users/{userId}/drive/root:/{path+}:/content',
    handler: (ctx) => {
      const item = itemAt(userDrive(ctx, ctx.params.userId ?? ''), ctx.params.path ?? '');
      if (item.folder) throw badRequest(`'${item.name}' is a folder and has no content`);
      return {
        status: 200,
        headers: { 'content-type': item.mimeType ?? 'application/octet-stream' },
        body: Buffer.from(item.content ?? '', 'base64'),
      };
    },
  },
  {
    method: 'GET',
    path: '/users/{userId}/drive/root:/{path+}:/children',
    handler: (ctx) => {
      const drive = userDrive(ctx, ctx.params.userId ?? '');
      const folder = itemAt(drive, ctx.params.path ?? '');
      return {
        status: 200,
        body: {
          value: drive.items.filter((i) => i.parentId === folder.id).map((i) => driveItemJson(ctx, drive, i)),
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/users/{userId}/drive/root:/{path+}',
    handler: (ctx) => {
      const drive = userDrive(ctx, ctx.params.userId ?? '');
      return { status: 200, body: driveItemJson(ctx, drive, itemAt(drive, ctx.params.path ?? '')) };
    },
  },
];
