import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { PlanManifest, PlannedChannel, PlannedMessage, PlannedUser, Problem } from '../model';
import type { ChannelRecord, MessageRecord, PassRecord } from '../state/ledgerRecords';
import { ExportReadError } from '../sources/archive';
import { deltaSourceRef } from '../sources/slack/webApi';
import { planExport, planTotals } from '../transform/plan';
import type {
  BeginPassInput,
  BeginPassResult,
  ChannelWork,
  FinishPassInput,
  FinishPassResult,
  SourceRef,
  StageDeltaInput,
  StageDeltaResult,
} from './contracts';
import type { PipelineDeps } from './deps';
import { channelSegments, PrefixedStore, readManifest, runPaths } from './runStore';
import { planOptions, readRequest, sourceScope } from './stage';

/** A planned key's source message (`1503435956.000247#p2` -> `1503435956.000247`): parts share it. */
export function sourceKeyOf(key: string): string {
  return key.replace(/#p\d+$/, '');
}

/**
 * A snapshot as a pass record names it: a path's last part, a blob's name or the Slack workspace read through
 * the Web API, never a URL or a token.
 */
export function describeSource(source: SourceRef | undefined): string {
  if (!source) return '';
  if (source.kind === 'path') return path.basename(source.path);
  if (source.kind === 'blob') return `${source.container}/${source.name}`;
  return `Slack Web API${source.workspace ? ` (${source.workspace})` : ''}`;
}

/** Slack `ts` strings compared as times ("1452988746.000017" < "1454884927.000002"). */
export function compareTs(a: string, b: string): number {
  const [as, af = ''] = a.split('.');
  const [bs, bf = ''] = b.split('.');
  const seconds = Number(as) - Number(bs);
  if (seconds !== 0) return seconds;
  const width = Math.max(af.length, bf.length);
  return Number(af.padEnd(width, '0')) - Number(bf.padEnd(width, '0'));
}

const tsTime = (ts: string): string => new Date(Math.floor(Number(ts) * 1000)).toISOString();

/**
 * Checks that a pass may run now and opens its record, or resumes the record of the same pass when the last
 * one did not end (a crash, a killed local host). The first pass runs until the migration is prestaged or
 * completed (run it again to resume it); a delta needs a prestaged or completed migration; a cutover a
 * prestaged one (or a cutover that did not end). A cutover marks the migration `cutting-over` until it ends.
 */
export async function beginPass(deps: PipelineDeps, input: BeginPassInput): Promise<BeginPassResult> {
  const runId = input.migrationId;
  const row = (await deps.ledger.getMigration(runId))?.value;
  const passes = await deps.ledger.listPasses(runId);
  const last = passes.at(-1);
  const stage = row ? (row.stage ?? 'importing') : undefined;
  const refuse = (error: string): BeginPassResult => ({ ok: false, error });
  if (input.kind === 'initial') {
    if (stage === 'cutting-over')
      return refuse(`Migration '${runId}' is cutting over: run its cutover again to finish it.`);
    if (last && last.kind !== 'initial')
      return refuse(
        `Migration '${runId}' has had a ${last.kind} pass (stage ${stage}): its first pass cannot run again; apply a newer snapshot with delta${stage === 'prestaged' ? ', or cut it over with cutover' : ''}.`,
      );
    if (stage === 'prestaged' && !input.prestage)
      return refuse(
        `Migration '${runId}' is prestaged: cut it over with cutover (running it again without --prestage would complete it without a final delta).`,
      );
    if (stage === 'completed' && input.prestage)
      return refuse(`Migration '${runId}' is completed: it cannot be prestaged again.`);
  } else if (input.kind === 'delta') {
    if (stage === undefined || stage === 'importing')
      return refuse(
        `Migration '${runId}' has not finished its first pass (stage ${stage ?? 'not started'}): run it (again) until it is prestaged or completed, then apply deltas.`,
      );
    if (stage === 'cutting-over')
      return refuse(
        `Migration '${runId}' is cutting over: run its cutover again to finish it, then apply deltas.`,
      );
  } else if (stage !== 'prestaged' && stage !== 'cutting-over') {
    return refuse(
      `Migration '${runId}' is not prestaged (stage ${stage ?? 'not started'}): only a prestaged migration can be cut over.`,
    );
  }

  const source = describeSource(input.source);
  let pass: number;
  if (last && last.outcome === 'running' && last.kind === input.kind && last.source === source)
    pass = last.pass;
  else {
    if (last?.outcome === 'running')
      await deps.ledger.updatePass(runId, last.pass, { outcome: 'interrupted', finishedAt: input.now });
    pass = (last?.pass ?? 0) + 1;
    const posted = (await deps.ledger.listChannels(runId)).reduce((n, c) => n + c.posted, 0);
    await deps.ledger.putPass({
      runId,
      pass,
      kind: input.kind,
      source,
      startedAt: input.now,
      outcome: 'running',
      newMessages: 0,
      posted: 0,
      failed: 0,
      editedInSlack: 0,
      deletedInSlack: 0,
      postedBefore: posted,
    });
  }
  if (!row)
    await deps.ledger.ensureMigration({
      runId,
      status: 'running',
      phase: 'staging',
      stage: 'importing',
      ...(input.deltaSync !== undefined ? { deltaSync: input.deltaSync } : {}),
    });
  else if (input.kind === 'cutover' || input.deltaSync !== undefined)
    await deps.ledger.updateMigration(runId, {
      ...(input.kind === 'cutover' ? { stage: 'cutting-over' } : {}),
      ...(input.deltaSync !== undefined ? { deltaSync: input.deltaSync } : {}),
    });
  return {
    ok: true,
    pass,
    ...(row?.teamId ? { teamId: row.teamId } : {}),
    live: stage === 'completed' && input.kind !== 'initial',
  };
}

/** What a pass refuses a snapshot for, or undefined when it may be applied. */
function refusal(
  runId: string,
  snapshot: PlanManifest,
  earlier: PassRecord[],
  applied: PlanManifest,
  live = false,
): string | undefined {
  const workspace = earlier.find((p) => p.workspace)?.workspace ?? applied.source.teamId;
  const theirs = snapshot.source.teamId;
  if (workspace && theirs && workspace !== theirs)
    return `The snapshot is of another Slack workspace (team ${theirs}) than migration '${runId}' (team ${workspace}): nothing was posted. Give a newer export of workspace ${workspace}.`;
  // A read of the live workspace is as new as it gets; its newest message may only be older when one was deleted.
  if (live) return undefined;
  const newest = snapshot.source.newestMessage;
  const lastApplied = earlier
    .filter((p) => p.outcome !== 'refused' && p.newestMessage)
    .map((p) => p.newestMessage!)
    .concat(applied.source.newestMessage ? [applied.source.newestMessage] : [])
    .sort(compareTs)
    .at(-1);
  if (newest && lastApplied && compareTs(newest, lastApplied) < 0)
    return `The snapshot is older than the last one applied to migration '${runId}': its newest message is from ${tsTime(newest)}, the last applied snapshot's from ${tsTime(lastApplied)}. Nothing was posted; give a newer export.`;
  return undefined;
}

/** A planned line of an earlier pass, as a delta needs it: its key, time and thread. */
interface KnownLine {
  key: string;
  ms: number;
  parentKey?: string;
}

/** The Slack messages among planned keys (a split message's parts count once). */
function newSourceMessages(keys: Iterable<string>): number {
  const sources = new Set<string>();
  for (const key of keys) sources.add(sourceKeyOf(key));
  return sources.size;
}

const SLACK_TS = /^\d+\.\d+$/;

/**
 * Per channel (its Slack id), the newest Slack `ts` the migration's plan holds: where a delta read through
 * Slack's Web API picks up (see deltaSourceRef). Channels with nothing planned have no mark and are read whole.
 */
export async function highWaterMarks(
  deps: PipelineDeps,
  runId: string,
  manifest: PlanManifest,
): Promise<Record<string, string>> {
  const marks: Record<string, string> = {};
  for (const channel of manifest.channels) {
    let mark: string | undefined;
    for (const segment of channelSegments(runId, channel)) {
      if (segment.messages === 0) continue;
      for await (const line of readPlanLines(deps, segment.name)) {
        const ts = sourceKeyOf(line.key);
        if (SLACK_TS.test(ts) && (mark === undefined || compareTs(ts, mark) > 0)) mark = ts;
      }
    }
    if (mark !== undefined) marks[channel.sourceId] = mark;
  }
  return marks;
}

async function* readPlanLines(deps: PipelineDeps, name: string): AsyncGenerator<PlannedMessage> {
  const lines = createInterface({ input: await deps.store.stream(name) });
  try {
    for await (const line of lines) if (line.trim()) yield JSON.parse(line) as PlannedMessage;
  } finally {
    lines.close();
  }
}

/** The Teams deep link of a posted message (a reply links under its thread). */
export function teamsMessageLink(
  teamId: string,
  channelId: string,
  messageId: string,
  parentId?: string,
): string {
  return `https://teams.microsoft.com/l/message/${encodeURIComponent(channelId)}/${messageId}?groupId=${encodeURIComponent(teamId)}&parentMessageId=${parentId ?? messageId}`;
}

/** The Slack permalink of a message of a channel (a reply's names its thread). */
export function slackMessageLink(
  workspaceUrl: string,
  channelId: string,
  ts: string,
  threadTs?: string,
): string {
  const link = `${workspaceUrl}/archives/${channelId}/p${ts.replace('.', '')}`;
  return threadTs ? `${link}?thread_ts=${threadTs}&cid=${channelId}` : link;
}

/** A Teams channel name made unique among `taken` (case-insensitive) with `-2`, `-3`, ... within 50 characters. */
function uniqueName(name: string, taken: Set<string>): string {
  if (!taken.has(name.toLowerCase())) return name;
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    const candidate = [...name].slice(0, 50 - suffix.length).join('') + suffix;
    if (!taken.has(candidate.toLowerCase())) return candidate;
  }
}

/** Where one channel of a delta stands: what it adds, and what of it changed in Slack after its import. */
interface ChannelDelta {
  planned: PlannedChannel;
  added: number;
  edited: number;
  deleted: number;
}

/**
 * Applies a newer snapshot of the workspace to the migration's plan. The snapshot is planned with the same
 * planner and options as the first pass; a snapshot of another workspace, or older than the last one applied
 * (by its newest message), is refused before anything is written. Of the snapshot's messages only those the
 * migration's plan does not hold (by source key) are added, each channel's as a new plan segment: their
 * planned times are kept unless the millisecond is taken in the channel (by an earlier pass, or earlier in
 * this one), then they move to the next free millisecond, never before the channel or their thread's parent;
 * a reply to a thread imported earlier names its parent's planned key. Posted messages whose content differs
 * in the snapshot are marked edited in Slack after import, those the snapshot no longer has deleted, with
 * links. The new plan's manifest is written last, in one write; a pass staged already is not staged again.
 */
export async function stageDelta(deps: PipelineDeps, input: StageDeltaInput): Promise<StageDeltaResult> {
  const runId = input.migrationId;
  let manifest = await readManifest(deps.store, runId);
  const passRecords = await deps.ledger.listPasses(runId);
  let summary = { newMessages: 0, editedInSlack: 0, deletedInSlack: 0 };
  const thisPass = passRecords.find((p) => p.pass === input.pass);
  if (thisPass && manifest.stagedPasses?.includes(input.pass))
    summary = {
      newMessages: thisPass.newMessages,
      editedInSlack: thisPass.editedInSlack,
      deletedInSlack: thisPass.deletedInSlack,
    };
  else if (input.source) {
    const request = await readRequest(deps, runId);
    if (!request)
      throw new Error(
        `Migration '${runId}' has no stored request (${runPaths.request(runId)}): stage its first pass first.`,
      );
    const snapshotRoot = `${runPaths.pass(runId, input.pass)}snapshot/`;
    const snapshotStore = new PrefixedStore(deps.store, snapshotRoot);
    const removeSnapshot = async (): Promise<void> => {
      for (const name of await deps.store.list(snapshotRoot)) await deps.store.delete(name);
    };
    let snapshot: PlanManifest;
    // A workspace read through Slack's Web API is read from each channel's newest planned message (less the
    // look-back) on: the snapshot is partial, and only messages inside its windows are judged below.
    const source =
      input.source.kind === 'slack-api'
        ? deltaSourceRef({ ...input.source, windows: undefined }, await highWaterMarks(deps, runId, manifest))
        : input.source;
    const opened = await deps
      .openSource(source, sourceScope(request.options, input.now))
      .catch((err: unknown) => err as Error);
    if (opened instanceof Error)
      return refused([{ severity: 'error', code: 'export-unreadable', message: opened.message }]);
    try {
      snapshot = await planExport(
        opened.slack,
        planOptions(deps, { ...request, now: input.now }),
        snapshotStore,
      );
    } catch (err) {
      await removeSnapshot();
      if (err instanceof ExportReadError)
        return refused([{ severity: 'error', code: 'export-unreadable', message: err.message }]);
      throw err;
    } finally {
      await opened.release();
    }
    const errors = snapshot.problems.filter((p) => p.severity === 'error');
    const why =
      errors.length === 0
        ? refusal(
            runId,
            snapshot,
            passRecords.filter((p) => p.pass !== input.pass),
            manifest,
            source.kind === 'slack-api',
          )
        : undefined;
    if (errors.length > 0 || why) {
      await removeSnapshot();
      return refused(why ? [{ severity: 'error', code: 'snapshot-refused', message: why }] : errors);
    }
    const windows = source.kind === 'slack-api' ? (source.windows ?? {}) : undefined;
    const result = await applySnapshot(deps, input, manifest, snapshot, snapshotStore, windows);
    manifest = result.manifest;
    summary = result.summary;
    await deps.ledger.updatePass(runId, input.pass, {
      ...summary,
      ...(snapshot.source.teamId ? { workspace: snapshot.source.teamId } : {}),
      ...(snapshot.source.newestMessage ? { newestMessage: snapshot.source.newestMessage } : {}),
    });
    await removeSnapshot();
  }
  const records = new Map((await deps.ledger.listChannels(runId)).map((c) => [c.channelKey, c]));
  return {
    ok: true,
    channels: manifest.channels.map((c) => {
      const r = records.get(c.key);
      return { ...channelWork(c), behind: !r || r.posted + r.missing < c.messages };
    }),
    ...summary,
  };
}

function refused(problems: Problem[]): StageDeltaResult {
  return { ok: false, problems };
}

/** A planned channel as the orchestrator needs it. */
export function channelWork(c: PlannedChannel): ChannelWork {
  return {
    key: c.key,
    sourceName: c.sourceName,
    teamsName: c.teamsName,
    description: c.description,
    isGeneral: c.isGeneral,
    createdDateTime: c.createdDateTime,
    messages: c.messages,
    ...(c.membershipType === 'private' ? { private: true } : {}),
  };
}

async function applySnapshot(
  deps: PipelineDeps,
  input: StageDeltaInput,
  manifest: PlanManifest,
  snapshot: PlanManifest,
  snapshotStore: PrefixedStore,
  windows?: Record<string, { oldest: string }>,
): Promise<{
  manifest: PlanManifest;
  summary: { newMessages: number; editedInSlack: number; deletedInSlack: number };
}> {
  const runId = input.migrationId;
  const migration = (await deps.ledger.getMigration(runId))?.value;
  const records = new Map((await deps.ledger.listChannels(runId)).map((c) => [c.channelKey, c]));
  const workspaceUrl = snapshot.source.workspaceUrl ?? manifest.source.workspaceUrl;
  const teamCreatedMs = Date.parse(manifest.team.createdDateTime);
  const names = new Set(manifest.channels.map((c) => c.teamsName.toLowerCase()));
  const hasGeneral = manifest.channels.some((c) => c.isGeneral);
  const inSnapshot = new Map(snapshot.channels.map((c) => [c.key, c]));
  const deltas: ChannelDelta[] = [];
  const link = (channel: PlannedChannel, record: ChannelRecord | undefined) => ({
    teams: (row: MessageRecord, parentId?: string): string | undefined =>
      migration?.teamId && record?.teamsChannelId && row.teamsId
        ? teamsMessageLink(migration.teamId, record.teamsChannelId, row.teamsId, parentId)
        : undefined,
    slack: (key: string, threadKey?: string): string | undefined =>
      workspaceUrl
        ? slackMessageLink(
            workspaceUrl,
            channel.sourceId,
            sourceKeyOf(key),
            threadKey && sourceKeyOf(threadKey),
          )
        : undefined,
  });

  for (const existing of manifest.channels) {
    const fresh = inSnapshot.get(existing.key);
    deltas.push(
      await applyChannel(
        deps,
        input,
        existing,
        fresh,
        snapshotStore,
        records.get(existing.key),
        link(existing, records.get(existing.key)),
        windows?.[existing.sourceId]?.oldest,
      ),
    );
  }
  for (const fresh of snapshot.channels) {
    if (manifest.channels.some((c) => c.key === fresh.key)) continue;
    const teamsName = uniqueName(fresh.teamsName, names);
    names.add(teamsName.toLowerCase());
    const created = Math.max(Date.parse(fresh.createdDateTime), teamCreatedMs);
    const channel: PlannedChannel = {
      ...fresh,
      teamsName,
      isGeneral: fresh.isGeneral && !hasGeneral,
      createdDateTime: new Date(created).toISOString(),
      posts: 0,
      replies: 0,
      messages: 0,
      split: 0,
      splitExtraParts: 0,
      timestampBumps: 0,
      files: 0,
      inlineImages: 0,
      segments: [],
    };
    deltas.push(
      await applyChannel(deps, input, channel, fresh, snapshotStore, undefined, link(channel, undefined)),
    );
  }

  const users = new Map<string, PlannedUser>(manifest.users.map((u) => [u.sourceId, u]));
  for (const u of snapshot.users) users.set(u.sourceId, u);
  const channels = deltas.map((d) => d.planned);
  const totals = planTotals(channels);
  const next: PlanManifest = {
    ...manifest,
    source: snapshot.source,
    channels,
    notImported: snapshot.notImported,
    users: [...users.values()],
    problems: snapshot.problems,
    totals,
    importable: true,
    stagedPasses: [...(manifest.stagedPasses ?? []), input.pass],
  };
  // Later snapshots hold the earlier ones' messages: files of every planned message are read from the newest.
  await deps.store.put(runPaths.source(runId), JSON.stringify(input.source), 'application/json');
  await deps.store.put(runPaths.manifest(runId), JSON.stringify(next, null, 2) + '\n', 'application/json');
  return {
    manifest: next,
    summary: {
      newMessages: deltas.reduce((n, d) => n + d.added, 0),
      editedInSlack: deltas.reduce((n, d) => n + d.edited, 0),
      deletedInSlack: deltas.reduce((n, d) => n + d.deleted, 0),
    },
  };
}

/**
 * One channel of a delta: reads the lines earlier passes planned for it (their keys, times, threads), writes
 * the snapshot's lines they do not hold as the pass's segment, and marks posted messages the snapshot shows
 * edited, or no longer has (`fresh` absent: the channel itself is gone from the snapshot). With `readFrom`
 * (a Slack `ts`), the snapshot holds only the channel's threads started from then on, with all their replies:
 * messages of older threads are not judged, and the channel's count of Slack messages grows by what it adds.
 */
async function applyChannel(
  deps: PipelineDeps,
  input: StageDeltaInput,
  channel: PlannedChannel,
  fresh: PlannedChannel | undefined,
  snapshotStore: PrefixedStore,
  record: ChannelRecord | undefined,
  links: {
    teams(row: MessageRecord, parentId?: string): string | undefined;
    slack(key: string, threadKey?: string): string | undefined;
  },
  readFrom?: string,
): Promise<ChannelDelta> {
  const runId = input.migrationId;
  const known = new Map<string, KnownLine>();
  const taken = new Set<number>();
  let seq = 0;
  for (const segment of channelSegments(runId, channel)) {
    if (segment.messages === 0) continue;
    for await (const line of readPlanLines(deps, segment.name)) {
      const sourceKey = sourceKeyOf(line.key);
      const ms = Date.parse(line.createdDateTime);
      if (!known.has(sourceKey))
        known.set(sourceKey, { key: line.key, ms, ...(line.parentKey ? { parentKey: line.parentKey } : {}) });
      taken.add(ms);
      seq = Math.max(seq, line.seq + 1);
    }
  }
  const rows = record ? await deps.ledger.getMessages(runId, channel.key) : [];
  const fingerprints = new Map<string, string>();
  const floorMs = Date.parse(channel.createdDateTime) + 1;
  const added = new Map<string, number>();
  const out: string[] = [];
  const counts = { posts: 0, replies: 0, bumps: 0, split: 0, splitExtraParts: 0 };
  let lastPart: { sourceKey: string; ms: number } | undefined;
  if (fresh) {
    for await (const line of readPlanLines(deps, `${snapshotStore.root}${fresh.planPath}`)) {
      const sourceKey = sourceKeyOf(line.key);
      if (!fingerprints.has(sourceKey) && line.fingerprint) fingerprints.set(sourceKey, line.fingerprint);
      if (known.has(sourceKey)) continue;
      let parentKey = line.parentKey;
      let parentMs: number | undefined;
      if (parentKey !== undefined) {
        const parent = known.get(sourceKeyOf(parentKey));
        if (parent) {
          parentKey = parent.key;
          parentMs = parent.ms;
        } else parentMs = added.get(parentKey);
      }
      const planned = Date.parse(line.createdDateTime);
      let ms = Math.max(planned, floorMs, parentMs === undefined ? -Infinity : parentMs + 1);
      if (lastPart?.sourceKey === sourceKey) ms = Math.max(ms, lastPart.ms + 1);
      while (taken.has(ms)) ms++;
      taken.add(ms);
      if (ms !== planned && line.key === sourceKey) counts.bumps++;
      added.set(line.key, ms);
      lastPart = { sourceKey, ms };
      if (parentKey !== undefined) counts.replies++;
      else counts.posts++;
      if (line.part) {
        if (line.part.index === 1) counts.split++;
        else counts.splitExtraParts++;
      }
      const next: PlannedMessage = {
        ...line,
        seq: seq++,
        createdDateTime: new Date(ms).toISOString(),
        ...(parentKey !== undefined ? { parentKey } : {}),
      };
      out.push(JSON.stringify(next));
    }
  }

  const byKey = new Map(rows.map((r) => [r.key, r]));
  let edited = 0;
  let deleted = 0;
  const changedRows: MessageRecord[] = [];
  for (const row of rows) {
    if (row.state !== 'posted' || !row.teamsId) continue;
    const sourceKey = sourceKeyOf(row.key);
    if (row.key !== sourceKey && !row.key.endsWith('#p1')) continue;
    // A windowed read holds the threads started from `readFrom` on, each with every reply.
    const threadKey = known.get(sourceKey)?.parentKey;
    if (readFrom !== undefined && compareTs(threadKey ? sourceKeyOf(threadKey) : sourceKey, readFrom) < 0)
      continue;
    const now = fingerprints.get(sourceKey);
    const status: MessageRecord['changed'] =
      now === undefined || now === 'deleted'
        ? 'deleted'
        : row.fingerprint && now !== row.fingerprint
          ? 'edited'
          : undefined;
    if (status === row.changed) continue;
    const line = known.get(sourceKey);
    const parentRow = line?.parentKey ? byKey.get(line.parentKey) : undefined;
    const { changed: _changed, teamsLink: _teams, slackLink: _slack, ...rest } = row;
    const teamsLink = links.teams(row, parentRow?.teamsId);
    const slackLink = links.slack(row.key, line?.parentKey);
    changedRows.push(
      status
        ? {
            ...rest,
            changed: status,
            ...(teamsLink ? { teamsLink } : {}),
            ...(slackLink ? { slackLink } : {}),
          }
        : rest,
    );
    if (status === 'edited') edited++;
    if (status === 'deleted') deleted++;
  }
  if (changedRows.length > 0) await deps.ledger.recordMessages(runId, channel.key, changedRows);
  const changedNow = new Map(changedRows.map((r) => [r.key, r.changed]));
  const current = (kind: 'edited' | 'deleted'): number =>
    rows.filter((r) => (changedNow.has(r.key) ? changedNow.get(r.key) : r.changed) === kind).length;
  if (record && (changedRows.length > 0 || record.editedInSlack !== undefined))
    await deps.ledger.updateChannel(runId, channel.key, {
      editedInSlack: current('edited'),
      deletedInSlack: current('deleted'),
    });

  let planned: PlannedChannel = channel;
  if (out.length > 0) {
    const segmentPath = `passes/${input.pass}/channels/${channel.key}.ndjson`;
    await deps.store.put(
      runPaths.inRun(runId, segmentPath),
      Readable.from([out.join('\n') + '\n']),
      'application/x-ndjson',
    );
    const segments = channel.segments ?? [
      { path: `plan/${channel.planPath}`, pass: 1, messages: channel.messages },
    ];
    planned = {
      ...channel,
      segments: [...segments, { path: segmentPath, pass: input.pass, messages: out.length }],
      messages: channel.messages + out.length,
      posts: channel.posts + counts.posts,
      replies: channel.replies + counts.replies,
      split: channel.split + counts.split,
      splitExtraParts: channel.splitExtraParts + counts.splitExtraParts,
      timestampBumps: channel.timestampBumps + counts.bumps,
    };
  }
  if (fresh)
    planned = {
      ...planned,
      description: fresh.description,
      ...(readFrom === undefined
        ? { skipped: fresh.skipped, sourceMessages: fresh.sourceMessages }
        : { sourceMessages: channel.sourceMessages + newSourceMessages(added.keys()) }),
      isArchived: fresh.isArchived,
      members: [...new Set([...channel.members, ...fresh.members])],
      ...(fresh.creatorId ? { creatorId: fresh.creatorId } : {}),
    };
  return { planned, added: out.length, edited, deleted };
}

/**
 * Records how a pass ended: its outcome, the messages it posted (counted from where the ledger stood when it
 * began) and those failing now, and the migration's new stage; moves an inbox snapshot to `processed/`.
 */
export async function finishPass(deps: PipelineDeps, input: FinishPassInput): Promise<FinishPassResult> {
  const runId = input.migrationId;
  const channels = await deps.ledger.listChannels(runId);
  const pass = (await deps.ledger.listPasses(runId)).find((p) => p.pass === input.pass);
  // Counted from the message rows, as the report counts them (a channel row may lag: see recountMessages).
  let postedNow = 0;
  for (const c of channels) {
    const counts = await deps.ledger.recountMessages(runId, c.channelKey);
    postedNow += counts?.posted ?? c.posted;
    if (counts && (counts.posted !== c.posted || counts.missing !== c.missing))
      await deps.ledger.updateChannel(runId, c.channelKey, counts);
  }
  const posted = Math.max(0, postedNow - (pass?.postedBefore ?? 0));
  const failed = channels.reduce((n, c) => n + c.failed, 0);
  if (input.processed) await moveToProcessed(deps, [runId], input.processed);
  await deps.ledger.updatePass(runId, input.pass, {
    outcome: input.outcome,
    finishedAt: new Date(deps.now()).toISOString(),
    posted,
    failed,
    ...(input.error ? { error: input.error } : {}),
  });
  if (input.stage) await deps.ledger.updateMigration(runId, { stage: input.stage });
  return { posted, failed };
}

/**
 * Moves a snapshot of a migration's inbox to its `processed/` folder; each of the migrations (a workspace's
 * teams share its snapshot) whose current source it is (where files of planned messages are read) follows it.
 */
export async function moveToProcessed(
  deps: PipelineDeps,
  runIds: string[],
  source: SourceRef,
): Promise<void> {
  const moved = await deps.inbox.markProcessed(source);
  if (!moved) return;
  for (const runId of runIds) {
    const name = runPaths.source(runId);
    const current = (await deps.store.exists(name)) ? (await deps.store.get(name)).toString('utf8') : '';
    if (current === JSON.stringify(source))
      await deps.store.put(name, JSON.stringify(moved), 'application/json');
  }
}
