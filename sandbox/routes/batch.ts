import { z } from 'zod';
import { badRequest } from '../errors';
import { MAX_BATCH_REQUESTS, parseInput } from '../rules';
import type { Route, RouteContext, RouteResponse } from '../router';

const batchSchema = z.object({
  requests: z
    .array(
      z.object({
        id: z.string().min(1),
        method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
        url: z.string().min(1),
        headers: z.record(z.string(), z.string()).optional(),
        body: z.unknown().optional(),
        dependsOn: z.array(z.string()).optional(),
      }),
    )
    .min(1)
    .max(MAX_BATCH_REQUESTS),
});

function lowerKeys(headers: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

async function batch(ctx: RouteContext): Promise<RouteResponse> {
  const input = parseInput(batchSchema, ctx.body, '$batch');
  const seen = new Set<string>();
  for (const request of input.requests) {
    if (seen.has(request.id)) throw badRequest(`$batch: request id '${request.id}' is used twice`);
    for (const dep of request.dependsOn ?? []) {
      if (!seen.has(dep))
        throw badRequest(
          `$batch: request '${request.id}' depends on '${dep}', which does not come before it`,
        );
    }
    seen.add(request.id);
    if (/^[a-z]+:\/\//i.test(request.url))
      throw badRequest(`$batch: request '${request.id}' must use a relative url, not '${request.url}'`);
    if (request.body !== undefined && !lowerKeys(request.headers)['content-type']) {
      throw badRequest(`$batch: request '${request.id}' has a body but no Content-Type header`);
    }
  }
  const statuses = new Map<string, number>();
  const responses: unknown[] = [];
  for (const request of input.requests) {
    const failedDep = (request.dependsOn ?? []).find((d) => (statuses.get(d) ?? 0) >= 400);
    let response: RouteResponse;
    if (failedDep !== undefined) {
      response = {
        status: 424,
        body: { error: { code: 'FailedDependency', message: `Request '${failedDep}' it depends on failed` } },
      };
    } else if (/^\/?\$batch\b/.test(request.url)) {
      response = {
        status: 400,
        body: { error: { code: 'BadRequest', message: '$batch requests cannot be nested' } },
      };
    } else {
      response = await ctx.dispatch({
        method: request.method,
        url: request.url.startsWith('/') ? request.url : `/${request.url}`,
        headers: lowerKeys(request.headers),
        json: request.body,
        via: `$batch:${request.id}`,
      });
    }
    statuses.set(request.id, response.status);
    const headers: Record<string, string> = { ...(response.headers ?? {}) };
    let body = response.body;
    if (Buffer.isBuffer(body)) body = body.toString('base64');
    else if (body !== undefined && typeof body !== 'string') headers['content-type'] ??= 'application/json';
    responses.push({
      id: request.id,
      status: response.status,
      headers,
      ...(body === undefined ? {} : { body }),
    });
  }
  return { status: 200, body: { responses } };
}

/** JSON batching: up to 20 requests, each run through the whole pipeline (auth, throttle, rules) in order. */
export const batchRoutes: Route[] = [{ method: 'POST', path: '/$batch', mutates: true, handler: batch }];
