import type { SlackSource } from '../sources/slack/export';
import type { SourceRef } from './contracts';
import type { SourceFiles } from './files';
import type { SnapshotInbox } from './inbox';
import type { PostingBudget } from '../graph/budget';
import type { TeamsImportClient } from '../graph/teamsImport';
import type { Ledger } from '../state/ledger';
import type { ObjectStore } from '../state/objectStore';

/**
 * A source made available: an export as a local path (a blob is downloaded first), or an opened workspace
 * (Slack's Web API); `release` removes any copy and closes what was opened.
 */
export type OpenedSource =
  { path: string; release(): Promise<void> } | { slack: SlackSource; release(): Promise<void> };

/** What a migration reads of its source: lets a source that is read call by call skip the rest. */
export interface SourceScope {
  /** Channel names or ids selected, and left out, as in MigrationOptions. */
  channels?: string[];
  excludeChannels?: string[];
  /** ISO instants bounding the messages imported. */
  since?: string;
  until?: string;
  /** Nothing is planned after this instant (the orchestration's start time, ISO). */
  now?: string;
}

/** 429 answers seen per channel pacing key (`teamId/channelId`), counted by the Graph client's throttle hook. */
export interface ThrottleCounter {
  count(channelKey: string): number;
}

/** Items a staging plans at once unless the settings say otherwise. */
export const DEFAULT_STAGE_CONCURRENCY = 8;

/** Everything the migration's steps need from the outside world, injected so tests can pass real local services. */
export interface PipelineDeps {
  graph: TeamsImportClient;
  ledger: Ledger;
  /** The run's staging area: plans, source references, reports. */
  store: ObjectStore;
  /**
   * Opens a source; `directory`, when given, is what an earlier opening of the same source exposed as
   * `slack.directory` (a Web API workspace's users and conversations), so reopening need not list them again.
   */
  openSource(source: SourceRef, scope?: SourceScope, directory?: unknown): Promise<OpenedSource>;
  /** Source files: the downloader (Slack's file hosts only), the file ledger and the size limit. */
  files: SourceFiles;
  throttles: ThrottleCounter;
  /** Where the delta-sync timer finds newer snapshots, and where applied ones are moved. */
  inbox: SnapshotInbox;
  /** The tenant's posting slots, shared with every migration and process: a channel posts only holding one. */
  budget: PostingBudget;
  /** The tenant's chat posting slots (`--dms chats`: the service's own 20/s budget); absent: chats post unslotted. */
  chatBudget?: PostingBudget;
  /** Items a staging plans at once (`TEAMS_IMPORT_STAGE_CONCURRENCY`); absent: {@link DEFAULT_STAGE_CONCURRENCY}. */
  stageConcurrency?: number;
  now(): number;
}
