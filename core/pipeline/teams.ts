import type {
  CheckTeamOperationInput,
  CheckTeamOperationResult,
  CompleteChannelInput,
  CompleteResult,
  CompleteTeamInput,
  EnsureChannelInput,
  EnsureChannelResult,
  EnsureTeamInput,
  EnsureTeamResult,
} from './contracts';
import type { PipelineDeps } from './deps';

/**
 * Finds the run's team or creates it in migration mode. The ledger records the intent before the POST, so
 * after a crash between the POST and its record the team is found by name and adopted; without that intent
 * an existing team of the same name is someone else's, and the step refuses to touch it.
 */
export async function ensureTeam(deps: PipelineDeps, input: EnsureTeamInput): Promise<EnsureTeamResult> {
  const runId = input.migrationId;
  const { value: run } = await deps.ledger.ensureMigration({
    runId,
    status: 'running',
    phase: 'creating-team',
  });
  if (run.teamId)
    return { ok: true, teamId: run.teamId, ...(run.operationUrl ? { operationUrl: run.operationUrl } : {}) };

  const existing = await deps.graph.findTeamsByName(input.displayName);
  if (run.counters.teamCreateRequested) {
    if (existing.length === 1) {
      await deps.ledger.updateMigration(runId, { teamId: existing[0].id, operationUrl: '' });
      return { ok: true, teamId: existing[0].id };
    }
    if (existing.length > 1)
      return {
        ok: false,
        error: `${existing.length} teams are named '${input.displayName}' and run '${runId}' cannot tell which one it created: delete the extra ones, then resume.`,
      };
  } else if (existing.length > 0) {
    return {
      ok: false,
      error: `A team named '${input.displayName}' already exists in the tenant and was not created by run '${runId}': choose another team name; nothing was created.`,
    };
  }

  await deps.ledger.updateMigration(runId, { counters: { ...run.counters, teamCreateRequested: 1 } });
  const created = await deps.graph.createTeamInMigration({
    displayName: input.displayName,
    description: input.description,
    createdDateTime: input.createdDateTime,
    visibility: input.visibility,
  });
  await deps.ledger.updateMigration(runId, { teamId: created.teamId, operationUrl: created.operationUrl });
  return { ok: true, teamId: created.teamId, operationUrl: created.operationUrl };
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
 * Finds the channel (ledger, then the team's channels by name: the team is the run's own, so a channel of
 * that name is one it created) or creates it in migration mode. General is the team's primary channel.
 */
export async function ensureChannel(
  deps: PipelineDeps,
  input: EnsureChannelInput,
): Promise<EnsureChannelResult> {
  const { migrationId: runId, teamId, channel } = input;
  const { value: record } = await deps.ledger.ensureChannel(runId, channel.key);
  if (record.teamsChannelId) return { channelId: record.teamsChannelId };

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
      (
        await deps.graph.createChannelInMigration(teamId, {
          displayName: channel.teamsName,
          description: channel.description,
          createdDateTime: channel.createdDateTime,
        })
      ).id;
  }
  await deps.ledger.updateChannel(runId, channel.key, { teamsChannelId: channelId, state: 'created' });
  return { channelId };
}

/** Completes a channel's migration; "already completed" (a resumed run) counts as done. */
export async function completeChannel(
  deps: PipelineDeps,
  input: CompleteChannelInput,
): Promise<CompleteResult> {
  const result = await deps.graph.completeChannel(input.teamId, input.channelId);
  await deps.ledger.ensureChannel(input.migrationId, input.channelKey, { teamsChannelId: input.channelId });
  await deps.ledger.updateChannel(input.migrationId, input.channelKey, { state: 'completed' });
  return { alreadyCompleted: result.alreadyCompleted };
}

/** Completes the team's migration (every channel must be complete); "already completed" counts as done. */
export async function completeTeam(deps: PipelineDeps, input: CompleteTeamInput): Promise<CompleteResult> {
  const result = await deps.graph.completeTeam(input.teamId);
  await deps.ledger.updateMigration(input.migrationId, { phase: 'team-completed' });
  return { alreadyCompleted: result.alreadyCompleted };
}
