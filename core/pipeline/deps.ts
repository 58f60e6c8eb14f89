import type { SlackSource } from '../sources/slack/export';
import type { SourceDirectory } from '../sources/slack/webApi';
import type { SourceRef } from './contracts';
import type { SourceFiles } from './files';
import type { SnapshotInbox } from './inbox';
import type { PostingBudget } from '../graph/budget';
import type { TeamsImportClient } from '../graph/teamsImport';
import type { Ledger } from '../state/ledger';
import type { ObjectStore } from '../state/objectStore';

export type { SourceDirectory };

/**
 * A source opened for reading, whatever its kind: an export (a path, or a ZIP blob read by range, never
 * downloaded whole) as a `SlackExport` with its archive, or a workspace read through Slack's Web API (with its
 * `directory`, to open it again cheaply). `release` closes what was opened.
 */
export interface OpenedSource {
  slack: SlackSource;
  release(): Promise<void>;
}

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
   * Opens the source; cheap to call again (an export's ZIP in a blob is read by range, and a Web API source
   * given the `directory` of an earlier opening skips listing users, channels and members).
   */
  openSource(source: SourceRef, scope?: SourceScope, directory?: SourceDirectory): Promise<OpenedSource>;
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
