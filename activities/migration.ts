import type { PipelineDeps } from '../core/pipeline/deps';
import { exportChatToOneDrive } from '../core/pipeline/chatOneDrive';
import { completeChat, ensureChat, planChats, postChat } from '../core/pipeline/chats';
import { addMembers } from '../core/pipeline/members';
import { postMessages } from '../core/pipeline/poster';
import { ensurePrivateChannel } from '../core/pipeline/privateChannels';
import { writeReport } from '../core/pipeline/report';
import { beginPass, finishPass, stageDelta } from '../core/pipeline/passes';
import { assembleStagedPlan, stageIndex, stageItem } from '../core/pipeline/stage';
import {
  adoptTeam,
  checkTeamOperation,
  completeChannel,
  completeTeam,
  ensureChannel,
  ensureTeam,
} from '../core/pipeline/teams';
import { resolveUsers } from '../core/pipeline/users';
import { checkChannelMap, writeWorkspaceReport } from '../core/pipeline/workspace';
import { Activity } from './names';

/** An activity's handler: one input, one JSON-serializable result. */
export type ActivityHandler = (input: never) => Promise<unknown>;

/**
 * The migration's activities over injected dependencies, by registered name. Each is a thin call into
 * core/pipeline, where the logic and its idempotency live and are tested without Azure Functions.
 */
export function createMigrationActivities(
  deps: PipelineDeps,
): Record<(typeof Activity)[keyof typeof Activity], ActivityHandler> {
  return {
    [Activity.stageIndex]: (input: Parameters<typeof stageIndex>[1]) => stageIndex(deps, input),
    [Activity.stageItem]: (input: Parameters<typeof stageItem>[1]) => stageItem(deps, input),
    [Activity.assemblePlan]: (input: Parameters<typeof assembleStagedPlan>[1]) =>
      assembleStagedPlan(deps, input),
    [Activity.resolveUsers]: (input: Parameters<typeof resolveUsers>[1]) => resolveUsers(deps, input),
    [Activity.ensureTeam]: (input: Parameters<typeof ensureTeam>[1]) => ensureTeam(deps, input),
    [Activity.adoptTeam]: (input: Parameters<typeof adoptTeam>[1]) => adoptTeam(deps, input),
    [Activity.checkTeamOperation]: (input: Parameters<typeof checkTeamOperation>[1]) =>
      checkTeamOperation(deps, input),
    [Activity.ensureChannel]: (input: Parameters<typeof ensureChannel>[1]) => ensureChannel(deps, input),
    [Activity.ensurePrivateChannel]: (input: Parameters<typeof ensurePrivateChannel>[1]) =>
      ensurePrivateChannel(deps, input),
    [Activity.postMessages]: (input: Parameters<typeof postMessages>[1]) => postMessages(deps, input),
    [Activity.completeChannel]: (input: Parameters<typeof completeChannel>[1]) =>
      completeChannel(deps, input),
    [Activity.completeTeam]: (input: Parameters<typeof completeTeam>[1]) => completeTeam(deps, input),
    [Activity.addMembers]: (input: Parameters<typeof addMembers>[1]) => addMembers(deps, input),
    [Activity.writeReport]: (input: Parameters<typeof writeReport>[1]) => writeReport(deps, input),
    [Activity.beginPass]: (input: Parameters<typeof beginPass>[1]) => beginPass(deps, input),
    [Activity.stageDelta]: (input: Parameters<typeof stageDelta>[1]) => stageDelta(deps, input),
    [Activity.finishPass]: (input: Parameters<typeof finishPass>[1]) => finishPass(deps, input),
    [Activity.planChats]: (input: Parameters<typeof planChats>[1]) => planChats(deps, input),
    [Activity.ensureChat]: (input: Parameters<typeof ensureChat>[1]) => ensureChat(deps, input),
    [Activity.postChat]: (input: Parameters<typeof postChat>[1]) => postChat(deps, input),
    [Activity.completeChat]: (input: Parameters<typeof completeChat>[1]) => completeChat(deps, input),
    [Activity.exportChatToOneDrive]: (input: Parameters<typeof exportChatToOneDrive>[1]) =>
      exportChatToOneDrive(deps, input),
    [Activity.checkChannelMap]: (input: Parameters<typeof checkChannelMap>[1]) =>
      checkChannelMap(deps, input),
    [Activity.writeWorkspaceReport]: (input: Parameters<typeof writeWorkspaceReport>[1]) =>
      writeWorkspaceReport(deps, input),
  };
}
