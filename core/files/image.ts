import { imageSize } from 'image-size';

/** Image types Teams shows inline as hosted content, by `image-size`'s type name. */
const INLINE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  bmp: 'image/bmp',
};

/**
 * The MIME type of bytes that are an image Teams shows inline (PNG, JPEG, GIF, BMP) with real dimensions,
 * judged by parsing them, never by a name or a declared type; undefined for anything else (SVG, WebP,
 * TIFF, HEIC, a corrupt or truncated header), which then travels as a file.
 */
export function inlineImageType(bytes: Buffer): string | undefined {
  try {
    const { type, width, height } = imageSize(bytes);
    if (!type || !width || !height) return undefined;
    return INLINE_TYPES[type];
  } catch {
    return undefined;
  }
}

/** The GUID inside a SharePoint driveItem eTag (`"{GUID},1"`): the id a reference attachment must carry. */
export function guidOfETag(eTag: string | undefined): string | undefined {
  const m = /\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?/i.exec(eTag ?? '');
  return m?.[1];
}
