import type { PlannedChannel } from '../model';
import type { EnsurePrivateChannelInput, EnsurePrivateChannelResult } from './contracts';
import type { PipelineDeps } from './deps';
import { readManifest } from './runStore';
import { openForImport } from './teams';
import { FALLBACK_USER_KEY } from './users';

/** A private channel's Slack people as the tenant knows them: the owner, the other members, and the unmapped. */
export interface PrivateMembership {
  /** The Entra id of the owner: the Slack creator when mapped, else the first mapped member. */
  owner?: string;
  /** Entra ids of the other mapped members, in the export's order, each once. */
  members: string[];
  /** Display names of the Slack members who map to no Entra user (they are not added). */
  unmapped: string[];
}

/**
 * Who a private channel gets: its Slack creator (else its first mapped member) as owner, and every other
 * member that maps to an Entra user (not the fallback account) as member; the rest are listed as unmapped.
 */
export function privateMembership(
  channel: Pick<PlannedChannel, 'members' | 'creatorId'>,
  entraIdOf: (sourceId: string) => string | undefined,
  nameOf: (sourceId: string) => string,
): PrivateMembership {
  const people = [...new Set([...(channel.creatorId ? [channel.creatorId] : []), ...channel.members])];
  const mapped: string[] = [];
  const unmapped: string[] = [];
  for (const id of people) {
    const entraId = entraIdOf(id);
    if (entraId === undefined) {
      if (channel.members.includes(id)) unmapped.push(nameOf(id));
    } else if (!mapped.includes(entraId)) mapped.push(entraId);
  }
  const [owner, ...members] = mapped;
  return { ...(owner ? { owner } : {}), members, unmapped };
}

/**
 * Makes a private channel of a completed team ready for import: its mapped Slack people are added to the team
 * as members where they are not (never as owners), the channel is found (ledger, then the team's channels by
 * name) or created normally as a private channel with its owner, the other mapped members are added to it,
 * and it is opened with startMigration at the Slack channel's creation unless Teams shows it in migration
 * already, or completed with nothing of the plan left to post. A member the team refuses is left out and
 * listed with the service's reason; a channel none of whose members maps to an Entra user (or can join the
 * team) is not created: the ledger records why. Each step reads the service first, so a resume after a
 * crash at any point repeats nothing.
 */
export async function ensurePrivateChannel(
  deps: PipelineDeps,
  input: EnsurePrivateChannelInput,
): Promise<EnsurePrivateChannelResult> {
  const { migrationId: runId, teamId, channel } = input;
  const manifest = await readManifest(deps.store, runId);
  const planned = manifest.channels.find((c) => c.key === channel.key);
  if (!planned)
    throw new Error(`Private channel '${channel.key}' is not in the plan of migration '${runId}'.`);
  const users = await deps.ledger.getUsers(runId);
  const names = new Map(manifest.users.map((u) => [u.sourceId, u.displayName]));
  const membership = privateMembership(
    planned,
    (id) => {
      const user = users.get(id);
      return id === FALLBACK_USER_KEY || !user?.entraId || user.matchedBy === 'unmatched'
        ? undefined
        : user.entraId;
    },
    (id) => names.get(id) ?? id,
  );
  const { value: record } = await deps.ledger.ensureChannelRow(runId, channel.key);
  if (!membership.owner) {
    const reason = `no member of the Slack private channel maps to an Entra user (${membership.unmapped.join(', ') || 'it lists no member'}): a Teams private channel needs an owner among its members, so it was not created. Map a member with the user map and run again.`;
    await deps.ledger.updateChannel(runId, channel.key, {
      notCreated: reason,
      unmappedMembers: JSON.stringify(membership.unmapped),
    });
    return { kind: 'not-created', reason, unmapped: membership.unmapped };
  }

  const inTeam = new Set((await deps.graph.listMembers(teamId)).map((m) => m.userId));
  const toTeam = [membership.owner, ...membership.members]
    .filter((id) => !inTeam.has(id))
    .map((userId) => ({ userId, owner: false }));
  const refused = new Map<string, string>();
  if (toTeam.length > 0)
    for (const r of await deps.graph.addMembers(teamId, toTeam))
      if (!r.ok) refused.set(r.userId, r.error ?? 'no reason given');
  const everyone = [membership.owner, ...membership.members].filter((id) => !refused.has(id));
  const owner = everyone[0];
  if (refused.size > 0) {
    const byEntraId = new Map([...users.values()].map((u) => [u.entraId, u.sourceUserId]));
    for (const [id, why] of refused)
      membership.unmapped.push(`${names.get(byEntraId.get(id) ?? '') ?? id} (not added to the team: ${why})`);
  }
  const unmappedMembers = JSON.stringify(membership.unmapped);
  if (!owner) {
    const reason = `none of the members of the Slack private channel could be added to the team (${membership.unmapped.join(', ')}): a Teams private channel needs an owner among its members, so it was not created.`;
    await deps.ledger.updateChannel(runId, channel.key, { notCreated: reason, unmappedMembers });
    return { kind: 'not-created', reason, unmapped: membership.unmapped };
  }

  let channelId = record.teamsChannelId;
  if (!channelId) {
    const name = channel.teamsName.toLowerCase();
    const existing = (await deps.graph.listChannels(teamId)).find(
      (c) => (c.displayName ?? '').toLowerCase() === name,
    );
    channelId =
      existing?.id ??
      (
        await deps.graph.createPrivateChannel(teamId, {
          displayName: channel.teamsName,
          description: channel.description,
          ownerId: owner,
        })
      ).id;
    await deps.ledger.updateChannel(runId, channel.key, { teamsChannelId: channelId, state: 'created' });
  }
  const inChannel = new Set((await deps.graph.listChannelMembers(teamId, channelId)).map((m) => m.userId));
  for (const userId of everyone)
    if (!inChannel.has(userId))
      await deps.graph.addChannelMember(teamId, channelId, { userId, owner: userId === owner });

  const opened = await openForImport(deps, teamId, channelId, channel, record);
  await deps.ledger.updateChannel(runId, channel.key, {
    ...(opened ? { state: 'posting' } : {}),
    unmappedMembers,
  });
  return { kind: 'ready', channelId, unmapped: membership.unmapped };
}
