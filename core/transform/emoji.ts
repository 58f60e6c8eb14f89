import { readFileSync } from 'node:fs';

/** One entry of emoji-datasource: the emoji's code points and, for some, its skin tone variations. */
interface EmojiEntry {
  unified: string;
  short_names: string[];
  skin_variations?: Record<string, { unified: string }>;
}

/** Slack's skin tones 2..6 as the Fitzpatrick modifiers emoji-datasource keys its variations by. */
const TONE_KEYS = ['1F3FB', '1F3FC', '1F3FD', '1F3FE', '1F3FF'];

let byName: Map<string, EmojiEntry> | undefined;

/** Slack short names (every alias emoji-datasource lists) to their entries, read once on first use. */
function table(): Map<string, EmojiEntry> {
  if (!byName) {
    byName = new Map();
    const data = JSON.parse(
      readFileSync(require.resolve('emoji-datasource/emoji.json'), 'utf8'),
    ) as EmojiEntry[];
    for (const entry of data)
      for (const name of entry.short_names) if (!byName.has(name)) byName.set(name, entry);
  }
  return byName;
}

const fromUnified = (unified: string): string =>
  String.fromCodePoint(...unified.split('-').map((h) => Number.parseInt(h, 16)));

/** The Unicode emoji for a Slack short name, or undefined for custom emoji (which stay as `:name:`). */
export function emojiFor(name: string): string | undefined {
  const entry = table().get(name);
  return entry ? fromUnified(entry.unified) : undefined;
}

const TONED = /^(.*?)::skin-tone-([2-6])(?:-([2-6]))?$/;

/**
 * A Slack emoji name as Unicode, skin tone included (`+1::skin-tone-3`, `handshake::skin-tone-2-4`, or
 * `skinTone` 2..6 from a rich-text element), from emoji-datasource's Slack short names and skin variations;
 * undefined for custom emoji. A tone the emoji does not take is left out.
 */
export function unicodeEmoji(name: string, skinTone?: number): string | undefined {
  const m = TONED.exec(name);
  const entry = table().get(m ? m[1] : name);
  if (!entry) return undefined;
  const tones = m ? [Number(m[2]), ...(m[3] ? [Number(m[3])] : [])] : skinTone ? [skinTone] : [];
  const keys = tones.filter((t) => t >= 2 && t <= 6).map((t) => TONE_KEYS[t - 2]);
  const variations = entry.skin_variations;
  if (keys.length === 0 || !variations) return fromUnified(entry.unified);
  const variation =
    variations[keys.join('-')] ?? (keys.length === 1 ? variations[`${keys[0]}-${keys[0]}`] : undefined);
  return fromUnified(variation?.unified ?? entry.unified);
}

/** A Slack emoji name as Unicode (see {@link unicodeEmoji}); custom emoji stay the text `:name:`, so nothing is lost. */
export function renderEmoji(name: string, skinTone?: number): string {
  return unicodeEmoji(name, skinTone) ?? `:${name}:`;
}

/** An emoji from a rich-text element's `unicode` field (`1f44d-1f3fb`). */
export function emojiFromCodepoints(hex: string): string | undefined {
  const points = hex.split('-').map((h) => Number.parseInt(h, 16));
  if (points.length === 0 || points.some((p) => !Number.isInteger(p) || p < 0 || p > 0x10ffff))
    return undefined;
  return String.fromCodePoint(...points);
}
