/** A Graph error answer: the HTTP status and the `error.code` / `error.message` the real service sends. */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GraphError';
  }
}

/** 400 `BadRequest`: the request breaks a rule of the import API or of the request's shape. */
export function badRequest(message: string): GraphError {
  return new GraphError(400, 'BadRequest', message);
}

/** 404 `NotFound`: the addressed resource does not exist (or is not visible to the caller). */
export function notFound(message: string): GraphError {
  return new GraphError(404, 'NotFound', message);
}

/** 403 `Forbidden`: the caller may not do this (wrong app, channel not in migration mode, delegated token). */
export function forbidden(message: string): GraphError {
  return new GraphError(403, 'Forbidden', message);
}

/** 409 `Conflict`: the write collides with existing state (same millisecond, same name). */
export function conflict(message: string): GraphError {
  return new GraphError(409, 'Conflict', message);
}

/** Graph's error body: `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`. */
export function graphErrorBody(
  code: string,
  message: string,
  requestId: string,
  clientRequestId: string,
  now: Date,
): { error: { code: string; message: string; innerError: Record<string, string> } } {
  return {
    error: {
      code,
      message,
      innerError: {
        date: now.toISOString().replace(/\.\d{3}Z$/, ''),
        'request-id': requestId,
        'client-request-id': clientRequestId,
      },
    },
  };
}
