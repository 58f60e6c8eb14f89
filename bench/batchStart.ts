/**
 * How long a `postMessages` batch takes before its first POST, at the start and at the end of one large
 * channel: what a batch reads of the ledger and the plan before it posts. Not part of `npm test`.
 *
 *   node dist/bench/batchStart.js --messages 150000 --tail 300 --posts 50
 *
 * Two runs of the same one-channel export (no threads): the first measures a batch at cursor 0; the second
 * has the ledger hold the channel's first `messages - tail` messages as posted (rows written as the ledger of
 * the key-ordered layout holds them, which every version of the app reads) with its cursor after them, and
 * measures `batches` batches in a row from there. Each batch stops after `posts` POSTs. Prints one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SANDBOX_FALLBACK, sandboxUsersFromExport } from '../cli/run';
import type { MigrationOptions } from '../core/pipeline/contracts';
import type { PipelineDeps } from '../core/pipeline/deps';
import { postMessages } from '../core/pipeline/poster';
import { channelSegments, readManifest } from '../core/pipeline/runStore';
import { stageSource } from '../core/pipeline/stage';
import { checkTeamOperation, ensureChannel, ensureTeam } from '../core/pipeline/teams';
import { resolveUsers } from '../core/pipeline/users';
import { Ledger, type MessageRecord } from '../core/state/ledger';
import { startAzurite } from '../devhost/azurite';
import { createPipelineDeps } from '../functions/composition';
import { readSettings } from '../functions/settings';
import { startSandbox } from '../sandbox';
import { writeSkewedExport } from './pipeline/skewedExport';

const OPTIONS: MigrationOptions = {
  includeSystemEvents: false,
  channelConcurrency: 10,
  batchSeconds: 60,
  batchesPerExecution: 10,
  operationPollSeconds: 1,
  completeOnErrors: false,
};

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

async function main(): Promise<void> {
  const messages = flag('messages', 150_000);
  const tail = flag('tail', 300);
  const posts = flag('posts', 50);
  const batches = flag('batches', 3);
  const dir = mkdtempSync(join(tmpdir(), 'batch-start-'));
  const exportDir = join(dir, 'export');
  writeSkewedExport({ out: exportDir, messages, channels: 1, skew: 0, replyShare: 0, users: 20, seed: 7 });
  const azurite = await startAzurite();
  const sandbox = await startSandbox({
    timeScale: 100,
    users: [...(await sandboxUsersFromExport(exportDir)), SANDBOX_FALLBACK],
  });
  let rowsRead = 0;
  try {
    const base = await createPipelineDeps(
      readSettings({
        AzureWebJobsStorage: azurite.connectionString,
        GRAPH_URL: sandbox.url,
        TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true',
        TEAMS_IMPORT_RATE_PER_CHANNEL: '500',
        TEAMS_IMPORT_RATE_GLOBAL: '5000',
      }),
    );
    const ledger = Ledger.create(azurite.connectionString, 'ti', {
      onRowsRead: (table: string, rows: number) => {
        if (table === 'messages') rowsRead += rows;
      },
    } as never);
    const deps: PipelineDeps = { ...base, ledger };

    const prepare = async (runId: string) => {
      const started = Date.now();
      const staged = await stageSource(deps, {
        migrationId: runId,
        source: { kind: 'path', path: exportDir },
        team: { displayName: runId, visibility: 'private' },
        options: OPTIONS,
        now: new Date().toISOString(),
      });
      if (!staged.ok) throw new Error(JSON.stringify(staged.problems));
      const stagingSeconds = (Date.now() - started) / 1000;
      await resolveUsers(deps, { migrationId: runId, fallbackUser: SANDBOX_FALLBACK.userPrincipalName });
      const team = await ensureTeam(deps, { migrationId: runId, ...staged.team, listWaitSeconds: 60 });
      if (team.kind !== 'team') throw new Error(JSON.stringify(team));
      while (
        (await checkTeamOperation(deps, { migrationId: runId, ...team, operationUrl: team.operationUrl! }))
          .status !== 'succeeded'
      );
      const channel = staged.channels[0]!;
      const { channelId } = await ensureChannel(deps, { migrationId: runId, teamId: team.teamId, channel });
      return { runId, teamId: team.teamId, channel, channelId, stagingSeconds };
    };

    /** One batch that stops after `posts` POSTs: ms before its first POST, ms in all, ledger rows read. */
    const batch = async (ctx: Awaited<ReturnType<typeof prepare>>) => {
      let sent = 0;
      let skew = 0;
      let first: number | undefined;
      const graph = Object.assign(Object.create(deps.graph) as typeof deps.graph, {
        postMessage: async (...args: Parameters<typeof deps.graph.postMessage>) => {
          first ??= performance.now();
          const answer = await deps.graph.postMessage(...args);
          if (++sent >= posts) skew = 1e12;
          return answer;
        },
      });
      rowsRead = 0;
      const started = performance.now();
      const result = await postMessages(
        { ...deps, graph, now: () => Date.now() + skew },
        {
          migrationId: ctx.runId,
          teamId: ctx.teamId,
          channelId: ctx.channelId,
          channelKey: ctx.channel.key,
          pass: 'bench',
          timeBudgetMs: 600_000,
        },
      );
      return {
        beforeFirstPostMs: Math.round((first ?? performance.now()) - started),
        batchMs: Math.round(performance.now() - started),
        ledgerRowsRead: rowsRead,
        posted: result.posted,
      };
    };

    const atStart = await prepare('bench-start');
    const start = await batch(atStart);

    const atEnd = await prepare('bench-end');
    const manifest = await readManifest(deps.store, atEnd.runId);
    const planned = manifest.channels[0]!;
    const [segment] = channelSegments(atEnd.runId, planned);
    const fillStarted = Date.now();
    const fill = (deps.ledger as unknown as { writeMessageChanges?: unknown }).writeMessageChanges
      ? await fillPlanOrdered(deps, atEnd.runId, atEnd.channel.key, segment!.name, messages - tail)
      : await fillKeyOrdered(deps, atEnd.runId, atEnd.channel.key, segment!.name, messages - tail);
    await deps.ledger.updateChannel(atEnd.runId, atEnd.channel.key, {
      state: 'posting',
      pass: 'bench',
      cursor: messages - tail,
      posted: messages - tail,
      ...fill,
    });
    const fillSeconds = (Date.now() - fillStarted) / 1000;
    const end = [];
    for (let i = 0; i < batches; i++) end.push(await batch(atEnd));
    process.stdout.write(
      JSON.stringify({
        messages,
        tail,
        posts,
        stagingSeconds: atStart.stagingSeconds,
        fillSeconds,
        start,
        end,
        loadavg: (await import('node:os')).loadavg().map((l) => Math.round(l * 10) / 10),
      }) + '\n',
    );
  } finally {
    await sandbox.stop();
    await azurite.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The plan's lines before `upTo` with the byte offset where each starts, and the offset of line `upTo`. */
async function* planLines(
  deps: PipelineDeps,
  name: string,
  upTo: number,
): AsyncGenerator<{ seq: number; key: string; createdDateTime: string; offset: number }, number> {
  const lines = createInterface({ input: await deps.store.stream(name) });
  let offset = 0;
  try {
    for await (const line of lines) {
      const msg = JSON.parse(line) as { seq: number; key: string; createdDateTime: string };
      if (msg.seq >= upTo) return offset;
      yield { ...msg, offset };
      offset += Buffer.byteLength(line) + 1;
    }
  } finally {
    lines.close();
  }
  return offset;
}

/** Fills the ledger as batches of the key-ordered layout leave it: one row per posted message, by key. */
async function fillKeyOrdered(
  deps: PipelineDeps,
  runId: string,
  channelKey: string,
  name: string,
  upTo: number,
): Promise<Record<string, never>> {
  const rows: MessageRecord[] = [];
  for await (const msg of planLines(deps, name, upTo)) {
    rows.push({
      key: msg.key,
      teamsId: String(msg.seq),
      createdDateTime: msg.createdDateTime,
      state: 'posted',
    });
    if (rows.length === 1000) await deps.ledger.recordMessages(runId, channelKey, rows.splice(0));
  }
  if (rows.length) await deps.ledger.recordMessages(runId, channelKey, rows.splice(0));
  return {};
}

/**
 * Fills the ledger as batches of the plan-ordered layout leave it: rows by plan position, counts, `planAt`
 * (without the thread-starter rows: the bench export has no replies, so no batch reads them).
 */
async function fillPlanOrdered(
  deps: PipelineDeps,
  runId: string,
  channelKey: string,
  name: string,
  upTo: number,
): Promise<{ planAt: string }> {
  interface Change {
    record: MessageRecord & { seq: number };
    topLevel: boolean;
    wasFailed: boolean;
    delta: { posted: number; missing: number };
  }
  type Counts = { posted: number; missing: number };
  /** The plan-ordered layout's writer (this bench also builds against versions without it). */
  const ledger = deps.ledger as unknown as {
    writeMessageChanges(
      runId: string,
      channelKey: string,
      changes: Change[],
      before: Counts,
    ): Promise<Counts>;
  };
  let changes: Change[] = [];
  let counts: Counts = { posted: 0, missing: 0 };
  const lines = planLines(deps, name, upTo);
  for (;;) {
    const next = await lines.next();
    if (next.done) {
      if (changes.length) counts = await ledger.writeMessageChanges(runId, channelKey, changes, counts);
      return { planAt: `${upTo}:0:${next.value}` };
    }
    const msg = next.value;
    changes.push({
      record: {
        key: msg.key,
        seq: msg.seq,
        teamsId: String(msg.seq),
        createdDateTime: msg.createdDateTime,
        state: 'posted',
      },
      topLevel: false,
      wasFailed: false,
      delta: { posted: 1, missing: 0 },
    });
    if (changes.length === 1000) {
      counts = await ledger.writeMessageChanges(runId, channelKey, changes, counts);
      changes = [];
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
