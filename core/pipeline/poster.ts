import { GraphError, MaybeCommittedError } from '../graph/errors';
import type { FilesFolder } from '../graph/files';
import { buildImportMessage, messageIdFor, type MessageAuthor } from '../graph/messageBody';
import type { PlannedFileLink, PlannedMessage } from '../model';
import { openExportArchive, type ExportArchive } from '../sources/archive';
import type { UserRecord } from '../state/ledgerRecords';
import { escapeHtml } from '../transform/html';
import { ChannelProgress } from './channelProgress';
import type { PostMessagesInput, PostMessagesResult, SourceRef } from './contracts';
import type { OpenedSource, PipelineDeps } from './deps';
import { channelImportState, isImportRefused, readBackCompleted, type StepOutcome } from './reconcile';
import { runPaths } from './runStore';
import { FALLBACK_USER_KEY } from './users';

/** Answers that concern one message only: it is recorded as failed and the channel goes on. */
const MESSAGE_LEVEL_STATUS = new Set([400, 413]);
/** Re-sends of one message after a lost answer that the service does not show as committed. */
const MAX_SENDS = 3;

/** A message that could not be imported, with the reason the report shows. */
class MessageFailure extends Error {}

/** The reason recorded on a reply whose thread's first message is not posted. */
export function parentFailedReason(parentKey: string): string {
  return `its thread's first message (${parentKey}) failed`;
}

/**
 * Posts a channel's plan in order from the pass's cursor until the plan ends, the time budget is spent or
 * the service asks for a longer wait than a request waits (then `waitUntil` says when to call again).
 *
 * The service is the truth: while the ledger is behind the plan, the channel's state is read from Teams
 * first, and a completed channel (or one whose import the service refuses with 403) is read back into the
 * ledger (`readBackCompleted`) and never posted into. Posted messages reach the ledger a second apart, off
 * the posting path; one posted but not yet recorded when the run dies gets a 409 on its next POST, resolved
 * by looking it up by its planned time, so a re-run neither repeats nor loses a message.
 *
 * Each message is tried once per pass (a run of the channel's orchestration from its first batch): a
 * failure is recorded with its reason and the cursor moves past it, so a pass always reaches the end of
 * the plan; the next pass tries the failures again. A reply whose thread's first message is not posted
 * waits for it: it is recorded as failed ("its thread's first message failed") without being sent.
 */
export async function postMessages(
  deps: PipelineDeps,
  input: PostMessagesInput,
): Promise<PostMessagesResult> {
  const address = {
    runId: input.migrationId,
    teamId: input.teamId,
    channelId: input.channelId,
    channelKey: input.channelKey,
  };
  const deadline = deps.now() + input.timeBudgetMs;
  const progress = await ChannelProgress.load(deps, address, input.pass);

  let completed = progress.record.state === 'completed';
  if (!completed && progress.behind)
    completed = (await channelImportState(deps.graph, input.teamId, input.channelId)) === 'completed';
  let outcome: StepOutcome | 'refused' = completed
    ? await readBackCompleted(deps, progress, deadline)
    : await postFromCursor(deps, progress, deadline);
  if (outcome === 'refused') {
    completed = true;
    outcome = await readBackCompleted(deps, progress, deadline);
  }
  return {
    done: outcome.done,
    ...(outcome.waitUntil ? { waitUntil: outcome.waitUntil } : {}),
    channelCompleted: completed,
    posted: progress.posted.size,
    failed: progress.failed.size,
    missing: progress.missing.size,
    throttled: progress.throttled,
  };
}

/**
 * The posting loop of an open channel. Resolves to `'refused'` when the service refuses imports into the
 * channel and Teams does not show it open: the caller reads it back instead.
 */
async function postFromCursor(
  deps: PipelineDeps,
  progress: ChannelProgress,
  deadline: number,
): Promise<StepOutcome | 'refused'> {
  const { runId, teamId, channelId } = progress.address;
  const poster = new MessagePoster(deps, runId, teamId, channelId, await deps.ledger.getUsers(runId));
  const checkpoint = (waitUntil?: string): Promise<void> =>
    progress.checkpoint({ state: 'posting', ...(waitUntil ? { waitUntil } : {}) });
  try {
    for await (const msg of progress.plan()) {
      if (msg.seq < progress.cursor) continue;
      if (progress.posted.has(msg.key)) {
        progress.advance(msg);
        continue;
      }
      if (deps.now() >= deadline) {
        await checkpoint();
        return { done: false };
      }
      const parentId = msg.parentKey === undefined ? undefined : progress.posted.get(msg.parentKey);
      if (msg.parentKey !== undefined && parentId === undefined) {
        progress.markFailed(msg, parentFailedReason(msg.parentKey));
      } else {
        try {
          progress.markPosted(msg, await poster.post(msg, parentId));
        } catch (err) {
          if (err instanceof MessageFailure) progress.markFailed(msg, err.message);
          else if (isImportRefused(err)) {
            if ((await channelImportState(deps.graph, teamId, channelId)) === 'open') throw err;
            await checkpoint();
            return 'refused';
          } else if (err instanceof GraphError && err.longWait && err.retryAfterMs !== undefined) {
            const waitUntil = new Date(deps.now() + err.retryAfterMs).toISOString();
            await checkpoint(waitUntil);
            return { done: false, waitUntil };
          } else throw err;
        }
      }
      progress.advance(msg);
      progress.maybeCheckpoint();
    }
  } catch (err) {
    await checkpoint().catch(() => undefined);
    throw err;
  } finally {
    await poster.close();
  }
  await progress.checkpoint({
    state: progress.failed.size === 0 ? 'posted' : 'posting',
    ...(progress.failed.size === 0 && !progress.record.finishedAt
      ? { finishedAt: new Date(deps.now()).toISOString() }
      : {}),
  });
  return { done: true };
}

/** Sends one planned message: author, inline images and file links resolved, lost answers looked up. */
class MessagePoster {
  private source?: Promise<{ opened: OpenedSource; archive: ExportArchive }>;
  private filesFolder?: Promise<FilesFolder>;

  constructor(
    private readonly deps: PipelineDeps,
    private readonly runId: string,
    private readonly teamId: string,
    private readonly channelId: string,
    private readonly users: Map<string, UserRecord>,
  ) {}

  async post(msg: PlannedMessage, parentId: string | undefined): Promise<string> {
    const author = this.author(msg);
    const hostedBytes = new Map<string, Buffer>();
    for (const hosted of msg.hostedContents)
      hostedBytes.set(hosted.temporaryId, await this.bytes(hosted, `inline image ${hosted.name}`));
    const { message, fileUrls } = await this.linkFiles(msg);
    const body = buildImportMessage(message, author, hostedBytes, fileUrls);
    for (let send = 1; ; send++) {
      try {
        const created = parentId
          ? await this.deps.graph.postReply(this.teamId, this.channelId, parentId, body)
          : await this.deps.graph.postMessage(this.teamId, this.channelId, body);
        return created.id;
      } catch (err) {
        const conflict = err instanceof GraphError && err.status === 409;
        if (conflict || err instanceof MaybeCommittedError) {
          const existing = await this.lookUp(msg, parentId);
          if (existing) return existing;
          if (conflict)
            throw new MessageFailure(
              `409 Conflict, yet no message of this channel has its time ${msg.createdDateTime}: the plan's timestamps collide with a message posted outside this run`,
            );
          if (send < MAX_SENDS) continue;
        }
        if (err instanceof GraphError && MESSAGE_LEVEL_STATUS.has(err.status))
          throw new MessageFailure(`${err.status} ${err.code}: ${err.serviceMessage}`);
        throw err;
      }
    }
  }

  async close(): Promise<void> {
    if (!this.source) return;
    const { opened, archive } = await this.source;
    await archive.close();
    await opened.release();
  }

  private author(msg: PlannedMessage): MessageAuthor {
    const user = msg.author.sourceUserId ? this.users.get(msg.author.sourceUserId) : undefined;
    if (user?.entraId && msg.author.kind !== 'bot')
      return { entraId: user.entraId, displayName: user.displayName ?? msg.author.displayName };
    const fallback = this.users.get(FALLBACK_USER_KEY);
    if (!fallback?.entraId)
      throw new MessageFailure(
        `${msg.author.displayName} has no Entra user and the run has no fallback user`,
      );
    return { fallback: { entraId: fallback.entraId, displayName: fallback.displayName ?? 'Fallback user' } };
  }

  private async lookUp(msg: PlannedMessage, parentId: string | undefined): Promise<string | undefined> {
    const id = messageIdFor(msg.createdDateTime);
    const found = parentId
      ? await this.deps.graph.getReply(this.teamId, this.channelId, parentId, id)
      : await this.deps.graph.getMessage(this.teamId, this.channelId, id);
    return found?.id;
  }

  /** Uploads files whose bytes can be had to the channel's files folder; links the others to their source page. */
  private async linkFiles(
    msg: PlannedMessage,
  ): Promise<{ message: PlannedMessage; fileUrls: Map<string, string> }> {
    const fileUrls = new Map<string, string>();
    const uploaded: PlannedFileLink[] = [];
    let html = msg.html;
    for (const file of msg.files) {
      const available = file.exportPath || (file.url && this.deps.downloadSourceFile);
      if (!available) {
        const href = file.permalink ?? file.url;
        const label = escapeHtml(file.name);
        const link = href ? `<a href="${escapeHtml(href)}">${label}</a>` : label;
        html = html.replace(
          `<attachment id="${file.attachmentId}"></attachment>`,
          `<p>📎 ${link} <em>(file not migrated: its bytes are not in the export)</em></p>`,
        );
        continue;
      }
      const folder = await (this.filesFolder ??= this.deps.graph.getFilesFolder(this.teamId, this.channelId));
      const bytes = await this.bytes(file, `file ${file.name}`);
      const name = `${file.attachmentId.slice(0, 8)}-${file.name.replace(/[\\/:*?"<>|#%]/g, '_')}`;
      const item = await this.deps.graph.uploadFile(folder.driveId, folder.itemId, name, bytes);
      fileUrls.set(file.attachmentId, item.webUrl);
      uploaded.push(file);
    }
    return { message: { ...msg, html, files: uploaded }, fileUrls };
  }

  private async bytes(ref: { exportPath?: string; url?: string }, what: string): Promise<Buffer> {
    try {
      if (ref.exportPath) return await (await this.archive()).read(ref.exportPath);
      if (ref.url && this.deps.downloadSourceFile) return await this.deps.downloadSourceFile(ref.url);
    } catch (err) {
      throw new MessageFailure(
        `${what} could not be read: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    throw new MessageFailure(`${what} has no readable source: neither in the export nor downloadable`);
  }

  private async archive(): Promise<ExportArchive> {
    this.source ??= (async () => {
      const ref = JSON.parse(
        (await this.deps.store.get(runPaths.source(this.runId))).toString('utf8'),
      ) as SourceRef;
      const opened = await this.deps.openSource(ref);
      return { opened, archive: await openExportArchive(opened.path) };
    })();
    return (await this.source).archive;
  }
}
