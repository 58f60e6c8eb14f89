import type {
  ChannelWork,
  CheckTeamOperationInput,
  CheckTeamOperationResult,
  CompleteChannelInput,
  CompleteResult,
  CompleteTeamInput,
  EnsureChannelInput,
  EnsureChannelResult,
  EnsureTeamInput,
  EnsureTeamResult,
  AdoptTeamInput,
  AdoptTeamResult,
} from './contracts';
import { GraphError, MaybeCommittedError } from '../graph/errors';
import type { ChannelRecord } from '../state/ledgerRecords';
import type { PipelineDeps } from './deps';

/** The last line of the description of a team a run creates: how the run finds its own team in the team list. */
export function teamRunMark(runId: string): string {
  return `Imported from Slack (run ${runId})`;
}

/** Teams' longest team description. */
const MAX_DESCRIPTION = 1024;

/** The description with the run's mark as its last line, the description cut short when both would not fit. */
export function markedDescription(description: string, runId: string): string {
  const mark = teamRunMark(runId);
  const room = MAX_DESCRIPTION - mark.length - 2;
  const text = [...description.trimEnd()].slice(0, Math.max(0, room)).join('').trimEnd();
  return text ? `${text}\n\n${mark}` : mark;
}

/** Whether a team's description carries the run's mark (its last line). */
export function carriesRunMark(description: string | null | undefined, runId: string): boolean {
  return (description ?? '').trimEnd().endsWith(teamRunMark(runId));
}

/**
 * Finds the run's team or creates it in migration mode. The team carries the run's mark (the last line of its
 * description), so a team in the list with the mark is the run's own and is adopted, and one without it is
 * never touched. The ledger records when the creation was asked for before the request is sent; when the
 * answer is lost (or the run dies before recording it) and the list does not show the team yet, the step
 * answers `unconfirmed` so the orchestrator looks again on a durable timer, and only after `listWaitSeconds`
 * (the service's team list is eventually consistent) asks for the team again.
 */
export async function ensureTeam(deps: PipelineDeps, input: EnsureTeamInput): Promise<EnsureTeamResult> {
  const runId = input.migrationId;
  const { value: run } = await deps.ledger.ensureMigration({
    runId,
    status: 'running',
    phase: 'creating-team',
  });
  if (run.teamId)
    return {
      kind: 'team',
      teamId: run.teamId,
      found: true,
      ...(run.operationUrl ? { operationUrl: run.operationUrl } : {}),
    };

  const existing = await deps.graph.findTeamsByName(input.displayName);
  const ours = existing.filter((t) => carriesRunMark(t.description, runId));
  if (ours.length === 1) {
    await deps.ledger.updateMigration(runId, { teamId: ours[0].id, operationUrl: '' });
    return { kind: 'team', teamId: ours[0].id, found: true };
  }
  if (ours.length > 1)
    return {
      kind: 'refused',
      error: `${ours.length} teams named '${input.displayName}' carry the mark of run '${runId}' (${ours.map((t) => t.id).join(', ')}): delete all but one, then resume.`,
    };
  if (run.teamRequestedAt) {
    if (deps.now() - Date.parse(run.teamRequestedAt) < input.listWaitSeconds * 1000)
      return { kind: 'unconfirmed', requestedAt: run.teamRequestedAt };
  } else if (existing.length > 0) {
    return {
      kind: 'refused',
      error: `A team named '${input.displayName}' already exists in the tenant and was not created by run '${runId}': choose another team name; nothing was created.`,
    };
  }

  const requestedAt = new Date(deps.now()).toISOString();
  await deps.ledger.updateMigration(runId, { teamRequestedAt: requestedAt });
  let created: { teamId: string; operationUrl: string };
  try {
    created = await deps.graph.createTeamInMigration({
      displayName: input.displayName,
      description: markedDescription(input.description, runId),
      createdDateTime: input.createdDateTime,
      visibility: input.visibility,
    });
  } catch (err) {
    if (err instanceof MaybeCommittedError) return { kind: 'unconfirmed', requestedAt };
    throw err;
  }
  await deps.ledger.updateMigration(runId, { teamId: created.teamId, operationUrl: created.operationUrl });
  return { kind: 'team', teamId: created.teamId, operationUrl: created.operationUrl, found: false };
}

/** Polls the team creation operation once; success clears it from the ledger. */
export async function checkTeamOperation(
  deps: PipelineDeps,
  input: CheckTeamOperationInput,
): Promise<CheckTeamOperationResult> {
  const op = await deps.graph.getOperation(input.operationUrl);
  if (op.status === 'succeeded') {
    await deps.ledger.updateMigration(input.migrationId, { operationUrl: '' });
    return { status: 'succeeded' };
  }
  if (op.status === 'failed' || op.status === 'invalid')
    return {
      status: 'failed',
      error: op.error ? `${op.error.code}: ${op.error.message}` : `operation status '${op.status}'`,
    };
  return { status: 'running' };
}

/**
 * Opens a channel created normally (or completed earlier) for import with startMigration, its creation moved
 * back to the Slack channel's when that is earlier; a channel already in migration, or completed with nothing
 * left to post, is left as it is. Answers whether it was opened.
 */
export async function openForImport(
  deps: PipelineDeps,
  teamId: string,
  channelId: string,
  channel: Pick<ChannelWork, 'createdDateTime' | 'messages'>,
  record: Pick<ChannelRecord, 'posted' | 'missing'>,
): Promise<boolean> {
  const current = await deps.graph.getChannel(teamId, channelId);
  const behind = record.posted + record.missing < channel.messages;
  if (current.migrationMode === 'inProgress' || (current.migrationMode === 'completed' && !behind))
    return false;
  const planned = Date.parse(channel.createdDateTime);
  const back = planned < Date.parse(current.createdDateTime ?? '') ? channel.createdDateTime : undefined;
  await deps.graph.startChannelMigration(teamId, channelId, back);
  return true;
}

/**
 * Finds the channel (ledger, then the team's channels by name: the team is the run's own, so a channel of
 * that name is one it created) or creates it: in migration mode, or (`reopen`, a completed team) normally.
 * General is the team's primary channel. With `reopen` the channel is then opened for import with
 * startMigration unless Teams shows it in migration already (a resumed pass), or completed with every planned
 * message of the ledger done (a resumed pass that completed it), its creation moved back to the planned time
 * when that is earlier, and the ledger row set to `posting` before the step reports it open.
 */
export async function ensureChannel(
  deps: PipelineDeps,
  input: EnsureChannelInput,
): Promise<EnsureChannelResult> {
  const { migrationId: runId, teamId, channel } = input;
  const { value: record } = await deps.ledger.ensureChannelRow(runId, channel.key);
  const channelId = record.teamsChannelId ?? (await findOrCreateChannel(deps, input));
  if (input.reopen) {
    await openForImport(deps, teamId, channelId, channel, record);
    await deps.ledger.updateChannel(runId, channel.key, { state: 'posting' });
  }
  return { channelId };
}

async function findOrCreateChannel(deps: PipelineDeps, input: EnsureChannelInput): Promise<string> {
  const { migrationId: runId, teamId, channel } = input;
  let channelId: string;
  if (channel.isGeneral) {
    channelId = (await deps.graph.getPrimaryChannel(teamId)).id;
  } else {
    const name = channel.teamsName.toLowerCase();
    const existing = (await deps.graph.listChannels(teamId)).find(
      (c) => (c.displayName ?? '').toLowerCase() === name,
    );
    channelId =
      existing?.id ??
      (input.reopen
        ? await deps.graph.createChannel(teamId, {
            displayName: channel.teamsName,
            description: channel.description,
          })
        : await deps.graph.createChannelInMigration(teamId, {
            displayName: channel.teamsName,
            description: channel.description,
            createdDateTime: channel.createdDateTime,
          })
      ).id;
  }
  await deps.ledger.updateChannel(runId, channel.key, { teamsChannelId: channelId, state: 'created' });
  return channelId;
}

/** Completes a channel's migration; "already completed" (a resumed run) counts as done. */
export async function completeChannel(
  deps: PipelineDeps,
  input: CompleteChannelInput,
): Promise<CompleteResult> {
  const result = await deps.graph.completeChannel(input.teamId, input.channelId);
  await deps.ledger.ensureChannelRow(input.migrationId, input.channelKey, {
    teamsChannelId: input.channelId,
  });
  await deps.ledger.updateChannel(input.migrationId, input.channelKey, { state: 'completed' });
  return { alreadyCompleted: result.alreadyCompleted };
}

/**
 * Completes the team's migration (every channel must be complete first). A team Teams already shows
 * completed, or whose completion answers "already finalized", counts as done; either way the ledger
 * records it before the step reports it done.
 */
export async function completeTeam(deps: PipelineDeps, input: CompleteTeamInput): Promise<CompleteResult> {
  const { migrationMode } = await deps.graph.getTeam(input.teamId);
  const result =
    migrationMode === 'completed' ? { alreadyCompleted: true } : await deps.graph.completeTeam(input.teamId);
  await deps.ledger.updateMigration(input.migrationId, { phase: 'team-completed' });
  return { alreadyCompleted: result.alreadyCompleted };
}

/**
 * Takes an existing team for the migration (`--team-id`): it must exist and be an ordinary team, not one in
 * migration mode, and none of the plan's channels (General aside: the Slack general channel goes into the
 * team's General) may have a name one of its channels has, since the import never posts into a channel it did
 * not create. The team is recorded once checked, so a resumed run finds its own channels by name and is not
 * refused for them.
 */
export async function adoptTeam(deps: PipelineDeps, input: AdoptTeamInput): Promise<AdoptTeamResult> {
  const runId = input.migrationId;
  const run = (await deps.ledger.getMigration(runId))?.value;
  if (run?.teamId === input.teamId) return { ok: true };
  if (run?.teamId)
    return {
      ok: false,
      error: `Migration '${runId}' imports into team ${run.teamId}, not ${input.teamId}: give the same --team-id, or another --run-id for another team.`,
    };
  let team;
  try {
    team = await deps.graph.getTeam(input.teamId);
  } catch (err) {
    if (err instanceof GraphError && err.status === 404)
      return {
        ok: false,
        error: `There is no team with id '${input.teamId}' in the tenant (or the app cannot see it): check --team-id; nothing was created.`,
      };
    throw err;
  }
  if (team.migrationMode === 'inProgress')
    return {
      ok: false,
      error: `Team '${team.displayName ?? input.teamId}' is in migration mode: --team-id imports into a completed, ordinary team; nothing was created.`,
    };
  const taken = new Map(
    (await deps.graph.listChannels(input.teamId)).map((c) => [(c.displayName ?? '').toLowerCase(), c]),
  );
  const clashes = input.channels.filter((c) => !c.isGeneral && taken.has(c.teamsName.toLowerCase()));
  if (clashes.length > 0)
    return {
      ok: false,
      error: `Team '${team.displayName ?? input.teamId}' already has ${clashes.length === 1 ? 'a channel' : 'channels'} named ${clashes.map((c) => `'${c.teamsName}'`).join(', ')}: the import creates its own channels and never posts into one it did not create. Rename ${clashes.length === 1 ? 'it' : 'them'} in Teams, or leave the Slack ${clashes.length === 1 ? 'channel' : 'channels'} out with --exclude-channels ${clashes.map((c) => c.sourceName).join(',')}; nothing was created.`,
    };
  await deps.ledger.updateMigration(runId, { teamId: input.teamId });
  return { ok: true };
}
