import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import {
  Activity,
  Orchestrator,
  type AddMembersInput,
  type ChannelWork,
  type CheckTeamOperationInput,
  type CheckTeamOperationResult,
  type CompleteChannelInput,
  type CompleteTeamInput,
  type EnsureChannelInput,
  type EnsureChannelResult,
  type EnsureTeamInput,
  type EnsureTeamResult,
  type MigrateChannelInput,
  type MigrateChannelResult,
  type MigrateTeamInput,
  type MigrateTeamResult,
  type MigrationPhase,
  type MigrationStatus,
  type ResolveUsersInput,
  type ResolveUsersResult,
  type StageSourceInput,
  type StageSourceResult,
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
 * Migrates one team: stages the plan, resolves users, ensures the team (polling its creation soon after the
 * POST and then less often, at once when a resume finds it recorded, and the team list after a lost answer,
 * with durable timers), imports the channels through at most `channelConcurrency`
 * sub-orchestrations at once (one pass each, named by this orchestration's start time), then completes
 * General last and the team, adds the members and writes the report. While a message failed or a channel's
 * import failed, General, the team and the members wait (unless `completeOnErrors`): completion is final in
 * Teams. Messages a channel completed before they were posted can never be imported and do not hold the
 * rest back; the report says which and why.
 */
export const migrateTeam: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<MigrateTeamInput>();
  const { migrationId, options } = input;
  const pass = context.df.currentUtcDateTime.toISOString();
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
  const stage: StageSourceInput = {
    migrationId,
    source: input.source,
    team: input.team,
    options,
    now: context.df.currentUtcDateTime.toISOString(),
  };
  const staged = (yield context.df.callActivityWithRetry(
    Activity.stageSource,
    activityRetry(),
    stage,
  )) as StageSourceResult;
  if (!staged.ok)
    fail(`The export cannot be imported; nothing was created in Teams.\n${problemsText(staged.problems)}`);
  status.channelsTotal = staged.channels.length;
  status.messagesTotal = staged.totalMessages;

  enter('resolving-users');
  const resolve: ResolveUsersInput = {
    migrationId,
    fallbackUser: options.fallbackUser,
  };
  const users = (yield context.df.callActivityWithRetry(
    Activity.resolveUsers,
    activityRetry(),
    resolve,
  )) as ResolveUsersResult;
  if (!users.ok)
    fail(`Users cannot be resolved; nothing was created in Teams.\n${problemsText(users.problems)}`);

  enter('creating-team');
  const pollDelay = (): Date =>
    new Date(context.df.currentUtcDateTime.getTime() + options.operationPollSeconds * 1000);
  const ensureTeam: EnsureTeamInput = {
    migrationId,
    ...staged.team,
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
  if (ensured.kind === 'refused') fail(ensured.error);
  const team = ensured;
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
    if (op.status === 'failed') fail(`Teams could not create the team: ${op.error ?? 'no reason given'}`);
    if (op.status === 'succeeded') operationUrl = undefined;
  }

  enter('importing');
  const results: MigrateChannelResult[] = [];
  const channelErrors: { key: string; error: string }[] = [];
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
  for (const channel of channelOrder(staged.channels)) {
    const child: MigrateChannelInput = {
      migrationId,
      teamId: team.teamId,
      channel,
      pass,
      batchSeconds: options.batchSeconds,
      batchesPerExecution: options.batchesPerExecution,
      execution: 0,
      throttled: 0,
      completeOnErrors: options.completeOnErrors,
    };
    const task = context.df.callSubOrchestrator(
      Orchestrator.migrateChannel,
      child,
      channelInstanceId(context.df.instanceId, channel.key),
    );
    running.set(task, channel);
    if (running.size >= Math.max(1, options.channelConcurrency)) {
      const done = (yield context.df.Task.any([...running.keys()])) as Task;
      settle(done, running.get(done)!);
    }
  }
  while (running.size > 0) {
    const done = (yield context.df.Task.any([...running.keys()])) as Task;
    settle(done, running.get(done)!);
  }

  const report = (phase: MigrationPhase): Task => {
    const write: WriteReportInput = { migrationId, phase, channelErrors };
    return context.df.callActivityWithRetry(Activity.writeReport, activityRetry(), write);
  };
  if ((status.failed > 0 || channelErrors.length > 0) && !options.completeOnErrors) {
    status.lastError ??= `${status.failed} message(s) failed`;
    enter('needs-attention');
    return outcome('needs-attention', team.teamId, (yield report('needs-attention')) as WriteReportResult);
  }

  enter('completing');
  const general = results.find((r) => staged.channels.some((c) => c.key === r.key && c.isGeneral));
  let generalId = general?.channelId;
  if (!generalId) {
    const ensure: EnsureChannelInput = { migrationId, teamId: team.teamId, channel: PRIMARY_CHANNEL };
    generalId = (
      (yield context.df.callActivityWithRetry(
        Activity.ensureChannel,
        activityRetry(),
        ensure,
      )) as EnsureChannelResult
    ).channelId;
  }
  const completeGeneral: CompleteChannelInput = {
    migrationId,
    teamId: team.teamId,
    channelId: generalId,
    channelKey: general?.key ?? PRIMARY_CHANNEL.key,
  };
  yield context.df.callActivityWithRetry(Activity.completeChannel, activityRetry(), completeGeneral);
  const completeTeam: CompleteTeamInput = { migrationId, teamId: team.teamId };
  yield context.df.callActivityWithRetry(Activity.completeTeam, activityRetry(), completeTeam);

  enter('adding-members');
  const members: AddMembersInput = { migrationId, teamId: team.teamId };
  yield context.df.callActivityWithRetry(Activity.addMembers, activityRetry(), members);

  enter('reporting');
  const written = (yield report('completed')) as WriteReportResult;
  enter('completed');
  return outcome('completed', team.teamId, written);
};

function outcome(
  phase: MigrateTeamResult['phase'],
  teamId: string,
  written: WriteReportResult,
): MigrateTeamResult {
  return {
    phase,
    teamId,
    planned: written.planned,
    posted: written.posted,
    failed: written.failed,
    missing: written.missing,
    report: written,
  };
}

df.app.orchestration(Orchestrator.migrateTeam, migrateTeam);
