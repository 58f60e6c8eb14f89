import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZipWriter } from './zipWriter';
import { skewedSizes } from './pipeline/skewedExport';
import { rng } from './rng';

/** Options of the synthetic export generator. */
export interface GenerateOptions {
  out: string;
  messages: number;
  channels: number;
  days: number;
  users: number;
  seed: number;
  /** Zipf exponent of the channel sizes (`skewedSizes`); without it every channel gets the same share. */
  skew?: number;
}

const EMOJI = [
  'thumbsup',
  'tada',
  'heart',
  'joy',
  'eyes',
  'rocket',
  'fire',
  '+1::skin-tone-3',
  'party_parrot',
];
const WORDS =
  'deploy build test review merge ship fix bug release plan meeting doc api cache queue latency'.split(' ');

/**
 * Writes a deterministic synthetic Slack export (folder, or ZIP when `out` ends in .zip): many channels,
 * years of day files, threads (about 20% replies), mrkdwn, mentions, emoji and reactions, bot posts, joins,
 * and messages sharing a millisecond (about 2%) so the planner has collisions to resolve.
 */
export function generateExport(o: GenerateOptions): { messages: number; dayFiles: number } {
  const random = rng(o.seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
  const zip = o.out.endsWith('.zip') ? new ZipWriter(o.out) : undefined;
  if (!zip) mkdirSync(o.out, { recursive: true });
  const write = (path: string, text: string): void => {
    if (zip) zip.add(path, text);
    else {
      mkdirSync(join(o.out, path, '..'), { recursive: true });
      writeFileSync(join(o.out, path), text);
    }
  };
  const users = Array.from({ length: o.users }, (_, i) => ({
    id: `U${String(i).padStart(8, '0')}`,
    name: `user${i}`,
    real_name: `User ${i}`,
    deleted: i % 50 === 49,
    profile: {
      display_name: `user${i}`,
      real_name: `User ${i}`,
      ...(i % 10 === 0 ? {} : { email: `user${i}@example.com` }),
    },
  }));
  const start = 1_500_000_000;
  const channels = Array.from({ length: o.channels }, (_, i) => ({
    id: `C${String(i).padStart(8, '0')}`,
    name: i === 0 ? 'general' : `channel-${i}`,
    created: String(start - 86_400),
    is_general: i === 0,
    is_archived: i % 17 === 16,
    members: users.slice(0, 20).map((u) => u.id),
    topic: { value: '' },
    purpose: { value: `Synthetic channel ${i}` },
  }));
  write('users.json', JSON.stringify(users));
  write('channels.json', JSON.stringify(channels));
  let total = 0;
  let dayFiles = 0;
  const perChannel = Math.floor(o.messages / o.channels);
  const sizes =
    o.skew === undefined
      ? channels.map((_, ci) => perChannel + (ci < o.messages % o.channels ? 1 : 0))
      : skewedSizes(o.messages, o.channels, o.skew);
  for (const [ci, ch] of channels.entries()) {
    const count = sizes[ci];
    const perDay = Math.max(1, Math.ceil(count / o.days));
    let written = 0;
    let recentParents: string[] = [];
    for (let d = 0; d < o.days && written < count; d++) {
      const dayStart = start + d * 86_400;
      const n = Math.min(perDay, count - written);
      const msgs: object[] = [];
      let t = dayStart * 1_000_000 + 3_600_000_000;
      for (let k = 0; k < n; k++) {
        t += random() < 0.02 ? 1 + Math.floor(random() * 900) : Math.floor(random() * 60_000_000) + 1000;
        const ts = `${Math.floor(t / 1e6)}.${String(t % 1e6).padStart(6, '0')}`;
        const user = pick(users).id;
        const r = random();
        const words = Array.from({ length: 5 + Math.floor(random() * 25) }, () => pick(WORDS)).join(' ');
        const text = `${r < 0.3 ? `<@${pick(users).id}> ` : ''}*${pick(WORDS)}* ${words} :${pick(EMOJI)}:${r > 0.9 ? ' `code()` <https://example.com/x|link>' : ''}`;
        const base: Record<string, unknown> = { type: 'message', user, text, ts };
        if (random() < 0.15)
          base.reactions = [{ name: pick(EMOJI), users: [user], count: 1 + Math.floor(random() * 5) }];
        if (recentParents.length && random() < 0.2) {
          base.thread_ts = pick(recentParents);
        } else if (random() < 0.03) {
          msgs.push({
            type: 'message',
            subtype: 'bot_message',
            bot_id: 'B0000001',
            username: 'ci-bot',
            text: `Build ${ts} passed`,
            ts,
          });
          written++;
          continue;
        } else if (random() < 0.02) {
          msgs.push({
            type: 'message',
            subtype: 'channel_join',
            user,
            text: `<@${user}> has joined the channel`,
            ts,
          });
          written++;
          continue;
        } else {
          recentParents.push(ts);
          if (recentParents.length > 20) recentParents = recentParents.slice(-20);
        }
        msgs.push(base);
        written++;
      }
      const date = new Date(dayStart * 1000).toISOString().slice(0, 10);
      write(`${ch.name}/${date}.json`, JSON.stringify(msgs, null, 1));
      dayFiles++;
    }
    total += written;
  }
  zip?.close();
  return { messages: total, dayFiles };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

if (require.main === module) {
  const outIndex = process.argv.indexOf('--out');
  if (outIndex === -1) {
    process.stderr.write(
      'usage: node dist/bench/slack-generate.js --out DIR|FILE.zip [--messages N] [--channels C] [--skew Z] [--days D] [--users U] [--seed S]\n',
    );
    process.exit(2);
  }
  const result = generateExport({
    out: process.argv[outIndex + 1],
    messages: arg('messages', 100_000),
    channels: arg('channels', 50),
    days: arg('days', 730),
    users: arg('users', 500),
    seed: arg('seed', 1),
    ...(process.argv.includes('--skew') ? { skew: arg('skew', 1) } : {}),
  });
  process.stdout.write(JSON.stringify(result) + '\n');
}
