import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import {
  ChatExportActivity,
  ChatExportOrchestrator,
  type DiscoverInput,
  type DiscoverTeamsPageInput,
  type DiscoverUsersPageInput,
  type DiscoveryStatus,
  type DiscoveryTotals,
  type TeamsPageResult,
  type UsersPageResult,
} from '../activities/chatExportNames';
import { activityRetry } from './retry';

/** Pages listed per execution before the orchestration continues as new, bounding its history. */
const PAGES_PER_EXECUTION = 20;

/**
 * Discovers the source tenant for the chat export, one Graph page per activity: every user into the user
 * list, then every team with its channels. It runs outside the HTTP request that starts it (the front end
 * cuts requests at 230 s) and continues as new every few pages, so a tenant of any size is discovered.
 */
export const discoverChatExport: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<DiscoverInput>();
  let stage = input.progress?.stage ?? 'users';
  let next = input.progress?.next;
  const totals: DiscoveryTotals = { ...(input.progress?.totals ?? { users: 0, added: 0, teams: 0 }) };
  const show = (current: DiscoveryStatus['stage']): void =>
    context.df.setCustomStatus({ stage: current, ...totals } satisfies DiscoveryStatus);
  show(stage);
  for (let pages = 0; pages < PAGES_PER_EXECUTION; pages++) {
    if (stage === 'users') {
      const page: DiscoverUsersPageInput = {
        ...(input.userMapCsv ? { userMapCsv: input.userMapCsv } : {}),
        ...(next ? { next } : {}),
      };
      const result = (yield context.df.callActivityWithRetry(
        ChatExportActivity.discoverUsersPage,
        activityRetry(),
        page,
      )) as UsersPageResult;
      totals.users += result.users;
      totals.added += result.added;
      next = result.next;
      if (next === undefined) stage = 'teams';
    } else {
      const page: DiscoverTeamsPageInput = next ? { next } : {};
      const result = (yield context.df.callActivityWithRetry(
        ChatExportActivity.discoverTeamsPage,
        activityRetry(),
        page,
      )) as TeamsPageResult;
      totals.teams += result.teams;
      next = result.next;
      if (next === undefined) {
        show('done');
        return totals;
      }
    }
    show(stage);
  }
  const more: DiscoverInput = { ...input, progress: { stage, ...(next ? { next } : {}), totals } };
  context.df.continueAsNew(more);
  return undefined;
};

df.app.orchestration(ChatExportOrchestrator.discover, discoverChatExport);
