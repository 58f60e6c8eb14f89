import type { Route } from '../router';
import { batchRoutes } from './batch';
import { channelRoutes } from './channels';
import { chatRoutes } from './chats';
import { driveRoutes } from './drives';
import { identityRoutes } from './identity';
import { inspectionRoutes } from './inspection';
import { mailRoutes } from './mail';
import { memberRoutes } from './members';
import { messageRoutes } from './messages';
import { siteRoutes } from './sites';
import { teamRoutes } from './teams';
import { userDriveRoutes } from './userDrive';
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
  ...chatRoutes,
  ...mailRoutes,
  ...userDriveRoutes,
  ...userRoutes,
  ...batchRoutes,
  ...driveRoutes,
  ...inspectionRoutes,
  ...siteRoutes,
  ...identityRoutes,
];
