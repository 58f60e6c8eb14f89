import { RestError, type TableClient } from '@azure/data-tables';
import { createHash } from 'node:crypto';
import type { ChatCursor } from '../chatexport/exporter';
import { decryptSecret, encryptSecret, type NonceStore } from '../chatexport/crypto';
import type { DiscoveredTeam } from '../chatexport/service';
import { encodeKey, tableClient, tableName, type LedgerConnection } from './tables';

/** Where a user stands in the chat export. */
export type ChatExportStatus =
  'discovered' | 'link-sent' | 'consented' | 'exporting' | 'exported' | 'consent-needed' | 'failed';

/** Every status, in flow order. */
export const CHAT_EXPORT_STATUSES: readonly ChatExportStatus[] = [
  'discovered',
  'link-sent',
  'consented',
  'exporting',
  'exported',
  'consent-needed',
  'failed',
];

/** Counts of the last pass over a user's chats. */
export interface PassSummary {
  mode: 'full' | 'delta';
  finishedAt: string;
  chats: number;
  uploaded: number;
  unchanged: number;
  empty: number;
  failed: number;
  addedMessages: number;
  updatedMessages: number;
}

/** One user of the chat export: the source identity, the target it maps to, and its status with the reason. */
export interface ChatExportUser {
  id: string;
  upn: string;
  mail?: string;
  displayName?: string;
  targetUpn: string;
  targetUserId?: string;
  status: ChatExportStatus;
  reason?: string;
  linkSentAt?: string;
  consentedAt?: string;
  lastPass?: PassSummary;
  updatedAt: string;
}

const USER = 'user';
const TOKEN = 'token';
const PKCE = 'pkce';
const NONCE = 'nonce';
const TEAM = 'team';
/** Longest channel list kept per team row (a Table property holds at most 64 KiB). */
const MAX_CHANNELS_JSON = 60_000;
const STAGING = 'staging';

function isStatus(error: unknown, status: number): boolean {
  return error instanceof RestError && error.statusCode === status;
}

/** An epoch-ms instant as an Edm.Double property, the type the expiry filters compare with. */
function instant(ms: number): { value: number; type: 'Double' } {
  return { value: ms, type: 'Double' };
}

function cursorPartition(userId: string): string {
  return `cursor-${encodeKey(userId)}`;
}

function chatRow(chatId: string): string {
  return createHash('sha256').update(chatId, 'utf8').digest('hex').slice(0, 40);
}

/**
 * The chat export's state in one table: the user list (`user`), each user's refresh token encrypted with
 * AES-256-GCM bound to the user id (`token`), consent-link PKCE verifiers encrypted and bound to the nonce
 * (`pkce`), used nonces created once so a second use answers 409 (`nonce`), per-chat cursors
 * (`cursor-<user>`), and when each user's staged conversations are to be deleted (`staging`). Nonce, PKCE
 * and staging rows carry `expiresAt` (epoch ms) and are purged after it. No secret is ever written in plain
 * text.
 */
export class ChatExportStore implements NonceStore {
  constructor(
    private readonly table: TableClient,
    private readonly key: Buffer,
  ) {}

  /** A store over `<prefix>ChatExport` in the given storage; `key` protects tokens and verifiers. */
  static create(connection: LedgerConnection, prefix: string, key: Buffer): ChatExportStore {
    return new ChatExportStore(tableClient(connection, tableName(prefix, 'ChatExport')), key);
  }

  /** Creates the table; an existing one is fine. */
  async ensureTable(): Promise<void> {
    try {
      await this.table.createTable();
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
    }
  }

  async getUser(id: string): Promise<ChatExportUser | undefined> {
    try {
      const row = await this.table.getEntity<{ json: string }>(USER, encodeKey(id));
      return JSON.parse(row.json) as ChatExportUser;
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async listUsers(): Promise<ChatExportUser[]> {
    const users: ChatExportUser[] = [];
    const rows = this.table.listEntities<{ json: string }>({
      queryOptions: { filter: `PartitionKey eq '${USER}'` },
    });
    for await (const row of rows) users.push(JSON.parse(row.json) as ChatExportUser);
    return users.sort((a, b) => a.upn.localeCompare(b.upn));
  }

  async putUser(user: ChatExportUser): Promise<void> {
    await this.table.upsertEntity(
      { partitionKey: USER, rowKey: encodeKey(user.id), json: JSON.stringify(user), status: user.status },
      'Replace',
    );
  }

  /** Writes many users in transactions of up to 100 (one partition), replacing rows with the same id. */
  async putUsers(users: ChatExportUser[]): Promise<void> {
    const unique = [...new Map(users.map((u) => [u.id, u])).values()];
    for (let i = 0; i < unique.length; i += 100) {
      await this.table.submitTransaction(
        unique.slice(i, i + 100).map((user) => [
          'upsert',
          {
            partitionKey: USER,
            rowKey: encodeKey(user.id),
            json: JSON.stringify(user),
            status: user.status,
          },
          'Replace',
        ]),
      );
    }
  }

  /** Records discovered teams of the source tenant (replacing earlier rows of the same teams). */
  async putTeams(teams: DiscoveredTeam[]): Promise<void> {
    for (let i = 0; i < teams.length; i += 100) {
      await this.table.submitTransaction(
        teams.slice(i, i + 100).map((team) => {
          let channels = team.channels;
          while (channels.length > 0 && JSON.stringify(channels).length > MAX_CHANNELS_JSON)
            channels = channels.slice(0, Math.floor(channels.length * 0.9));
          return [
            'upsert',
            {
              partitionKey: TEAM,
              rowKey: encodeKey(team.id),
              json: JSON.stringify({ ...team, channels, channelCount: team.channels.length }),
            },
            'Replace',
          ];
        }),
      );
    }
  }

  /** The discovered teams, by name; a team with more channels than a row holds lists the first ones and their count. */
  async listTeams(): Promise<(DiscoveredTeam & { channelCount: number })[]> {
    const teams: (DiscoveredTeam & { channelCount: number })[] = [];
    const rows = this.table.listEntities<{ json: string }>({
      queryOptions: { filter: `PartitionKey eq '${TEAM}'` },
    });
    for await (const row of rows)
      teams.push(JSON.parse(row.json) as DiscoveredTeam & { channelCount: number });
    return teams.sort((a, b) => a.displayName.localeCompare(b.displayName) || a.id.localeCompare(b.id));
  }

  /** Reads, changes and writes a user under its ETag, retrying on a concurrent change; throws when the user is unknown. */
  async updateUser(id: string, change: (user: ChatExportUser) => ChatExportUser): Promise<ChatExportUser> {
    for (let attempt = 0; ; attempt += 1) {
      let row;
      try {
        row = await this.table.getEntity<{ json: string }>(USER, encodeKey(id));
      } catch (error) {
        if (isStatus(error, 404))
          throw new Error(`Chat-export user '${id}' is not in the list: discover or add the user first`);
        throw error;
      }
      const next = change(JSON.parse(row.json) as ChatExportUser);
      try {
        await this.table.updateEntity(
          { partitionKey: USER, rowKey: encodeKey(id), json: JSON.stringify(next), status: next.status },
          'Replace',
          { etag: row.etag },
        );
        return next;
      } catch (error) {
        if (!isStatus(error, 412) || attempt >= 5) throw error;
      }
    }
  }

  /** Stores a user's refresh token, encrypted with the user id as associated data. */
  async saveRefreshToken(userId: string, refreshToken: string): Promise<void> {
    await this.table.upsertEntity(
      {
        partitionKey: TOKEN,
        rowKey: encodeKey(userId),
        envelope: encryptSecret(refreshToken, this.key, userId),
      },
      'Replace',
    );
  }

  /** The user's refresh token, decrypted; undefined when none is stored. */
  async loadRefreshToken(userId: string): Promise<string | undefined> {
    try {
      const row = await this.table.getEntity<{ envelope: string }>(TOKEN, encodeKey(userId));
      return decryptSecret(row.envelope, this.key, userId);
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** Stores a consent's PKCE verifier, encrypted and bound to its nonce, until `expiresAt` (epoch ms). */
  async savePkceVerifier(nonce: string, verifier: string, expiresAt: number): Promise<void> {
    await this.table.upsertEntity(
      {
        partitionKey: PKCE,
        rowKey: encodeKey(nonce),
        envelope: encryptSecret(verifier, this.key, `pkce:${nonce}`),
        expiresAt: instant(expiresAt),
      },
      'Replace',
    );
  }

  /** Takes (reads and deletes) the verifier of a nonce; undefined when none was stored. */
  async takePkceVerifier(nonce: string): Promise<string | undefined> {
    let row;
    try {
      row = await this.table.getEntity<{ envelope: string }>(PKCE, encodeKey(nonce));
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
    await this.table.deleteEntity(PKCE, encodeKey(nonce)).catch((error: unknown) => {
      if (!isStatus(error, 404)) throw error;
    });
    return decryptSecret(row.envelope, this.key, `pkce:${nonce}`);
  }

  /** Marks a nonce used: the row is created once, so a second use gets 409 and answers false. */
  async consume(nonce: string, expiresAtMs: number): Promise<boolean> {
    try {
      await this.table.createEntity({
        partitionKey: NONCE,
        rowKey: encodeKey(nonce),
        expiresAt: instant(expiresAtMs),
      });
      return true;
    } catch (error) {
      if (isStatus(error, 409)) return false;
      throw error;
    }
  }

  async wasConsumed(nonce: string): Promise<boolean> {
    try {
      await this.table.getEntity(NONCE, encodeKey(nonce));
      return true;
    } catch (error) {
      if (isStatus(error, 404)) return false;
      throw error;
    }
  }

  /** Deletes the nonce and PKCE rows of links that have expired (an expired link is refused before its nonce is looked up). */
  async purgeExpired(now: number): Promise<number> {
    let purged = 0;
    for (const partition of [NONCE, PKCE]) purged += (await this.takeExpired(partition, now)).length;
    return purged;
  }

  /** Records when a user's staged conversations are to be deleted. */
  async setStagingExpiry(userId: string, expiresAt: number): Promise<void> {
    await this.table.upsertEntity(
      { partitionKey: STAGING, rowKey: encodeKey(userId), userId, expiresAt: instant(expiresAt) },
      'Replace',
    );
  }

  /** The users whose staged conversations are past their expiry; their rows are deleted (a concurrent purge is fine). */
  async takeExpiredStaging(now: number): Promise<string[]> {
    return (await this.takeExpired(STAGING, now)).map((row) => String(row.userId));
  }

  private async takeExpired(partition: string, now: number): Promise<Array<Record<string, unknown>>> {
    const rows: Array<{ partitionKey: string; rowKey: string } & Record<string, unknown>> = [];
    const query = this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: `PartitionKey eq '${partition}' and expiresAt lt ${now.toFixed(1)}` },
    });
    for await (const row of query) rows.push(row as (typeof rows)[number]);
    for (const row of rows)
      await this.table.deleteEntity(row.partitionKey, row.rowKey).catch((error: unknown) => {
        if (!isStatus(error, 404)) throw error;
      });
    return rows;
  }

  /** The user's per-chat cursors, by chat id. */
  async loadCursors(userId: string): Promise<Record<string, ChatCursor>> {
    const cursors: Record<string, ChatCursor> = {};
    const rows = this.table.listEntities<{ chatId: string; cursor: string }>({
      queryOptions: { filter: `PartitionKey eq '${cursorPartition(userId).replace(/'/g, "''")}'` },
    });
    for await (const row of rows) cursors[row.chatId] = JSON.parse(row.cursor) as ChatCursor;
    return cursors;
  }

  /** Records one chat's cursor (one row per chat, so parallel chats never contend). */
  async saveCursor(userId: string, chatId: string, cursor: ChatCursor): Promise<void> {
    await this.table.upsertEntity(
      {
        partitionKey: cursorPartition(userId),
        rowKey: chatRow(chatId),
        chatId,
        cursor: JSON.stringify(cursor),
      },
      'Replace',
    );
  }
}
