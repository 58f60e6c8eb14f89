import { createHash } from 'node:crypto';
import type { ObjectStore } from '../state/objectStore';
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

/** ConversationStaging over an ObjectStore (Blob Storage in Azure, a folder or Azurite locally). */
export class ObjectStoreStaging implements ConversationStaging {
  constructor(private readonly store: ObjectStore) {}

  async loadConversation(ownerId: string, chatId: string): Promise<StagedConversation | undefined> {
    const name = stagedConversationName(ownerId, chatId);
    if (!(await this.store.exists(name))) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse((await this.store.get(name)).toString('utf8'));
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
      JSON.stringify(conversation),
      'application/json',
    );
  }
}
