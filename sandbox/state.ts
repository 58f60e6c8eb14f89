import { randomBytes, randomUUID, createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { ChatRecord, MailRecord } from './chatState';

/** An Entra user the sandbox knows: the tenant's directory as far as the import is concerned. */
export interface SandboxUser {
  id: string;
  displayName: string;
  mail: string;
  userPrincipalName: string;
}

/** `migrationMode` of a team or channel: `inProgress` while importing, `completed` after, null if never. */
export type MigrationMode = 'inProgress' | 'completed' | null;

/** An inline image stored with its message. */
export interface HostedContentRecord {
  id: string;
  temporaryId: string;
  contentType: string;
  /** The bytes, base64. */
  contentBytes: string;
}

/** A channel message or reply as stored; `id` is the epoch milliseconds of `createdDateTime`. */
export interface MessageRecord {
  id: string;
  replyToId: string | null;
  createdDateTime: string;
  from: { user: { id: string; displayName: string | null; userIdentityType: string } } | null;
  subject: string | null;
  summary: string | null;
  importance: string;
  body: { contentType: string; content: string };
  attachments: unknown[];
  mentions: unknown[];
  reactions: unknown[];
  hostedContents: HostedContentRecord[];
  replies: MessageRecord[];
  /** When the sandbox accepted it (epoch ms of the sandbox clock). */
  postedAt: number;
}

/** A channel; General is the team's primary channel. */
export interface ChannelRecord {
  id: string;
  displayName: string;
  description: string | null;
  membershipType: 'standard' | 'private' | 'shared';
  createdDateTime: string;
  migrationMode: MigrationMode;
  isGeneral: boolean;
  deletedAt: number | null;
  /** The drive item id of the channel's files folder. */
  folderId: string;
  messages: MessageRecord[];
  /**
   * The hashed identity of the app that opened the channel's own import session (`startMigration`); absent
   * while the channel's import session is the team's.
   */
  initiator?: string | null;
  /** A private or shared channel's own members (each must be a member of the team); absent for standard ones. */
  members?: MemberRecord[];
}

/** A team member (`aadUserConversationMember`). */
export interface MemberRecord {
  id: string;
  userId: string;
  roles: string[];
}

/** A team with its channels (in creation order) and members. */
export interface TeamRecord {
  id: string;
  displayName: string;
  description: string | null;
  createdDateTime: string;
  migrationMode: MigrationMode;
  /** The hashed identity of the app that opened the import session; null for teams created normally. */
  initiator: string | null;
  primaryChannelId: string;
  channels: ChannelRecord[];
  members: MemberRecord[];
  driveId: string;
  /** When the team starts to show in team listings (epoch ms of the sandbox clock); absent: at once. */
  listedFrom?: number;
}

/** The async operation of a team creation; answers `inProgress` for `pollsBeforeSuccess` polls. */
export interface OperationRecord {
  id: string;
  teamId: string;
  createdDateTime: string;
  polls: number;
}

/** A file or folder in a team's document library. */
export interface DriveItemRecord {
  id: string;
  name: string;
  parentId: string | null;
  folder: boolean;
  mimeType: string | null;
  createdDateTime: string;
  /** The bytes, base64; absent for folders. */
  content?: string;
  /** The SharePoint list item's unique id: the GUID in the item's eTag (`"{GUID},version"`). */
  guid?: string;
  /** The item's version, the number after the GUID in its eTag; a replace adds one. */
  version?: number;
}

/** A team's document library: the root, one folder per channel, and what was uploaded. */
export interface DriveRecord {
  id: string;
  teamId: string;
  rootId: string;
  items: DriveItemRecord[];
}

/** Everything the sandbox keeps; this is what `--state FILE` saves and loads. */
export interface SandboxData {
  version: 1;
  users: SandboxUser[];
  teams: TeamRecord[];
  operations: OperationRecord[];
  drives: DriveRecord[];
  /** Users' 1:1 and group chats (the chat export's source). */
  chats?: ChatRecord[];
  /** Mail sent through `sendMail`. */
  outbox?: MailRecord[];
}

const userSchema = z.object({
  id: z.string().min(1),
  displayName: z.string(),
  mail: z.string().min(1),
  userPrincipalName: z.string().min(1),
});

/** The schema of one user in `--users FILE`, `POST /_sandbox/users` and the state file. */
export const sandboxUserSchema = userSchema;

const dataSchema = z.object({
  version: z.literal(1),
  users: z.array(userSchema),
  teams: z.array(z.looseObject({ id: z.string(), channels: z.array(z.looseObject({ id: z.string() })) })),
  operations: z.array(z.looseObject({ id: z.string() })),
  drives: z.array(z.looseObject({ id: z.string() })),
});

const USER_NAMESPACE = '6f1c3a52-2c1e-4d8e-9a57-5a2d1b0f7c11';

/** A deterministic GUID-shaped Entra object id for an e-mail (UUID v5 of the lower-cased address). */
export function userIdForEmail(email: string): string {
  const ns = Buffer.from(USER_NAMESPACE.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(email.trim().toLowerCase(), 'utf8').digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A sandbox user for an e-mail address: the same address always yields the same id (mail = UPN = address). */
export function sandboxUserFor(email: string, displayName?: string): SandboxUser {
  const mail = email.trim();
  return {
    id: userIdForEmail(mail),
    displayName: displayName ?? mail.split('@')[0] ?? mail,
    mail,
    userPrincipalName: mail,
  };
}

/** A new Teams channel id (`19:<32 hex>@thread.tacv2`). */
export function newChannelId(): string {
  return `19:${randomBytes(16).toString('hex')}@thread.tacv2`;
}

/** A new opaque id (GUID). */
export function newId(): string {
  return randomUUID();
}

/** An empty state holding only the given users. */
export function emptyData(users: SandboxUser[]): SandboxData {
  return { version: 1, users: users.map((u) => ({ ...u })), teams: [], operations: [], drives: [] };
}

/**
 * The sandbox's state with lookup indexes over it. Route handlers validate a whole request first and only
 * then mutate through the records; `reindex()` must follow any structural change made outside the helpers.
 */
export class SandboxStore {
  data: SandboxData;
  private teamsById = new Map<string, TeamRecord>();
  private channelsById = new Map<string, { team: TeamRecord; channel: ChannelRecord }>();
  private messagesByChannel = new Map<
    string,
    Map<string, { message: MessageRecord; parent: MessageRecord | null }>
  >();

  constructor(data: SandboxData) {
    this.data = data;
    this.reindex();
  }

  /** Rebuilds every index from `data`. */
  reindex(): void {
    this.teamsById.clear();
    this.channelsById.clear();
    this.messagesByChannel.clear();
    for (const team of this.data.teams) {
      this.teamsById.set(team.id, team);
      for (const channel of team.channels) {
        this.channelsById.set(channel.id, { team, channel });
        const index = new Map<string, { message: MessageRecord; parent: MessageRecord | null }>();
        for (const message of channel.messages) {
          index.set(message.id, { message, parent: null });
          for (const reply of message.replies) index.set(reply.id, { message: reply, parent: message });
        }
        this.messagesByChannel.set(channel.id, index);
      }
    }
  }

  team(id: string): TeamRecord | undefined {
    return this.teamsById.get(id);
  }

  /** A live (not deleted) channel of a team. */
  channel(teamId: string, channelId: string): ChannelRecord | undefined {
    const found = this.channelsById.get(channelId);
    return found && found.team.id === teamId && found.channel.deletedAt === null ? found.channel : undefined;
  }

  /** Any message or reply of a channel by id (ids are unique per channel, replies included). */
  messageInChannel(
    channelId: string,
    messageId: string,
  ): { message: MessageRecord; parent: MessageRecord | null } | undefined {
    return this.messagesByChannel.get(channelId)?.get(messageId);
  }

  user(idOrUpn: string): SandboxUser | undefined {
    const key = idOrUpn.toLowerCase();
    return this.data.users.find(
      (u) => u.id.toLowerCase() === key || u.userPrincipalName.toLowerCase() === key,
    );
  }

  drive(id: string): DriveRecord | undefined {
    return this.data.drives.find((d) => d.id === id);
  }

  addTeam(team: TeamRecord, drive: DriveRecord, operation: OperationRecord): void {
    this.data.teams.push(team);
    this.data.drives.push(drive);
    this.data.operations.push(operation);
    this.teamsById.set(team.id, team);
    for (const channel of team.channels) this.indexChannel(team, channel);
  }

  addChannel(team: TeamRecord, channel: ChannelRecord): void {
    team.channels.push(channel);
    this.indexChannel(team, channel);
  }

  addMessage(channel: ChannelRecord, message: MessageRecord, parent: MessageRecord | null): void {
    if (parent) parent.replies.push(message);
    else channel.messages.push(message);
    this.messagesByChannel.get(channel.id)?.set(message.id, { message, parent });
  }

  removeTeam(teamId: string): void {
    this.data.teams = this.data.teams.filter((t) => t.id !== teamId);
    this.data.drives = this.data.drives.filter((d) => d.teamId !== teamId);
    this.data.operations = this.data.operations.filter((o) => o.teamId !== teamId);
    this.reindex();
  }

  private indexChannel(team: TeamRecord, channel: ChannelRecord): void {
    this.channelsById.set(channel.id, { team, channel });
    this.messagesByChannel.set(channel.id, new Map());
  }
}

/** Reads a state file; a missing file yields undefined, a malformed one an error naming the file. */
export async function loadStateFile(file: string): Promise<SandboxData | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`sandbox state file ${file} could not be read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`sandbox state file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = dataSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `sandbox state file ${file} is not a sandbox state: '${issue?.path.join('.')}' ${issue?.message}`,
    );
  }
  return json as SandboxData;
}

/** Writes the state atomically: a temporary file in the same folder, then a rename over the target. */
export async function saveStateFile(file: string, data: SandboxData): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, JSON.stringify(data), 'utf8');
  await rename(temp, file);
}
