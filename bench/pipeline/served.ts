import type { RequestLogEntry } from '../../sandbox';

/** A `teams-import serve` child process and what it printed. */
export interface ServedChild {
  output(): string;
  exitCode: number | null;
  signalCode: NodeJS.Signals | null;
}

/** Resolves to the app's URL once `serve` prints `Listening on <url>`; fails with its output after `ms`. */
export async function listeningUrl(child: ServedChild, ms = 60_000): Promise<string> {
  for (let waited = 0; waited < ms; waited += 50) {
    const url = /Listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(child.output())?.[1];
    if (url) return url;
    if (child.exitCode !== null || child.signalCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`teams-import serve did not start; its output:\n${child.output()}`);
}

/** What `GET /api/migrations/{id}` answers, as far as these runs read it. */
export interface MigrationView {
  runtimeStatus: string;
  phase: string;
  createdTime?: string;
  lastUpdatedTime?: string;
  output?: { phase: string; planned: number; posted: number; failed: number; missing: number };
}

/** Starts a migration through the app's HTTP API (`POST /api/migrations`); throws unless it answers 202. */
export async function startServedMigration(url: string, body: object): Promise<void> {
  const res = await fetch(`${url}/api/migrations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 202) throw new Error(`POST /api/migrations answered ${res.status}: ${await res.text()}`);
}

/** Polls a migration until it ends (completed, failed or terminated), for at most `ms`. */
export async function servedMigrationEnd(url: string, id: string, ms: number): Promise<MigrationView> {
  const until = Date.now() + ms;
  for (;;) {
    const res = await fetch(`${url}/api/migrations/${id}`);
    if (res.status === 200) {
      const view = (await res.json()) as MigrationView;
      if (['Completed', 'Failed', 'Terminated'].includes(view.runtimeStatus)) return view;
    }
    if (Date.now() > until) throw new Error(`Migration '${id}' did not end within ${ms} ms.`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A message or reply POST as the sandbox logged it: when it was judged, into which team and channel. */
export interface LoggedPost {
  t: number;
  team: string;
  channel: string;
  admitted: boolean;
  throttled?: RequestLogEntry['throttled'];
}

/** The message and reply POSTs of a sandbox request log, in the order the sandbox judged them. */
export function messagePosts(log: RequestLogEntry[]): LoggedPost[] {
  const posts: LoggedPost[] = [];
  for (const e of log) {
    if (e.method !== 'POST') continue;
    const m = /\/teams\/([^/?]+)\/channels\/([^/?]+)\/messages(\/[^/?]+\/replies)?(\?|$)/.exec(e.path);
    if (!m) continue;
    posts.push({
      t: e.t,
      team: decodeURIComponent(m[1]),
      channel: decodeURIComponent(m[2]),
      admitted: e.status !== 429,
      ...(e.throttled ? { throttled: e.throttled } : {}),
    });
  }
  return posts.sort((a, b) => a.t - b.t);
}

/** The most instants any window (t - windowMs, t] holds. */
export function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let worst = 0;
  for (let end = 0, start = 0; end < sorted.length; end++) {
    while (sorted[start] <= sorted[end] - windowMs) start++;
    worst = Math.max(worst, end - start + 1);
  }
  return worst;
}

/**
 * The first instant when the posts of a window (t - windowMs, t] that opened at or after `from` came from
 * `channels` distinct channels, or undefined when none did.
 */
export function firstWindowWithChannels(
  posts: LoggedPost[],
  from: number,
  windowMs: number,
  channels: number,
): number | undefined {
  const after = posts.filter((p) => p.admitted && p.t >= from);
  for (let end = 0, start = 0; end < after.length; end++) {
    while (after[start].t <= after[end].t - windowMs) start++;
    if (new Set(after.slice(start, end + 1).map((p) => p.channel)).size >= channels) return after[end].t;
  }
  return undefined;
}
