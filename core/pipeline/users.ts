import { GraphAuthError, GraphError } from '../graph/errors';
import type { PlannedUser, Problem } from '../model';
import type { UserRecord } from '../state/ledgerRecords';
import type { ResolveUsersInput, ResolveUsersResult } from './contracts';
import type { PipelineDeps } from './deps';
import { readManifest } from './runStore';

/** The users-table row that holds the run's fallback account (no source id contains `*`). */
export const FALLBACK_USER_KEY = '*fallback';

const lookupKey = (user: PlannedUser): string | undefined =>
  user.resolution === 'map' ? user.mappedTo : user.resolution === 'email' ? user.email : undefined;

/**
 * Maps every planned user to an Entra user (user map first, then e-mail) in `$batch` lookups and records the
 * result in the ledger. A user map naming someone the tenant does not have, or unmatched authors with no
 * usable fallback account, fail the step before anything is created in Teams.
 */
export async function resolveUsers(
  deps: PipelineDeps,
  input: ResolveUsersInput,
): Promise<ResolveUsersResult> {
  const runId = input.migrationId;
  const manifest = await readManifest(deps.store, runId);
  const keys = manifest.users.map(lookupKey).filter((k): k is string => !!k);
  if (input.fallbackUser) keys.push(input.fallbackUser);
  let found: Awaited<ReturnType<PipelineDeps['graph']['resolveUsers']>> = new Map();
  try {
    if (keys.length > 0) found = await deps.graph.resolveUsers(keys);
  } catch (err) {
    const refused = err instanceof GraphError && (err.status === 401 || err.status === 403);
    if (!(err instanceof GraphAuthError) && !refused) throw err;
    // Retrying cannot fix a sign-in or a permission: stop before anything is created, saying why.
    return {
      ok: false,
      matched: 0,
      unmatched: manifest.users.length,
      problems: [{ severity: 'error', code: 'graph-sign-in', message: err.message }],
    };
  }

  const problems: Problem[] = [];
  const rows: UserRecord[] = [];
  const needFallback: PlannedUser[] = [];
  for (const user of manifest.users) {
    const key = lookupKey(user);
    const hit = key ? found.get(key) : undefined;
    if (hit) {
      rows.push({
        sourceUserId: user.sourceId,
        entraId: hit.id,
        displayName: hit.displayName,
        matchedBy: user.resolution,
      });
      continue;
    }
    if (user.resolution === 'map')
      problems.push({
        severity: 'error',
        code: 'user-map-unknown',
        message: `The user map names '${user.mappedTo}' for Slack user ${user.displayName} (${user.sourceId}), but the tenant has no such user: fix the map or remove the line.`,
      });
    rows.push({ sourceUserId: user.sourceId, displayName: user.displayName, matchedBy: 'unmatched' });
    needFallback.push(user);
  }

  const fallback = input.fallbackUser ? found.get(input.fallbackUser) : undefined;
  if (input.fallbackUser && !fallback)
    problems.push({
      severity: 'error',
      code: 'fallback-unknown',
      message: `The fallback user '${input.fallbackUser}' is not a user of the tenant: give an Entra object id or UPN that exists.`,
    });
  if (!input.fallbackUser && needFallback.length > 0) {
    const names = needFallback.slice(0, 10).map((u) => `${u.displayName} (${u.sourceId})`);
    problems.push({
      severity: 'error',
      code: 'fallback-missing',
      message:
        `${needFallback.length} source user(s) have no Entra user (${names.join(', ')}${needFallback.length > 10 ? ', ...' : ''}): ` +
        'give a fallback user (--fallback-user / fallbackUser) to post their messages, or map them in the user map.',
    });
  }
  if (fallback)
    rows.push({
      sourceUserId: FALLBACK_USER_KEY,
      entraId: fallback.id,
      displayName: fallback.displayName,
      matchedBy: 'fallback',
    });
  const ok = !problems.some((p) => p.severity === 'error');
  if (ok) await deps.ledger.putUsers(runId, rows);
  const matched = rows.filter(
    (r) => r.sourceUserId !== FALLBACK_USER_KEY && r.matchedBy !== 'unmatched',
  ).length;
  return { ok, matched, unmatched: needFallback.length, problems };
}
