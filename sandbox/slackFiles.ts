import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { openSlackExport } from '../core/sources/slack/export';
import { parseJsonFile } from '../core/sources/slack/json';

/** The path under the sandbox's URL where it serves an export's files, as Slack's file host would. */
export const SLACK_FILES_PREFIX = '/slack-files';

/** How the sandbox serves an export's files. */
export interface SlackFilesOptions {
  /** The Slack export (ZIP or folder) whose file URLs are served. */
  export: string;
  /** A folder holding each file's bytes as `<file id>` (a file missing there answers 404); else generated. */
  bytesDir?: string;
  /** A bot token accepted as `Authorization: Bearer` in place of the URL's own token. */
  botToken?: string;
}

/** One file of the export, as the host knows it: where Slack served it and the token its URL carried. */
interface HostedFile {
  fileId: string;
  name: string;
  mimeType: string;
  size?: number;
  token?: string;
}

/** One answer of the file host, for tests that count downloads. Never the token. */
export interface ServedFile {
  path: string;
  fileId?: string;
  status: number;
  bytes: number;
}

/**
 * Slack's file host for a rehearsal: every `url_private`/`url_private_download` of an export, served at its
 * path under `/slack-files`, only to a request that carries the token the export's URL carries (`t` or
 * `token`) or the configured bot token as Bearer (403 otherwise, as Slack answers). Bytes come from
 * `bytesDir/<file id>` when a folder is given, else they are generated from the file id: a valid PNG for
 * image types, deterministic bytes of the file's size otherwise.
 */
export class SlackFileHost {
  readonly served: ServedFile[] = [];

  private constructor(
    private readonly files: Map<string, HostedFile>,
    private readonly options: SlackFilesOptions,
  ) {}

  /** Reads every file URL of the export's day files. */
  static async load(options: SlackFilesOptions): Promise<SlackFileHost> {
    const exp = await openSlackExport(options.export);
    const files = new Map<string, HostedFile>();
    try {
      for (const conversation of exp.conversations)
        for (const path of conversation.dayFiles) {
          let parsed: unknown;
          try {
            parsed = parseJsonFile(path, await exp.archive.read(path));
          } catch {
            continue;
          }
          for (const message of Array.isArray(parsed) ? parsed : []) {
            const m = message as { files?: unknown; file?: unknown } | null;
            const list = Array.isArray(m?.files) ? m.files : m?.file ? [m.file] : [];
            for (const f of list as Array<Record<string, unknown>>) index(files, f);
          }
        }
    } finally {
      await exp.close();
    }
    return new SlackFileHost(files, options);
  }

  /** How many distinct file URLs the host serves. */
  get size(): number {
    return this.files.size;
  }

  /** Answers one request whose path starts with `/slack-files`. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const path = decodeURIComponent(url.pathname.slice(SLACK_FILES_PREFIX.length));
    const file = this.files.get(path);
    const answer = (status: number, body: Buffer, type = 'text/plain; charset=utf-8'): void => {
      this.served.push({
        path,
        ...(file ? { fileId: file.fileId } : {}),
        status,
        bytes: status === 200 ? body.length : 0,
      });
      res.writeHead(status, { 'content-type': type, 'content-length': String(body.length) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, Buffer.from('method not allowed'));
    if (!file) return answer(404, Buffer.from('file_not_found'));
    const given = url.searchParams.get('t') ?? url.searchParams.get('token');
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const allowed =
      (file.token !== undefined && given === file.token) ||
      (this.options.botToken !== undefined && bearer === this.options.botToken);
    if (!allowed) return answer(403, Buffer.from('invalid_auth'));
    const bytes = await this.bytesOf(file);
    if (!bytes) return answer(404, Buffer.from('file_not_found'));
    answer(200, bytes, file.mimeType);
  }

  private async bytesOf(file: HostedFile): Promise<Buffer | undefined> {
    if (this.options.bytesDir) {
      const path = join(this.options.bytesDir, file.fileId);
      if (!(await stat(path).catch(() => undefined))?.isFile()) return undefined;
      return readFile(path);
    }
    return generatedBytes(file.fileId, file.mimeType, file.size);
  }
}

function index(files: Map<string, HostedFile>, f: Record<string, unknown>): void {
  const id = typeof f.id === 'string' ? f.id : undefined;
  if (!id || f.mode === 'external' || f.is_external === true) return;
  for (const key of ['url_private', 'url_private_download']) {
    const raw = f[key];
    if (typeof raw !== 'string') continue;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    const token = url.searchParams.get('t') ?? url.searchParams.get('token') ?? undefined;
    files.set(decodeURIComponent(url.pathname), {
      fileId: id,
      name: typeof f.name === 'string' ? f.name : id,
      mimeType: typeof f.mimetype === 'string' ? f.mimetype : 'application/octet-stream',
      ...(typeof f.size === 'number' ? { size: f.size } : {}),
      ...(token ? { token } : {}),
    });
  }
}

/** Generated files are capped at this size, whatever size the export gives. */
const MAX_GENERATED = 64 * 1024 * 1024;

/** Deterministic bytes for a file id: a PNG (padded to the size, when larger) for images, else hashed bytes. */
export function generatedBytes(fileId: string, mimeType: string, size = 1024): Buffer {
  const target = Math.min(size, MAX_GENERATED);
  if (/^image\//.test(mimeType)) return png(fileId, target);
  const out = Buffer.alloc(target);
  for (let offset = 0, n = 0; offset < target; n++) {
    const block = createHash('sha256').update(`${fileId}:${n}`).digest();
    offset += block.copy(out, offset);
  }
  return out;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A 64x64 PNG in two colours derived from the id, padded with a private chunk up to `size` bytes. */
function png(fileId: string, size: number): Buffer {
  const [r, g, b, r2, g2, b2] = createHash('sha256').update(fileId).digest();
  const side = 64;
  const rows: Buffer[] = [];
  for (let y = 0; y < side; y++) {
    const row = Buffer.alloc(1 + side * 3);
    for (let x = 0; x < side; x++) {
      const stripe = Math.floor((x + y) / 8) % 2 === 0;
      row.set(stripe ? [r!, g!, b!] : [r2!, g2!, b2!], 1 + x * 3);
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const head = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
  ]);
  const end = chunk('IEND', Buffer.alloc(0));
  const pad = size - head.length - end.length - 12;
  return pad > 0 ? Buffer.concat([head, chunk('tpAD', Buffer.alloc(pad)), end]) : Buffer.concat([head, end]);
}
