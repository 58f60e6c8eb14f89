import type { PostingSlot } from '../graph/budget';
import { chatPacingKey } from '../graph/chatImport';
import { GraphError, MaybeCommittedError } from '../graph/errors';
import { buildImportMessage, messageIdFor, type MessageAuthor } from '../graph/messageBody';
import { tenantDirectory, type TenantDirectory } from '../graph/nativeContent';
import type { PlannedChat, PlannedMessage } from '../model';
import type { ChannelRecord, UserRecord } from '../state/ledgerRecords';
import { escapeHtml } from '../transform/html';
import { ChannelProgress } from './channelProgress';
import type {
  ChatWork,
  CompleteChatInput,
  EnsureChatInput,
  EnsureChatResult,
  PlanChatsInput,
  PlanChatsResult,
  PostChatInput,
  PostChatResult,
} from './contracts';
import type { PipelineDeps } from './deps';
import { FileFailure, MessageFiles, type FileDestination } from './files';
import { ONEDRIVE_CHOSEN } from './report';
import { readManifest } from './runStore';

/** The ledger run that holds a migration's chats (their rows and message rows), apart from its channels. */
export function chatLedgerRun(migrationId: string): string {
  return `${migrationId}/chats`;
}

/** The OneDrive folder Teams keeps the files people share in chats in: a chat's files go to the sender's. */
export const CHAT_FILES_FOLDER = 'Microsoft Teams Chat Files';

/** The reason a conversation goes the OneDrive way when the service refuses its chat import. */
export function refusedReason(err: GraphError): string {
  return `the service refused the chat import (${err.status} ${err.code}: ${err.serviceMessage})`;
}

/** Re-sends of one message after a lost answer that the service does not show as committed. */
const MAX_SENDS = 3;
/** Characters of a parent message quoted above a reply. */
const QUOTE_CHARS = 200;

class MessageFailure extends Error {}

/** A refusal of the whole chat import: the conversation goes the OneDrive way. */
function isChatRefused(err: unknown): err is GraphError {
  return err instanceof GraphError && err.status === 412;
}

/** Entra users the run matched (never the fallback account, which stands for others). */
function matchedUser(users: ReadonlyMap<string, UserRecord>, sourceId: string): UserRecord | undefined {
  const u = users.get(sourceId);
  return u?.entraId && u.matchedBy !== 'unmatched' && u.matchedBy !== 'fallback' ? u : undefined;
}

/**
 * Decides where each planned DM and group DM goes under `--dms chats`: a chat when every member matched an
 * Entra user (at least two distinct people), else the OneDrive way with the reason (a member missing from
 * users.json or with no Entra user, a conversation with one person); a conversation the service refused
 * before (its ledger row says so) stays on the OneDrive way; under `--dms onedrive` every conversation goes
 * the OneDrive way. Ordered largest first, like channels.
 */
export async function planChats(deps: PipelineDeps, input: PlanChatsInput): Promise<PlanChatsResult> {
  const manifest = await readManifest(deps.store, input.migrationId);
  const users = await deps.ledger.getUsers(input.migrationId);
  const rows = new Map(
    (await deps.ledger.listChannels(chatLedgerRun(input.migrationId))).map((r) => [r.channelKey, r]),
  );
  const chats: ChatWork[] = (manifest.chats ?? []).map((chat) =>
    input.target === 'onedrive'
      ? { ...chatWork(chat, users, rows.get(chat.key)), way: 'onedrive', reason: ONEDRIVE_CHOSEN }
      : chatWork(chat, users, rows.get(chat.key)),
  );
  chats.sort((a, b) => b.messages - a.messages || a.key.localeCompare(b.key));
  return { chats };
}

function chatWork(
  chat: PlannedChat,
  users: ReadonlyMap<string, UserRecord>,
  row: ChannelRecord | undefined,
): ChatWork {
  const base = {
    key: chat.key,
    label: chat.teamsName,
    kind: chat.kind,
    messages: chat.messages,
    createdDateTime: chat.createdDateTime,
  };
  const sourceMembers = [...new Set(chat.members)];
  const unmatched = sourceMembers.filter((m) => !matchedUser(users, m));
  if (unmatched.length > 0) {
    const names = unmatched.map((m) => {
      const u = users.get(m);
      return u
        ? `${u.displayName ?? m} (${m}${u.entraId ? '' : ', no Entra user'})`
        : `${m} (not in users.json)`;
    });
    return {
      ...base,
      way: 'onedrive',
      reason: `not every member maps to an Entra user: ${names.join(', ')}`,
      memberIds: [],
    };
  }
  const memberIds = [...new Set(sourceMembers.map((m) => matchedUser(users, m)!.entraId!))];
  if (memberIds.length < 2)
    return {
      ...base,
      way: 'onedrive',
      reason: 'a conversation with one person cannot be a Teams chat',
      memberIds: [],
    };
  if (row?.diverted) return { ...base, way: 'onedrive', reason: row.diverted, memberIds };
  return { ...base, way: 'chat', memberIds };
}

/**
 * The chat a conversation is imported into, recorded in the ledger before it is used: the recorded one,
 * else `POST /chats` (a 1:1 answers the chat the two already have, so asking again is harmless). A group
 * chat's creation is recorded as asked for before it is sent; when its answer was lost, the first member's
 * chats are searched for a group chat of exactly these members, not completed, made since then, before
 * another is asked for.
 */
export async function ensureChat(deps: PipelineDeps, input: EnsureChatInput): Promise<EnsureChatResult> {
  const runId = chatLedgerRun(input.migrationId);
  const { chat } = input;
  const { value: row } = await deps.ledger.ensureChannelRow(runId, chat.key);
  if (row.teamsChannelId) return { chatId: row.teamsChannelId };
  const chats = deps.graph.chats;
  if (chat.memberIds.length === 2 && chat.kind === 'dm') {
    const created = await chats.createChat('oneOnOne', chat.memberIds);
    await deps.ledger.updateChannel(runId, chat.key, { teamsChannelId: created.id, state: 'created' });
    return { chatId: created.id };
  }
  if (row.requestedAt) {
    const found = await findGroupChat(deps, chat.memberIds, Date.parse(row.requestedAt));
    if (found) {
      await deps.ledger.updateChannel(runId, chat.key, { teamsChannelId: found, state: 'created' });
      return { chatId: found };
    }
  }
  await deps.ledger.updateChannel(runId, chat.key, { requestedAt: new Date(deps.now()).toISOString() });
  const created = await chats.createChat('group', chat.memberIds);
  await deps.ledger.updateChannel(runId, chat.key, { teamsChannelId: created.id, state: 'created' });
  return { chatId: created.id };
}

async function findGroupChat(
  deps: PipelineDeps,
  memberIds: string[],
  sinceMs: number,
): Promise<string | undefined> {
  const wanted = [...memberIds].sort().join(',');
  for (const c of await deps.graph.chats.chatsOf(memberIds[0])) {
    if (c.chatType !== 'group' || c.migrationMode === 'completed') continue;
    if ([...(c.memberIds ?? [])].sort().join(',') !== wanted) continue;
    if (c.migrationMode === 'inProgress' || Date.parse(c.createdDateTime ?? '') >= sinceMs - 60_000)
      return c.id;
  }
  return undefined;
}

/**
 * Imports one chat's plan in batches, each while it holds a chat posting slot (the service's chat budget,
 * shared through storage like the channels'). The chat goes into migration mode as late as possible: the
 * first batches stage every file and inline image (uploaded to the sender's OneDrive, recorded once), then
 * `startMigration` with the conversation's creation time, then the messages in order. The service is the
 * truth on resume: the chat's `migrationMode` is read before posting; a completed chat is read back (each
 * planned message looked up by its millisecond: posted, or missing). A reply becomes a message after its
 * parent, quoting the parent's author, time and opening words in a `<blockquote>`. A 409 is looked up by the
 * planned millisecond, never counted as posted unseen. A 412 (the service refuses the chat import) diverts the
 * conversation to the OneDrive way with the reason recorded.
 */
export async function postChat(deps: PipelineDeps, input: PostChatInput): Promise<PostChatResult> {
  const runId = chatLedgerRun(input.migrationId);
  const record = (await deps.ledger.getChannel(runId, input.chatKey))?.value;
  const left = Math.max(0, input.planned - (record?.pass === input.pass ? record.cursor : 0));
  const slot = deps.chatBudget ? await deps.chatBudget.take(chatPacingKey(input.chatId), left) : unslotted();
  if (!slot)
    return {
      done: false,
      waitUntil: new Date(deps.now() + deps.chatBudget!.retryMs()).toISOString(),
      budgetWait: true,
      completed: record?.state === 'completed',
      posted: record?.posted ?? 0,
      failed: record?.failed ?? 0,
      missing: record?.missing ?? 0,
    };
  try {
    return await postHolding(deps, input, slot);
  } finally {
    await slot.release();
  }
}

function unslotted(): PostingSlot {
  return { held: () => true, release: async () => undefined };
}

async function postHolding(
  deps: PipelineDeps,
  input: PostChatInput,
  slot: PostingSlot,
): Promise<PostChatResult> {
  const runId = chatLedgerRun(input.migrationId);
  const manifest = await readManifest(deps.store, input.migrationId);
  const planned = manifest.chats?.find((c) => c.key === input.chatKey);
  if (!planned) throw new Error(`Run '${input.migrationId}' has no chat '${input.chatKey}' in its plan.`);
  const progress = await ChannelProgress.load(
    deps,
    { runId, teamId: '', channelId: input.chatId, channelKey: input.chatKey, planRunId: input.migrationId },
    input.pass,
    planned,
  );
  const deadline = deps.now() + input.timeBudgetMs;
  const result = (done: boolean, extra: Partial<PostChatResult> = {}): PostChatResult => ({
    done,
    completed: progress.record.state === 'completed',
    ...progress.counts,
    ...extra,
  });
  const users = await deps.ledger.getUsers(input.migrationId);
  const poster = new ChatPoster(deps, input, planned, users);
  try {
    const state = await deps.graph.chats.getChat(input.chatId);
    if (!state)
      throw new Error(`Chat '${input.chatId}' of '${planned.teamsName}' no longer exists in Teams.`);
    if (state.migrationMode === 'completed') {
      if (!progress.behind) return result(true);
      return result(await readBack(deps, progress, input.chatId, deadline));
    }
    if (state.migrationMode !== 'inProgress') {
      if (progress.counts.posted === 0 && !(await poster.stageFiles(progress, deadline)))
        return result(false);
      try {
        const older =
          state.createdDateTime && Date.parse(state.createdDateTime) <= Date.parse(planned.createdDateTime);
        await deps.graph.chats.startMigration(input.chatId, older ? undefined : planned.createdDateTime);
      } catch (err) {
        if (!isChatRefused(err)) throw err;
        return await divert(deps, progress, refusedReason(err), result);
      }
    }
    // From the start: a reply quotes its parent, which an earlier batch may have posted.
    for await (const msg of progress.plan(0)) {
      poster.remember(msg);
      if (msg.seq < progress.cursor) continue;
      if (progress.outcomeOf(msg) === 'posted') {
        progress.advance(msg);
        continue;
      }
      if (deps.now() >= deadline || !slot.held()) {
        await progress.checkpoint({ state: 'posting' });
        return result(false);
      }
      try {
        progress.markPosted(msg, await poster.post(msg));
      } catch (err) {
        if (err instanceof MessageFailure) progress.markFailed(msg, err.message);
        else if (isChatRefused(err)) {
          // The chat took the import before refusing it: end its migration so its banner goes away.
          await deps.graph.chats.completeMigration(input.chatId).catch(() => undefined);
          return await divert(deps, progress, refusedReason(err), result);
        } else if (err instanceof GraphError && err.longWait && err.retryAfterMs !== undefined) {
          const waitUntil = new Date(deps.now() + err.retryAfterMs).toISOString();
          await progress.checkpoint({ state: 'posting', waitUntil });
          return result(false, { waitUntil });
        } else throw err;
      }
      progress.advance(msg);
      progress.maybeCheckpoint();
    }
    await progress.checkpoint({
      state: progress.counts.failed === 0 ? 'posted' : 'posting',
      ...(progress.counts.failed === 0 && !progress.record.finishedAt
        ? { finishedAt: new Date(deps.now()).toISOString() }
        : {}),
    });
    return result(true);
  } catch (err) {
    await progress.checkpoint().catch(() => undefined);
    throw err;
  } finally {
    await poster.close();
  }
}

async function divert(
  deps: PipelineDeps,
  progress: ChannelProgress,
  reason: string,
  result: (done: boolean, extra?: Partial<PostChatResult>) => PostChatResult,
): Promise<PostChatResult> {
  await progress.checkpoint({ diverted: reason });
  return result(true, { diverted: reason });
}

/** Records what a completed chat holds of the plan: each message not in the ledger looked up by its millisecond. */
async function readBack(
  deps: PipelineDeps,
  progress: ChannelProgress,
  chatId: string,
  deadline: number,
): Promise<boolean> {
  for await (const msg of progress.plan(0)) {
    const outcome = progress.outcomeOf(msg);
    if (outcome === 'posted' || outcome === 'missing') continue;
    if (deps.now() >= deadline) {
      await progress.checkpoint();
      return false;
    }
    const found = await deps.graph.chats.getMessage(chatId, messageIdFor(msg.createdDateTime));
    if (found) progress.markPosted(msg, found.id);
    else progress.markMissing(msg, 'the chat was completed before they were posted');
    progress.maybeCheckpoint();
  }
  await progress.checkpoint({ state: 'completed' });
  return true;
}

/** Sends a chat's planned messages: authors among the chat's members, replies quoting their parent, files staged. */
class ChatPoster {
  /** Top-level messages read so far, for the quote above their replies: author, time and opening words. */
  private readonly parents = new Map<string, { author: string; time: string; excerpt: string }>();
  private readonly files = new Map<string, MessageFiles>();
  private readonly tenant: TenantDirectory;
  private readonly members: Set<string>;

  constructor(
    private readonly deps: PipelineDeps,
    private readonly input: PostChatInput,
    private readonly planned: PlannedChat,
    private readonly users: Map<string, UserRecord>,
  ) {
    this.tenant = tenantDirectory('', '', users, []);
    this.members = new Set(
      planned.members.map((m) => this.tenant.user(m)).filter((id): id is string => !!id),
    );
  }

  remember(msg: PlannedMessage): void {
    if (msg.parentKey !== undefined || (msg.part && msg.part.index > 1)) return;
    const text = msg.html
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    this.parents.set(msg.key, {
      author: msg.author.displayName,
      time: msg.createdDateTime,
      excerpt: [...text].length > QUOTE_CHARS ? `${[...text].slice(0, QUOTE_CHARS).join('')}…` : text,
    });
  }

  /** Stages every file and inline image of the plan before the chat goes into migration mode; false when out of time. */
  async stageFiles(progress: ChannelProgress, deadline: number): Promise<boolean> {
    for await (const msg of progress.plan()) {
      if (msg.files.length === 0) continue;
      if (this.deps.now() >= deadline) return false;
      await this.filesOf(this.author(msg))
        .prepare(msg)
        .catch((err: unknown) => {
          if (!(err instanceof FileFailure)) throw err;
        });
    }
    return true;
  }

  async post(msg: PlannedMessage): Promise<string> {
    const author = this.author(msg);
    const files = this.filesOf(author);
    const prepared = await files.prepare(msg).catch((err: unknown) => {
      throw err instanceof FileFailure ? new MessageFailure(err.message) : err;
    });
    const message = { ...prepared.message, html: this.quote(msg) + prepared.message.html };
    const body = buildImportMessage(message, author, prepared.hostedBytes, prepared.fileUrls, this.tenant);
    for (let send = 1; ; send++) {
      try {
        const created = await this.deps.graph.chats.postMessage(this.input.chatId, body);
        await files.posted(msg).catch(() => undefined);
        return created.id;
      } catch (err) {
        const conflict = err instanceof GraphError && err.status === 409;
        if (conflict || err instanceof MaybeCommittedError) {
          const found = await this.deps.graph.chats.getMessage(
            this.input.chatId,
            messageIdFor(msg.createdDateTime),
          );
          if (found) return found.id;
          if (conflict)
            throw new MessageFailure(
              `409 Conflict, yet the chat has no message at ${msg.createdDateTime}: the plan's times collide with a message posted outside this run`,
            );
          if (send < MAX_SENDS) continue;
        }
        if (err instanceof GraphError && (err.status === 400 || err.status === 413))
          throw new MessageFailure(`${err.status} ${err.code}: ${err.serviceMessage}`);
        throw err;
      }
    }
  }

  async close(): Promise<void> {
    for (const files of this.files.values()) await files.close(false);
  }

  /** The quote a reply starts with: its parent's author, time (UTC) and opening words. */
  private quote(msg: PlannedMessage): string {
    if (msg.parentKey === undefined) return '';
    const parent = this.parents.get(msg.parentKey);
    if (!parent) return '';
    const when = `${parent.time.slice(0, 10)} ${parent.time.slice(11, 16)} UTC`;
    return (
      `<blockquote><p><strong>${escapeHtml(parent.author)}</strong> · ${when}</p>` +
      `<p>${escapeHtml(parent.excerpt)}</p></blockquote>`
    );
  }

  /**
   * Who the message is posted as: its author when they are a member of the chat; otherwise (a bot, someone
   * who left) the chat's first member, with a line naming the original author.
   */
  private author(msg: PlannedMessage): MessageAuthor {
    const id = msg.author.sourceUserId;
    const user = id && msg.author.kind !== 'bot' ? matchedUser(this.users, id) : undefined;
    if (user?.entraId && this.members.has(user.entraId))
      return { entraId: user.entraId, displayName: user.displayName ?? msg.author.displayName };
    const first = this.planned.members.map((m) => matchedUser(this.users, m)).find((u) => !!u)!;
    return { fallback: { entraId: first.entraId!, displayName: first.displayName ?? 'Chat member' } };
  }

  /** The files of messages posted as `author` go to that person's OneDrive. */
  private filesOf(author: MessageAuthor): MessageFiles {
    const user = 'fallback' in author ? author.fallback : author;
    let files = this.files.get(user.entraId);
    if (!files) {
      const destination: FileDestination = {
        label: `${user.displayName}'s OneDrive`,
        upload: async (name, bytes) => {
          const item = await this.deps.graph.chats.uploadToOneDrive(
            user.entraId,
            CHAT_FILES_FOLDER,
            name,
            bytes,
          );
          return { item, contentUrl: item.webUrl };
        },
      };
      files = new MessageFiles(
        this.deps,
        this.input.migrationId,
        '',
        this.input.chatId,
        `chat-${this.input.chatKey}`,
        destination,
      );
      this.files.set(user.entraId, files);
    }
    return files;
  }
}

/** Completes a chat's import (`completeMigration`), recorded in the ledger; a chat completed already is fine. */
export async function completeChat(deps: PipelineDeps, input: CompleteChatInput): Promise<void> {
  await deps.graph.chats.completeMigration(input.chatId);
  await deps.ledger.updateChannel(chatLedgerRun(input.migrationId), input.chatKey, { state: 'completed' });
}
