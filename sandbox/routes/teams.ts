import { z } from 'zod';
import { badRequest, forbidden, notFound } from '../errors';
import { assertNotFuture, parseGraphTime, parseInput } from '../rules';
import type { Route, RouteContext } from '../router';
import { newChannelId, newId, type ChannelRecord, type DriveRecord, type TeamRecord } from '../state';
import {
  assertInitiator,
  compileFilter,
  directoryFilterErrors,
  liveChannels,
  newDriveId,
  newDriveItemId,
  page,
  requireTeam,
  select,
  teamJson,
} from './common';

const createTeamSchema = z.object({
  'template@odata.bind': z
    .string()
    .regex(/teamsTemplates\('[^']+'\)$/, "must bind teamsTemplates('standard')"),
  displayName: z.string().min(1).max(256),
  description: z.string().max(1024).nullable().optional(),
  createdDateTime: z.unknown().optional(),
  '@microsoft.graph.teamCreationMode': z.unknown().optional(),
  visibility: z.enum(['public', 'private']).optional(),
});

function createTeam(ctx: RouteContext): { status: number; headers: Record<string, string> } {
  const input = parseInput(createTeamSchema, ctx.body, 'team');
  const mode = input['@microsoft.graph.teamCreationMode'];
  if (mode !== undefined && mode !== 'migration') {
    throw badRequest(
      `@microsoft.graph.teamCreationMode '${String(mode)}' is not valid: the only value is 'migration'`,
    );
  }
  if (input.createdDateTime !== undefined && mode === undefined) {
    throw badRequest(
      "createdDateTime can only be set on a team created in migration mode: add '@microsoft.graph.teamCreationMode': 'migration'",
    );
  }
  const migration = mode === 'migration';
  if (migration && ctx.caller?.delegated) {
    throw forbidden('Creating a team in migration mode needs an application token (Teamwork.Migrate.All)');
  }
  const created =
    input.createdDateTime === undefined
      ? parseGraphTime(new Date(ctx.now).toISOString(), 'createdDateTime')
      : parseGraphTime(input.createdDateTime, 'createdDateTime');
  assertNotFuture(created, Date.now(), 'team');

  const teamId = newId();
  const drive: DriveRecord = { id: newDriveId(), teamId, rootId: newDriveItemId(), items: [] };
  drive.items.push({
    id: drive.rootId,
    name: 'root',
    parentId: null,
    folder: true,
    mimeType: null,
    createdDateTime: created.iso,
  });
  const general: ChannelRecord = {
    id: newChannelId(),
    displayName: 'General',
    description: input.description ?? null,
    membershipType: 'standard',
    createdDateTime: created.iso,
    migrationMode: migration ? 'inProgress' : null,
    isGeneral: true,
    deletedAt: null,
    folderId: newDriveItemId(),
    messages: [],
  };
  drive.items.push({
    id: general.folderId,
    name: 'General',
    parentId: drive.rootId,
    folder: true,
    mimeType: null,
    createdDateTime: created.iso,
  });
  const team: TeamRecord = {
    id: teamId,
    displayName: input.displayName,
    description: input.description ?? null,
    createdDateTime: created.iso,
    migrationMode: migration ? 'inProgress' : null,
    initiator: migration ? (ctx.caller?.app ?? null) : null,
    primaryChannelId: general.id,
    channels: [general],
    members: [],
    driveId: drive.id,
    ...(ctx.teamListLagMs > 0 ? { listedFrom: ctx.now + ctx.teamListLagMs } : {}),
  };
  const operationId = newId();
  ctx.store.addTeam(team, drive, {
    id: operationId,
    teamId,
    createdDateTime: new Date(ctx.now).toISOString(),
    polls: 0,
  });
  return {
    status: 202,
    headers: {
      location: `/teams('${teamId}')/operations('${operationId}')`,
      'content-location': `/teams('${teamId}')`,
    },
  };
}

function getOperation(ctx: RouteContext): { status: number; body: unknown } {
  const team = requireTeam(ctx);
  const operation = ctx.store.data.operations.find(
    (o) => o.id === ctx.params.operationId && o.teamId === team.id,
  );
  if (!operation) throw notFound(`Operation '${ctx.params.operationId}' was not found for team '${team.id}'`);
  operation.polls++;
  const done = operation.polls > ctx.settings.operationPolls;
  return {
    status: 200,
    body: {
      '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#teams('${team.id}')/operations/$entity`,
      id: operation.id,
      operationType: 'createTeam',
      createdDateTime: operation.createdDateTime,
      status: done ? 'succeeded' : 'inProgress',
      lastActionDateTime: new Date(ctx.now).toISOString(),
      attemptsCount: 1,
      targetResourceId: done ? team.id : null,
      targetResourceLocation: done ? `/teams('${team.id}')` : null,
      error: null,
    },
  };
}

function completeTeam(ctx: RouteContext): { status: number } {
  const team = requireTeam(ctx);
  assertInitiator(ctx, team);
  if (team.migrationMode === 'completed') throw badRequest('Team has already been finalized.');
  if (team.migrationMode === null) throw badRequest(`Team '${team.displayName}' is not in migration mode.`);
  const pending = liveChannels(team).filter((c) => c.migrationMode === 'inProgress');
  if (pending.length > 0) {
    throw badRequest(
      `All channels must be finalized before team. Still in migration mode: ${pending.map((c) => `'${c.displayName}'`).join(', ')}`,
    );
  }
  team.migrationMode = 'completed';
  return { status: 204 };
}

/** A team as `GET /groups` lists it: the Microsoft 365 group behind it, marked as a team. */
export function groupJson(team: TeamRecord): Record<string, unknown> {
  return {
    id: team.id,
    createdDateTime: team.createdDateTime,
    displayName: team.displayName,
    description: team.description,
    groupTypes: ['Unified'],
    mailEnabled: true,
    mailNickname: team.displayName.replace(/[^A-Za-z0-9]/g, '') || team.id.slice(0, 8),
    securityEnabled: false,
    visibility: 'Private',
    resourceBehaviorOptions: [],
    resourceProvisioningOptions: ['Team'],
  };
}

/** Properties of a group `GET /groups` filters on, and its string collections (for `any`). */
const GROUP_FILTER_FIELDS = ['displayName', 'id', 'mailNickname', 'description'] as const;
const GROUP_FILTER_COLLECTIONS = ['resourceProvisioningOptions', 'groupTypes'] as const;

/**
 * Teams: create in migration mode (202 + operation), poll the operation, get, list/filter (eventually
 * consistent under the `teamlistlag` fault: a new team is listed only after the lag), complete, delete; and
 * each team as the Microsoft 365 group behind it (`GET /groups`, filtered as Graph parses `$filter`, under
 * the same lag).
 */
export const teamRoutes: Route[] = [
  { method: 'POST', path: '/teams', mutates: true, throttle: 'team-creation', handler: createTeam },
  {
    method: 'GET',
    path: '/teams',
    handler: (ctx) => {
      const filter = ctx.query.get('$filter');
      const predicate = filter ? compileFilter(filter, ['displayName', 'id', 'description']) : () => true;
      const teams = ctx.store.data.teams
        .filter((t) => (t.listedFrom ?? 0) <= ctx.now)
        .map((t) => teamJson(ctx, t))
        .filter(predicate);
      return {
        status: 200,
        body: page(ctx, teams, '/teams', { maxTop: 999, defaultTop: 100, context: 'teams' }),
      };
    },
  },
  {
    method: 'GET',
    path: '/groups',
    handler: (ctx) => {
      const filter = ctx.query.get('$filter');
      const predicate = filter
        ? compileFilter(filter, GROUP_FILTER_FIELDS, {
            collections: GROUP_FILTER_COLLECTIONS,
            errors: directoryFilterErrors('Group'),
          })
        : () => true;
      const groups = ctx.store.data.teams
        .filter((t) => (t.listedFrom ?? 0) <= ctx.now)
        .map(groupJson)
        .filter(predicate)
        .map((g) => select(ctx, g));
      return {
        status: 200,
        body: page(ctx, groups, '/groups', { maxTop: 999, defaultTop: 100, context: 'groups' }),
      };
    },
  },
  {
    method: 'GET',
    path: '/teams/{teamId}',
    handler: (ctx) => ({
      status: 200,
      body: {
        '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#teams/$entity',
        ...teamJson(ctx, requireTeam(ctx)),
      },
    }),
  },
  { method: 'GET', path: '/teams/{teamId}/operations/{operationId}', mutates: true, handler: getOperation },
  {
    method: 'POST',
    path: '/teams/{teamId}/completeMigration',
    body: 'none',
    mutates: true,
    handler: completeTeam,
  },
  {
    method: 'DELETE',
    path: '/groups/{teamId}',
    mutates: true,
    handler: (ctx) => {
      requireTeam(ctx);
      ctx.store.removeTeam(ctx.params.teamId ?? '');
      return { status: 204 };
    },
  },
];
