import { createHash } from 'node:crypto';
import { FileNamer, sharePointName } from '../files/names';
import type {
  FileFallback,
  PlannedFileCounts,
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
  /** The message's files by planned outcome. */
  fileCounts?: PlannedFileCounts;
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
  /** A Slack bot token (`SLACK_TOKEN`) is configured: files whose export URL carries no token can be downloaded. */
  canDownloadFiles: boolean;
  /** Stable prefix for attachment ids (the channel key). */
  channelKey: string;
  /** Files larger than this (bytes, as Slack gives their size) become a notice; default 250 MiB. */
  maxFileBytes?: number;
  /** Names files in the channel's files folder; without one, each gets its SharePoint-safe source name. */
  fileNames?: FileNamer;
  /** Who can be mentioned natively; without it every mention is bold text. */
  mentions?: MentionDirectory;
  /** How reactions are planned; without it every reaction is text. */
  reactions?: ReactionContext;
}

/** The default size limit of one file (`TEAMS_IMPORT_MAX_FILE_MB`): 250 MiB. */
export const DEFAULT_MAX_FILE_BYTES = 250 * 1024 * 1024;

const ALL_TEXT: ReactionContext = {
  native: false,
  reactorTextReason: () => undefined,
  displayName: (id) => id,
};

/**
 * Renders one source message to Teams HTML blocks. Mentions the directory allows become `<at id="n">` tags
 * listed in `mentions`, the others bold `@Name` text; reactions are planned beside the blocks (native
 * candidates and a text line "👍 3 · 🎉 1"); an edit adds "(edited)"; each file whose bytes can move is an
 * `<attachment>` placeholder the posting side turns into an inline image or a SharePoint reference; deleted,
 * hidden, external, oversized, empty and missing files become notices.
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
  const fileCounts: PlannedFileCounts = { inline: 0, sharepoint: 0, fallback: {} };
  const fallBack = (reason: FileFallback, html: string): void => {
    fileCounts.fallback[reason] = (fileCounts.fallback[reason] ?? 0) + 1;
    fileBlocks.push(html);
  };
  const earlierUpload = msg.subtype === 'file_comment' || msg.subtype === 'file_mention';
  for (const [index, file] of msg.files.entries()) {
    if (!file.sourceId && !file.url && !file.exportPath && !file.externalUrl) continue;
    const notice = fileNotice(file, options);
    if (notice) {
      fallBack(notice.reason, notice.html);
      continue;
    }
    const attachmentId = attachmentIdFor(options.channelKey, msg.key, file.sourceId, index);
    const uploadName = options.fileNames
      ? options.fileNames.nameFor(file.sourceId || `${msg.key}#${index}`, file.name)
      : sharePointName(file.name, file.sourceId);
    files.push({
      attachmentId,
      name: file.name,
      ...(file.mimeType ? { mimeType: file.mimeType } : {}),
      ...(file.size !== undefined ? { size: file.size } : {}),
      ...(file.exportPath ? { exportPath: file.exportPath } : {}),
      ...(file.url ? { url: file.url } : {}),
      ...(file.permalink ? { permalink: file.permalink } : {}),
      ...(file.sourceId ? { sourceId: file.sourceId } : {}),
      ...(file.dayFile && file.url && file.urlHasToken
        ? { locator: { dayFile: file.dayFile, ts: msg.ts, index: file.index ?? index } }
        : {}),
      uploadName,
      ...(isInlineImage(file) ? { image: true } : {}),
      ...(earlierUpload ? { earlier: true } : {}),
    });
    if (earlierUpload)
      fileCounts.fallback['earlier-upload'] = (fileCounts.fallback['earlier-upload'] ?? 0) + 1;
    else if (isInlineImage(file)) fileCounts.inline++;
    else fileCounts.sharepoint++;
    if (file.mode === 'snippet' && file.preview) fileBlocks.push(`<pre>${escapeHtml(file.preview)}</pre>`);
    fileBlocks.push(`<attachment id="${attachmentId}"></attachment>`);
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
    fileCounts,
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

/**
 * Whether a file is planned as an inline image: Slack calls it an image of at most 4 MiB. The posting side
 * decides for good after the download, by the bytes' real type and size; anything else goes to SharePoint.
 */
export function isInlineImage(file: SourceFile): boolean {
  return file.isImage && (file.size === undefined || file.size <= MAX_INLINE_IMAGE_BYTES);
}

/** Sizes as people read them: `312.4 MB` (MiB, one decimal), `17 KB`, `512 bytes`. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

/** A file's line when its bytes do not move: 📎, the name (linked when there is a link) and why, in italics. */
export function fileNoticeHtml(name: string, href: string | undefined, why: string): string {
  const label = escapeHtml(name);
  const link = href && /^https?:\/\//i.test(href) ? `<a href="${escapeHtml(href)}">${label}</a>` : label;
  return `<p>📎 ${link} <em>(${escapeHtml(why)})</em></p>`;
}

/** What a file becomes when the plan can already tell that its bytes will not move, or undefined. */
function fileNotice(
  file: SourceFile,
  options: RenderOptions,
): { reason: FileFallback; html: string } | undefined {
  const title = file.title || file.name || 'file';
  switch (file.mode) {
    case 'tombstone':
      return { reason: 'deleted', html: '<p>📎 <em>(a file that was deleted in Slack)</em></p>' };
    case 'hidden_by_limit':
      return {
        reason: 'hidden-by-limit',
        html: "<p>📎 <em>(a file hidden by Slack's free-plan limit: it is not in the export)</em></p>",
      };
    case 'external':
      return {
        reason: 'external',
        html: fileNoticeHtml(title, file.externalUrl ?? file.permalink, 'external file, left where it is'),
      };
    case 'quip':
    case 'canvas':
    case 'post':
    case 'docs': {
      const kind = file.mode === 'post' ? 'Post' : 'Canvas';
      const href = file.permalink;
      const label = escapeHtml(`${kind}: ${title}`);
      return {
        reason: 'canvas',
        html: `<p>📝 ${href && /^https?:\/\//i.test(href) ? `<a href="${escapeHtml(href)}">${label}</a>` : label}</p>`,
      };
    }
  }
  if (file.externalUrl)
    return {
      reason: 'external',
      html: fileNoticeHtml(title, file.externalUrl, 'external file, left where it is'),
    };
  if (file.size === 0)
    return {
      reason: 'empty',
      html: fileNoticeHtml(file.name, file.permalink, 'empty file: 0 bytes in Slack'),
    };
  const limit = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (file.size !== undefined && file.size > limit)
    return {
      reason: 'too-large',
      html: fileNoticeHtml(
        file.name,
        file.permalink,
        `not migrated: ${formatSize(file.size)}, over the ${formatSize(limit)} limit`,
      ),
    };
  if (!file.exportPath && !file.url)
    return {
      reason: 'missing',
      html: fileNoticeHtml(file.name, file.permalink, 'not migrated: the export has no copy of this file'),
    };
  if (!file.exportPath && !file.urlHasToken && !options.canDownloadFiles)
    return {
      reason: 'no-token',
      html: fileNoticeHtml(
        file.name,
        file.permalink,
        'not migrated: the export carries no file token; set SLACK_TOKEN to move files',
      ),
    };
  return undefined;
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
