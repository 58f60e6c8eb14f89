import * as nodeEmoji from 'node-emoji';

/** Slack short names that node-emoji (emojilib names) does not know, mapped to the same Unicode emoji. */
const SLACK_ALIASES: Record<string, string> = {
  thumbsup: '👍',
  thumbsdown: '👎',
  simple_smile: '🙂',
  satisfied: '😆',
  thinking_face: '🤔',
  face_with_rolling_eyes: '🙄',
  shipit: '🐿️',
  squirrel: '🐿️',
  the_horns: '🤘',
  sign_of_the_horns: '🤘',
  hankey: '💩',
  shit: '💩',
  punch: '👊',
  hand: '✋',
  hugging_face: '🤗',
  'star-struck': '🤩',
  zany_face: '🤪',
  raising_hand: '🙋',
  white_frowning_face: '☹️',
  collision: '💥',
  envelope: '✉️',
  bee: '🐝',
  lady_beetle: '🐞',
  robot_face: '🤖',
  sports_medal: '🏅',
  first_place_medal: '🥇',
  car: '🚗',
  boat: '⛵',
  pencil: '📝',
  heavy_exclamation_mark: '❗',
  'flag-us': '🇺🇸',
  gb: '🇬🇧',
};

const SKIN_TONES = ['\u{1F3FB}', '\u{1F3FC}', '\u{1F3FD}', '\u{1F3FE}', '\u{1F3FF}'];

/** The Unicode emoji for a Slack short name, or undefined for custom emoji (which stay as `:name:`). */
export function emojiFor(name: string): string | undefined {
  return SLACK_ALIASES[name] ?? nodeEmoji.get(name);
}

/**
 * Renders a Slack emoji name, skin tone included (`+1::skin-tone-3` or `skin_tone` 2..6), as Unicode;
 * custom emoji are kept as the text `:name:` so nothing is lost.
 */
export function renderEmoji(name: string, skinTone?: number): string {
  const m = /^(.*?)::skin-tone-([2-6])$/.exec(name);
  const base = m ? m[1] : name;
  const tone = m ? Number(m[2]) : skinTone;
  const glyph = emojiFor(base);
  if (!glyph) return `:${name}:`;
  if (!tone || tone < 2 || tone > 6) return glyph;
  return glyph.replace(/\uFE0F$/, '') + SKIN_TONES[tone - 2];
}

/** An emoji from a rich-text element's `unicode` field (`1f44d-1f3fb`). */
export function emojiFromCodepoints(hex: string): string | undefined {
  const points = hex.split('-').map((h) => Number.parseInt(h, 16));
  if (points.length === 0 || points.some((p) => !Number.isInteger(p) || p < 0 || p > 0x10ffff))
    return undefined;
  return String.fromCodePoint(...points);
}
