import type { ChatMessageAttachment, ItemBody, TeamworkUserIdentity } from '@microsoft/microsoft-graph-types';
import type { PlannedMessage } from '../model';
import { nativeContent, type TenantDirectory } from './nativeContent';
import type { MentionEntry, ReactionEntry } from './messageSize';
import { escapeHtml } from '../transform/html';

/** An inline image sent with its message, referenced from the body as `../hostedContents/{temporaryId}/$value`. */
export interface ImportHostedContent {
  '@microsoft.graph.temporaryId': string;
  contentBytes: string;
  contentType: string;
}

/** The JSON of an import POST (message or reply). */
export interface ImportMessageBody {
  createdDateTime: string;
  from: { user: TeamworkUserIdentity & { id: string; displayName: string; userIdentityType: 'aadUser' } };
  body: ItemBody & { contentType: 'html'; content: string };
  mentions?: MentionEntry[];
  reactions?: ReactionEntry[];
  hostedContents?: ImportHostedContent[];
  attachments?: (ChatMessageAttachment & {
    id: string;
    contentType: 'reference';
    contentUrl: string;
    name: string;
  })[];
}

/** Who the message is posted as: the matched Entra user, or the fallback account when none matched. */
export type MessageAuthor =
  { entraId: string; displayName: string } | { fallback: { entraId: string; displayName: string } };

/** Maps nothing: every mention and reaction is written as text. */
const NO_TENANT: TenantDirectory = {
  user: () => undefined,
  channel: () => undefined,
  teamId: '',
  channelId: '',
};

/**
 * Builds the POST body of a planned message. Posted as the fallback account, the body starts with a line
 * naming the original author. Every planned inline image needs its bytes, every planned file its uploaded
 * URL (`fileUrls`, by attachment id); a missing one throws, naming it. Mentions and reactions are mapped to
 * the `tenant` (see `nativeContent`); `nativeReactions: false` writes the reactions as the text line.
 */
export function buildImportMessage(
  planned: PlannedMessage,
  author: MessageAuthor,
  hostedBytes: Map<string, Buffer>,
  fileUrls: Map<string, string> = new Map(),
  tenant: TenantDirectory = NO_TENANT,
  nativeReactions = true,
): ImportMessageBody {
  const user = 'fallback' in author ? author.fallback : author;
  const native = nativeContent(planned, tenant, nativeReactions);
  let html = native.html;
  if ('fallback' in author) html = `${attributionLine(planned.author.displayName)}${html}`;
  const hostedContents = planned.hostedContents.map((hosted) => {
    const bytes = hostedBytes.get(hosted.temporaryId);
    if (!bytes)
      throw new Error(
        `Message ${planned.key}: no bytes for inline image ${hosted.temporaryId} (${hosted.name}); download or read it before posting.`,
      );
    return {
      '@microsoft.graph.temporaryId': hosted.temporaryId,
      contentBytes: bytes.toString('base64'),
      contentType: hosted.contentType,
    };
  });
  const attachments = planned.files.map((file) => {
    const contentUrl = fileUrls.get(file.attachmentId);
    if (!contentUrl)
      throw new Error(
        `Message ${planned.key}: file ${file.name} (${file.attachmentId}) has no uploaded URL; upload it before posting.`,
      );
    if (!html.includes(`<attachment id="${file.attachmentId}"`))
      html += `<attachment id="${file.attachmentId}"></attachment>`;
    return { id: file.attachmentId, contentType: 'reference' as const, contentUrl, name: file.name };
  });
  return {
    createdDateTime: planned.createdDateTime,
    from: { user: { id: user.entraId, displayName: user.displayName, userIdentityType: 'aadUser' } },
    body: { contentType: 'html', content: html },
    ...(native.mentions.length > 0 ? { mentions: native.mentions } : {}),
    ...(native.reactions.length > 0 ? { reactions: native.reactions } : {}),
    ...(hostedContents.length > 0 ? { hostedContents } : {}),
    ...(attachments.length > 0 ? { attachments } : {}),
  };
}

/** The line that names a message's original author when it is posted as the fallback account. */
export function attributionLine(displayName: string): string {
  return `<p><em>Originally posted by ${escapeHtml(displayName)}</em></p>`;
}

/** The id the service gives an imported message: the epoch milliseconds of its createdDateTime, as a string. */
export function messageIdFor(createdDateTime: string): string {
  const ms = Date.parse(createdDateTime);
  if (Number.isNaN(ms)) throw new Error(`messageIdFor: '${createdDateTime}' is not an ISO 8601 date-time.`);
  return String(ms);
}
