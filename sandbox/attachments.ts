import { badRequest, notFound } from './errors';
import { itemGuid, itemWebUrl } from './routes/common';
import type { ChannelRecord, DriveItemRecord, SandboxStore, TeamRecord } from './state';

/** One `attachments[]` entry of a message POST, as far as the reference rules look at it. */
export interface AttachmentInput {
  id: string;
  contentType: string;
  contentUrl?: string | null;
  name?: string | null;
}

const decoded = (url: string): string => {
  try {
    return decodeURI(url);
  } catch {
    return url;
  }
};
const extension = (name: string): string => /\.([^./]+)$/.exec(name)?.[1]?.toLowerCase() ?? '';

/**
 * Enforces Graph's shape of a file attachment (`contentType: reference`), as `chatmessage-post` documents it:
 * `id` is the GUID inside the eTag of a file uploaded to the team's drive, `contentUrl` is the channel's files
 * folder `webUrl` + `/` + that file's name (percent-encoded or not: a file's own `webUrl`, a `Doc.aspx` page
 * for Office files, is refused), and the extension of `name` matches that of `contentUrl`. Throws a 400
 * naming the broken rule; the `<attachment id>` tags are matched against the list separately.
 */
export function checkReferenceAttachments(
  store: SandboxStore,
  baseUrl: string,
  team: TeamRecord,
  channel: ChannelRecord,
  attachments: readonly AttachmentInput[],
): void {
  const references = attachments.filter((a) => a.contentType === 'reference');
  if (references.length === 0) return;
  const drive = store.drive(team.driveId);
  const folder = drive?.items.find((i) => i.id === channel.folderId);
  if (!drive || !folder) throw notFound(`Channel '${channel.displayName}' has no files folder`);
  const folderUrl = itemWebUrl(baseUrl, drive, folder);
  for (const a of references) {
    const item: DriveItemRecord | undefined = drive.items.find(
      (i) => !i.folder && itemGuid(i).toLowerCase() === a.id.toLowerCase(),
    );
    if (!item)
      throw badRequest(
        `attachments item '${a.id}': a reference attachment's id must be the GUID inside the eTag ("{GUID},n") of a file uploaded to this team's drive; none has it`,
      );
    const expected = `${folderUrl}/${encodeURIComponent(item.name)}`;
    if (item.parentId !== folder.id || !a.contentUrl || decoded(a.contentUrl) !== decoded(expected))
      throw badRequest(
        `attachments item '${a.id}': contentUrl must be the channel's files folder webUrl + '/' + the file's name (${expected}), not '${a.contentUrl ?? ''}'`,
      );
    if (a.name && extension(a.name) !== extension(item.name))
      throw badRequest(
        `attachments item '${a.id}': File contentUrl extension '${extension(item.name)}' and name extension '${extension(a.name)}' do not match`,
      );
  }
}
