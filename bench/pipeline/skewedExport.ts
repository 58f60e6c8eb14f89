import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rng } from '../rng';

/** Options of the skewed synthetic export. */
export interface SkewedExportOptions {
  /** Folder to write the export into. */
  out: string;
  /** Messages in all channels together. */
  messages: number;
  channels: number;
  /** Zipf exponent of the channel sizes: channel i (from 1) gets a share proportional to 1 / i^skew. */
  skew: number;
  /** Share of messages that are thread replies. */
  replyShare: number;
  users: number;
  seed: number;
  /** Most messages in one day file: a channel spreads over more days than 30 when it needs to. Default: no limit. */
  maxPerDay?: number;
}

/** The channel sizes of a skewed export: Zipf shares rounded so that they add up to `messages` exactly. */
export function skewedSizes(messages: number, channels: number, skew: number): number[] {
  const weights = Array.from({ length: channels }, (_, i) => 1 / (i + 1) ** skew);
  const sum = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(1, Math.floor((messages * w) / sum)));
  for (let i = 0, rest = messages - sizes.reduce((a, b) => a + b, 0); rest > 0; i++, rest--)
    sizes[i % channels]++;
  return sizes;
}

const WORDS =
  'deploy build test review merge ship fix bug release plan meeting doc api cache queue latency'.split(' ');

/**
 * Writes a deterministic Slack export folder whose channels have Zipf-distributed sizes (the largest is
 * `general`), every message importable: plain and formatted text, mentions, thread replies, a few bot posts
 * and authors without e-mail (posted as the fallback user). No join or system events, so every source
 * message is a planned message. Returns the per-channel sizes, largest first.
 */
export function writeSkewedExport(o: SkewedExportOptions): { name: string; messages: number }[] {
  const random = rng(o.seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
  const write = (path: string, value: unknown): void => {
    mkdirSync(join(o.out, path, '..'), { recursive: true });
    writeFileSync(join(o.out, path), JSON.stringify(value, null, 1));
  };
  const users = Array.from({ length: o.users }, (_, i) => ({
    id: `U${String(i).padStart(8, '0')}`,
    name: `user${i}`,
    real_name: `User ${i}`,
    deleted: false,
    profile: {
      display_name: `user${i}`,
      real_name: `User ${i}`,
      ...(i % 10 === 9 ? {} : { email: `user${i}@example.com` }),
    },
  }));
  const sizes = skewedSizes(o.messages, o.channels, o.skew);
  const start = 1_700_000_000;
  const channels = sizes.map((_, i) => ({
    id: `C${String(i).padStart(8, '0')}`,
    name: i === 0 ? 'general' : `channel-${String(i).padStart(2, '0')}`,
    created: String(start - 86_400),
    is_general: i === 0,
    is_archived: false,
    members: users.map((u) => u.id),
    topic: { value: '' },
    purpose: { value: `Synthetic channel ${i}` },
  }));
  write('users.json', users);
  write('channels.json', channels);

  for (const [ci, ch] of channels.entries()) {
    const count = sizes[ci];
    const days = Math.max(30, Math.ceil(count / (o.maxPerDay ?? Infinity)));
    const perDay = Math.ceil(count / days);
    let written = 0;
    let parents: string[] = [];
    for (let d = 0; written < count; d++) {
      const n = Math.min(perDay, count - written);
      const msgs: object[] = [];
      let t = (start + d * 86_400) * 1_000_000 + 3_600_000_000;
      for (let k = 0; k < n; k++) {
        t += 1000 + Math.floor(random() * 60_000_000);
        const ts = `${Math.floor(t / 1e6)}.${String(t % 1e6).padStart(6, '0')}`;
        const words = Array.from({ length: 5 + Math.floor(random() * 25) }, () => pick(WORDS)).join(' ');
        const mention = random() < 0.3 ? `<@${pick(users).id}> ` : '';
        if (random() < 0.03) {
          msgs.push({
            type: 'message',
            subtype: 'bot_message',
            bot_id: 'B0000001',
            username: 'ci-bot',
            text: `Build ${ts} passed`,
            ts,
          });
        } else if (parents.length && random() < o.replyShare) {
          msgs.push({
            type: 'message',
            user: pick(users).id,
            text: `${mention}${words}`,
            ts,
            thread_ts: pick(parents),
          });
        } else {
          msgs.push({
            type: 'message',
            user: pick(users).id,
            text: `${mention}*${pick(WORDS)}* ${words}`,
            ts,
          });
          parents.push(ts);
          if (parents.length > 20) parents = parents.slice(-20);
        }
        written++;
      }
      write(`${ch.name}/${new Date((start + d * 86_400) * 1000).toISOString().slice(0, 10)}.json`, msgs);
    }
  }
  return channels.map((c, i) => ({ name: c.name, messages: sizes[i] }));
}
