import { createHash } from 'node:crypto';
import type { ObjectStore } from '../state/objectStore';
import { decryptSecret, deriveKey, encryptSecret, SecretDecryptionError } from './crypto';
import type { ConversationStaging } from './ports';
import type { StagedConversation } from './types';

/** The object-store prefix under which conversations are staged. */
export const STAGING_PREFIX = 'chat-export';

function key(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32);
}

/** Where a conversation is staged: `chat-export/<hash of owner>/<hash of chat id>.json` (ids never appear in names). */
export function stagedConversationName(ownerId: string, chatId: string): string {
  return `${STAGING_PREFIX}/${key(ownerId)}/${key(chatId)}.json`;
}

/** Where all of one owner's conversations are staged. */
export function stagedOwnerPrefix(ownerId: string): string {
  return `${STAGING_PREFIX}/${key(ownerId)}/`;
}

/** The associated data binding a staged conversation to its owner and chat: a copy under another name fails. */
function boundTo(ownerId: string, chatId: string): string {
  return JSON.stringify(['chat-export-staging', ownerId, chatId]);
}

/** Staging that can also forget everything staged for one owner (at the end of a pass, or when kept too long). */
export interface DisposableStaging extends ConversationStaging {
  deleteConversations(ownerId: string): Promise<void>;
}

/**
 * ConversationStaging over an ObjectStore (Blob Storage in Azure, a folder or Azurite locally). A staged
 * conversation holds users' private messages, so it is stored only as an AES-256-GCM envelope
 * (`encryptSecret`, key derived from CHAT_EXPORT_ENCRYPTION_KEY) bound to the owner and the chat. A blob
 * that is not such an envelope (written in plain text by an older version, altered, or under another key)
 * is deleted and reads as missing, so the exporter lists that chat in full again.
 */
export class ObjectStoreStaging implements DisposableStaging {
  private readonly key: Buffer;

  constructor(
    private readonly store: ObjectStore,
    encryptionKey: Buffer,
  ) {
    this.key = deriveKey(encryptionKey, 'chat-export-staging');
  }

  async loadConversation(ownerId: string, chatId: string): Promise<StagedConversation | undefined> {
    const name = stagedConversationName(ownerId, chatId);
    if (!(await this.store.exists(name))) return undefined;
    let text: string;
    try {
      text = decryptSecret((await this.store.get(name)).toString('utf8'), this.key, boundTo(ownerId, chatId));
    } catch (error) {
      if (!(error instanceof SecretDecryptionError)) throw error;
      await this.store.delete(name);
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error(
        `Staged conversation '${name}' is not valid JSON (${(error as Error).message}): delete it and reset the chat's cursor to re-export it`,
      );
    }
    const conversation = parsed as Partial<StagedConversation>;
    if (
      conversation.version !== 1 ||
      !Array.isArray(conversation.messages) ||
      typeof conversation.images !== 'object' ||
      conversation.chat?.id !== chatId
    ) {
      throw new Error(
        `Staged conversation '${name}' is not a version 1 staging of chat '${chatId}': delete it and reset the chat's cursor to re-export it`,
      );
    }
    return conversation as StagedConversation;
  }

  async saveConversation(ownerId: string, chatId: string, conversation: StagedConversation): Promise<void> {
    if (conversation.chat.id !== chatId) {
      throw new Error(
        `Cannot stage chat '${conversation.chat.id}' under chat id '${chatId}': the ids must match`,
      );
    }
    await this.store.put(
      stagedConversationName(ownerId, chatId),
      encryptSecret(JSON.stringify(conversation), this.key, boundTo(ownerId, chatId)),
      'text/plain',
    );
  }

  /** Deletes every conversation staged for the owner. */
  async deleteConversations(ownerId: string): Promise<void> {
    for (const name of await this.store.list(stagedOwnerPrefix(ownerId))) await this.store.delete(name);
  }
}
