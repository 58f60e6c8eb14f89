import type { NewMember } from '../graph/teamsImport';
import type { AddMembersInput, AddMembersResult } from './contracts';
import type { PipelineDeps } from './deps';
import { readManifest } from './runStore';
import { FALLBACK_USER_KEY } from './users';

/**
 * Adds the members of the imported standard channels to the team (after its migration is complete, as the
 * service requires): workspace admins and the creators of imported channels as owners, everyone else as
 * members. Members of private channels are added as members when their channel is created.
 * Users without an Entra match are left out. The team's members are listed first and only those missing (or
 * lacking the owner role) are added, so a resumed run adds nobody twice; "already a member" counts as done.
 * The ledger records the outcome before the step reports it done.
 */
export async function addMembers(deps: PipelineDeps, input: AddMembersInput): Promise<AddMembersResult> {
  const manifest = await readManifest(deps.store, input.migrationId);
  const users = await deps.ledger.getUsers(input.migrationId);
  const owners = new Set<string>(manifest.users.filter((u) => u.isAdmin).map((u) => u.sourceId));
  const sourceMembers = new Set<string>();
  for (const channel of manifest.channels) {
    if (channel.membershipType === 'private') continue;
    channel.members.forEach((m) => sourceMembers.add(m));
    if (channel.creatorId) {
      sourceMembers.add(channel.creatorId);
      owners.add(channel.creatorId);
    }
  }
  const byEntraId = new Map<string, NewMember>();
  for (const sourceId of [...sourceMembers].sort()) {
    const user = users.get(sourceId);
    if (!user?.entraId || sourceId === FALLBACK_USER_KEY || user.matchedBy === 'unmatched') continue;
    const owner = owners.has(sourceId) || byEntraId.get(user.entraId)?.owner === true;
    byEntraId.set(user.entraId, { userId: user.entraId, owner });
  }
  const current = new Map(
    byEntraId.size > 0 ? (await deps.graph.listMembers(input.teamId)).map((m) => [m.userId, m]) : [],
  );
  const toAdd = [...byEntraId.values()].filter((m) => {
    const present = current.get(m.userId);
    return !present || (m.owner === true && !present.owner);
  });
  const results = toAdd.length > 0 ? await deps.graph.addMembers(input.teamId, toAdd) : [];
  const failures = results.filter((r) => !r.ok);
  await deps.ledger.updateMigration(input.migrationId, {
    phase: 'members-added',
    ...(failures.length > 0
      ? {
          lastError: `${failures.length} member(s) not added, e.g. ${failures[0].userId}: ${failures[0].error ?? 'no reason given'}`,
        }
      : {}),
  });
  return {
    added: results.filter((r) => r.ok && !r.alreadyMember).length,
    alreadyMembers: byEntraId.size - toAdd.length + results.filter((r) => r.alreadyMember).length,
    failed: failures.length,
  };
}
