import * as df from 'durable-functions';
import { createMigrationActivities } from '../activities/migration';
import { Activity } from '../activities/names';
import type { PipelineDeps } from '../core/pipeline/deps';
import '../orchestrators/migrateChannel';
import '../orchestrators/migrateTeam';
import { createPipelineDeps } from './composition';
import { readSettings, type AppSettings } from './settings';

let cached: { key: string; deps: Promise<PipelineDeps> } | undefined;

/** The app's settings, read and validated from the environment. */
export function settings(): AppSettings {
  return readSettings();
}

/** The migration's dependencies, built once per worker process (again only if the settings change). */
export function pipelineDeps(): Promise<PipelineDeps> {
  const current = settings();
  const key = JSON.stringify([current, process.env.TEAMS_IMPORT_TOKEN]);
  if (cached?.key !== key) {
    const deps = createPipelineDeps(current).catch((err: unknown) => {
      if (cached?.deps === deps) cached = undefined;
      throw err;
    });
    cached = { key, deps };
  }
  return cached.deps;
}

for (const name of Object.values(Activity)) {
  df.app.activity(name, {
    handler: async (input: unknown) => createMigrationActivities(await pipelineDeps())[name](input as never),
  });
}
