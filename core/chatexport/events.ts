import type { EventDetail, GraphIdentity, GraphIdentitySet } from './types';

/** Resolves a user id to a display name when Graph leaves `displayName` null (it often does in events). */
export type NameLookup = (id: string | null | undefined) => string | undefined;

function identityName(identity: GraphIdentity | null | undefined, lookup: NameLookup): string | undefined {
  if (!identity) return undefined;
  return identity.displayName?.trim() || lookup(identity.id) || undefined;
}

function initiatorName(set: GraphIdentitySet | null | undefined, lookup: NameLookup): string {
  return (
    identityName(set?.user, lookup) ??
    identityName(set?.application, lookup) ??
    identityName(set?.device, lookup) ??
    'Someone'
  );
}

function memberList(members: GraphIdentity[] | null | undefined, lookup: NameLookup): string {
  const names = (members ?? []).map((member) => identityName(member, lookup) ?? 'a member');
  if (names.length === 0) return 'members';
  if (names.length === 1) return names[0];
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

function duration(iso: string | null | undefined): string | undefined {
  const match = iso ? /^P(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(iso) : null;
  if (!match) return undefined;
  const [hours, minutes, seconds] = [match[1], match[2], match[3]].map((part) =>
    Math.floor(Number(part ?? 0)),
  );
  const parts = [hours ? `${hours} h` : '', minutes ? `${minutes} min` : '', seconds ? `${seconds} s` : ''];
  return parts.filter(Boolean).join(' ') || '0 s';
}

function humanize(odataType: string): string {
  const name = odataType.replace(/^#?microsoft\.graph\./, '').replace(/EventMessageDetail$/, '');
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words ? `Event: ${words}` : 'System event';
}

/** One plain-text line describing a system event (members added, chat renamed, call ended, ...). */
export function describeEvent(detail: EventDetail | undefined, lookup: NameLookup): string {
  if (!detail) return 'System event';
  const type = (detail['@odata.type'] ?? '').replace(/^#?microsoft\.graph\./, '');
  const who = initiatorName(detail.initiator, lookup);
  switch (type) {
    case 'membersAddedEventMessageDetail':
      return `${who} added ${memberList(detail.members, lookup)} to the chat`;
    case 'membersDeletedEventMessageDetail':
      return `${who} removed ${memberList(detail.members, lookup)} from the chat`;
    case 'membersJoinedEventMessageDetail':
      return `${memberList(detail.members, lookup)} joined the chat`;
    case 'membersLeftEventMessageDetail':
      return `${memberList(detail.members, lookup)} left the chat`;
    case 'chatRenamedEventMessageDetail':
      return detail.chatDisplayName
        ? `${who} renamed the chat to “${detail.chatDisplayName}”`
        : `${who} removed the chat name`;
    case 'callStartedEventMessageDetail':
      return `${who} started a call`;
    case 'callEndedEventMessageDetail': {
      const length = duration(detail.callDuration);
      return length ? `Call ended after ${length}` : 'Call ended';
    }
    case 'callRecordingEventMessageDetail':
      return detail.callRecordingDisplayName
        ? `Call recording: ${detail.callRecordingDisplayName}`
        : 'Call recording';
    case 'callTranscriptEventMessageDetail':
      return 'Call transcript available';
    case 'teamsAppInstalledEventMessageDetail':
      return `${who} added the app ${detail.teamsAppDisplayName ?? ''}`.trimEnd();
    case 'teamsAppRemovedEventMessageDetail':
      return `${who} removed the app ${detail.teamsAppDisplayName ?? ''}`.trimEnd();
    case 'teamsAppUpgradedEventMessageDetail':
      return `${who} upgraded the app ${detail.teamsAppDisplayName ?? ''}`.trimEnd();
    case 'messagePinnedEventMessageDetail':
      return `${who} pinned a message`;
    case 'messageUnpinnedEventMessageDetail':
      return `${who} unpinned a message`;
    case 'conversationMemberRoleUpdatedEventMessageDetail':
      return `${who} changed a member's role`;
    default:
      return humanize(type);
  }
}
