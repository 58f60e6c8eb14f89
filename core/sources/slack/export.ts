import type { ConversationKind, Problem, SourceConversation, SourceMessage, SourceUser } from '../../model';
import type { Readable } from 'node:stream';
import {
  checkEntrySize,
  DEFAULT_ARCHIVE_LIMITS,
  EntryTooLargeError,
  ExportReadError,
  openExportArchive,
  type ArchiveLimits,
  type ExportArchive,
} from '../archive';
import {
  JsonArrayReader,
  JsonElementLimitError,
  JsonFileError,
  JsonNotArrayError,
  parseJsonFile,
  parseSmallArray,
  readJsonArray,
  slices,
  smallArrayBytes,
  type JsonElementLimits,
} from './json';
import { readSlackMessage, type AuthorDirectory } from './messages';
import type { SourceDirectory } from './webApi';

/** A conversation of the export with where its day files are. */
export interface SlackConversation extends SourceConversation {
  /** The folder holding the day files (name for channels, id for DMs). */
  folder: string;
  /** Day file paths in date order. */
  dayFiles: string[];
  /** A folder no channels/groups/dms/mpims entry lists: never imported, whatever the options. */
  unlisted?: boolean;
}

/**
 * One day file, read: its messages in file order and what was wrong with any element. A large day file comes
 * as several consecutive SlackDays with the same path (parts of about {@link DAY_PART_BYTES}), so no day is
 * ever held whole.
 */
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

/**
 * A Slack workspace as the planner reads it: users and conversations in memory, each conversation's messages
 * streamed in days on demand. An export is one; Slack's Web API is another (`openSlackApi`).
 */
export interface SlackSource {
  readonly name: string;
  readonly teamName?: string;
  /** The workspace's Slack team id (`T...`), when the export says (team_info.json, else users' `team_id`). */
  readonly teamId?: string;
  /** The workspace's web address (`https://acme.slack.com`), when the export says: Slack permalinks start with it. */
  readonly workspaceUrl?: string;
  readonly users: SourceUser[];
  /** Every conversation the metadata files list, plus folders of day files that none lists. */
  readonly conversations: SlackConversation[];
  /** Problems found in the metadata and ZIP directory. */
  readonly problems: Problem[];
  /** Bot ids -> names, from bot users' profiles. */
  readonly botNames: ReadonlyMap<string, string>;
  /**
   * What opening read of a workspace read call by call (Slack's Web API), to open it again without those calls
   * (`openSlackApi`'s `directory`); undefined for an export, whose index is cheap to read again.
   */
  readonly directory?: SourceDirectory;
  /** The conversation's messages in parts (an export's day files in date order, streamed). */
  days(conversation: SlackConversation): AsyncIterable<SlackDay>;
  close(): Promise<void>;
}

/** A Slack export opened for streaming: metadata in memory, day files read one at a time on demand. */
export interface SlackExport extends SlackSource {
  /** The conversation's day files in date order, streamed ({@link READ_AHEAD_BYTES} of them are read ahead). */
  days(conversation: SlackConversation): AsyncIterable<SlackDay>;
  /** The underlying archive, e.g. to stream file bytes for upload. */
  readonly archive: ExportArchive;
}

/** Options for {@link openSlackExport}. */
export interface OpenSlackExportOptions {
  limits?: ArchiveLimits;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.json$/;
/** What a conversation id may be: Slack's ids (`C024BE91L`) and every id an export tool writes fit it. */
export const SLACK_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Bytes of day files read ahead while the current one is planned: hides I/O latency, and no more is held. */
export const READ_AHEAD_BYTES = 4 * 1024 * 1024;
/** Largest element of an export's JSON arrays (one message, user or channel), in bytes of the file. */
export const MAX_ELEMENT_BYTES = 4 * 1024 * 1024;
/** Deepest nesting inside one element: Slack's blocks and attachments nest about ten levels. */
export const MAX_ELEMENT_DEPTH = 64;
/** Most elements in one JSON file: a day of the busiest channel holds far fewer messages. */
export const MAX_ELEMENTS_PER_FILE = 1_000_000;
/** A day file is handed on in parts of about this many bytes of the file. */
export const DAY_PART_BYTES = 8 * 1024 * 1024;
/** Problems of one code listed per day file; the rest are counted in one line. */
const PROBLEMS_PER_FILE = 20;
const ELEMENT_LIMITS: JsonElementLimits = {
  maxElementBytes: MAX_ELEMENT_BYTES,
  maxDepth: MAX_ELEMENT_DEPTH,
  maxElements: MAX_ELEMENTS_PER_FILE,
};

/**
 * Opens a Slack export (a ZIP or folder by its path, or an archive already opened, e.g. a ZIP read from a blob
 * by range) and reads its metadata files; day files are read later, lazily. The export owns the archive: its
 * `close` closes it, and so does a failure to open. Throws {@link ExportReadError} when the input is unusable
 * (not a ZIP, no `channels.json`, broken metadata).
 */
export async function openSlackExport(
  input: string | ExportArchive,
  options: OpenSlackExportOptions = {},
): Promise<SlackExport> {
  const archive =
    typeof input === 'string'
      ? await openExportArchive(input, options.limits ?? DEFAULT_ARCHIVE_LIMITS)
      : input;
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
  const listOf = async (p: string): Promise<Json[]> => {
    if (!archive.has(at(p))) return [];
    try {
      const bytes = await archive.read(at(p));
      const list =
        parseSmallArray(bytes, ELEMENT_LIMITS) ?? (await readJsonArray(at(p), slices(bytes), ELEMENT_LIMITS));
      return list.filter(isObj);
    } catch (err) {
      if (err instanceof JsonNotArrayError)
        throw new ExportReadError(`'${at(p)}' is not a JSON array: the export is damaged; export it again.`);
      if (err instanceof JsonElementLimitError) throw new ExportReadError(err.message);
      throw err;
    }
  };
  const userList = await listOf('users.json');
  const { users, botNames } = readUsers(userList);
  const team = archive.has(at('team_info.json'))
    ? parseJsonFile(at('team_info.json'), await archive.read(at('team_info.json')))
    : undefined;
  const teamInfo = isObj(team) && isObj(team.team) ? team.team : undefined;
  const teamName = teamInfo ? str(teamInfo.name) : undefined;
  const teamId = (teamInfo ? str(teamInfo.id) : undefined) ?? commonTeamId(userList);
  const workspaceUrl = teamInfo ? workspaceUrlOf(teamInfo) : undefined;

  const folders = dayFolders(archive, root);
  const conversations: SlackConversation[] = [];
  const listed = new Set<string>();
  const add = (raw: Json, kind: ConversationKind, file: string): void => {
    const id = str(raw.id);
    if (!id) return;
    const name = str(raw.name) ?? id;
    if (!SLACK_ID.test(id)) {
      problems.push(
        invalidConversationId(
          at(file),
          name,
          id,
          `correct the id in ${at(file)} or export the workspace again.`,
        ),
      );
      return;
    }
    const folder = kind === 'dm' ? id : name;
    listed.add(folder);
    conversations.push({
      ...readConversation(raw, id, name, kind),
      folder,
      dayFiles: folders.get(folder) ?? [],
    });
  };
  (await listOf('channels.json')).forEach((c) => add(c, 'channel', 'channels.json'));
  (await listOf('groups.json')).forEach((c) => add(c, 'private', 'groups.json'));
  (await listOf('dms.json')).forEach((c) => add(c, 'dm', 'dms.json'));
  (await listOf('mpims.json')).forEach((c) => add(c, 'groupDm', 'mpims.json'));
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
      unlisted: true,
    });
  }

  const botUsers = new Set(users.filter((u) => u.isBot).map((u) => u.sourceId));
  const uploads = uploadIndex(archive, root);
  const authors = { isBotUser: (id: string) => botUsers.has(id) };
  return {
    name: archive.name,
    ...(teamName ? { teamName } : {}),
    ...(teamId ? { teamId } : {}),
    ...(workspaceUrl ? { workspaceUrl } : {}),
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
      const ahead = new Map<number, Promise<Buffer>>();
      let aheadBytes = 0;
      let next = 0;
      const refill = (): void => {
        for (; next < files.length; next++) {
          const size = archive.size(files[next]);
          if (aheadBytes + size > READ_AHEAD_BYTES) break;
          const bytes = archive.read(files[next]);
          bytes.catch(() => undefined);
          ahead.set(next, bytes);
          aheadBytes += size;
        }
      };
      refill();
      for (let i = 0; i < files.length; i++) {
        const path = files[i];
        const prefetched = ahead.get(i);
        if (!prefetched) next = Math.max(next, i + 1);
        refill();
        const date = DAY_FILE.exec(path.slice(path.lastIndexOf('/') + 1))![1];
        const day = new DayReader(path, date, conversation.sourceId, authors, fileBytes);
        yield* day.read(() => prefetched ?? openInTurn(archive, path));
        if (prefetched) {
          ahead.delete(i);
          aheadBytes -= archive.size(path);
        }
      }
    },
  };
}

/**
 * Reads messages that come from elsewhere than a day file (a page of Slack's Web API) exactly as the elements
 * of a day file named `path`: the same checks, problems and parts.
 */
export function readMessageElements(
  path: string,
  date: string,
  conversationId: string,
  authors: AuthorDirectory,
  elements: unknown[],
): AsyncIterable<SlackDay> {
  const bytes = Buffer.from(JSON.stringify(elements), 'utf8');
  return new DayReader(path, date, conversationId, authors, () => undefined).read(() =>
    Promise.resolve(bytes),
  );
}

/** The problem of a conversation whose id is not a Slack id (ids name plan files and storage paths). */
export function invalidConversationId(where: string, name: string, id: string, fix: string): Problem {
  return {
    severity: 'error',
    code: 'conversation-id-invalid',
    message:
      `${where} lists '${name}' with the id ${JSON.stringify(id)}, which is not a Slack id (1-64 ` +
      `letters, digits, '-' or '_'); ids name the plan's files and storage paths, so it is not imported: ${fix}`,
    where,
  };
}

/** A day file that was not read ahead: read whole when small enough to be parsed whole, else streamed. */
async function openInTurn(archive: ExportArchive, path: string): Promise<Buffer | Readable> {
  const size = archive.size(path);
  if (size <= smallArrayBytes(ELEMENT_LIMITS)) return archive.read(path);
  checkEntrySize(path, size, archive.limits);
  return archive.stream(path);
}

/** Reads one day file, element by element, into SlackDay parts. */
class DayReader {
  private part: SlackDay;
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly path: string,
    private readonly date: string,
    private readonly conversationId: string,
    private readonly authors: AuthorDirectory,
    private readonly fileBytes: (fileId: string, name: string) => string | undefined,
  ) {
    this.part = this.empty();
  }

  async *read(open: () => Promise<Buffer | Readable>): AsyncGenerator<SlackDay> {
    let fed = 0;
    let partStart = 0;
    try {
      const source = await open();
      const whole = Buffer.isBuffer(source) ? parseSmallArray(source, ELEMENT_LIMITS) : undefined;
      if (whole) {
        whole.forEach((raw, index) => this.element(raw, index));
        yield* this.finish();
        return;
      }
      const reader = new JsonArrayReader(this.path, ELEMENT_LIMITS, (raw, index) => this.element(raw, index));
      for await (const chunk of Buffer.isBuffer(source)
        ? slices(source)
        : (source as AsyncIterable<Buffer>)) {
        reader.write(chunk);
        fed += chunk.length;
        if (fed - partStart >= DAY_PART_BYTES && this.part.messages.length > 0) {
          yield this.part;
          this.part = this.empty();
          partStart = fed;
        }
      }
      reader.end();
    } catch (err) {
      this.failed(err);
    }
    yield* this.finish();
  }

  /** The last part of the file, with a line per code of problems not listed. */
  private *finish(): Generator<SlackDay> {
    for (const [code, n] of this.counts)
      if (n > PROBLEMS_PER_FILE)
        this.part.problems.push({
          severity: 'warning',
          code: 'problems-not-listed',
          message: `${n - PROBLEMS_PER_FILE} more '${code}' problems in '${this.path}' are not listed (${n} in all).`,
          where: this.path,
        });
    yield this.part;
  }

  private empty(): SlackDay {
    return { path: this.path, date: this.date, messages: [], problems: [], unreadable: 0 };
  }

  /** Lists a problem of the file unless enough of its code are listed; `message` is made only when listed. */
  private note(severity: Problem['severity'], code: string, message: () => string): void {
    const n = (this.counts.get(code) ?? 0) + 1;
    this.counts.set(code, n);
    if (n <= PROBLEMS_PER_FILE)
      this.part.problems.push({ severity, code, message: message(), where: this.path });
  }

  private element(raw: unknown, index: number): void {
    const { path } = this;
    const r = readSlackMessage(raw, this.conversationId, this.authors, this.fileBytes);
    if (!r.ok) {
      this.part.unreadable++;
      this.note(
        'warning',
        'message-unreadable',
        () => `element ${index} of '${path}' ${r.reason}; it is not imported.`,
      );
      return;
    }
    const subtype = r.unknownSubtype;
    if (subtype)
      this.note(
        'info',
        'unknown-subtype',
        () =>
          `message ${r.message.ts} in '${path}' has the unknown subtype '${subtype}'; it is imported as an ordinary message with its text.`,
      );
    this.part.messages.push(r.message);
  }

  private failed(err: unknown): void {
    const { path } = this;
    const problem = (code: string, message: string): void => {
      this.part.problems.push({ severity: 'error', code, message, where: path });
    };
    if (err instanceof JsonFileError) problem('day-file-json', err.message);
    else if (err instanceof JsonElementLimitError) problem('day-file-limit', err.message);
    else if (err instanceof JsonNotArrayError) {
      this.part.unreadable++;
      problem(
        'day-file-not-array',
        `'${path}' is not a JSON array of messages; its content is not imported. Repair or remove the file.`,
      );
    } else if (err instanceof EntryTooLargeError) problem('day-file-too-large', err.message);
    else if (err instanceof ExportReadError) problem('day-file-unreadable', err.message);
    else
      problem(
        'day-file-unreadable',
        `'${path}' cannot be read (${err instanceof Error ? err.message : String(err)}): the export is corrupt or truncated; export it again.`,
      );
  }
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

/** The team id most users of users.json carry (`team_id`): the workspace's, in an export of one workspace. */
function commonTeamId(users: Json[]): string | undefined {
  const counts = new Map<string, number>();
  for (const u of users) {
    const id = str(u.team_id);
    if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0];
}

/** The workspace's https address from team_info.json's `url` or `domain`. */
function workspaceUrlOf(team: Json): string | undefined {
  const url = str(team.url);
  if (url && /^https:\/\/[a-z0-9-]+(\.enterprise)?\.slack\.com\/?$/i.test(url))
    return url.replace(/\/+$/, '');
  const domain = str(team.domain);
  return domain && /^[a-z0-9-]+$/i.test(domain) ? `https://${domain.toLowerCase()}.slack.com` : undefined;
}

/** Users as `users.json` (or Slack's `users.list`) lists them, and the bot ids their profiles name. */
export function readUsers(list: Json[]): { users: SourceUser[]; botNames: Map<string, string> } {
  const botNames = new Map<string, string>();
  for (const raw of list) {
    const profile = isObj(raw.profile) ? raw.profile : {};
    const botId = str(profile.bot_id);
    if (botId) botNames.set(botId, displayNameOf(raw));
  }
  return { users: list.map(readUser), botNames };
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

/** A conversation as `channels.json` (or Slack's `conversations.list`) describes it. */
export function readConversation(
  raw: Json,
  id: string,
  name: string,
  kind: ConversationKind,
): SourceConversation {
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
