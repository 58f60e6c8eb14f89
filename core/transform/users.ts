import type { PlannedUser, Problem, SourceUser } from '../model';

/** A parsed user map: Slack id or lower-cased e-mail -> Entra object id or UPN, with the line it came from. */
export type UserMap = Map<string, { target: string; line: number }>;

/**
 * Parses a user-map CSV: one `slackId|slackEmail,entraIdOrUpn` per line; an optional header line, blank
 * lines and `#` comments are ignored. Malformed lines are reported as errors naming the line number.
 */
export function parseUserMap(text: string, source = 'user map'): { map: UserMap; problems: Problem[] } {
  const map: UserMap = new Map();
  const problems: Problem[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const text = raw.trim();
    if (!text || text.startsWith('#')) return;
    const fields = text.split(',').map((f) =>
      f
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .trim(),
    );
    if (
      line === firstContentLine(lines) &&
      /slack/i.test(fields[0] ?? '') &&
      !/^[UW][A-Z0-9]+$|@/.test(fields[0])
    )
      return;
    const fail = (why: string): void => {
      problems.push({
        severity: 'error',
        code: 'user-map-line',
        message: `${source} line ${line}: ${why}.`,
        where: source,
      });
    };
    if (fields.length !== 2)
      return fail(`expected 2 fields 'slackId or e-mail,Entra id or UPN', found ${fields.length}`);
    const [key, target] = fields;
    if (!key) return fail('the Slack id or e-mail is empty');
    if (!target) return fail(`no Entra id or UPN for '${key}'`);
    if (
      !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(target) &&
      !target.includes('@')
    )
      return fail(`'${target}' is neither an Entra object id (GUID) nor a UPN`);
    const k = key.includes('@') ? key.toLowerCase() : key;
    const prev = map.get(k);
    if (prev) {
      problems.push({
        severity: 'warning',
        code: 'user-map-duplicate',
        message: `${source} line ${line}: '${key}' was already mapped on line ${prev.line}; the later line wins.`,
        where: source,
      });
    }
    map.set(k, { target, line });
  });
  return { map, problems };
}

function firstContentLine(lines: string[]): number {
  return lines.findIndex((l) => l.trim() && !l.trim().startsWith('#')) + 1;
}

/**
 * Plans how each source user resolves on the target tenant: 'map' when the user map names them (by id,
 * else e-mail), 'email' for people with an e-mail to look up, 'fallback' for bots, deleted users and
 * people without an e-mail (their posts name the original author). Unused map lines are reported.
 */
export function planUsers(
  users: SourceUser[],
  map: UserMap,
  source = 'user map',
): { users: PlannedUser[]; problems: Problem[] } {
  const used = new Set<string>();
  const planned = [...users]
    .sort((a, b) => (a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0))
    .map((u): PlannedUser => {
      const emailKey = u.email?.toLowerCase();
      const hitKey = map.has(u.sourceId) ? u.sourceId : emailKey && map.has(emailKey) ? emailKey : undefined;
      if (hitKey) used.add(hitKey);
      const base = {
        sourceId: u.sourceId,
        displayName: u.displayName,
        ...(u.email ? { email: u.email } : {}),
        isBot: u.isBot,
        isDeleted: u.isDeleted,
        isAdmin: u.isAdmin,
      };
      if (hitKey) return { ...base, mappedTo: map.get(hitKey)!.target, resolution: 'map' };
      if (u.email && !u.isBot && !u.isDeleted) return { ...base, resolution: 'email' };
      return { ...base, resolution: 'fallback' };
    });
  const problems: Problem[] = [];
  for (const [key, { line }] of map) {
    if (!used.has(key))
      problems.push({
        severity: 'warning',
        code: 'user-map-unused',
        message: `${source} line ${line}: '${key}' matches no user of the export; check the id or e-mail.`,
        where: source,
      });
  }
  return { users: planned, problems };
}

/**
 * Parses a user-group CSV: one `S...,handle` per line (the group's id, then its handle, `@` optional); an
 * optional header line, blank lines and `#` comments are ignored. Malformed lines are reported as warnings
 * naming the line: such a group's mentions read "@user group".
 */
export function parseUserGroups(
  text: string,
  source = 'user-group CSV',
): { groups: Map<string, string>; problems: Problem[] } {
  const groups = new Map<string, string>();
  const problems: Problem[] = [];
  let first = true;
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const header = first;
      first = false;
      const fields = line.split(',').map((f) =>
        f
          .trim()
          .replace(/^"(.*)"$/, '$1')
          .trim(),
      );
      const [id, handle] = fields;
      if (fields.length === 2 && /^S[A-Z0-9]+$/.test(id) && handle) {
        groups.set(id, handle.replace(/^@/, ''));
        return;
      }
      if (header && !/^S[A-Z0-9]+$/.test(id ?? '')) return;
      problems.push({
        severity: 'warning',
        code: 'user-group-line',
        message: `${source} line ${i + 1}: expected 'S... id,handle'; the line is ignored.`,
        where: source,
      });
    });
  return { groups, problems };
}
