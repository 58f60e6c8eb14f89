import type { User } from '@microsoft/microsoft-graph-types';
import { GraphError } from './errors';
import { backoffMs, retryAfterMs } from './middleware/retry';
import { odataString, seg, type GraphCaller } from './request';

/** A tenant user found for a source user's e-mail or UPN. */
export interface ResolvedUser {
  id: string;
  displayName: string;
}

interface BatchRequest {
  id: string;
  method: 'GET';
  url: string;
}

interface BatchResponse {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

const BATCH_SIZE = 20;

/**
 * Resolves e-mails / UPNs / object ids to tenant users with `$batch` (20 per request): first
 * `GET /users/{x}`, then, for those not found, `GET /users?$filter=mail eq '{x}'`. Unknown -> null.
 */
export async function resolveUsers(
  caller: GraphCaller,
  keys: string[],
): Promise<Map<string, ResolvedUser | null>> {
  const unique = [...new Set(keys)];
  const result = new Map<string, ResolvedUser | null>();
  const direct = await runBatches(
    caller,
    unique.map((key) => `/users/${seg(key)}?$select=id,displayName`),
  );
  const retry: string[] = [];
  unique.forEach((key, i) => {
    const answer = direct[i];
    if (answer.status === 200) result.set(key, toResolved(answer.body as User));
    else if (key.includes('@')) retry.push(key);
    else result.set(key, null);
  });
  const byMail = await runBatches(
    caller,
    retry.map(
      (key) => `/users?$filter=${encodeURIComponent(`mail eq ${odataString(key)}`)}&$select=id,displayName`,
    ),
  );
  retry.forEach((key, i) => {
    const found = (byMail[i].body as { value?: User[] } | undefined)?.value ?? [];
    result.set(key, found.length > 0 ? toResolved(found[0]) : null);
  });
  return result;
}

function toResolved(user: User): ResolvedUser {
  return { id: user.id!, displayName: user.displayName ?? '' };
}

async function runBatches(caller: GraphCaller, urls: string[]): Promise<BatchResponse[]> {
  const answers: BatchResponse[] = [];
  for (let start = 0; start < urls.length; start += BATCH_SIZE) {
    answers.push(...(await runBatch(caller, urls.slice(start, start + BATCH_SIZE))));
  }
  return answers;
}

async function runBatch(caller: GraphCaller, urls: string[]): Promise<BatchResponse[]> {
  const { retry, sleep, random, now } = caller.handle;
  const answers = new Map<string, BatchResponse>();
  let pending: BatchRequest[] = urls.map((url, i) => ({ id: String(i), method: 'GET', url }));
  for (let attempt = 0; pending.length > 0; attempt++) {
    const { body } = await caller.call<{ responses: BatchResponse[] }>('resolveUsers', 'POST', '/$batch', {
      body: { requests: pending },
      idempotent: true,
    });
    const throttled: BatchRequest[] = [];
    let waitMs = 0;
    for (const answer of body.responses) {
      const request = pending.find((r) => r.id === answer.id);
      if (!request) continue;
      if ([429, 503, 504].includes(answer.status) && attempt < retry.maxRetries) {
        throttled.push(request);
        const asked = retryAfterMs(new Headers(answer.headers ?? {}), now());
        waitMs = Math.max(waitMs, asked ?? backoffMs(retry, attempt, random));
      } else if (answer.status >= 400 && ![400, 404].includes(answer.status)) {
        throw batchError(answer);
      } else {
        answers.set(answer.id, answer);
      }
    }
    pending = throttled;
    if (pending.length > 0) await sleep(Math.min(waitMs, retry.maxDelayMs));
  }
  return urls.map((url, i) => {
    const answer = answers.get(String(i));
    if (!answer)
      throw new Error(`resolveUsers: the $batch answer had no response for ${url}; resume the run to retry.`);
    return answer;
  });
}

function batchError(answer: BatchResponse): GraphError {
  const error = (answer.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  return new GraphError({
    call: 'resolveUsers',
    status: answer.status,
    code: error?.code ?? `http${answer.status}`,
    serviceMessage: error?.message ?? '',
  });
}
