import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './fixtures';

type Message = { ts: string; text?: string; edited?: { user: string; ts: string }; [k: string]: unknown };
type Channel = { id: string; name: string; created: string | number; [k: string]: unknown };

/** How a snapshot differs from the export it is cut from, beyond the cut itself. */
export interface SnapshotChanges {
  /** Messages (by ts) the snapshot leaves out, as an export that missed them would. */
  drop?: string[];
  /** New text for messages (by ts), marked edited as Slack marks them. */
  edit?: Record<string, string>;
}

/** Slack `ts` strings compared as times. */
export const tsBefore = (ts: string, at: number): boolean => Number(ts.split('.')[0]) < at;

/**
 * Writes the snapshot an export would have been at `at` (epoch seconds): the channels created before it, the
 * messages written before it (day files cut, empty ones left out), with `changes` applied; users, the other
 * metadata files and the licence notice as they are. Returns the snapshot's folder.
 */
export function snapshotAt(
  source: string,
  at: number,
  changes: SnapshotChanges = {},
  dir = tempDir('snapshot-'),
): string {
  const channels = (JSON.parse(readFileSync(path.join(source, 'channels.json'), 'utf8')) as Channel[]).filter(
    (c) => Number(c.created) < at,
  );
  for (const file of readdirSync(source, { withFileTypes: true }))
    if (file.isFile() && file.name !== 'channels.json')
      copyFileSync(path.join(source, file.name), path.join(dir, file.name));
  writeFileSync(path.join(dir, 'channels.json'), JSON.stringify(channels, null, 2));
  const drop = new Set(changes.drop ?? []);
  for (const channel of channels) {
    const folder = path.join(source, channel.name);
    if (!existsSync(folder)) continue;
    mkdirSync(path.join(dir, channel.name), { recursive: true });
    for (const day of readdirSync(folder).sort()) {
      const messages = (JSON.parse(readFileSync(path.join(folder, day), 'utf8')) as Message[])
        .filter((m) => tsBefore(m.ts, at) && !drop.has(m.ts))
        .map((m) =>
          changes.edit?.[m.ts] !== undefined
            ? {
                ...m,
                text: changes.edit[m.ts],
                edited: { user: String(m.user ?? ''), ts: `${at - 1}.000000` },
              }
            : m,
        );
      if (messages.length > 0)
        writeFileSync(path.join(dir, channel.name, day), JSON.stringify(messages, null, 2));
    }
  }
  return dir;
}

/** The messages (ts, channel folder, thread) of an export folder written before `at`, for tests to count from. */
export function messagesBefore(
  source: string,
  at: number,
): { ts: string; channel: string; threadTs?: string; subtype?: string }[] {
  const channels = (JSON.parse(readFileSync(path.join(source, 'channels.json'), 'utf8')) as Channel[]).filter(
    (c) => Number(c.created) < at,
  );
  const out: { ts: string; channel: string; threadTs?: string; subtype?: string }[] = [];
  for (const channel of channels) {
    const folder = path.join(source, channel.name);
    if (!existsSync(folder)) continue;
    for (const day of readdirSync(folder).sort())
      for (const m of JSON.parse(readFileSync(path.join(folder, day), 'utf8')) as Message[])
        if (tsBefore(m.ts, at))
          out.push({
            ts: m.ts,
            channel: channel.name,
            ...(typeof m.thread_ts === 'string' && m.thread_ts !== m.ts ? { threadTs: m.thread_ts } : {}),
            ...(typeof m.subtype === 'string' ? { subtype: m.subtype } : {}),
          });
  }
  return out;
}
