import { createInterface } from 'node:readline';
import { OneDriveSink } from '../chatexport/oneDriveSink';
import { chatFileName } from '../chatexport/names';
import { conversationTitle, renderConversation } from '../chatexport/render';
import type { ChatAttachment, StagedConversation, StoredMessage } from '../chatexport/types';
import { messageIdFor } from '../graph/messageBody';
import type { PlannedChat, PlannedMessage } from '../model';
import type { UserRecord } from '../state/ledgerRecords';
import type { ExportChatInput, ExportChatResult } from './contracts';
import type { PipelineDeps } from './deps';
import { FileFailure, MessageFiles } from './files';
import { channelSegments, readManifest } from './runStore';

/** The folder of each member's OneDrive that receives their Slack conversations (`--dms onedrive`). */
export const SLACK_HISTORY_FOLDER = 'SlackHistory';

/**
 * Writes one planned DM or group DM as one self-contained HTML file in the `SlackHistory/` folder of each
 * member's OneDrive who maps to an Entra user, through the chat export's renderer, sanitizer and OneDrive
 * writer: the Slack messages are adapted to the export's staged conversation (threads as replies, inline
 * images embedded, files as links to their Slack page). Each file is named from the conversation as its
 * owner sees it (the other members' names and a hash of the Slack id) and replaced when written again, so a
 * re-run is harmless. Members with no Entra user get no file and are listed.
 */
export async function exportChatToOneDrive(
  deps: PipelineDeps,
  input: ExportChatInput,
): Promise<ExportChatResult> {
  const manifest = await readManifest(deps.store, input.migrationId);
  const planned = manifest.chats?.find((c) => c.key === input.chatKey);
  if (!planned) throw new Error(`Run '${input.migrationId}' has no chat '${input.chatKey}' in its plan.`);
  const users = await deps.ledger.getUsers(input.migrationId);
  const conversation = await stagedConversation(deps, input.migrationId, planned, users);
  const sink = new OneDriveSink({
    client: deps.graph.chats.client,
    staging: { loadConversation: async () => undefined, saveConversation: async () => undefined },
    folder: SLACK_HISTORY_FOLDER,
  });
  const delivered: string[] = [];
  const undelivered: string[] = [];
  for (const member of [...new Set(planned.members)]) {
    const user = users.get(member);
    const entraId =
      user && user.matchedBy !== 'unmatched' && user.matchedBy !== 'fallback' ? user.entraId : undefined;
    const name = user?.displayName ?? member;
    if (!entraId) {
      undelivered.push(name);
      continue;
    }
    const html = renderConversation(conversation, { ownerUserId: member });
    const fileName = chatFileName(conversationTitle(conversation.chat, member), planned.key);
    await sink.uploadFile(entraId, fileName, Buffer.from(html, 'utf8'));
    delivered.push(name);
  }
  return { key: planned.key, delivered, undelivered };
}

/** A planned Slack conversation as the chat export stages a Teams chat: members, messages, inline images. */
async function stagedConversation(
  deps: PipelineDeps,
  migrationId: string,
  planned: PlannedChat,
  users: ReadonlyMap<string, UserRecord>,
): Promise<StagedConversation> {
  const members = [...new Set(planned.members)];
  const conversation: StagedConversation = {
    version: 1,
    chat: {
      id: planned.key,
      topic: null,
      chatType: planned.kind === 'dm' ? 'oneOnOne' : 'group',
      createdDateTime: planned.createdDateTime,
      members: members.map((m) => ({ userId: m, displayName: users.get(m)?.displayName ?? m })),
    },
    messages: [],
    images: {},
  };
  const ids = new Map<string, string>();
  const files = new MessageFiles(deps, migrationId, '', planned.key, `chat-${planned.key}`);
  try {
    for (const segment of channelSegments(migrationId, planned)) {
      if (segment.messages === 0) continue;
      const lines = createInterface({ input: await deps.store.stream(segment.name) });
      try {
        for await (const line of lines) {
          if (!line.trim()) continue;
          const msg = JSON.parse(line) as PlannedMessage;
          const id = messageIdFor(msg.createdDateTime);
          ids.set(msg.key, id);
          conversation.messages.push(await storedMessage(msg, id, ids, files, conversation));
        }
      } finally {
        lines.close();
      }
    }
  } finally {
    await files.close(false);
  }
  return conversation;
}

async function storedMessage(
  msg: PlannedMessage,
  id: string,
  ids: ReadonlyMap<string, string>,
  files: MessageFiles,
  conversation: StagedConversation,
): Promise<StoredMessage> {
  let body = msg.html;
  for (const hosted of msg.hostedContents) {
    const src = `slack-image:${id}/${hosted.temporaryId}`;
    body = body.split(`../hostedContents/${hosted.temporaryId}/$value`).join(src);
    conversation.images[src] = { kind: 'unavailable', reason: 'the image could not be read from the export' };
  }
  if (msg.hostedContents.length) {
    try {
      const prepared = await files.prepare({ ...msg, files: [] });
      for (const hosted of msg.hostedContents) {
        const bytes = prepared.hostedBytes.get(hosted.temporaryId);
        if (bytes)
          conversation.images[`slack-image:${id}/${hosted.temporaryId}`] = {
            kind: 'embedded',
            contentType: hosted.contentType,
            base64: bytes.toString('base64'),
          };
      }
    } catch (err) {
      if (!(err instanceof FileFailure)) throw err;
    }
  }
  const attachments: ChatAttachment[] = msg.files.map((file) => ({
    id: file.attachmentId,
    contentType: 'reference',
    name: file.name,
    ...(file.permalink ? { contentUrl: file.permalink } : {}),
  }));
  for (const file of msg.files)
    body = body.split(`<attachment id="${file.attachmentId}"></attachment>`).join('');
  const parent = msg.parentKey !== undefined ? ids.get(msg.parentKey) : undefined;
  return {
    id,
    ...(parent ? { replyToId: parent } : {}),
    messageType: 'message',
    createdDateTime: msg.createdDateTime,
    lastModifiedDateTime: msg.createdDateTime,
    ...(msg.author.sourceUserId ? { authorId: msg.author.sourceUserId } : {}),
    authorName: msg.author.displayName,
    bodyType: 'html',
    body,
    attachments,
    reactions: [],
  };
}
