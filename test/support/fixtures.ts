import { cpSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The real Slack fixtures kept with the tests (each folder has its SOURCE.txt and LICENSE). */
export const SLACK_FIXTURES = join(__dirname, '..', 'fixtures', 'slack');
export const EXPORT_2016 = join(SLACK_FIXTURES, 'slack-export-viewer-2016');
export const ZULIP = join(SLACK_FIXTURES, 'zulip');

/** A fresh temporary folder. */
export function tempDir(prefix = 'slack-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Reads a JSON fixture file. */
export function readJson<T = unknown>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/**
 * Assembles the zulip fixtures into one export folder in today's format: channels.json, dms.json,
 * mpims.json, team_info.json, the real test_slack_importer users and random/ days, plus a `threads`
 * channel whose day file holds the thread fixtures (the extra `channel_name` key removed).
 */
export function assembleZulipExport(): string {
  const dir = tempDir('zulip-export-');
  for (const f of ['channels.json', 'dms.json', 'mpims.json', 'team_info.json'])
    cpSync(join(ZULIP, f), join(dir, f));
  const users = [
    ...readJson<object[]>(join(ZULIP, 'test_slack_importer', 'users.json')),
    ...readJson<object[]>(join(ZULIP, 'exported_messages_fixtures', 'users.json')),
  ];
  writeFileSync(join(dir, 'users.json'), JSON.stringify(users, null, 1));
  cpSync(join(ZULIP, 'test_slack_importer', 'random'), join(dir, 'random'), { recursive: true });
  const channels = readJson<Array<Record<string, unknown>>>(join(dir, 'channels.json'));
  channels.push({ id: 'C0THREADS', name: 'threads', created: '1433558319', is_general: false, members: [] });
  writeFileSync(join(dir, 'channels.json'), JSON.stringify(channels, null, 1));
  mkdirSync(join(dir, 'threads'));
  const strip = (m: Record<string, unknown>): Record<string, unknown> => {
    const { channel_name: _c, ...rest } = m;
    return rest;
  };
  const fx = join(ZULIP, 'exported_messages_fixtures');
  const thread = readJson<Array<Record<string, unknown>>>(join(fx, 'normal_thread.json')).map(strip);
  const broadcast = readJson<Array<Record<string, unknown>>>(join(fx, 'thread_with_broadcast_reply.json'))
    .map(strip)
    .map((m) => ({
      ...m,
      ts: m.ts === '1434139102.000002' ? '1434139102.500002' : m.ts,
      thread_ts: '1434139102.500002',
    }));
  writeFileSync(join(dir, 'threads', '2015-06-12.json'), JSON.stringify([...thread, ...broadcast], null, 1));
  const singles = readdirSync(fx)
    .filter((f) => f.startsWith('message_with_'))
    .sort()
    .map((f) => readJson<Record<string, unknown>>(join(fx, f)));
  mkdirSync(join(dir, 'general'));
  writeFileSync(join(dir, 'general', '2026-02-25.json'), JSON.stringify(singles, null, 1));
  return dir;
}
