import { z } from 'zod';
import { badRequest, forbidden, notFound } from '../errors';
import {
  DELETED_CHANNEL_RETENTION_MS,
  MAX_CHANNELS_PER_TEAM,
  assertChannelName,
  assertNotFuture,
  parseGraphTime,
  parseInput,
} from '../rules';
import type { Route, RouteContext, RouteResponse } from '../router';
import { newChannelId, type ChannelRecord, type MemberRecord, type TeamRecord } from '../state';
import { memberId, memberJson, memberSchema, resolveMember } from './members';
import {
  assertChannelInitiator,
  assertInitiator,
  channelJson,
  compileFilter,
  driveItemJson,
  liveChannels,
  newDriveItemId,
  page,
  requireChannel,
  requireTeam,
} from './common';

const createChannelSchema = z.object({
  displayName: z.string(),
  description: z.string().max(1024).nullable().optional(),
  membershipType: z.enum(['standard', 'private', 'shared']).optional(),
  members: z.array(memberSchema).optional(),
  createdDateTime: z.unknown().optional(),
  '@microsoft.graph.channelCreationMode': z.unknown().optional(),
});

function countsTowardLimits(channel: ChannelRecord, now: number): boolean {
  return channel.deletedAt === null || now - channel.deletedAt < DELETED_CHANNEL_RETENTION_MS;
}

function createChannel(ctx: RouteContext): RouteResponse {
  const team = requireTeam(ctx);
  const input = parseInput(createChannelSchema, ctx.body, 'channel');
  const mode = input['@microsoft.graph.channelCreationMode'];
  if (mode !== undefined && mode !== 'migration') {
    throw badRequest(
      `@microsoft.graph.channelCreationMode '${String(mode)}' is not valid: the only value is 'migration'`,
    );
  }
  if (input.createdDateTime !== undefined && mode === undefined) {
    throw badRequest(
      "createdDateTime can only be set on a channel created in migration mode: add '@microsoft.graph.channelCreationMode': 'migration'",
    );
  }
  const migration = mode === 'migration';
  const membershipType = input.membershipType ?? 'standard';
  if (migration) {
    assertInitiator(ctx, team);
    if (membershipType !== 'standard') {
      throw badRequest(`Only standard channels can be created in migration mode; '${membershipType}' cannot`);
    }
    if (team.migrationMode !== 'inProgress') {
      throw badRequest('Migration channels can only be created in a team under migration.');
    }
  }
  const now = Date.now();
  const created =
    input.createdDateTime === undefined
      ? parseGraphTime(new Date(now).toISOString(), 'createdDateTime')
      : parseGraphTime(input.createdDateTime, 'createdDateTime');
  assertNotFuture(created, now, 'channel');
  const members = membershipType === 'standard' ? undefined : channelMembers(ctx, team, input.members ?? []);
  if (membershipType === 'standard' && input.members?.length)
    throw badRequest('members can only be given when creating a private or shared channel');
  if (created.ms < Date.parse(team.createdDateTime)) {
    throw badRequest(
      `channel createdDateTime ${created.iso} is earlier than the team's createdDateTime ${team.createdDateTime}`,
    );
  }
  assertChannelName(input.displayName);
  const counted = team.channels.filter((c) => countsTowardLimits(c, now));
  const key = input.displayName.toLowerCase();
  const clash = counted.find((c) => c.displayName.toLowerCase() === key);
  if (clash) {
    throw badRequest(
      clash.deletedAt === null
        ? `channel name '${input.displayName}' is not valid in Teams: channel '${clash.displayName}' already exists (names are compared without case)`
        : `channel name '${input.displayName}' is not valid in Teams: channel '${clash.displayName}' was deleted less than 30 days ago and its name is still taken`,
    );
  }
  if (counted.length >= MAX_CHANNELS_PER_TEAM) {
    throw badRequest(
      `Team '${team.displayName}' already has ${counted.length} channels (deleted ones count for 30 days); the limit is ${MAX_CHANNELS_PER_TEAM}`,
    );
  }

  const drive = ctx.store.drive(team.driveId);
  const channel: ChannelRecord = {
    id: newChannelId(),
    displayName: input.displayName,
    description: input.description ?? null,
    membershipType,
    createdDateTime: created.iso,
    migrationMode: migration ? 'inProgress' : null,
    isGeneral: false,
    deletedAt: null,
    folderId: newDriveItemId(),
    messages: [],
    ...(members ? { members } : {}),
  };
  drive?.items.push({
    id: channel.folderId,
    name: channel.displayName,
    parentId: drive.rootId,
    folder: true,
    mimeType: null,
    createdDateTime: created.iso,
  });
  ctx.store.addChannel(team, channel);
  return {
    status: 201,
    body: {
      '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#teams('${team.id}')/channels/$entity`,
      ...channelJson(ctx, team, channel),
    },
  };
}

/**
 * The members a private or shared channel is created with: at least one owner (an application creates it on
 * nobody's behalf, so the service needs an owner in `members`), each of them a member of the team already.
 */
function channelMembers(
  ctx: RouteContext,
  team: TeamRecord,
  input: z.infer<typeof memberSchema>[],
): MemberRecord[] {
  if (!input.some((m) => m.roles.includes('owner')))
    throw badRequest(
      'A private channel created with an application token needs an owner: give one member with roles ["owner"] in members',
    );
  const members: MemberRecord[] = [];
  for (const value of input) {
    const user = resolveMember(ctx, value);
    assertTeamMember(team, user.id);
    if (!members.some((m) => m.userId === user.id))
      members.push({ id: memberId(team.id, user.id), userId: user.id, roles: value.roles });
  }
  return members;
}

function assertTeamMember(team: TeamRecord, userId: string): void {
  if (!team.members.some((m) => m.userId === userId))
    throw badRequest(
      `User '${userId}' is not a member of team '${team.displayName}': add them to the team before adding them to one of its private channels`,
    );
}

function requirePrivateChannel(ctx: RouteContext): { team: TeamRecord; channel: ChannelRecord } {
  const team = requireTeam(ctx);
  const channel = requireChannel(ctx, team);
  if (channel.membershipType === 'standard' || !channel.members)
    throw badRequest(
      `Channel '${channel.displayName}' is a standard channel: its members are the team's (GET /teams/{id}/members)`,
    );
  return { team, channel };
}

function addChannelMember(ctx: RouteContext): RouteResponse {
  const { team, channel } = requirePrivateChannel(ctx);
  const input = parseInput(memberSchema, ctx.body, 'member');
  const user = resolveMember(ctx, input);
  assertTeamMember(team, user.id);
  const members = channel.members!;
  let member = members.find((m) => m.userId === user.id);
  if (member) member.roles = input.roles;
  else {
    member = { id: memberId(channel.id, user.id), userId: user.id, roles: input.roles };
    members.push(member);
  }
  return {
    status: 201,
    body: {
      '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#teams('${team.id}')/channels('${channel.id}')/members/$entity`,
      ...memberJson(ctx, member),
    },
  };
}

function completeChannel(ctx: RouteContext): RouteResponse {
  const team = requireTeam(ctx);
  const channel = requireChannel(ctx, team);
  assertChannelInitiator(ctx, team, channel);
  if (channel.migrationMode === 'completed') throw badRequest('Channel has already been finalized.');
  if (channel.migrationMode === null)
    throw badRequest(`Channel '${channel.displayName}' is not in migration mode.`);
  if (channel.isGeneral) {
    const others = liveChannels(team).filter((c) => !c.isGeneral && c.migrationMode === 'inProgress');
    if (others.length > 0) {
      throw badRequest(
        `The General channel must be completed last: completing it locks the team while ${others
          .map((c) => `'${c.displayName}'`)
          .join(', ')} ${others.length === 1 ? 'is' : 'are'} still in migration mode`,
      );
    }
  }
  channel.migrationMode = 'completed';
  return { status: 204 };
}

const startMigrationSchema = z.object({ conversationCreationDateTime: z.unknown().optional() }).strict();

/**
 * `startMigration` (Graph v1.0): opens a new or existing channel (standard, private or shared) for import, in a
 * team under migration or not; 400 when the channel is already in migration. `conversationCreationDateTime`
 * must be earlier than the channel's `createdDateTime`, which it replaces. The caller's app becomes the
 * channel's import initiator: only it may import into the channel and complete it.
 */
function startChannelMigration(ctx: RouteContext): RouteResponse {
  const team = requireTeam(ctx);
  const channel = requireChannel(ctx, team);
  if (ctx.caller?.delegated)
    throw forbidden('startMigration needs an application token (Teamwork.Migrate.All)');
  if (channel.migrationMode === 'inProgress')
    throw badRequest(`Channel '${channel.displayName}' is already in migration.`);
  const input = parseInput(startMigrationSchema, ctx.body ?? {}, 'startMigration');
  let created: string | undefined;
  if (input.conversationCreationDateTime !== undefined) {
    const time = parseGraphTime(input.conversationCreationDateTime, 'conversationCreationDateTime');
    assertNotFuture(time, Date.now(), 'conversation');
    if (time.ms >= Date.parse(channel.createdDateTime))
      throw badRequest(
        `conversationCreationDateTime ${time.iso} must be earlier than channel '${channel.displayName}' createdDateTime ${channel.createdDateTime}`,
      );
    created = time.iso;
  }
  if (created) channel.createdDateTime = created;
  channel.migrationMode = 'inProgress';
  channel.initiator = ctx.caller?.app ?? null;
  return { status: 204 };
}

function listChannels(ctx: RouteContext): RouteResponse {
  const team = requireTeam(ctx);
  const filter = ctx.query.get('$filter');
  const predicate = filter ? compileFilter(filter, ['displayName', 'id', 'membershipType']) : () => true;
  const channels = liveChannels(team)
    .map((c) => channelJson(ctx, team, c))
    .filter(predicate);
  return {
    status: 200,
    body: page(ctx, channels, `/teams/${team.id}/channels`, {
      maxTop: 999,
      defaultTop: 999,
      context: `teams('${team.id}')/channels`,
    }),
  };
}

function primary(team: TeamRecord): ChannelRecord {
  const channel = team.channels.find((c) => c.id === team.primaryChannelId);
  if (!channel) throw notFound(`Team '${team.id}' has no primary channel`);
  return channel;
}

/**
 * Channels: create (in migration mode or not; name rules; a private one only outside migration mode, with an owner
 * and team members), get, list, primary, delete, a private channel's members, files folder, start and complete
 * migration.
 */
export const channelRoutes: Route[] = [
  {
    method: 'POST',
    path: '/teams/{teamId}/channels',
    mutates: true,
    throttle: 'channel-creation',
    handler: createChannel,
  },
  { method: 'GET', path: '/teams/{teamId}/channels', handler: listChannels },
  { method: 'GET', path: '/teams/{teamId}/allChannels', handler: listChannels },
  {
    method: 'GET',
    path: '/teams/{teamId}/primaryChannel',
    handler: (ctx) => {
      const team = requireTeam(ctx);
      return { status: 200, body: channelJson(ctx, team, primary(team)) };
    },
  },
  {
    method: 'GET',
    path: '/teams/{teamId}/channels/{channelId}',
    handler: (ctx) => {
      const team = requireTeam(ctx);
      return { status: 200, body: channelJson(ctx, team, requireChannel(ctx, team)) };
    },
  },
  {
    method: 'DELETE',
    path: '/teams/{teamId}/channels/{channelId}',
    mutates: true,
    handler: (ctx) => {
      const team = requireTeam(ctx);
      const channel = requireChannel(ctx, team);
      if (channel.isGeneral) throw badRequest('The General channel cannot be deleted.');
      channel.deletedAt = Date.now();
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    path: '/teams/{teamId}/channels/{channelId}/members',
    handler: (ctx) => {
      const { team, channel } = requirePrivateChannel(ctx);
      return {
        status: 200,
        body: page(
          ctx,
          channel.members!.map((m) => memberJson(ctx, m)),
          `/teams/${team.id}/channels/${channel.id}/members`,
          { maxTop: 999, defaultTop: 999 },
        ),
      };
    },
  },
  {
    method: 'POST',
    path: '/teams/{teamId}/channels/{channelId}/members',
    mutates: true,
    handler: addChannelMember,
  },
  {
    method: 'POST',
    path: '/teams/{teamId}/channels/{channelId}/startMigration',
    mutates: true,
    handler: startChannelMigration,
  },
  {
    method: 'POST',
    path: '/teams/{teamId}/channels/{channelId}/completeMigration',
    body: 'none',
    mutates: true,
    handler: completeChannel,
  },
  {
    method: 'GET',
    path: '/teams/{teamId}/channels/{channelId}/filesFolder',
    handler: (ctx) => {
      const team = requireTeam(ctx);
      const channel = requireChannel(ctx, team);
      const drive = ctx.store.drive(team.driveId);
      const folder = drive?.items.find((i) => i.id === channel.folderId);
      if (!drive || !folder) throw notFound(`Channel '${channel.displayName}' has no files folder`);
      return { status: 200, body: driveItemJson(ctx, drive, folder) };
    },
  },
];
