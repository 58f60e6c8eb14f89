import { z } from 'zod';
import { GraphError, badRequest, notFound } from '../errors';
import { MAX_BULK_MEMBERS, parseInput } from '../rules';
import type { Route, RouteContext, RouteResponse } from '../router';
import type { MemberRecord, SandboxUser, TeamRecord } from '../state';
import { SANDBOX_TENANT_ID, page, requireTeam } from './common';

/** An `aadUserConversationMember` in a request body. */
export const memberSchema = z.object({
  '@odata.type': z.literal('#microsoft.graph.aadUserConversationMember'),
  roles: z.array(z.enum(['owner', 'guest'])),
  'user@odata.bind': z.string(),
});

type MemberInput = z.infer<typeof memberSchema>;

/** A membership id, stable for a container (team or channel) and a user. */
export function memberId(teamId: string, userId: string): string {
  return Buffer.from(`1#${teamId}#${userId}`, 'utf8').toString('base64');
}

function boundUserId(bind: string): string | undefined {
  const m = /\/users(?:\('([^']+)'\)|\/([^/?#]+))$/.exec(bind);
  const raw = m?.[1] ?? m?.[2];
  return raw === undefined ? undefined : decodeURIComponent(raw);
}

function assertMembersAllowed(team: TeamRecord): void {
  if (team.migrationMode === 'inProgress') {
    throw badRequest(
      `Members can be added to team '${team.displayName}' only after its completeMigration: the team is still in migration mode`,
    );
  }
}

/** The tenant user a member body binds (`user@odata.bind`); 400 when it addresses none, 404 when unknown. */
export function resolveMember(ctx: RouteContext, input: MemberInput): SandboxUser {
  const id = boundUserId(input['user@odata.bind']);
  if (id === undefined) {
    throw badRequest(
      `user@odata.bind '${input['user@odata.bind']}' does not address a user (…/users('{id}'))`,
    );
  }
  const user = ctx.store.user(id);
  if (!user) throw notFound(`User '${id}' was not found in this tenant`);
  return user;
}

function upsert(team: TeamRecord, user: SandboxUser, roles: string[]): MemberRecord {
  const existing = team.members.find((m) => m.userId === user.id);
  if (existing) {
    existing.roles = roles;
    return existing;
  }
  const member: MemberRecord = { id: memberId(team.id, user.id), userId: user.id, roles };
  team.members.push(member);
  return member;
}

/** A member as Graph shows it. */
export function memberJson(ctx: RouteContext, member: MemberRecord): Record<string, unknown> {
  const user = ctx.store.user(member.userId);
  return {
    '@odata.type': '#microsoft.graph.aadUserConversationMember',
    id: member.id,
    roles: member.roles,
    displayName: user?.displayName ?? null,
    visibleHistoryStartDateTime: '0001-01-01T00:00:00Z',
    userId: member.userId,
    email: user?.mail ?? null,
    tenantId: SANDBOX_TENANT_ID,
  };
}

function addMember(ctx: RouteContext): RouteResponse {
  const team = requireTeam(ctx);
  const input = parseInput(memberSchema, ctx.body, 'member');
  assertMembersAllowed(team);
  const user = resolveMember(ctx, input);
  const member = upsert(team, user, input.roles);
  return {
    status: 201,
    body: {
      '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#teams('${team.id}')/members/$entity`,
      ...memberJson(ctx, member),
    },
  };
}

function addMembers(ctx: RouteContext): RouteResponse {
  const team = requireTeam(ctx);
  const input = parseInput(
    z.object({ values: z.array(memberSchema).min(1).max(MAX_BULK_MEMBERS) }),
    ctx.body,
    'members/add',
  );
  assertMembersAllowed(team);
  const results = input.values.map((value) => {
    try {
      const user = resolveMember(ctx, value);
      upsert(team, user, value.roles);
      return {
        '@odata.type': '#microsoft.graph.aadUserConversationMemberResult',
        userId: user.id,
        error: null,
      };
    } catch (err) {
      if (!(err instanceof GraphError)) throw err;
      return {
        '@odata.type': '#microsoft.graph.aadUserConversationMemberResult',
        userId: boundUserId(value['user@odata.bind']) ?? null,
        error: { code: err.code, message: err.message },
      };
    }
  });
  return {
    status: results.some((r) => r.error !== null) ? 207 : 200,
    body: {
      '@odata.context':
        'https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.actionResultPart)',
      value: results,
    },
  };
}

/** Team members: list, get, add one, add up to 200 in bulk; adds only after the team's completeMigration. */
export const memberRoutes: Route[] = [
  {
    method: 'GET',
    path: '/teams/{teamId}/members',
    handler: (ctx) => {
      const team = requireTeam(ctx);
      return {
        status: 200,
        body: page(
          ctx,
          team.members.map((m) => memberJson(ctx, m)),
          `/teams/${team.id}/members`,
          { maxTop: 999, defaultTop: 999 },
        ),
      };
    },
  },
  {
    method: 'GET',
    path: '/teams/{teamId}/members/{membershipId}',
    handler: (ctx) => {
      const team = requireTeam(ctx);
      const member = team.members.find((m) => m.id === ctx.params.membershipId);
      if (!member) throw notFound(`Member '${ctx.params.membershipId}' was not found in team '${team.id}'`);
      return { status: 200, body: memberJson(ctx, member) };
    },
  },
  { method: 'POST', path: '/teams/{teamId}/members', mutates: true, handler: addMember },
  { method: 'POST', path: '/teams/{teamId}/members/add', mutates: true, handler: addMembers },
];
