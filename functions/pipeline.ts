import * as df from 'durable-functions';
import { createMigrationActivities } from '../activities/migration';
import { Activity } from '../activities/names';
import '../orchestrators/migrateChannel';
import '../orchestrators/migrateChats';
import '../orchestrators/migrateTeam';
import '../orchestrators/migrateWorkspace';
import { runtime } from './runtime';

for (const name of Object.values(Activity)) {
  df.app.activity(name, {
    handler: async (input: unknown) =>
      createMigrationActivities(await runtime().pipelineDeps())[name](input as never),
  });
}
