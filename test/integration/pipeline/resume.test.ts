import { TableClient } from '@azure/data-tables';
import { rmSync } from 'node:fs';
import { sandboxUsersFromExport, SANDBOX_FALLBACK } from '../../../cli/run';
import type { ChannelWork, MigrationOptions } from '../../../core/pipeline/contracts';
import type { PipelineDeps } from '../../../core/pipeline/deps';
import { addMembers } from '../../../core/pipeline/members';
import { parentFailedReason, postMessages } from '../../../core/pipeline/poster';
import { COMPLETED_BEFORE_POSTED } from '../../../core/pipeline/reconcile';
import { buildReport, renderReportHtml, writeReport } from '../../../core/pipeline/report';
import { stageSource } from '../../../core/pipeline/stage';
import {
  checkTeamOperation,
  completeChannel,
  completeTeam,
  ensureChannel,
  ensureTeam,
  teamRunMark,
} from '../../../core/pipeline/teams';
import { resolveUsers } from '../../../core/pipeline/users';
import { messageRows } from '../../../core/state/ledgerRecords';
import { tableName } from '../../../core/state/tables';
import { startAzurite, type AzuriteHandle } from '../../../devhost/azurite';
import { createPipelineDeps } from '../../../functions/composition';
import { readSettings } from '../../../functions/settings';
import {
  decideFault,
  parseFaults,
  startSandbox,
  type RequestLogEntry,
  type SandboxHandle,
} from '../../../sandbox';
import { refusals } from '../../support/migration';
import { threadedChannelExport } from '../../support/slackExport';

const OPTIONS: MigrationOptions = {
  includeSystemEvents: false,
  channelConcurrency: 10,
  batchSeconds: 1,
  batchesPerExecution: 10,
  operationPollSeconds: 1,
  completeOnErrors: false,
};
const MEMBERS = { creator: 'U1', members: ['U1', 'U2'] };

const isPost = (r: RequestLogEntry): boolean =>
  r.method === 'POST' && /\/messages(\/[^/]+\/replies)?$/.test(r.path);

describe('resuming against the service: the core steps on Azurite and the sandbox', () => {
  let azurite: AzuriteHandle;
  let sandbox: SandboxHandle;
  let deps: PipelineDeps;
  let run = 0;
  const dirs: string[] = [];
  const exported = (n: number, channel?: object): ReturnType<typeof threadedChannelExport> => {
    const written = threadedChannelExport(n, channel);
    dirs.push(written.dir);
    return written;
  };

  beforeAll(async () => {
    azurite = await startAzurite();
    sandbox = await startSandbox({ timeScale: 10 });
    deps = await createPipelineDeps(
      readSettings({
        AzureWebJobsStorage: azurite.connectionString,
        GRAPH_URL: sandbox.url,
        TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true',
        TEAMS_IMPORT_RATE_PER_CHANNEL: '50',
        TEAMS_IMPORT_RATE_GLOBAL: '500',
      }),
    );
  });
  afterAll(async () => {
    await sandbox.stop();
    await azurite.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  /** Stages an export, resolves its users and creates its team and channel: the steps before posting. */
  async function prepare(exportDir: string): Promise<{
    runId: string;
    teamId: string;
    channel: ChannelWork;
    channelId: string;
    planned: number;
  }> {
    const runId = `resume-${++run}`;
    sandbox.reset();
    sandbox.addUsers(await sandboxUsersFromExport(exportDir));
    sandbox.addUsers([SANDBOX_FALLBACK]);
    const staged = await stageSource(deps, {
      migrationId: runId,
      source: { kind: 'path', path: exportDir },
      team: { displayName: `Team ${runId}`, visibility: 'private' },
      options: OPTIONS,
      now: new Date().toISOString(),
    });
    if (!staged.ok) throw new Error(JSON.stringify(staged.problems));
    await resolveUsers(deps, { migrationId: runId, fallbackUser: SANDBOX_FALLBACK.userPrincipalName });
    const team = await ensureTeam(deps, { migrationId: runId, ...staged.team, listWaitSeconds: 60 });
    if (team.kind !== 'team') throw new Error(JSON.stringify(team));
    while (
      (await checkTeamOperation(deps, { migrationId: runId, ...team, operationUrl: team.operationUrl! }))
        .status !== 'succeeded'
    );
    const channel = staged.channels[0];
    const { channelId } = await ensureChannel(deps, { migrationId: runId, teamId: team.teamId, channel });
    return { runId, teamId: team.teamId, channel, channelId, planned: channel.messages };
  }

  const post = (ctx: Awaited<ReturnType<typeof prepare>>, pass: string) =>
    postMessages(deps, {
      migrationId: ctx.runId,
      teamId: ctx.teamId,
      channelId: ctx.channelId,
      channelKey: ctx.channel.key,
      pass,
      timeBudgetMs: 60_000,
    });

  /** Forgets the ledger's message rows and cursor of a channel, as a storage that lost its last writes would. */
  async function loseLedgerRows(ctx: Awaited<ReturnType<typeof prepare>>): Promise<void> {
    const table = TableClient.fromConnectionString(azurite.connectionString, tableName('ti', 'messages'), {
      allowInsecureConnection: true,
    });
    const partition = messageRows.partition(ctx.runId, ctx.channel.key);
    for await (const e of table.listEntities({
      queryOptions: { filter: `PartitionKey eq '${partition.replace(/'/g, "''")}'` },
    }))
      await table.deleteEntity(e.partitionKey!, e.rowKey!);
    await deps.ledger.updateChannel(ctx.runId, ctx.channel.key, {
      state: 'posting',
      cursor: 0,
      posted: 0,
      failed: 0,
      missing: 0,
    });
  }

  it('reads a completed channel whose ledger rows were lost back from Teams, and never posts into it', async () => {
    const { dir } = exported(24);
    const ctx = await prepare(dir);
    expect(await post(ctx, 'first')).toMatchObject({ done: true, posted: ctx.planned, failed: 0 });
    await completeChannel(deps, { migrationId: ctx.runId, ...ctx, channelKey: ctx.channel.key });
    await loseLedgerRows(ctx);
    const before = sandbox.requestLog().length;

    const result = await post(ctx, 'second');

    expect(result).toMatchObject({
      done: true,
      channelCompleted: true,
      posted: ctx.planned,
      failed: 0,
      missing: 0,
    });
    const requests = sandbox.requestLog().slice(before);
    expect(requests.filter(isPost)).toEqual([]);
    const stored = sandbox.dump().teams[0]!.channels.find((c) => c.id === ctx.channelId)!;
    const ids = stored.messages.flatMap((m) => [m.id, ...m.replies.map((r) => r.id)]).sort();
    const rows = await deps.ledger.getMessages(ctx.runId, ctx.channel.key);
    expect(rows.map((r) => r.teamsId).sort()).toEqual(ids);
    expect((await deps.ledger.getChannel(ctx.runId, ctx.channel.key))!.value.state).toBe('completed');
  });

  it('records what a channel completed too early never got as missing, with the reason, and the report says why', async () => {
    const { dir, known } = exported(24);
    const ctx = await prepare(dir);
    sandbox.setFaults('refuse:0.3', 9);
    const { refused, waiting } = refusals(known, 'refuse:0.3', 9);
    const unposted = [...refused, ...waiting];
    expect(unposted.length).toBeGreaterThan(0);
    const first = await post(ctx, 'first');
    expect(first).toMatchObject({
      done: true,
      failed: unposted.length,
      posted: ctx.planned - unposted.length,
    });
    sandbox.setFaults('');
    await completeChannel(deps, { migrationId: ctx.runId, ...ctx, channelKey: ctx.channel.key });
    const before = sandbox.requestLog().length;

    const second = await post(ctx, 'second');

    expect(second).toMatchObject({ done: true, channelCompleted: true, failed: 0, missing: unposted.length });
    expect(sandbox.requestLog().slice(before).filter(isPost)).toEqual([]);
    const report = await buildReport(deps, ctx.runId, 'completed');
    const line = report.channels[0]!;
    expect(line).toMatchObject({
      posted: ctx.planned - unposted.length,
      failed: 0,
      missing: unposted.length,
    });
    expect(line.missingMessages.map((m) => m.key).sort()).toEqual(unposted.map((k) => k.key).sort());
    expect(line.missingMessages.every((m) => m.reason.startsWith(COMPLETED_BEFORE_POSTED))).toBe(true);
    expect(line.why.join('\n')).toMatch(
      new RegExp(`${unposted.length} messages? can no longer be imported: ${COMPLETED_BEFORE_POSTED}`),
    );
    expect(report.totals.missing).toBe(unposted.length);
    expect(renderReportHtml(report)).toContain('What is missing and why');
  });

  it('switches to reading back when the service refuses an import with 403 and does not say the channel is completed', async () => {
    const { dir } = exported(12);
    const ctx = await prepare(dir);
    await post(ctx, 'first');
    await deps.graph.completeChannel(ctx.teamId, ctx.channelId);
    await loseLedgerRows(ctx);
    const silent: PipelineDeps = {
      ...deps,
      graph: Object.assign(Object.create(deps.graph) as typeof deps.graph, {
        getChannel: async (teamId: string, channelId: string) => ({
          ...(await deps.graph.getChannel(teamId, channelId)),
          migrationMode: undefined,
        }),
      }),
    };
    const before = sandbox.requestLog().length;

    const result = await postMessages(silent, {
      migrationId: ctx.runId,
      teamId: ctx.teamId,
      channelId: ctx.channelId,
      channelKey: ctx.channel.key,
      pass: 'second',
      timeBudgetMs: 60_000,
    });

    expect(result).toMatchObject({ done: true, channelCompleted: true, posted: ctx.planned, missing: 0 });
    const posts = sandbox.requestLog().slice(before).filter(isPost);
    expect(posts.map((p) => p.status)).toEqual([403]);
  });

  it('tries each failed message once per pass, moving past it, and a reply waits for its failed thread', async () => {
    const { dir, known } = exported(40);
    const ctx = await prepare(dir);
    sandbox.setFaults('refuse:0.2', 4);
    const { refused, waiting } = refusals(known, 'refuse:0.2', 4);
    expect(refused.length).toBeGreaterThan(0);

    for (const pass of ['first', 'second']) {
      const before = sandbox.requestLog().length;
      const result = await post(ctx, pass);
      expect(result).toMatchObject({
        done: true,
        posted: ctx.planned - refused.length - waiting.length,
        failed: refused.length + waiting.length,
      });
      const refusedPosts = sandbox
        .requestLog()
        .slice(before)
        .filter((r) => r.fault === 'refuse');
      expect(refusedPosts).toHaveLength(refused.length);
    }
    const failed = (await deps.ledger.getMessages(ctx.runId, ctx.channel.key)).filter(
      (r) => r.state === 'failed',
    );
    expect(Object.fromEntries(failed.map((r) => [r.key, r.error]))).toEqual(
      Object.fromEntries([
        ...refused.map((k) => [k.key, expect.stringMatching(/^400 BadRequest: .*refused/)]),
        ...waiting.map((k) => [k.key, parentFailedReason(k.parentKey!)]),
      ]),
    );
    sandbox.setFaults('');
  });

  it('records a channel whose import failed, and the report says so with what it never tried', async () => {
    const { dir } = exported(6);
    const ctx = await prepare(dir);
    await writeReport(deps, {
      migrationId: ctx.runId,
      phase: 'needs-attention',
      channelErrors: [{ key: ctx.channel.key, error: 'postMessages failed with 500 InternalServerError' }],
    });
    const report = await buildReport(deps, ctx.runId, 'needs-attention');
    expect(report.channels[0]).toMatchObject({
      error: 'postMessages failed with 500 InternalServerError',
      notTried: ctx.planned,
    });
    expect(report.channels[0]!.why).toEqual([
      "The channel's import failed: postMessages failed with 500 InternalServerError",
      `${ctx.planned} messages not tried yet: its import stopped at the error above; run the migration again to go on.`,
    ]);
  });

  it('lists the members a team has and adds only those it lacks', async () => {
    const { dir } = exported(4, MEMBERS);
    const ctx = await prepare(dir);
    await post(ctx, 'first');
    await completeChannel(deps, { migrationId: ctx.runId, ...ctx, channelKey: ctx.channel.key });
    await deps.graph
      .completeChannel(ctx.teamId, (await deps.graph.getPrimaryChannel(ctx.teamId)).id)
      .catch(() => undefined);
    await completeTeam(deps, { migrationId: ctx.runId, teamId: ctx.teamId });
    const users = await deps.ledger.getUsers(ctx.runId);
    const ann = users.get('U1')!.entraId!;
    const bob = users.get('U2')!.entraId!;
    await deps.graph.addMembers(ctx.teamId, [{ userId: bob, owner: false }]);
    const before = sandbox.requestLog().length;

    const result = await addMembers(deps, { migrationId: ctx.runId, teamId: ctx.teamId });

    expect(result).toEqual({ added: 1, alreadyMembers: 1, failed: 0 });
    const members = sandbox.dump().teams[0]!.members.map((m) => `${m.userId}:${m.roles.join('+')}`);
    expect(members.sort()).toEqual([`${ann}:owner`, `${bob}:`].sort());
    const adds = sandbox
      .requestLog()
      .slice(before)
      .filter((r) => /members\/add$/.test(r.path));
    expect(adds).toHaveLength(1);
    expect(await addMembers(deps, { migrationId: ctx.runId, teamId: ctx.teamId })).toEqual({
      added: 0,
      alreadyMembers: 2,
      failed: 0,
    });
  });

  it('after a lost team-creation answer, waits for the late team list and adopts the team with its mark: no second team', async () => {
    const { dir } = exported(2);
    const runId = `resume-${++run}`;
    sandbox.reset();
    sandbox.addUsers(await sandboxUsersFromExport(dir));
    const staged = await stageSource(deps, {
      migrationId: runId,
      source: { kind: 'path', path: dir },
      team: { displayName: 'Late team', visibility: 'private' },
      options: OPTIONS,
      now: new Date().toISOString(),
    });
    if (!staged.ok) throw new Error('not staged');
    const spec = 'lost:0.5,teamlistlag:1@3';
    const seed = Array.from({ length: 200 }, (_, s) => s + 1).find(
      (s) =>
        !decideFault(parseFaults(spec), s, 0).failure &&
        decideFault(parseFaults(spec), s, 1).failure?.kind === 'lost',
    )!;
    sandbox.setFaults(spec, seed);
    const input = { migrationId: runId, ...staged.team, listWaitSeconds: 60 };

    expect(await ensureTeam(deps, input)).toMatchObject({ kind: 'unconfirmed' });
    sandbox.setFaults('');
    expect(await ensureTeam(deps, input)).toMatchObject({ kind: 'unconfirmed' });
    let found = await ensureTeam(deps, input);
    for (let i = 0; i < 100 && found.kind === 'unconfirmed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      found = await ensureTeam(deps, input);
    }

    const teams = sandbox.dump().teams;
    expect(teams).toHaveLength(1);
    expect(found).toEqual({ kind: 'team', teamId: teams[0]!.id, found: true });
    expect(teams[0]!.description).toMatch(new RegExp(`${teamRunMark(runId).replace(/[()]/g, '\\$&')}$`));
    expect(sandbox.requestLog().filter((r) => r.method === 'POST' && /\/teams$/.test(r.path))).toHaveLength(
      1,
    );
  });
});
