import { GraphClientError } from '@microsoft/microsoft-graph-client';

/**
 * Base of this module's errors. It extends the SDK's GraphClientError because the SDK rethrows only that
 * class unchanged from the middleware chain; every other error it flattens into its own GraphError.
 */
export class TeamsImportClientError extends GraphClientError {
  constructor(message: string) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = new.target.name;
  }
}

/** What the service answered, for a call that failed: status, Graph error code and message, request id. */
export interface GraphErrorDetails {
  /** The client operation that failed (`postMessage`, `createTeamInMigration`, ...). */
  call: string;
  status: number;
  code: string;
  /** The service's own message, as it sent it. */
  serviceMessage: string;
  requestId?: string;
  /** The wait the service asked for (429/503), in ms, when it named one. */
  retryAfterMs?: number;
  /** How many times the HTTP layer retried before giving up. */
  retries?: number;
  /**
   * The service asked for a wait (`retryAfterMs`) longer than the HTTP layer waits in a request: the request
   * was not taken; wait that long outside it (a durable timer) and send it again.
   */
  longWait?: boolean;
}

/** A Graph call answered with an error status; the message says what broke and what to do about it. */
export class GraphError extends TeamsImportClientError {
  readonly call: string;
  readonly status: number;
  readonly code: string;
  readonly serviceMessage: string;
  readonly requestId?: string;
  readonly retryAfterMs?: number;
  readonly retries?: number;
  readonly longWait?: boolean;

  constructor(details: GraphErrorDetails) {
    super(describeGraphError(details));
    this.call = details.call;
    this.status = details.status;
    this.code = details.code;
    this.serviceMessage = details.serviceMessage;
    this.requestId = details.requestId;
    this.retryAfterMs = details.retryAfterMs;
    this.retries = details.retries;
    this.longWait = details.longWait;
  }

  /** The same error, attributed to a named client operation. */
  withCall(call: string): GraphError {
    return new GraphError({ ...this.details(), call });
  }

  private details(): GraphErrorDetails {
    return {
      call: this.call,
      status: this.status,
      code: this.code,
      serviceMessage: this.serviceMessage,
      requestId: this.requestId,
      retryAfterMs: this.retryAfterMs,
      retries: this.retries,
      longWait: this.longWait,
    };
  }
}

/**
 * A non-idempotent request (a POST) lost its connection or timed out at a gateway: the service may or may
 * not have committed it. The HTTP layer never retries it; the caller resolves it by looking the result up.
 */
export class MaybeCommittedError extends TeamsImportClientError {
  readonly method: string;
  readonly route: string;
  override readonly cause: unknown;

  constructor(method: string, route: string, cause: unknown) {
    super(
      `${method} ${route}: the request may have been committed (${reasonOf(cause)}); it was not retried. ` +
        'Look the result up (for a message: getMessage with messageIdFor(createdDateTime)) before posting again.',
    );
    this.method = method;
    this.route = route;
    this.cause = cause;
  }
}

/** No access token could be had for a request; nothing was sent. */
export class GraphAuthError extends TeamsImportClientError {
  override readonly cause: unknown;

  constructor(cause: unknown) {
    super(
      `Could not get a Graph access token (${reasonOf(cause)}): check AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST and the secret, certificate or managed identity.`,
    );
    this.cause = cause;
  }
}

/** An idempotent request kept failing at the network level after every retry. */
export class GraphNetworkError extends TeamsImportClientError {
  readonly method: string;
  readonly route: string;
  override readonly cause: unknown;

  constructor(method: string, route: string, attempts: number, cause: unknown) {
    super(
      `${method} ${route}: no answer after ${attempts} attempt(s) (${reasonOf(cause)}). ` +
        'Check that the Graph endpoint is reachable from this host, then resume the run.',
    );
    this.method = method;
    this.route = route;
    this.cause = cause;
  }
}

const PERMISSION_BY_CALL: Record<string, string> = {
  addMembers: 'TeamMember.ReadWrite.All',
  resolveUsers: 'User.Read.All',
  getFilesFolder: 'Files.ReadWrite.All (or Sites.ReadWrite.All)',
  uploadFile: 'Files.ReadWrite.All (or Sites.ReadWrite.All)',
};

function advice(d: GraphErrorDetails): string {
  const text = d.serviceMessage.toLowerCase();
  switch (d.status) {
    case 401:
      return 'The access token was rejected: check the credential settings (AZURE_TENANT_ID, AZURE_CLIENT_ID and the secret or certificate) and that the app registration lives in the target tenant.';
    case 403:
      if (text.includes('initiator'))
        return 'Only the app that started the import session may import into or complete it: run with the same app registration that created the team or channel.';
      if (text.includes('application-only') || text.includes('application only'))
        return 'Imports need an application token and a channel in migration mode: use an app-only credential, and check the channel was created in migration mode and not yet completed.';
      return `The app lacks a permission: grant the application permission ${PERMISSION_BY_CALL[d.call] ?? 'Teamwork.Migrate.All'} with admin consent.`;
    case 404:
      return 'Not found: the team, channel or message does not exist (deleted, or an id from another run); re-check the ids recorded for this run.';
    case 409:
      return 'Conflict: for a message, another message of this channel already has this createdDateTime to the millisecond; look it up by messageIdFor(createdDateTime) before deciding it was posted.';
    case 413:
      return 'The request body is too large (about 28 KB for a message, 4 MB for an inline image): split the message or send the file as a link.';
    case 429:
      if (d.longWait && d.retryAfterMs !== undefined)
        return `Throttled: the service asked for a wait of ${Math.ceil(d.retryAfterMs / 1000)} s, longer than a request waits; wait that long, then send it again.`;
      return `Throttled${d.retries !== undefined ? ` after ${d.retries} retries` : ''}: slow down${d.retryAfterMs !== undefined ? ` and wait ${Math.ceil(d.retryAfterMs / 1000)} s` : ''} before resuming.`;
    default:
      return d.status >= 500 ? 'The service failed: resume the run later.' : '';
  }
}

function describeGraphError(d: GraphErrorDetails): string {
  const said = d.serviceMessage ? `: ${d.serviceMessage}` : '';
  const id = d.requestId ? ` (request-id ${d.requestId})` : '';
  const todo = advice(d);
  return `${d.call} failed with ${d.status} ${d.code}${said}${id}.${todo ? ` ${todo}` : ''}`;
}

function reasonOf(cause: unknown): string {
  if (cause instanceof Response) return `gateway answered ${cause.status}`;
  if (cause instanceof Error) {
    const inner = (cause as { cause?: unknown }).cause;
    const code = inner && typeof inner === 'object' && 'code' in inner ? ` ${String(inner.code)}` : '';
    return `${cause.message}${code}`;
  }
  return String(cause);
}

/** Reads a failed response into a GraphError (consumes the body); `call` names the client operation. */
export async function graphErrorFromResponse(
  response: Response,
  call: string,
  extra: { retries?: number; retryAfterMs?: number; longWait?: boolean } = {},
): Promise<GraphError> {
  const text = await response.text().catch(() => '');
  let code = `http${response.status}`;
  let serviceMessage = text.slice(0, 500);
  let requestId =
    response.headers.get('request-id') ?? response.headers.get('client-request-id') ?? undefined;
  try {
    const parsed = JSON.parse(text) as {
      error?: { code?: string; message?: string; innerError?: { 'request-id'?: string } };
    };
    if (parsed.error) {
      code = parsed.error.code ?? code;
      serviceMessage = parsed.error.message ?? '';
      requestId = parsed.error.innerError?.['request-id'] ?? requestId;
    }
  } catch {
    // not JSON: keep the text
  }
  return new GraphError({ call, status: response.status, code, serviceMessage, requestId, ...extra });
}
