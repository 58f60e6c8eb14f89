import { notFound } from '../errors';
import type { Route, RouteResponse } from '../router';
import type { DriveItemRecord, DriveRecord } from '../state';
import { itemGuid } from './common';

function fileResponse(item: DriveItemRecord): RouteResponse {
  return {
    status: 200,
    headers: {
      'content-type': item.mimeType ?? 'application/octet-stream',
      'content-disposition': `inline; filename*=UTF-8''${encodeURIComponent(item.name)}`,
    },
    body: Buffer.from(item.content ?? '', 'base64'),
  };
}

function teamDrive(drives: DriveRecord[], teamId: string): DriveRecord {
  const drive = drives.find((d) => d.teamId === teamId);
  if (!drive) throw notFound(`Team '${teamId}' has no document library`);
  return drive;
}

/**
 * The team document libraries as a browser reaches them through `webUrl`s (no token): files and folders by
 * path under `/_sandbox/sites/{teamId}/Shared Documents/`, and Office files by their `Doc.aspx` page.
 */
export const siteRoutes: Route[] = [
  {
    method: 'GET',
    path: '/_sandbox/sites/{teamId}/_layouts/15/Doc.aspx',
    kind: 'inspection',
    handler: (ctx) => {
      const guid = (ctx.query.get('sourcedoc') ?? '').replace(/[{}]/g, '').toLowerCase();
      const item = teamDrive(ctx.store.data.drives, ctx.params.teamId ?? '').items.find(
        (i) => !i.folder && itemGuid(i).toLowerCase() === guid,
      );
      if (!item) throw notFound(`No document has the id ${guid}`);
      return fileResponse(item);
    },
  },
  {
    method: 'GET',
    path: '/_sandbox/sites/{teamId}/{path+}',
    kind: 'inspection',
    handler: (ctx) => {
      const drive = teamDrive(ctx.store.data.drives, ctx.params.teamId ?? '');
      const [library, ...names] = (ctx.params.path ?? '').split('/');
      if (library !== 'Shared Documents') throw notFound(`No library '${library}'`);
      let item = drive.items.find((i) => i.id === drive.rootId);
      for (const name of names.filter(Boolean)) {
        const parent = item;
        item = drive.items.find(
          (i) => i.parentId === parent?.id && i.name.toLowerCase() === name.toLowerCase(),
        );
        if (!item) throw notFound(`'${ctx.params.path}' was not found`);
      }
      if (!item) throw notFound(`'${ctx.params.path}' was not found`);
      if (!item.folder) return fileResponse(item);
      const at = item;
      return {
        status: 200,
        body: {
          name: at.name,
          children: drive.items
            .filter((i) => i.parentId === at.id)
            .map((i) => ({ name: i.name, folder: i.folder })),
        },
      };
    },
  },
];
