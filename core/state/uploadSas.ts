import {
  BlobSASPermissions,
  SASProtocol,
  StorageSharedKeyCredential,
  type BlobServiceClient,
} from '@azure/storage-blob';
import { randomUUID } from 'node:crypto';

/** The container exports are uploaded to. */
export const UPLOAD_CONTAINER = 'imports';

/** A write-only URL for one new blob, and where the blob will be. */
export interface UploadUrl {
  uploadUrl: string;
  container: string;
  blob: string;
  expiresOn: string;
  /** `user-delegation` (signed with a key from the app's managed identity) or `service` (the account key). */
  signedWith: 'user-delegation' | 'service';
}

/** A file name safe as the last segment of a blob name: letters, digits, `.`, `-`, `_`; `export.zip` when empty. */
export function uploadFileName(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const safe = base
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._]+/, '')
    .slice(0, 100);
  return safe || 'export.zip';
}

/**
 * Creates the `imports` container when missing and signs a short-lived URL that can only create and write
 * one new blob (`uploads/<date>/<random>/<name>`): a user-delegation SAS when the account is reached through
 * the managed identity, a service SAS (HTTP allowed, for Azurite) when it is reached with an account key. The
 * URL cannot read, list or delete anything, so the export never passes through the function.
 */
export async function createUploadUrl(
  blobs: BlobServiceClient,
  options: { fileName?: string; minutes: number; now: number },
): Promise<UploadUrl> {
  const container = blobs.getContainerClient(UPLOAD_CONTAINER);
  await container.createIfNotExists();
  const day = new Date(options.now).toISOString().slice(0, 10);
  const blob = `uploads/${day}/${randomUUID()}/${uploadFileName(options.fileName)}`;
  const client = container.getBlockBlobClient(blob);
  const startsOn = new Date(options.now - 5 * 60_000);
  const expiresOn = new Date(options.now + options.minutes * 60_000);
  const permissions = BlobSASPermissions.parse('cw');
  if (blobs.credential instanceof StorageSharedKeyCredential) {
    const uploadUrl = await client.generateSasUrl({
      permissions,
      startsOn,
      expiresOn,
      protocol: SASProtocol.HttpsAndHttp,
    });
    return {
      uploadUrl,
      container: UPLOAD_CONTAINER,
      blob,
      expiresOn: expiresOn.toISOString(),
      signedWith: 'service',
    };
  }
  const key = await blobs.getUserDelegationKey(startsOn, expiresOn);
  const uploadUrl = await client.generateUserDelegationSasUrl(
    { permissions, startsOn, expiresOn, protocol: SASProtocol.Https },
    key,
  );
  return {
    uploadUrl,
    container: UPLOAD_CONTAINER,
    blob,
    expiresOn: expiresOn.toISOString(),
    signedWith: 'user-delegation',
  };
}
