import type { Problem } from '../model';

/** Longest Teams channel name, in characters. */
export const MAX_CHANNEL_NAME = 50;
const FORBIDDEN = /[~#%&*{}+/\\:<>?|'",]/g;
/** Controls (C0, DEL, C1) and invisible format characters (bidi overrides and isolates, zero widths). */
const INVISIBLE = /[\p{Cc}\p{Cf}]/gu;

/** A Slack name made valid for Teams, with the rules that changed it (empty when unchanged). */
export function validTeamsName(slackName: string): { name: string; rules: string[] } {
  const rules: string[] = [];
  const invisible = [...new Set(slackName.match(INVISIBLE) ?? [])];
  if (invisible.length)
    rules.push(
      `control and invisible formatting characters (${invisible.map(codePoint).join(', ')}) are removed`,
    );
  let name = slackName.replace(INVISIBLE, '').trim();
  const bad = [...new Set(name.match(FORBIDDEN) ?? [])];
  if (bad.length) {
    rules.push(`${bad.map((c) => `'${c}'`).join(', ')} not allowed in Teams channel names`);
    name = name.replace(FORBIDDEN, '-');
  }
  if (name.includes('..')) {
    rules.push("'..' not allowed");
    name = name.replace(/\.{2,}/g, '.');
  }
  if (/^[_.]/.test(name)) {
    rules.push("a name may not start with '_' or '.'");
    name = name.replace(/^[_.]+/, '');
  }
  if (/\.$/.test(name)) {
    rules.push("a name may not end with '.'");
    name = name.replace(/\.+$/, '');
  }
  if ([...name].length > MAX_CHANNEL_NAME) {
    rules.push(`longer than ${MAX_CHANNEL_NAME} characters`);
    name = truncate(name, MAX_CHANNEL_NAME);
  }
  name = name.trim();
  if (!name) {
    rules.push('nothing valid left of the name');
    name = 'channel';
  }
  return { name, rules };
}

function codePoint(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

function truncate(name: string, max: number): string {
  return [...name]
    .slice(0, max)
    .join('')
    .replace(/[.\s]+$/, '');
}

/** A channel to name: its Slack id and name, and whether it becomes the team's General channel. */
export interface NamedChannel {
  sourceId: string;
  name: string;
  isGeneral: boolean;
}

/**
 * Assigns each channel a valid Teams name, unique case-insensitively with "General" reserved for the
 * general channel; later duplicates get "-2", "-3"... Each rename is reported as a Problem naming the old
 * and new names and the rule. Channels are named in the given order, which the caller keeps deterministic.
 */
export function assignTeamsNames(channels: NamedChannel[]): {
  names: Map<string, string>;
  problems: Problem[];
} {
  const names = new Map<string, string>();
  const taken = new Set<string>(['general']);
  const problems: Problem[] = [];
  for (const c of channels) {
    if (c.isGeneral) {
      names.set(c.sourceId, 'General');
      if (c.name !== 'General' && c.name.toLowerCase() !== 'general')
        problems.push(
          renamed(c, 'General', "it is the workspace's general channel, which becomes the team's General"),
        );
      continue;
    }
    const { name, rules } = validTeamsName(c.name);
    let unique = name;
    for (let n = 2; taken.has(unique.toLowerCase()); n++) {
      const suffix = `-${n}`;
      unique = truncate(name, MAX_CHANNEL_NAME - suffix.length) + suffix;
    }
    if (unique !== name)
      rules.push(`'${name}' is already used in the team (names are case-insensitive, "General" included)`);
    taken.add(unique.toLowerCase());
    names.set(c.sourceId, unique);
    if (rules.length) problems.push(renamed(c, unique, rules.join('; ')));
  }
  return { names, problems };
}

function renamed(c: NamedChannel, to: string, why: string): Problem {
  return {
    severity: 'info',
    code: 'channel-renamed',
    message: `channel '${c.name}' renamed to '${to}': ${why}.`,
    where: c.sourceId,
  };
}
