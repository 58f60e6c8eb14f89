import { deflateSync } from 'node:zlib';
import { sandboxUserFor, type SandboxHandle } from '../../../sandbox';

/** The bearer token of the importing app in these tests. */
export const TOKEN = 'import-app-token';

/** Users of the test tenant. */
export const USERS = [
  sandboxUserFor('ada@contoso.test', 'Ada Lovelace'),
  sandboxUserFor('grace@contoso.test', 'Grace Hopper'),
  sandboxUserFor('alan@contoso.test', 'Alan Turing'),
];

/** A Graph answer: status, headers and the parsed JSON body (undefined when empty or not JSON). */
export interface Answer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

/** Calls the sandbox over HTTP; `path` under `/v1.0` unless it starts with `/_`; token null sends none. */
export async function call(
  sb: SandboxHandle,
  method: string,
  path: string,
  body?: unknown,
  options: { token?: string | null; headers?: Record<string, string>; raw?: string | Buffer } = {},
): Promise<Answer> {
  const token = options.token === undefined ? TOKEN : options.token;
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let payload: string | Buffer | undefined = options.raw;
  if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const url = path.startsWith('http') ? path : `${sb.url}${path.startsWith('/_') ? '' : '/v1.0'}${path}`;
  const res = await fetch(url, { method, headers, body: payload });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** An ISO time `days` days before now. */
export function daysAgo(days: number, plusMs = 0): string {
  return new Date(Date.now() - days * 86_400_000 + plusMs).toISOString();
}

/** Creates a team in migration mode, polls its operation to success, and answers its id. */
export async function createMigrationTeam(
  sb: SandboxHandle,
  displayName = 'Imported team',
  createdDateTime = daysAgo(400),
  token = TOKEN,
): Promise<string> {
  const res = await call(
    sb,
    'POST',
    '/teams',
    {
      '@microsoft.graph.teamCreationMode': 'migration',
      'template@odata.bind': "https://graph.microsoft.com/v1.0/teamsTemplates('standard')",
      displayName,
      description: `${displayName} (imported)`,
      createdDateTime,
    },
    { token },
  );
  if (res.status !== 202) throw new Error(`team creation answered ${res.status}: ${res.text}`);
  const location = res.headers.get('location') ?? '';
  for (;;) {
    const op = await call(sb, 'GET', location, undefined, { token });
    if (op.body.status === 'succeeded') return op.body.targetResourceId as string;
    if (op.status !== 200) throw new Error(`operation poll answered ${op.status}`);
  }
}

/** Creates a standard channel in migration mode and answers its id. */
export async function createMigrationChannel(
  sb: SandboxHandle,
  teamId: string,
  displayName: string,
  createdDateTime = daysAgo(300),
): Promise<string> {
  const res = await call(sb, 'POST', `/teams/${teamId}/channels`, {
    '@microsoft.graph.channelCreationMode': 'migration',
    displayName,
    description: `${displayName} channel`,
    membershipType: 'standard',
    createdDateTime,
  });
  if (res.status !== 201) throw new Error(`channel creation answered ${res.status}: ${res.text}`);
  return res.body.id as string;
}

/** A message body for the import API, authored by a test user. */
export function importMessage(
  createdDateTime: string,
  content: string,
  user = USERS[0]!,
): Record<string, unknown> {
  return {
    createdDateTime,
    from: { user: { id: user.id, displayName: user.displayName, userIdentityType: 'aadUser' } },
    body: { contentType: 'html', content },
  };
}

/** A channel's messages path. */
export function messagesPath(teamId: string, channelId: string): string {
  return `/teams/${teamId}/channels/${encodeURIComponent(channelId)}/messages`;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([len, typed, crc]);
}

/** A valid RGB PNG of a diagonal two-colour pattern. */
export function makePng(width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 2;
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const on = (x + y) % 16 < 8;
      row.set(on ? [70, 71, 117] : [255, 200, 60], 1 + x * 3);
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
