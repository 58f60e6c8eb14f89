import type { Chat, ChatMessage } from '@microsoft/microsoft-graph-types';
import { GraphError } from './errors';
import { uploadToPath, type UploadedFile } from './files';
import type { ImportMessageBody } from './messageBody';
import type { Pacer } from './pacing';
import { seg, startMigration, type GraphCaller } from './request';

/** A chat as the import needs it: its id, kind, members' user ids (when asked for) and migration mode. */
export interface ChatState {
  id: string;
  chatType: 'oneOnOne' | 'group' | string;
  createdDateTime?: string;
  migrationMode?: 'inProgress' | 'completed' | null;
  memberIds?: string[];
}

/** The pacing key of a chat: its sends are paced apart from every channel's. */
export function chatPacingKey(chatId: string): string {
  return `chats/${chatId}`;
}

const ALREADY_DONE = /already (been )?(finali[sz]ed|completed)/i;

/**
 * The Graph calls that import a Slack conversation into a Teams chat: `POST /chats` (a 1:1 answers the chat
 * the two people already have), `startMigration`, message imports with `createdDateTime` and `from`, lookups by
 * the planned millisecond, and `completeMigration`. Thin: idempotency decisions are reported, not hidden.
 */
export class ChatImportClient {
  constructor(
    private readonly caller: GraphCaller,
    private readonly options: { pacer?: Pacer; readPacer?: { acquire(): Promise<void> } } = {},
  ) {}

  /** The Graph SDK client these calls go through (for the chat export's OneDrive writer). */
  get client(): GraphCaller['handle']['client'] {
    return this.caller.handle.client;
  }

  /** `POST /chats` with every member an owner; a 1:1 between the same two people answers the existing chat. */
  async createChat(chatType: 'oneOnOne' | 'group', memberIds: string[]): Promise<ChatState> {
    const base = `${this.caller.handle.baseUrl}/${this.caller.handle.version}`;
    const body = {
      chatType,
      members: memberIds.map((id) => ({
        '@odata.type': '#microsoft.graph.aadUserConversationMember',
        roles: ['owner'],
        'user@odata.bind': `${base}/users('${id}')`,
      })),
    };
    const { body: chat } = await this.caller.call<Chat & { id: string }>('createChat', 'POST', '/chats', {
      body,
      idempotent: chatType === 'oneOnOne',
    });
    return toState(chat);
  }

  /** `GET /chats/{id}` (with its members when asked), or null when the chat does not exist. */
  async getChat(chatId: string, members = false): Promise<ChatState | null> {
    try {
      const { body } = await this.caller.call<Chat & { id: string }>(
        'getChat',
        'GET',
        `/chats/${seg(chatId)}${members ? '?$expand=members' : ''}`,
      );
      return toState(body);
    } catch (err) {
      if (err instanceof GraphError && err.status === 404) return null;
      throw err;
    }
  }

  /** The chats a user is in, with their members: where a group chat whose creation got no answer is found again. */
  async chatsOf(userId: string): Promise<ChatState[]> {
    const chats: ChatState[] = [];
    for (let next: string | undefined = `/users/${seg(userId)}/chats?$expand=members&$top=50`; next;) {
      const { body }: { body: { value?: (Chat & { id: string })[]; '@odata.nextLink'?: string } } =
        await this.caller.call('listChats', 'GET', next);
      chats.push(...(body.value ?? []).map(toState));
      next = body['@odata.nextLink'];
    }
    return chats;
  }

  /**
   * `POST /chats/{id}/startMigration`: opens the chat for import, its creation moved back to
   * `conversationCreationDateTime` (omitted for a chat that is older already). A chat already in migration is
   * reported as `alreadyInMigration`.
   */
  async startMigration(
    chatId: string,
    conversationCreationDateTime?: string,
  ): Promise<{ alreadyInMigration: boolean }> {
    return startMigration(
      this.caller,
      'startChatMigration',
      `/chats/${seg(chatId)}`,
      conversationCreationDateTime,
    );
  }

  /** Imports one message (paced per chat). A 409 means its millisecond is taken: look it up. */
  async postMessage(chatId: string, body: ImportMessageBody): Promise<{ id: string }> {
    await this.options.pacer?.acquire(chatPacingKey(chatId));
    const { body: created } = await this.caller.call<ChatMessage & { id: string }>(
      'postChatMessage',
      'POST',
      `/chats/${seg(chatId)}/messages`,
      { body },
    );
    return { id: created.id };
  }

  /** A chat message by id (the epoch milliseconds of its createdDateTime), or null when the chat has none. */
  async getMessage(chatId: string, messageId: string): Promise<{ id: string } | null> {
    await this.options.readPacer?.acquire();
    try {
      const { body } = await this.caller.call<ChatMessage & { id: string }>(
        'getChatMessage',
        'GET',
        `/chats/${seg(chatId)}/messages/${seg(messageId)}`,
      );
      return { id: body.id };
    } catch (err) {
      if (err instanceof GraphError && err.status === 404) return null;
      throw err;
    }
  }

  /**
   * Uploads a file to `folder` of a user's OneDrive (where Teams keeps the files people share in chats),
   * replacing a file of that name, so a resumed upload is harmless.
   */
  uploadToOneDrive(userId: string, folder: string, name: string, bytes: Buffer): Promise<UploadedFile> {
    return uploadToPath(
      this.caller,
      `/users/${seg(userId)}/drive/root:/${seg(folder)}/${seg(name)}:`,
      name,
      bytes,
    );
  }

  /** `POST /chats/{id}/completeMigration`; a chat completed already is reported as such. */
  async completeMigration(chatId: string): Promise<{ alreadyCompleted: boolean }> {
    try {
      await this.caller.call('completeChatMigration', 'POST', `/chats/${seg(chatId)}/completeMigration`, {
        idempotent: true,
      });
      return { alreadyCompleted: false };
    } catch (err) {
      if (err instanceof GraphError && err.status === 400 && ALREADY_DONE.test(err.serviceMessage))
        return { alreadyCompleted: true };
      throw err;
    }
  }
}

function toState(chat: Chat & { id: string }): ChatState {
  const raw = chat as Chat & { id: string; migrationMode?: ChatState['migrationMode'] };
  return {
    id: raw.id,
    chatType: raw.chatType ?? 'group',
    ...(raw.createdDateTime ? { createdDateTime: raw.createdDateTime } : {}),
    migrationMode: raw.migrationMode ?? null,
    ...(raw.members
      ? {
          memberIds: raw.members
            .map((m) => (m as { userId?: string | null }).userId)
            .filter((id): id is string => !!id),
        }
      : {}),
  };
}
