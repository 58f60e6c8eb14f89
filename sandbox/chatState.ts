import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { badRequest, notFound } from './errors';
import { sandboxUserFor, type SandboxStore, type SandboxUser } from './state';
import { escapeHtml } from '../core/transform/html';

/** The placeholder for the sandbox's Graph root in stored message bodies (`<img src="{{graph}}/chats/...">`). */
export const GRAPH_ROOT_PLACEHOLDER = '{{graph}}';

/** An inline image of a chat message, stored with it. */
export interface ChatHostedContentRecord {
  id: string;
  contentType: string;
  /** The bytes, base64. */
  contentBytes: string;
}

/** A chat message as stored; `id` is the epoch ms of `createdDateTime`, unique within the chat. */
export interface ChatMessageRecord {
  id: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  lastEditedDateTime: string | null;
  deletedDateTime: string | null;
  fromUserId: string;
  body: { contentType: 'text' | 'html'; content: string };
  attachments: unknown[];
  reactions: unknown[];
  hostedContents: ChatHostedContentRecord[];
}

/** A 1:1 or group chat with its members (user ids) and messages (in creation order). */
export interface ChatRecord {
  id: string;
  topic: string | null;
  chatType: 'oneOnOne' | 'group' | 'meeting';
  createdDateTime: string;
  lastUpdatedDateTime: string;
  memberIds: string[];
  messages: ChatMessageRecord[];
  /** `inProgress` after `startMigration`, `completed` after `completeMigration`; absent (null) if never migrated. */
  migrationMode?: 'inProgress' | 'completed' | null;
  /** The hashed identity of the app that started the chat's import session. */
  initiator?: string | null;
}

/** A message sent through `sendMail`, kept in the outbox for tests and people to read. */
export interface MailRecord {
  id: string;
  fromUserId: string;
  fromAddress: string;
  to: string[];
  subject: string;
  bodyType: string;
  body: string;
  sentDateTime: string;
}

const seedImageSchema = z.object({
  contentType: z.string().regex(/^image\//, { error: 'images[].contentType must be an image type' }),
  base64: z.string(),
});

/** One message of a seeded chat: author (e-mail or id), HTML or text, optional time, images, edit/delete marks. */
export const seedMessageSchema = z
  .object({
    from: z.string().min(1),
    html: z.string().optional(),
    text: z.string().optional(),
    createdDateTime: z.iso.datetime({ error: 'createdDateTime must be an ISO UTC time' }).optional(),
    images: z.array(seedImageSchema).optional(),
    edited: z.boolean().optional(),
    deleted: z.boolean().optional(),
    reactions: z.array(z.object({ reactionType: z.string(), from: z.string() })).optional(),
  })
  .refine((m) => m.html !== undefined || m.text !== undefined, { error: 'a message needs html or text' });

/** A chat to seed: members (e-mails or user ids; unknown e-mails become users), topic, messages. */
export const seedChatSchema = z.object({
  id: z.string().min(1).optional(),
  topic: z.string().nullable().optional(),
  chatType: z.enum(['oneOnOne', 'group', 'meeting']).optional(),
  members: z.array(z.string().min(1)).min(1, { error: 'a chat needs at least one member' }),
  messages: z.array(seedMessageSchema).default([]),
});

/** A chat in `SandboxOptions.chats` and `POST /_sandbox/chats`. */
export type SeedChat = z.input<typeof seedChatSchema>;
/** A message in a SeedChat. */
export type SeedMessage = z.input<typeof seedMessageSchema>;

/** The chats of a sandbox (created on first use, so older state files load). */
export function chatsOf(store: SandboxStore): ChatRecord[] {
  store.data.chats ??= [];
  return store.data.chats;
}

/** The outbox of a sandbox's `sendMail` calls. */
export function outboxOf(store: SandboxStore): MailRecord[] {
  store.data.outbox ??= [];
  return store.data.outbox;
}

/** A chat by id. */
export function findChat(store: SandboxStore, chatId: string): ChatRecord | undefined {
  return chatsOf(store).find((c) => c.id === chatId);
}

function resolveUser(store: SandboxStore, idOrMail: string): SandboxUser {
  const known =
    store.user(idOrMail) ?? store.data.users.find((u) => u.mail.toLowerCase() === idOrMail.toLowerCase());
  if (known) return known;
  if (!idOrMail.includes('@'))
    throw badRequest(`Chat member '${idOrMail}' is neither a known user id nor an e-mail address`);
  const user = sandboxUserFor(idOrMail);
  store.data.users.push(user);
  return user;
}

function uniqueTime(chat: ChatRecord, ms: number): number {
  const taken = new Set(chat.messages.map((m) => m.id));
  let t = ms;
  while (taken.has(String(t))) t += 1;
  return t;
}

function toRecord(
  store: SandboxStore,
  chat: ChatRecord,
  seed: z.output<typeof seedMessageSchema>,
  fallbackMs: number,
): ChatMessageRecord {
  const author = resolveUser(store, seed.from);
  if (!chat.memberIds.includes(author.id))
    throw badRequest(`Message author '${seed.from}' is not a member of chat '${chat.id}'`);
  const ms = uniqueTime(chat, seed.createdDateTime ? Date.parse(seed.createdDateTime) : fallbackMs);
  const id = String(ms);
  const created = new Date(ms).toISOString();
  const modified = seed.edited || seed.deleted ? new Date(ms + 60_000).toISOString() : created;
  const hostedContents = (seed.images ?? []).map((image, i) => ({
    id: Buffer.from(`id=${i},type=1,url=${id}`).toString('base64url'),
    contentType: image.contentType,
    contentBytes: image.base64,
  }));
  const images = hostedContents
    .map(
      (hc) =>
        `<img src="${GRAPH_ROOT_PLACEHOLDER}/chats/${encodeURIComponent(chat.id)}/messages/${id}/hostedContents/${hc.id}/$value" alt="image">`,
    )
    .join('');
  const html = seed.html ?? (seed.text !== undefined ? escapeHtml(seed.text) : '');
  return {
    id,
    createdDateTime: created,
    lastModifiedDateTime: modified,
    lastEditedDateTime: seed.edited ? modified : null,
    deletedDateTime: seed.deleted ? modified : null,
    fromUserId: author.id,
    body:
      seed.html !== undefined || images
        ? { contentType: 'html', content: seed.deleted ? '' : `${html}${images}` }
        : { contentType: 'text', content: seed.deleted ? '' : (seed.text ?? '') },
    attachments: [],
    reactions: (seed.reactions ?? []).map((r) => {
      const user = resolveUser(store, r.from);
      return {
        reactionType: r.reactionType,
        createdDateTime: modified,
        user: { user: { id: user.id, displayName: user.displayName, userIdentityType: 'aadUser' } },
      };
    }),
    hostedContents,
  };
}

/** Creates chats from seeds (validated first, nothing changed on a bad seed); messages get times before `now`. */
export function addSeedChats(store: SandboxStore, seeds: SeedChat[], now: number): ChatRecord[] {
  const parsed = seeds.map((seed, i) => {
    const result = seedChatSchema.safeParse(seed);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw badRequest(
        `chats[${i}]${issue?.path.length ? `.${issue.path.join('.')}` : ''}: ${issue?.message}`,
      );
    }
    return result.data;
  });
  const created: ChatRecord[] = [];
  for (const seed of parsed) {
    const members = [...new Set(seed.members.map((m) => resolveUser(store, m).id))];
    const chatType = seed.chatType ?? (members.length === 2 && !seed.topic ? 'oneOnOne' : 'group');
    const id =
      seed.id ??
      (chatType === 'oneOnOne'
        ? `19:${[...members].sort().join('_')}@unq.gbl.spaces`
        : `19:${randomBytes(16).toString('hex')}@thread.v2`);
    if (findChat(store, id)) throw badRequest(`A chat with id '${id}' already exists`);
    const start = now - (seed.messages.length + 1) * 60_000;
    const chat: ChatRecord = {
      id,
      topic: chatType === 'oneOnOne' ? null : (seed.topic ?? null),
      chatType,
      createdDateTime: new Date(start).toISOString(),
      lastUpdatedDateTime: new Date(start).toISOString(),
      memberIds: members,
      messages: [],
    };
    seed.messages.forEach((message, i) => {
      chat.messages.push(toRecord(store, chat, message, start + (i + 1) * 60_000));
    });
    chatsOf(store).push(chat);
    created.push(chat);
  }
  return created;
}

/** Adds messages to an existing chat, created at `now` (+1 ms each) unless they carry a time. */
export function addChatMessages(
  store: SandboxStore,
  chatId: string,
  messages: SeedMessage[],
  now: number,
): ChatMessageRecord[] {
  const chat = findChat(store, chatId);
  if (!chat) throw notFound(`Chat '${chatId}' does not exist`);
  const parsed = messages.map((m, i) => {
    const result = seedMessageSchema.safeParse(m);
    if (!result.success) throw badRequest(`messages[${i}]: ${result.error.issues[0]?.message}`);
    return result.data;
  });
  const added = parsed.map((message, i) => {
    const record = toRecord(store, chat, message, now + i);
    chat.messages.push(record);
    return record;
  });
  return added;
}

/**
 * Generates chats among the given users, deterministically: one 1:1 chat per neighbouring pair and a group
 * chat per three users, each with `messagesPerChat` messages alternating between members.
 */
export function generateSeedChats(users: SandboxUser[], messagesPerChat = 5): SeedChat[] {
  const chats: SeedChat[] = [];
  for (let i = 0; i + 1 < users.length; i += 1) {
    const members = [users[i]!, users[i + 1]!];
    chats.push({
      members: members.map((u) => u.mail),
      messages: Array.from({ length: messagesPerChat }, (_, n) => ({
        from: members[n % 2]!.mail,
        text: `${members[n % 2]!.displayName}: message ${n + 1} to ${members[(n + 1) % 2]!.displayName}`,
      })),
    });
  }
  for (let i = 0; i + 2 < users.length; i += 3) {
    const members = users.slice(i, i + 3);
    chats.push({
      topic: `Group ${i / 3 + 1}`,
      members: members.map((u) => u.mail),
      messages: Array.from({ length: messagesPerChat }, (_, n) => ({
        from: members[n % 3]!.mail,
        html: `<p>Group ${i / 3 + 1}, message ${n + 1}</p>`,
      })),
    });
  }
  return chats;
}
