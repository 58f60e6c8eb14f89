import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';

/** One file of the generated export: its Slack fields, and the bytes the Slack file host serves (if any). */
export interface ExportFile {
  id: string;
  name: string;
  mimetype: string;
  mode?: string;
  /** The bytes the host serves; absent for files it does not have (answered 404). */
  bytes?: Buffer;
  /** The size Slack gives; defaults to the bytes' length. */
  size?: number;
  preview?: string;
  /** Overrides the file's URL (a hostile export). */
  url?: string;
  externalUrl?: string;
  title?: string;
  /** The URL carries no export token (older exports): only a bot token can fetch it. */
  noToken?: boolean;
}

/** A message of the generated export: text, a file (or several), and the subtype Slack gives it. */
export interface ExportMessage {
  text: string;
  file?: ExportFile;
  /** More files of the same message, after `file`. */
  more?: ExportFile[];
  subtype?: string;
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, sum]);
}

/** A valid RGB PNG of the given size in one colour, padded with a private chunk to at least `minBytes`. */
export function pngBytes(width: number, height: number, seed: number, minBytes = 0): Buffer {
  const row = Buffer.alloc(1 + width * 3);
  for (let x = 0; x < width; x++) row.set([seed & 0xff, (seed * 7) & 0xff, (seed * 13) & 0xff], 1 + x * 3);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.concat(Array.from({ length: height }, () => row)))),
  ];
  const size = parts.reduce((n, p) => n + p.length, 0) + 12;
  if (minBytes > size) parts.push(pngChunk('tpAD', Buffer.alloc(minBytes - size - 12, seed & 0xff)));
  parts.push(pngChunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
}

/** A minimal baseline JPEG header (SOI, JFIF, SOF0 64x48, EOI): enough to be read as a 64x48 JPEG. */
export function jpegBytes(): Buffer {
  return Buffer.from([
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00,
    0x01, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x30, 0x00, 0x40, 0x03, 0x01, 0x22, 0x00, 0x02,
    0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xd9,
  ]);
}

/** A minimal GIF89a of 32x16. */
export function gifBytes(): Buffer {
  return Buffer.concat([Buffer.from('GIF89a'), Buffer.from([0x20, 0, 0x10, 0, 0, 0, 0, 0x3b])]);
}

/** Deterministic bytes of a length (a stand-in for documents). */
export function filler(seed: string, length: number, prefix = ''): Buffer {
  const out = Buffer.alloc(length);
  const head = Buffer.from(prefix, 'latin1');
  head.copy(out);
  for (let offset = head.length, n = 0; offset < length; n++)
    offset += createHash('sha256').update(`${seed}:${n}`).digest().copy(out, offset);
  return out;
}

/** The export file token of a file: each file's URL carries its own, as Slack's exports do. */
export const fileToken = (id: string): string => `xoxe-test-${id.toLowerCase()}`;

/**
 * Writes a Slack export folder with one public channel (`general`) whose messages are `messages`, one a
 * minute, authored by two users with e-mails; each file is served (if it has bytes) from `bytesDir/<id>`.
 * File URLs are on files.slack.com with the file's token, as in a standard export.
 */
export function writeFilesExport(root: string, bytesDir: string, messages: ExportMessage[]): void {
  mkdirSync(path.join(root, 'general'), { recursive: true });
  mkdirSync(bytesDir, { recursive: true });
  const start = Date.UTC(2024, 0, 10, 9, 0, 0) / 1000;
  writeFileSync(
    path.join(root, 'users.json'),
    JSON.stringify([
      { id: 'U1', name: 'ada', real_name: 'Ada', profile: { email: 'ada@files.test', display_name: 'Ada' } },
      { id: 'U2', name: 'bo', real_name: 'Bo', profile: { email: 'bo@files.test', display_name: 'Bo' } },
    ]),
  );
  writeFileSync(
    path.join(root, 'channels.json'),
    JSON.stringify([
      { id: 'C1', name: 'general', is_general: true, created: start - 86400, members: ['U1', 'U2'] },
    ]),
  );
  const day = messages.map((m, i) => {
    const ts = `${start + i * 60}.000100`;
    const raw: Record<string, unknown> = { type: 'message', ts, user: i % 2 ? 'U2' : 'U1', text: m.text };
    if (m.subtype) raw.subtype = m.subtype;
    const files = [...(m.file ? [m.file] : []), ...(m.more ?? [])];
    if (files.length > 0) {
      raw.files = files.map((f) => exportFile(f));
      raw.subtype ??= 'file_share';
      for (const f of files) if (f.bytes) writeFileSync(path.join(bytesDir, f.id), f.bytes);
    }
    return raw;
  });
  writeFileSync(path.join(root, 'general', '2024-01-10.json'), JSON.stringify(day, null, 1));
}

/** A file object as a standard export lists it. */
function exportFile(f: ExportFile): Record<string, unknown> {
  const size = f.size ?? f.bytes?.length ?? 0;
  const file: Record<string, unknown> = { id: f.id, mode: f.mode ?? 'hosted' };
  if (f.mode === 'tombstone' || f.mode === 'hidden_by_limit') return file;
  Object.assign(file, { name: f.name, title: f.title ?? f.name, mimetype: f.mimetype, size });
  if (f.mode === 'external') {
    Object.assign(file, { is_external: true, external_type: 'gdrive', url_private: f.externalUrl });
  } else {
    const base = f.url ?? `https://files.slack.com/files-pri/T1-${f.id}`;
    const query = f.noToken ? '' : `?t=${fileToken(f.id)}`;
    Object.assign(file, {
      url_private: `${base}/${encodeURIComponent(f.name)}${query}`,
      url_private_download: `${base}/download/${encodeURIComponent(f.name)}${query}`,
    });
  }
  file.permalink = `https://files-test.slack.com/files/U1/${f.id}/${encodeURIComponent(f.name)}`;
  if (f.preview) file.preview = f.preview;
  return file;
}
