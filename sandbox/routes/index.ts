import type { Route } from '../router';
import { batchRoutes } from './batch';
import { channelRoutes } from './channels';
import { driveRoutes } from './drives';
import { inspectionRoutes } from './inspection';
import { memberRoutes } from './members';
import { messageRoutes } from './messages';
import { teamRoutes } from './teams';
import { userRoutes } from './users';

/**
 * Every route of the sandbox, in matching order. To serve more of Graph, add a module next to these
 * exporting a `Route[]` (see `Route` in ../router.ts) and spread it here.
 */
export const sandboxRoutes: readonly Route[] = [
  ...teamRoutes,
  ...channelRoutes,
  ...messageRoutes,
  ...memberRoutes,
  ...userRoutes,
  ...batchRoutes,
  ...driveRoutes,
  ...inspectionRoutes,
];
