import { createHash } from 'node:crypto';

/** The OneDrive folder, under the target user's drive root, that holds the exported conversations. */
export const EXPORT_FOLDER = 'TeamsHistory';

/** The longest title part of a file name, in characters; the whole name stays far below OneDrive's 255. */
export const MAX_STEM_LENGTH = 80;

const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|desktop\.ini|\.lock)$/i;

function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max).join('');
}

/** Hex of sha256(chatId): the stable part of a chat's file name. */
export function chatIdHash(chatId: string, hexChars = 8): string {
  return createHash('sha256').update(chatId, 'utf8').digest('hex').slice(0, hexChars);
}

/**
 * Makes a title safe as the start of a OneDrive/SharePoint file name: no `" * : < > ? / \ | # %` or control
 * characters, no leading `~$`, no `_vti_`, no leading/trailing spaces or dots, not a reserved device name,
 * at most MAX_STEM_LENGTH characters; never empty ("Chat").
 */
export function sanitizeFileStem(title: string): string {
  let stem = title
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ')
    .replace(/["*:<>?/\\|#%]/g, '_')
    .replace(/_vti_/gi, '_vti-')
    .replace(/\s+/g, ' ')
    .replace(/^~\$/, '~_');
  stem = truncate(stem.replace(/^[\s.]+|[\s.]+$/g, ''), MAX_STEM_LENGTH).replace(/[\s.]+$/g, '');
  if (stem === '') return 'Chat';
  return RESERVED.test(stem) ? `_${stem}` : stem;
}

/** `<safe title>-<8 hex of sha256(chatId)>.html`: the same chat id and title always give the same name. */
export function chatFileName(title: string, chatId: string, hexChars = 8): string {
  return `${sanitizeFileStem(title)}-${chatIdHash(chatId, hexChars)}.html`;
}

/**
 * Chooses a chat's file name among the names already used by the user's other chats (compared without
 * case, as OneDrive does): the usual name, or one with a longer hash if two chat ids share the short one.
 * Callers record the result and reuse it on later passes, so a renamed chat keeps updating its first file.
 */
export function assignFileName(title: string, chatId: string, taken: Iterable<string>): string {
  const used = new Set(Array.from(taken, (name) => name.toLowerCase()));
  for (const hexChars of [8, 12, 16, 24, 32, 64]) {
    const name = chatFileName(title, chatId, hexChars);
    if (!used.has(name.toLowerCase())) return name;
  }
  throw new Error(
    `Cannot name the export of chat '${chatId}': every candidate name is already used by another chat of this user; check the recorded file names for duplicates`,
  );
}
