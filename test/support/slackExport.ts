import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './fixtures';

/** A small Slack export written to a temporary folder: channels and their day files, as given. */
export interface ExportSpec {
  users?: object[];
  channels?: object[];
  /** folder -> day -> messages (or raw text for a broken file) */
  days: Record<string, Record<string, object[] | string | object>>;
  extra?: Record<string, string>;
  /** The folder to write into (a new temporary folder when absent). */
  dir?: string;
}

/** Writes an export folder from a spec and returns its path. */
export function writeExport(spec: ExportSpec): string {
  const dir = spec.dir ?? tempDir('slack-spec-');
  const users = spec.users ?? [
    {
      id: 'U1',
      name: 'ann',
      real_name: 'Ann Lee',
      profile: { display_name: 'Ann', email: 'ann@example.com' },
    },
    { id: 'U2', name: 'bob', real_name: 'Bob Roe', profile: { display_name: '', email: 'bob@example.com' } },
  ];
  const channels =
    spec.channels ??
    Object.keys(spec.days).map((name, i) => ({
      id: `C${i + 1}`,
      name,
      created: 1500000000,
      is_general: i === 0,
    }));
  writeFileSync(join(dir, 'users.json'), JSON.stringify(users));
  writeFileSync(join(dir, 'channels.json'), JSON.stringify(channels));
  for (const [folder, days] of Object.entries(spec.days)) {
    mkdirSync(join(dir, folder), { recursive: true });
    for (const [day, content] of Object.entries(days))
      writeFileSync(
        join(dir, folder, `${day}.json`),
        typeof content === 'string' ? content : JSON.stringify(content),
      );
  }
  for (const [path, text] of Object.entries(spec.extra ?? {})) writeFileSync(join(dir, path), text);
  return dir;
}

/** A plain user message. */
export function msg(ts: string, text: string, extra: object = {}): object {
  return { type: 'message', user: 'U1', text, ts, ...extra };
}

/** A planned message as a test knows it from the export it wrote: its key (Slack ts), time in ms, thread. */
export interface KnownMessage {
  key: string;
  ms: number;
  parentKey?: string;
}

/**
 * One channel, `general`, of `n` messages a second apart from `startTs` (whole seconds, so each planned time
 * is its ts in milliseconds); every fourth message replies to the one before it. `channel` adds fields to the
 * channel's entry in channels.json (members, creator).
 */
export function threadedChannelExport(
  n: number,
  channel: object = {},
  startTs = 1_704_190_000,
): { dir: string; known: KnownMessage[] } {
  const messages: object[] = [];
  const known: KnownMessage[] = [];
  let parent: string | undefined;
  for (let i = 0; i < n; i++) {
    const key = `${startTs + i}.000000`;
    const ms = (startTs + i) * 1000;
    if (i % 4 === 3 && parent) {
      messages.push(msg(key, `reply ${i}`, { thread_ts: parent }));
      known.push({ key, ms, parentKey: parent });
    } else {
      messages.push(msg(key, `message ${i}`));
      known.push({ key, ms });
      parent = key;
    }
  }
  const channels = [{ id: 'C1', name: 'general', created: 1500000000, is_general: true, ...channel }];
  return { dir: writeExport({ channels, days: { general: { '2024-01-02': messages } } }), known };
}
