import type { MessageRecord, SandboxStore, SandboxUser } from './state';

/** A message in the state dump: hosted contents by size instead of bytes. */
export interface DumpMessage {
  id: string;
  replyToId: string | null;
  createdDateTime: string;
  from: MessageRecord['from'];
  subject: string | null;
  body: { contentType: string; content: string };
  attachments: unknown[];
  mentions: unknown[];
  reactions: unknown[];
  hostedContents: { id: string; temporaryId: string; contentType: string; size: number }[];
  replies: DumpMessage[];
}

/** A channel in the state dump, deleted ones included (flagged). */
export interface DumpChannel {
  id: string;
  displayName: string;
  description: string | null;
  membershipType: string;
  createdDateTime: string;
  migrationMode: string | null;
  isGeneral: boolean;
  /** A private channel's members as `userId` and roles; absent for standard channels. */
  members?: { userId: string; roles: string[] }[];
  deleted: boolean;
  messages: DumpMessage[];
}

/** A team in the state dump with channels, members and uploaded files. */
export interface DumpTeam {
  id: string;
  displayName: string;
  description: string | null;
  createdDateTime: string;
  migrationMode: string | null;
  primaryChannelId: string;
  channels: DumpChannel[];
  members: { id: string; userId: string; displayName: string | null; roles: string[] }[];
  files: { id: string; path: string; size: number; mimeType: string | null }[];
}

/** What `GET /_sandbox/state` and `handle.dump()` answer. */
export interface SandboxDump {
  users: SandboxUser[];
  teams: DumpTeam[];
}

function dumpMessage(m: MessageRecord): DumpMessage {
  return {
    id: m.id,
    replyToId: m.replyToId,
    createdDateTime: m.createdDateTime,
    from: m.from,
    subject: m.subject,
    body: m.body,
    attachments: m.attachments,
    mentions: m.mentions,
    reactions: m.reactions,
    hostedContents: m.hostedContents.map((h) => ({
      id: h.id,
      temporaryId: h.temporaryId,
      contentType: h.contentType,
      size: Buffer.byteLength(h.contentBytes, 'base64'),
    })),
    replies: m.replies.map(dumpMessage),
  };
}

/** A JSON view of the whole state (a deep copy: mutating it changes nothing). */
export function dumpState(store: SandboxStore): SandboxDump {
  const dump: SandboxDump = {
    users: store.data.users,
    teams: store.data.teams.map((team) => {
      const drive = store.drive(team.driveId);
      const pathOf = (id: string | null): string => {
        const item = drive?.items.find((i) => i.id === id);
        return !item || item.parentId === null ? '' : `${pathOf(item.parentId)}/${item.name}`;
      };
      return {
        id: team.id,
        displayName: team.displayName,
        description: team.description,
        createdDateTime: team.createdDateTime,
        migrationMode: team.migrationMode,
        primaryChannelId: team.primaryChannelId,
        channels: team.channels.map((c) => ({
          id: c.id,
          displayName: c.displayName,
          description: c.description,
          membershipType: c.membershipType,
          createdDateTime: c.createdDateTime,
          migrationMode: c.migrationMode,
          isGeneral: c.isGeneral,
          ...(c.members ? { members: c.members.map((m) => ({ userId: m.userId, roles: m.roles })) } : {}),
          deleted: c.deletedAt !== null,
          messages: c.messages.map(dumpMessage),
        })),
        members: team.members.map((m) => ({
          id: m.id,
          userId: m.userId,
          displayName: store.user(m.userId)?.displayName ?? null,
          roles: m.roles,
        })),
        files: (drive?.items ?? [])
          .filter((i) => !i.folder)
          .map((i) => ({
            id: i.id,
            path: pathOf(i.id),
            size: Buffer.byteLength(i.content ?? '', 'base64'),
            mimeType: i.mimeType,
          })),
      };
    }),
  };
  return JSON.parse(JSON.stringify(dump)) as SandboxDump;
}
