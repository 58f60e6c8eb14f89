import type { ChatExportService } from '../core/chatexport/service';
import {
  ChatExportActivity,
  type ChatOutcome,
  type ExportChatInput,
  type ExportUserChatsResult,
  type FinishPassInput,
  type ChatPagePlan,
  type DiscoverTeamsPageInput,
  type DiscoverUsersPageInput,
  type TeamsPageResult,
  type UsersPageResult,
  type PlanChatPageInput,
  type PlanPassInput,
  type PlanResult,
} from './chatExportNames';

/** The chat export's activities over the service, by registered name; each is a thin, repeatable call. */
export function createChatExportActivities(service: ChatExportService) {
  return {
    [ChatExportActivity.planPass]: (input: PlanPassInput): Promise<PlanResult> =>
      service.planPass(input.userId),
    [ChatExportActivity.planChatPage]: (input: PlanChatPageInput): Promise<ChatPagePlan> =>
      service.planChatPage(input),
    [ChatExportActivity.discoverUsersPage]: (input: DiscoverUsersPageInput): Promise<UsersPageResult> =>
      service.discoverUsersPage(input),
    [ChatExportActivity.discoverTeamsPage]: (input: DiscoverTeamsPageInput): Promise<TeamsPageResult> =>
      service.discoverTeamsPage(input),
    [ChatExportActivity.exportChat]: (input: ExportChatInput): Promise<ChatOutcome> =>
      service.exportChat(input),
    [ChatExportActivity.finishPass]: async (input: FinishPassInput): Promise<ExportUserChatsResult> => {
      const user = await service.finishPass(input);
      return { id: user.id, status: user.status, reason: user.reason, lastPass: user.lastPass };
    },
  };
}
