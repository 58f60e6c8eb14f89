import { createHash } from 'node:crypto';
import type {
  PlannedFileLink,
  PlannedHostedContent,
  PlannedMention,
  SourceFile,
  SourceMessage,
} from '../model';
import { attachmentsToHtml } from './attachments';
import { escapeHtml } from './html';
import { MessageMentions, type MentionDirectory, type MentionTextReason } from './mentions';
import { mrkdwnInline, mrkdwnToBlocks, type RenderNames } from './mrkdwn';
import { planReactions, type PlannedReactions, type ReactionContext } from './reactions';
import { blocksToHtml } from './richText';

/** The service's limit for one inline image (hosted content). */
export const MAX_INLINE_IMAGE_BYTES = 4 * 1024 * 1024;

/** What a message renders to, before splitting: top-level HTML blocks and the files they reference. */
export interface RenderedMessage {
  blocks: string[];
  hostedContents: PlannedHostedContent[];
  files: PlannedFileLink[];
  /** True when the message has nothing to show (no text, files or cards). */
  empty: boolean;
  /** The mentions the blocks hold as `<at id="n">`, ids from 0 in body order. */
  mentions: PlannedMention[];
  /** Mentions written as bold text, by reason. */
  mentionText: Partial<Record<MentionTextReason, number>>;
  /** The reactions, as native candidates and a text line (not in the blocks). */
  reactions: PlannedReactions;
}

/** The note above a reply whose thread parent is not in the import; it is posted top-level. */
export const ORPHAN_NOTE_HTML = '<p><em>Reply to a message that is not in the import.</em></p>';

/** Per-message marks the planner asks for. */
export interface RenderNotes {
  /** A thread reply that Slack also showed in the channel. */
  broadcast?: boolean;
}

/** Options that change how messages render. */
export interface RenderOptions {
  /** Image bytes can be downloaded from Slack URLs (a Slack token was supplied). */
  canDownloadFiles: boolean;
  /** Stable prefix for attachment ids (the channel key). */
  channelKey: string;
  /** Who can be mentioned natively; without it every mention is bold text. */
  mentions?: MentionDirectory;
  /** How reactions are planned; without it every reaction is text. */
  reactions?: ReactionContext;
}

const ALL_TEXT: ReactionContext = {
  native: false,
  reactorTextReason: () => undefined,
  displayName: (id) => id,
};

/**
 * Renders one source message to Teams HTML blocks. Mentions the directory allows become `<at id="n">` tags
 * listed in `mentions`, the others bold `@Name` text; reactions are planned beside the blocks (native
 * candidates and a text line "👍 3 · 🎉 1"); an edit adds "(edited)"; images up to 4 MB whose bytes are
 * available become hosted contents, every other file an `<attachment>`.
 */
export function renderMessage(
  msg: SourceMessage,
  baseNames: RenderNames,
  options: RenderOptions,
  notes: RenderNotes = {},
): RenderedMessage {
  const sink = options.mentions
    ? new MessageMentions(options.mentions, baseNames.user, baseNames.channel, msg.text)
    : undefined;
  const names: RenderNames = sink ? { ...baseNames, mention: sink.render } : baseNames;
  const blocks: string[] = [];
  const content = contentBlocks(msg, names);
  const cards = msg.attachments ? attachmentsToHtml(msg.attachments, names) : [];
  const hostedContents: PlannedHostedContent[] = [];
  const files: PlannedFileLink[] = [];
  const fileBlocks: string[] = [];
  for (const [index, file] of msg.files.entries()) {
    if (!file.sourceId && !file.url && !file.exportPath) continue;
    if (isInlineImage(file, options)) {
      const temporaryId = String(hostedContents.length + 1);
      hostedContents.push({
        temporaryId,
        contentType: file.mimeType ?? 'image/png',
        ...(file.exportPath ? { exportPath: file.exportPath } : { url: file.url }),
        ...(file.size !== undefined ? { size: file.size } : {}),
        name: file.name,
      });
      fileBlocks.push(
        `<p><img src="../hostedContents/${temporaryId}/$value" alt="${escapeHtml(file.name)}"></p>`,
      );
    } else {
      const attachmentId = attachmentIdFor(options.channelKey, msg.key, file.sourceId, index);
      files.push({
        attachmentId,
        name: file.name,
        ...(file.mimeType ? { mimeType: file.mimeType } : {}),
        ...(file.size !== undefined ? { size: file.size } : {}),
        ...(file.exportPath ? { exportPath: file.exportPath } : {}),
        ...(file.url ? { url: file.url } : {}),
        ...(file.permalink ? { permalink: file.permalink } : {}),
      });
      fileBlocks.push(`<attachment id="${attachmentId}"></attachment>`);
    }
  }
  const footer: string[] = [];
  if (notes.broadcast) footer.push('<em>(also sent to the channel)</em>');
  if (msg.editedTs && !msg.deleted) footer.push('<em>(edited)</em>');
  const empty = content.length === 0 && cards.length === 0 && fileBlocks.length === 0;
  blocks.push(...content, ...cards, ...fileBlocks);
  if (footer.length) blocks.push(`<p>${footer.join(' · ')}</p>`);
  const finished = sink ? sink.finish(blocks) : { blocks, mentions: [] };
  return {
    blocks: finished.blocks,
    hostedContents,
    files,
    empty,
    mentions: finished.mentions,
    mentionText: sink?.textReasons ?? {},
    reactions: planReactions(msg.reactions, options.reactions ?? ALL_TEXT),
  };
}

function contentBlocks(msg: SourceMessage, names: RenderNames): string[] {
  if (msg.deleted) return ['<p><em>This message was deleted.</em></p>'];
  if (msg.huddle) return [huddleNotice(msg.huddle, names)];
  if (msg.kind === 'system')
    return msg.text.trim() ? [`<p><em>${mrkdwnInline(msg.text, names)}</em></p>`] : [];
  if (msg.subtype === 'me_message')
    return msg.text.trim() ? [`<p><em>${mrkdwnInline(msg.text, names)}</em></p>`] : [];
  const fromBlocks = msg.blocks ? blocksToHtml(msg.blocks, names) : [];
  if (fromBlocks.length) return fromBlocks;
  return msg.text.trim() ? mrkdwnToBlocks(msg.text, names) : [];
}

/** A huddle as a short notice: "Huddle · 12 min · Ada, Bo" (duration and people when the export has them). */
export function huddleNotice(huddle: NonNullable<SourceMessage['huddle']>, names: RenderNames): string {
  const parts = ['Huddle'];
  if (huddle.startMs !== undefined && huddle.endMs !== undefined && huddle.endMs >= huddle.startMs)
    parts.push(`${Math.max(1, Math.round((huddle.endMs - huddle.startMs) / 60_000))} min`);
  const people = huddle.participants.map((id) => names.user(id) ?? id);
  if (people.length) parts.push(people.join(', '));
  return `<p><em>${escapeHtml(parts.join(' · '))}</em></p>`;
}

function isInlineImage(file: SourceFile, options: RenderOptions): boolean {
  if (!file.isImage || file.size === undefined || file.size > MAX_INLINE_IMAGE_BYTES) return false;
  return !!file.exportPath || (!!file.url && options.canDownloadFiles);
}

/** A stable GUID-shaped attachment id derived from the channel, message and file. */
export function attachmentIdFor(
  channelKey: string,
  messageKey: string,
  fileId: string,
  index: number,
): string {
  const h = createHash('sha1').update(`${channelKey}|${messageKey}|${fileId}|${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
