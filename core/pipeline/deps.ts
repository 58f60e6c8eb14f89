import type { SourceRef } from './contracts';
import type { SourceFiles } from './files';
import type { PostingBudget } from '../graph/budget';
import type { TeamsImportClient } from '../graph/teamsImport';
import type { Ledger } from '../state/ledger';
import type { ObjectStore } from '../state/objectStore';

/** An export made available as a local path (a blob is downloaded first); `release` removes any copy. */
export interface OpenedSource {
  path: string;
  release(): Promise<void>;
}

/** 429 answers seen per channel pacing key (`teamId/channelId`), counted by the Graph client's throttle hook. */
export interface ThrottleCounter {
  count(channelKey: string): number;
}

/** Everything the migration's steps need from the outside world, injected so tests can pass real local services. */
export interface PipelineDeps {
  graph: TeamsImportClient;
  ledger: Ledger;
  /** The run's staging area: plans, source references, reports. */
  store: ObjectStore;
  openSource(source: SourceRef): Promise<OpenedSource>;
  /** Source files: the downloader (Slack's file hosts only), the file ledger and the size limit. */
  files: SourceFiles;
  throttles: ThrottleCounter;
  /** The tenant's posting slots, shared with every migration and process: a channel posts only holding one. */
  budget: PostingBudget;
  now(): number;
}
