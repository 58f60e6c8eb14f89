import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  Activity,
  Orchestrator,
  type AddMembersInput,
  type AdoptTeamInput,
  type AdoptTeamResult,
  type BeginPassInput,
  type BeginPassResult,
  type ChannelWork,
  type CheckTeamOperationInput,
  type CheckTeamOperationResult,
  type CompleteChannelInput,
  type CompleteTeamInput,
  type EnsureChannelInput,
  type EnsureChannelResult,
  type EnsurePrivateChannelInput,
  type EnsurePrivateChannelResult,
  type EnsureTeamInput,
  type EnsureTeamResult,
  type FinishPassInput,
  type MigrateChannelInput,
  type MigrateChannelResult,
  type MigrateChatResult,
  type MigrateChatsInput,
  type MigrateChatsResult,
  type MigrateTeamInput,
  type MigrateTeamResult,
  type MigrationPhase,
  type MigrationStatus,
  type PassKind,
  type ResolveUsersInput,
  type ResolveUsersResult,
  type AssemblePlanInput,
  type StageIndexResult,
  type StageItemInput,
  type StageItemResult,
  type StageSourceInput,
  type StageSourceResult,
  type StageDeltaInput,
  type StageDeltaResult,
  type WriteReportInput,
  type WriteReportResult,
} from '../activities/names';
import type { Problem } from '../core/model';
import { activityRetry } from './retry';

/** The General channel when the plan has none: the team's primary channel still has to be completed. */
const PRIMARY_CHANNEL: ChannelWork = {
  key: 'primary-channel',
  sourceName: '',
  teamsName: 'General',
  description: '',
  isGeneral: true,
  createdDateTime: '',
  messages: 0,
};

/** Chats imported at once by default: the service's 20 chat imports a second over 5 a second per chat. */
export const CHAT_CONCURRENCY = 4;

/** The instance id of a channel's sub-orchestration: derived from its parent's, so a re-run finds it again. */
export function channelInstanceId(parentInstanceId: string, channelKey: string): string {
  return `${parentInstanceId}:channel:${channelKey}`;
}

/** Orders channels for the fan-out: largest first, so the tenant budget stays full until the tail. */
export function channelOrder(channels: ChannelWork[]): ChannelWork[] {
  return [...channels].sort((a, b) => b.messages - a.messages || a.key.localeCompare(b.key));
}

/**
 * Looks at the team list this many poll intervals after a team creation whose answer was lost, before asking
 * for the team again (30 polls of 30 s: the quarter of an hour the service's list may take to show it).
 */
export const TEAM_LIST_LOOKS = 30;

/** Seconds before the first polls of a team creation: it is often done within seconds of the POST. */
export const OPERATION_POLL_STEPS = [2, 5, 10];

/**
 * Seconds to wait before poll number `waits` (from 0) of a team creation: a few seconds after the POST, then
 * backing off to `intervalSeconds` (Microsoft asks for at least 30 s between polls); never longer than it.
 */
export function operationPollDelaySeconds(waits: number, intervalSeconds: number): number {
  return Math.min(intervalSeconds, OPERATION_POLL_STEPS[waits] ?? intervalSeconds);
}

function problemsText(problems: Problem[]): string {
  return problems
    .filter((p) => p.severity === 'error')
    .map((p) => `${p.where ? `${p.where}: ` : ''}${p.message}`)
    .join('\n');
}

/**
 * Runs one pass of a migration (one execution of its instance): `initial` stages the export (an index, then
 * its channels and conversations planned apart, a bounded number at once, then the manifest), resolves users,
 * ensures the team (polling its creation soon after the POST and then less often, at once when a resume finds
 * it recorded, and the team list after a lost answer, with durable timers);
 * `delta` and `cutover` add a newer snapshot's messages to the plan (`stageDelta`; a cutover's is optional)
 * and work on the team the first pass made. Every channel of the pass is created (or, once the team is
 * completed, opened again with startMigration) before any channel posts, so channel mentions resolve; then
 * at most `channelConcurrency` channel sub-orchestrations post their plans (one posting pass each, named by
 * this execution's start time). A pre-staged first pass and a delta before the cutover complete nothing. A
 * cutover, a first pass that is not pre-staged, and a delta after the cutover complete each channel, then
 * General last, the team (unless it is completed already), add the members and write the report. While a
 * message failed or a channel's import failed, General, the team and the members wait (unless
 * `completeOnErrors`): completion is final in Teams. Private channels are created once the team is completed
 * (after the members are added), opened with startMigration, posted and completed. A first pass into an
 * existing team (`team.id`) checks and records that team instead of creating one, and then runs as a pass
 * after the cutover does: channels created normally and opened with startMigration, the team neither
 * completed nor given members. With `dms` (`chats` or `onedrive`), the DMs and group DMs of the first snapshot
 * move last, once the channels are done (a first pass that is not pre-staged, or the cutover), through the
 * `migrateChats` sub-orchestration. The pass's record in the ledger says how it ended.
 */
export const migrateTeam: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<MigrateTeamInput>();
  const { migrationId, options } = input;
  const kind: PassKind = input.pass?.kind ?? 'initial';
  const now = context.df.currentUtcDateTime.toISOString();
  const pass = now;
  const status: MigrationStatus = {
    phase: 'staging',
    channelsDone: 0,
    channelsTotal: 0,
    messagesPosted: 0,
    messagesTotal: 0,
    throttled: 0,
    failed: 0,
    missing: 0,
  };
  const enter = (phase: MigrationPhase): void => {
    status.phase = phase;
    context.df.setCustomStatus({ ...status });
  };
  function fail(message: string): never {
    status.lastError = message;
    enter('failed');
    throw new Error(message);
  }

  enter('staging');
  const begin: BeginPassInput = {
    migrationId,
    kind,
    ...(input.source ? { source: input.source } : {}),
    ...(kind === 'initial' ? { prestage: options.prestage === true } : {}),
    ...(kind === 'initial' && options.deltaSync !== undefined ? { deltaSync: options.deltaSync } : {}),
    ...(kind === 'cutover' && input.pass?.deltaSync !== undefined ? { deltaSync: input.pass.deltaSync } : {}),
    now,
  };
  const begun = (yield context.df.callActivityWithRetry(
    Activity.beginPass,
    activityRetry(),
    begin,
  )) as BeginPassResult;
  if (!begun.ok) fail(begun.error);
  const passNumber = begun.pass;
  status.pass = { kind, number: passNumber };
  const finish = (
    outcome: FinishPassInput['outcome'],
    extra: Pick<FinishPassInput, 'stage' | 'error'> = {},
  ): Task => {
    const finished: FinishPassInput = {
      migrationId,
      pass: passNumber,
      outcome,
      ...extra,
      ...(input.pass?.fromInbox && input.source ? { processed: input.source } : {}),
    };
    return context.df.callActivityWithRetry(Activity.finishPass, activityRetry(), finished);
  };
  function* refuse(outcome: 'refused' | 'failed', message: string): Generator<Task, never, unknown> {
    yield finish(outcome, { error: message });
    fail(message);
  }

  let channels: ChannelWork[];
  let teamId: string;
  /** An existing team the first pass imports into (`--team-id`): it is neither created nor completed. */
  const existingTeam = kind === 'initial' ? input.team.id : undefined;
  const live = begun.live || existingTeam !== undefined;
  if (kind === 'initial') {
    const stage: StageSourceInput = {
      migrationId,
      source: input.source!,
      team: input.team,
      options,
      now,
      pass: passNumber,
    };
    const staged = yield* stageSource(stage);
    if (!staged.ok)
      yield* refuse(
        'failed',
        `The export cannot be imported; nothing was created in Teams.\n${problemsText(staged.problems)}`,
      );
    channels = staged.ok ? staged.channels : [];
    yield* resolve(`Users cannot be resolved; nothing was created in Teams.`);

    enter('creating-team');
    if (existingTeam) {
      const adopt: AdoptTeamInput = { migrationId, teamId: existingTeam, channels };
      const adopted = (yield context.df.callActivityWithRetry(
        Activity.adoptTeam,
        activityRetry(),
        adopt,
      )) as AdoptTeamResult;
      if (!adopted.ok) yield* refuse('failed', adopted.error);
      teamId = existingTeam;
    } else {
      const pollDelay = (): Date =>
        new Date(context.df.currentUtcDateTime.getTime() + options.operationPollSeconds * 1000);
      const ensureTeam: EnsureTeamInput = {
        migrationId,
        ...(staged.ok
          ? staged.team
          : { displayName: '', description: '', createdDateTime: '', visibility: 'private' }),
        listWaitSeconds: options.operationPollSeconds * TEAM_LIST_LOOKS,
      };
      let ensured: EnsureTeamResult;
      for (;;) {
        ensured = (yield context.df.callActivityWithRetry(
          Activity.ensureTeam,
          activityRetry(),
          ensureTeam,
        )) as EnsureTeamResult;
        if (ensured.kind !== 'unconfirmed') break;
        status.lastError = `The team's creation (asked for at ${ensured.requestedAt}) got no answer; waiting for the team list to show it before asking again.`;
        context.df.setCustomStatus({ ...status });
        yield context.df.createTimer(pollDelay());
      }
      if (ensured.kind === 'refused') yield* refuse('failed', ensured.error);
      const team = ensured as Extract<EnsureTeamResult, { kind: 'team' }>;
      delete status.lastError;
      let operationUrl = team.operationUrl;
      let pollNow = team.found;
      let waits = 0;
      while (operationUrl) {
        if (!pollNow) {
          const seconds = operationPollDelaySeconds(waits++, options.operationPollSeconds);
          yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + seconds * 1000));
        }
        pollNow = false;
        const check: CheckTeamOperationInput = { migrationId, teamId: team.teamId, operationUrl };
        const op = (yield context.df.callActivityWithRetry(
          Activity.checkTeamOperation,
          activityRetry(),
          check,
        )) as CheckTeamOperationResult;
        if (op.status === 'failed')
          yield* refuse('failed', `Teams could not create the team: ${op.error ?? 'no reason given'}`);
        if (op.status === 'succeeded') operationUrl = undefined;
      }
      teamId = team.teamId;
    }
  } else {
    const stage: StageDeltaInput = {
      migrationId,
      pass: passNumber,
      ...(input.source ? { source: input.source } : {}),
      now,
    };
    const staged = (yield context.df.callActivityWithRetry(
      Activity.stageDelta,
      activityRetry(),
      stage,
    )) as StageDeltaResult;
    if (!staged.ok)
      yield* refuse(
        'refused',
        `The snapshot is refused; nothing was posted.\n${problemsText(staged.problems)}`,
      );
    const all = staged.ok ? staged.channels : [];
    channels = kind === 'cutover' ? all : all.filter((c) => c.behind);
    yield* resolve(`Users of the snapshot cannot be resolved; nothing was posted.`);
    teamId = begun.teamId!;
  }
  const complete = kind === 'cutover' || live || (kind === 'initial' && options.prestage !== true);
  const privates = complete ? channels.filter((c) => c.private) : [];
  channels = channels.filter((c) => !c.private);
  status.channelsTotal = channels.length + privates.length;
  status.messagesTotal = [...channels, ...privates].reduce((n, c) => n + c.messages, 0);

  enter('creating-channels');
  const channelIds = new Map<string, string>();
  const width = Math.max(1, options.channelConcurrency);
  for (let at = 0; at < channels.length; at += width) {
    const batch = channels.slice(at, at + width);
    const ensured = (yield context.df.Task.all(
      batch.map((channel) => {
        const ensure: EnsureChannelInput = {
          migrationId,
          teamId,
          channel,
          ...(live ? { reopen: true } : {}),
        };
        return context.df.callActivityWithRetry(Activity.ensureChannel, activityRetry(), ensure);
      }),
    )) as EnsureChannelResult[];
    batch.forEach((c, i) => channelIds.set(c.key, ensured[i].channelId));
  }

  enter('importing');
  const results: MigrateChannelResult[] = [];
  const channelErrors: { key: string; error: string }[] = [];
  yield* importChannels(channels, channelIds, complete);

  /** Runs the channels' sub-orchestrations, at most `width` at a time, largest first. */
  function* importChannels(
    work: ChannelWork[],
    ids: Map<string, string>,
    completing: boolean,
  ): Generator<Task, void, unknown> {
    const running = new Map<Task, ChannelWork>();
    const settle = (task: Task, channel: ChannelWork): void => {
      running.delete(task);
      status.channelsDone += 1;
      if (task.isFaulted) {
        const reason = task.result instanceof Error ? task.result.message : String(task.result);
        channelErrors.push({ key: channel.key, error: reason });
        status.lastError = `${channel.teamsName}: ${reason}`;
      } else {
        const result = task.result as MigrateChannelResult;
        results.push(result);
        status.messagesPosted += result.posted;
        status.failed += result.failed;
        status.missing += result.missing;
        status.throttled += result.throttled;
      }
      context.df.setCustomStatus({ ...status });
    };
    for (const channel of channelOrder(work)) {
      const child: MigrateChannelInput = {
        migrationId,
        teamId,
        channel,
        channelId: ids.get(channel.key),
        pass,
        batchSeconds: options.batchSeconds,
        batchesPerExecution: options.batchesPerExecution,
        execution: 0,
        throttled: 0,
        completeOnErrors: options.completeOnErrors,
        complete: completing,
      };
      const task = context.df.callSubOrchestrator(
        Orchestrator.migrateChannel,
        child,
        channelInstanceId(context.df.instanceId, channel.key),
      );
      running.set(task, channel);
      if (running.size >= width) {
        const done = (yield context.df.Task.any([...running.keys()])) as Task;
        settle(done, running.get(done)!);
      }
    }
    while (running.size > 0) {
      const done = (yield context.df.Task.any([...running.keys()])) as Task;
      settle(done, running.get(done)!);
    }
  }

  let chats: MigrateChatResult[] | undefined;
  const report = (phase: MigrationPhase): Task => {
    const write: WriteReportInput = { migrationId, phase, channelErrors, ...(chats ? { chats } : {}) };
    return context.df.callActivityWithRetry(Activity.writeReport, activityRetry(), write);
  };
  const ended = function* (
    phase: MigrateTeamResult['phase'],
    stage?: FinishPassInput['stage'],
  ): Generator<Task, MigrateTeamResult, unknown> {
    const chatsNow = (kind === 'initial' && phase !== 'prestaged') || kind === 'cutover';
    if ((options.dms === 'chats' || options.dms === 'onedrive') && chatsNow) {
      enter('importing-chats');
      const importChats: MigrateChatsInput = {
        migrationId,
        target: options.dms,
        pass,
        batchSeconds: options.batchSeconds,
        batchesPerExecution: options.batchesPerExecution,
        completeOnErrors: options.completeOnErrors,
        concurrency: options.chatConcurrency ?? CHAT_CONCURRENCY,
      };
      chats = (
        (yield context.df.callSubOrchestrator(
          Orchestrator.migrateChats,
          importChats,
          `${context.df.instanceId}:chats`,
        )) as MigrateChatsResult
      ).chats;
      if (phase === 'needs-attention') enter(phase);
    }
    if (phase !== 'needs-attention') enter('reporting');
    yield finish(phase, stage ? { stage } : {});
    const written = (yield report(phase)) as WriteReportResult;
    enter(phase);
    return outcome(phase, teamId, written, { number: passNumber, kind });
  };
  if (!complete) return yield* ended('prestaged', 'prestaged');
  if ((status.failed > 0 || channelErrors.length > 0) && !options.completeOnErrors) {
    status.lastError ??= `${status.failed} message(s) failed`;
    enter('needs-attention');
    return yield* ended('needs-attention');
  }

  enter('completing');
  const general = results.find((r) => channels.some((c) => c.key === r.key && c.isGeneral));
  let generalId = general?.channelId;
  if (!generalId && !live) {
    const ensure: EnsureChannelInput = { migrationId, teamId, channel: PRIMARY_CHANNEL };
    generalId = (
      (yield context.df.callActivityWithRetry(
        Activity.ensureChannel,
        activityRetry(),
        ensure,
      )) as EnsureChannelResult
    ).channelId;
  }
  if (generalId) {
    const completeGeneral: CompleteChannelInput = {
      migrationId,
      teamId,
      channelId: generalId,
      channelKey: general?.key ?? PRIMARY_CHANNEL.key,
    };
    yield context.df.callActivityWithRetry(Activity.completeChannel, activityRetry(), completeGeneral);
  }
  if (!live) {
    const completeTeam: CompleteTeamInput = { migrationId, teamId };
    yield context.df.callActivityWithRetry(Activity.completeTeam, activityRetry(), completeTeam);
  }

  if (!existingTeam) {
    enter('adding-members');
    const members: AddMembersInput = { migrationId, teamId };
    yield context.df.callActivityWithRetry(Activity.addMembers, activityRetry(), members);
  }

  if (privates.length > 0) {
    enter('private-channels');
    const privateIds = new Map<string, string>();
    const ready: ChannelWork[] = [];
    for (let at = 0; at < privates.length; at += width) {
      const batch = privates.slice(at, at + width);
      const ensured = (yield context.df.Task.all(
        batch.map((channel) => {
          const ensure: EnsurePrivateChannelInput = { migrationId, teamId, channel };
          return context.df.callActivityWithRetry(Activity.ensurePrivateChannel, activityRetry(), ensure);
        }),
      )) as EnsurePrivateChannelResult[];
      batch.forEach((c, i) => {
        const result = ensured[i];
        if (result.kind === 'ready') {
          privateIds.set(c.key, result.channelId);
          ready.push(c);
        } else {
          status.channelsDone += 1;
          status.lastError = `${c.teamsName}: ${result.reason}`;
        }
      });
    }
    context.df.setCustomStatus({ ...status });
    yield* importChannels(ready, privateIds, true);
    if ((status.failed > 0 || channelErrors.length > 0) && !options.completeOnErrors) {
      status.lastError ??= `${status.failed} message(s) failed`;
      enter('needs-attention');
      return yield* ended('needs-attention', 'completed');
    }
  }
  return yield* ended('completed', 'completed');

  /**
   * Stages the export: indexes it, plans its items at most `concurrency` at a time (the stageIndex answer,
   * from TEAMS_IMPORT_STAGE_CONCURRENCY), then assembles the manifest. An item that cannot be planned stops
   * the planning of more: the ones in flight end, and the assembly removes the plan area and refuses.
   */
  function* stageSource(stage: StageSourceInput): Generator<Task, StageSourceResult, unknown> {
    const indexed = (yield context.df.callActivityWithRetry(
      Activity.stageIndex,
      activityRetry(),
      stage,
    )) as StageIndexResult;
    if (!indexed.ok) return indexed;
    const failed: Problem[] = [];
    const running = new Set<Task>();
    status.staging = { items: indexed.items, planned: 0 };
    enter('staging');
    const settle = (task: Task): void => {
      running.delete(task);
      status.staging!.planned++;
      enter('staging');
      if (task.isFaulted) {
        const reason = task.result instanceof Error ? task.result.message : String(task.result);
        failed.push({ severity: 'error', code: 'staging-failed', message: `planning failed: ${reason}` });
      } else {
        const result = task.result as StageItemResult;
        if (!result.ok) failed.push(...result.problems);
      }
    };
    for (let item = 0; item < indexed.items && failed.length === 0; item++) {
      const plan: StageItemInput = { migrationId, item };
      running.add(context.df.callActivityWithRetry(Activity.stageItem, activityRetry(), plan));
      if (running.size >= indexed.concurrency) settle((yield context.df.Task.any([...running])) as Task);
    }
    while (running.size > 0) settle((yield context.df.Task.any([...running])) as Task);
    delete status.staging;
    const assemble: AssemblePlanInput = {
      migrationId,
      team: stage.team,
      ...(stage.pass !== undefined ? { pass: stage.pass } : {}),
      ...(failed.length > 0 ? { failed } : {}),
    };
    return (yield context.df.callActivityWithRetry(
      Activity.assemblePlan,
      activityRetry(),
      assemble,
    )) as StageSourceResult;
  }

  function* resolve(what: string): Generator<Task, void, unknown> {
    enter('resolving-users');
    const resolveInput: ResolveUsersInput = { migrationId, fallbackUser: options.fallbackUser };
    const users = (yield context.df.callActivityWithRetry(
      Activity.resolveUsers,
      activityRetry(),
      resolveInput,
    )) as ResolveUsersResult;
    if (!users.ok) yield* refuse('failed', `${what}\n${problemsText(users.problems)}`);
  }
};

function outcome(
  phase: MigrateTeamResult['phase'],
  teamId: string,
  written: WriteReportResult,
  pass: { number: number; kind: PassKind },
): MigrateTeamResult {
  return {
    phase,
    pass,
    teamId,
    planned: written.planned,
    posted: written.posted,
    failed: written.failed,
    missing: written.missing,
    report: written,
  };
}

df.app.orchestration(Orchestrator.migrateTeam, migrateTeam);
