import type { ConversationKind, Problem, SourceConversation, SourceMessage, SourceUser } from '../../model';
import {
  DEFAULT_ARCHIVE_LIMITS,
  ExportReadError,
  openExportArchive,
  type ArchiveLimits,
  type ExportArchive,
} from '../archive';
import { JsonFileError, parseJsonFile } from './json';
import { readSlackMessage } from './messages';

/** A conversation of the export with where its day files are. */
export interface SlackConversation extends SourceConversation {
  /** The folder holding the day files (name for channels, id for DMs). */
  folder: string;
  /** Day file paths in date order. */
  dayFiles: string[];
}

/** One day file, read: its messages in file order and what was wrong with any element. */
export interface SlackDay {
  path: string;
  /** `YYYY-MM-DD` from the file name. */
  date: string;
  messages: SourceMessage[];
  /** Elements that are not messages, unknown subtypes, or a file that is not a JSON array. */
  problems: Problem[];
  /** Elements of the file that could not be read as messages (each also has a problem). */
  unreadable: number;
}

/** A Slack export opened for streaming: metadata in memory, day files read one at a time on demand. */
export interface SlackExport {
  readonly name: string;
  readonly teamName?: string;
  readonly users: SourceUser[];
  /** Every conversation the metadata files list, plus folders of day files that none lists. */
  readonly conversations: SlackConversation[];
  /** Problems found in the metadata and ZIP directory. */
  readonly problems: Problem[];
  /** Bot ids -> names, from bot users' profiles. */
  readonly botNames: ReadonlyMap<string, string>;
  /** The conversation's day files in date order, one at a time (a few are read ahead). */
  days(conversation: SlackConversation): AsyncIterable<SlackDay>;
  /** The underlying archive, e.g. to stream file bytes for upload. */
  readonly archive: ExportArchive;
  close(): Promise<void>;
}

/** Options for {@link openSlackExport}. */
export interface OpenSlackExportOptions {
  limits?: ArchiveLimits;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.json$/;
/** Day files whose bytes are read ahead while the current one is planned: hides I/O latency, bounds memory. */
const READ_AHEAD = 16;

/**
 * Opens a Slack export (ZIP or folder) and reads its metadata files; day files are read later, lazily.
 * Throws {@link ExportReadError} when the input is unusable (not a ZIP, no `channels.json`, broken metadata).
 */
export async function openSlackExport(
  path: string,
  options: OpenSlackExportOptions = {},
): Promise<SlackExport> {
  const archive = await openExportArchive(path, options.limits ?? DEFAULT_ARCHIVE_LIMITS);
  try {
    return await readMetadata(archive);
  } catch (err) {
    await archive.close();
    if (err instanceof JsonFileError) throw new ExportReadError(err.message);
    throw err;
  }
}

async function readMetadata(archive: ExportArchive): Promise<SlackExport> {
  const root = findRoot(archive);
  const at = (p: string): string => root + p;
  const problems: Problem[] = [...archive.problems];
  const readJson = async (p: string): Promise<unknown> =>
    archive.has(at(p)) ? parseJsonFile(at(p), (await archive.read(at(p))).toString('utf8')) : undefined;
  const listOf = async (p: string): Promise<Json[]> => {
    const v = await readJson(p);
    if (v === undefined) return [];
    if (!Array.isArray(v))
      throw new ExportReadError(`'${at(p)}' is not a JSON array: the export is damaged; export it again.`);
    return v.filter(isObj);
  };
  const users = (await listOf('users.json')).map(readUser);
  const botNames = new Map<string, string>();
  for (const raw of await listOf('users.json')) {
    const profile = isObj(raw.profile) ? raw.profile : {};
    const botId = str(profile.bot_id);
    if (botId) botNames.set(botId, displayNameOf(raw));
  }
  const team = await readJson('team_info.json');
  const teamName = isObj(team) && isObj(team.team) ? str(team.team.name) : undefined;

  const folders = dayFolders(archive, root);
  const conversations: SlackConversation[] = [];
  const listed = new Set<string>();
  const add = (raw: Json, kind: ConversationKind): void => {
    const id = str(raw.id);
    if (!id) return;
    const name = str(raw.name) ?? id;
    const folder = kind === 'dm' ? id : name;
    listed.add(folder);
    conversations.push({
      ...readConversation(raw, id, name, kind),
      folder,
      dayFiles: folders.get(folder) ?? [],
    });
  };
  (await listOf('channels.json')).forEach((c) => add(c, 'channel'));
  (await listOf('groups.json')).forEach((c) => add(c, 'private'));
  (await listOf('dms.json')).forEach((c) => add(c, 'dm'));
  (await listOf('mpims.json')).forEach((c) => add(c, 'groupDm'));
  if (!archive.has(at('channels.json')))
    throw new ExportReadError(
      `'${archive.name}' has no channels.json: it is not a Slack workspace export (export it from Slack's Import/Export page).`,
    );
  for (const [folder, files] of [...folders].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (listed.has(folder)) continue;
    problems.push({
      severity: 'warning',
      code: 'folder-unlisted',
      message: `folder '${at(folder)}' holds ${files.length} day file(s) but no channels/groups/dms/mpims entry lists it; its messages are not imported.`,
      where: at(folder),
    });
    conversations.push({
      sourceId: folder,
      name: folder,
      kind: 'private',
      isGeneral: false,
      isArchived: false,
      topic: '',
      purpose: '',
      members: [],
      folder,
      dayFiles: files,
    });
  }

  const botUsers = new Set(users.filter((u) => u.isBot).map((u) => u.sourceId));
  const uploads = uploadIndex(archive, root);
  const authors = { isBotUser: (id: string) => botUsers.has(id) };
  return {
    name: archive.name,
    ...(teamName ? { teamName } : {}),
    users,
    conversations,
    problems,
    botNames,
    archive,
    close: () => archive.close(),
    async *days(conversation: SlackConversation): AsyncIterable<SlackDay> {
      const fileBytes = (fileId: string, name: string): string | undefined =>
        uploads.get(`${fileId}/${name}`) ??
        uploads.get(fileId) ??
        attachmentPath(archive, root, conversation, fileId, name);
      const files = conversation.dayFiles;
      const pending: Array<{ path: string; bytes: Promise<Buffer> }> = [];
      let next = 0;
      const start = (): void => {
        const path = files[next++];
        const bytes = archive.read(path);
        bytes.catch(() => undefined);
        pending.push({ path, bytes });
      };
      while (next < files.length && pending.length < READ_AHEAD) start();
      while (pending.length > 0) {
        const { path, bytes } = pending.shift()!;
        const date = DAY_FILE.exec(path.slice(path.lastIndexOf('/') + 1))![1];
        const day = await readDay(bytes, path, date, conversation.sourceId, authors, fileBytes);
        if (next < files.length) start();
        yield day;
      }
    },
  };
}

async function readDay(
  bytes: Promise<Buffer>,
  path: string,
  date: string,
  conversationId: string,
  authors: { isBotUser(id: string): boolean },
  fileBytes: (fileId: string, name: string) => string | undefined,
): Promise<SlackDay> {
  const problems: Problem[] = [];
  let parsed: unknown;
  try {
    parsed = parseJsonFile(path, (await bytes).toString('utf8'));
  } catch (err) {
    if (!(err instanceof JsonFileError || err instanceof ExportReadError)) throw err;
    const code = err instanceof JsonFileError ? 'day-file-json' : 'day-file-unreadable';
    problems.push({ severity: 'error', code, message: err.message, where: path });
    return { path, date, messages: [], problems, unreadable: 0 };
  }
  if (!Array.isArray(parsed)) {
    problems.push({
      severity: 'error',
      code: 'day-file-not-array',
      message: `'${path}' is not a JSON array of messages; its content is not imported. Repair or remove the file.`,
      where: path,
    });
    return { path, date, messages: [], problems, unreadable: 1 };
  }
  const messages: SourceMessage[] = [];
  let unreadable = 0;
  parsed.forEach((raw, index) => {
    const r = readSlackMessage(raw, conversationId, authors, fileBytes);
    if (!r.ok) {
      unreadable++;
      problems.push({
        severity: 'warning',
        code: 'message-unreadable',
        message: `element ${index} of '${path}' ${r.reason}; it is not imported.`,
        where: path,
      });
      return;
    }
    if (r.unknownSubtype)
      problems.push({
        severity: 'info',
        code: 'unknown-subtype',
        message: `message ${r.message.ts} in '${path}' has the unknown subtype '${r.unknownSubtype}'; it is imported as an ordinary message with its text.`,
        where: path,
      });
    messages.push(r.message);
  });
  return { path, date, messages, problems, unreadable };
}

function findRoot(archive: ExportArchive): string {
  if (archive.has('channels.json') || archive.has('users.json')) return '';
  const candidates = archive.paths().filter((p) => /^[^/]+\/channels\.json$/.test(p));
  return candidates.length === 1 ? candidates[0].slice(0, -'channels.json'.length) : '';
}

function dayFolders(archive: ExportArchive, root: string): Map<string, string[]> {
  const folders = new Map<string, string[]>();
  for (const p of archive.paths()) {
    if (!p.startsWith(root)) continue;
    const rel = p.slice(root.length);
    const slash = rel.indexOf('/');
    if (slash <= 0 || rel.indexOf('/', slash + 1) !== -1) continue;
    if (!DAY_FILE.test(rel.slice(slash + 1))) continue;
    const folder = rel.slice(0, slash);
    const list = folders.get(folder) ?? [];
    list.push(p);
    folders.set(folder, list);
  }
  for (const list of folders.values()) list.sort();
  return folders;
}

function uploadIndex(archive: ExportArchive, root: string): Map<string, string> {
  const index = new Map<string, string>();
  const prefix = `${root}__uploads/`;
  for (const p of archive.paths()) {
    if (!p.startsWith(prefix)) continue;
    const [id, ...rest] = p.slice(prefix.length).split('/');
    if (!id || rest.length === 0) continue;
    index.set(`${id}/${rest.join('/')}`, p);
    if (!index.has(id)) index.set(id, p);
  }
  return index;
}

function attachmentPath(
  archive: ExportArchive,
  root: string,
  conversation: SlackConversation,
  fileId: string,
  name: string,
): string | undefined {
  const p = `${root}${conversation.folder}/attachments/${fileId}-${name}`;
  return archive.has(p) ? p : undefined;
}

function displayNameOf(raw: Json): string {
  const profile = isObj(raw.profile) ? raw.profile : {};
  const pick = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);
  return (
    pick(profile.display_name) ??
    pick(profile.real_name) ??
    pick(raw.real_name) ??
    pick(raw.name) ??
    String(raw.id)
  );
}

function readUser(raw: Json): SourceUser {
  const profile = isObj(raw.profile) ? raw.profile : {};
  const email = str(profile.email);
  const realName = str(raw.real_name) ?? str(profile.real_name);
  const tz = str(raw.tz);
  return {
    sourceId: str(raw.id) ?? '',
    name: str(raw.name) ?? '',
    displayName: displayNameOf(raw),
    ...(realName ? { realName } : {}),
    ...(email ? { email } : {}),
    isBot: raw.is_bot === true || raw.id === 'USLACKBOT',
    isDeleted: raw.deleted === true,
    isAdmin: raw.is_admin === true || raw.is_owner === true || raw.is_primary_owner === true,
    ...(tz ? { timeZone: tz } : {}),
  };
}

function readConversation(raw: Json, id: string, name: string, kind: ConversationKind): SourceConversation {
  const created = typeof raw.created === 'number' ? raw.created : Number(str(raw.created) ?? NaN);
  const text = (v: unknown): string => (isObj(v) ? (str(v.value) ?? '') : '');
  const creator = str(raw.creator) ?? str(raw.user);
  return {
    sourceId: id,
    name,
    kind,
    isGeneral: raw.is_general === true,
    isArchived: raw.is_archived === true,
    topic: text(raw.topic),
    purpose: text(raw.purpose),
    members: Array.isArray(raw.members) ? raw.members.filter((m): m is string => typeof m === 'string') : [],
    ...(creator ? { creatorId: creator } : {}),
    ...(Number.isFinite(created) && created > 0 ? { createdMs: created * 1000 } : {}),
  };
}
