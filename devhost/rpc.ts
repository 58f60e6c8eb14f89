import {
  InstanceNotFoundError,
  InstanceStateError,
  type DurableEngine,
  type InstanceFilter,
  type RuntimeStatus,
} from './durable/engine';

/** A minimal HTTP exchange the durable API answers: what came in and what goes out. */
export interface ApiRequest {
  method: string;
  url: URL;
  body: Buffer;
}

/** Response of the durable API. */
export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** Path of the extension's webhook API (the management URLs) on the local host. */
export const WEBHOOK_PREFIX = '/runtime/webhooks/durabletask/';
/** Path of the extension's RPC API (`rpcBaseUrl`) on the local host. */
export const RPC_PREFIX = '/durabletask/';

/** The `durableClient` input binding value the extension hands client functions. */
export interface DurableClientInput {
  taskHubName: string;
  creationUrls: Record<string, string>;
  managementUrls: Record<string, string>;
  baseUrl: string;
  requiredQueryStringParameters: string;
  rpcBaseUrl: string;
}

const ID = 'INSTANCEID';

/** Builds the `durableClient` binding value pointing at this host's webhook and RPC routes. */
export function durableClientInput(origin: string, taskHubName: string): DurableClientInput {
  const base = `${origin}${WEBHOOK_PREFIX.slice(0, -1)}`;
  const hub = `taskHub=${encodeURIComponent(taskHubName)}&connection=Storage`;
  return {
    taskHubName,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]`,
      waitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}`,
    },
    managementUrls: managementUrls(base, hub, ID),
    baseUrl: base,
    requiredQueryStringParameters: '',
    rpcBaseUrl: `${origin}${RPC_PREFIX}`,
  };
}

function managementUrls(base: string, hub: string, id: string): Record<string, string> {
  const instance = `${base}/instances/${id}`;
  return {
    id,
    statusQueryGetUri: `${instance}?${hub}`,
    sendEventPostUri: `${instance}/raiseEvent/{eventName}?${hub}`,
    terminatePostUri: `${instance}/terminate?reason={text}&${hub}`,
    rewindPostUri: `${instance}/rewind?reason={text}&${hub}`,
    purgeHistoryDeleteUri: `${instance}?${hub}`,
    restartPostUri: `${instance}/restart?${hub}`,
    suspendPostUri: `${instance}/suspend?reason={text}&${hub}`,
    resumePostUri: `${instance}/resume?reason={text}&${hub}`,
  };
}

/**
 * Answers the Durable extension's HTTP APIs: the webhook API behind the management URLs (202 while an instance
 * runs, 200 once completed, 400 once failed or terminated) and the RPC API the durable client calls (always 200
 * for status reads).
 */
export async function handleDurableApi(
  engine: DurableEngine,
  taskHubName: string,
  req: ApiRequest,
  mode: 'webhook' | 'rpc',
): Promise<ApiResponse> {
  const prefix = mode === 'webhook' ? WEBHOOK_PREFIX : RPC_PREFIX;
  const parts = req.url.pathname.slice(prefix.length).split('/').filter(Boolean).map(decodeURIComponent);
  const q = req.url.searchParams;
  const base = `${req.url.origin}${WEBHOOK_PREFIX.slice(0, -1)}`;
  const hub = `taskHub=${encodeURIComponent(taskHubName)}&connection=Storage`;
  try {
    const [resource, id, verb, arg] = parts;
    if (resource === 'orchestrators' && req.method === 'POST' && id) {
      const instanceId = engine.start(id, parseBody(req.body), verb);
      const payload = managementUrls(base, hub, instanceId);
      return {
        status: 202,
        headers: { Location: payload.statusQueryGetUri, 'Retry-After': '1' },
        body: payload,
      };
    }
    if (resource === 'instances' && !id) {
      if (req.method === 'GET')
        return {
          status: 200,
          body: engine.list(filterFrom(q), { showInput: q.get('showInput') === 'true' }),
        };
      if (req.method === 'DELETE')
        return { status: 200, body: { instancesDeleted: engine.purgeBy(filterFrom(q)) } };
    }
    if (resource === 'instances' && id) {
      if (req.method === 'GET' && !verb) return statusResponse(engine, id, q, mode, base, hub);
      if (req.method === 'DELETE' && !verb) {
        const deleted = engine.purge(id);
        return deleted ? { status: 200, body: { instancesDeleted: deleted } } : notFound(id);
      }
      if (req.method === 'POST' && verb === 'raiseEvent' && arg) {
        engine.raiseEvent(id, arg, parseBody(req.body));
        return { status: 202 };
      }
      if (req.method === 'POST' && verb === 'terminate') {
        engine.terminate(id, q.get('reason') ?? '');
        return { status: 202 };
      }
      if (req.method === 'POST' && verb === 'suspend') {
        engine.suspend(id, q.get('reason') ?? '');
        return { status: 202 };
      }
      if (req.method === 'POST' && verb === 'resume') {
        engine.resume(id, q.get('reason') ?? '');
        return { status: 202 };
      }
      if (req.method === 'POST' && (verb === 'rewind' || verb === 'restart')) {
        return {
          status: 501,
          body: `The local host does not support ${verb}: start a new instance instead.`,
        };
      }
    }
    if (resource === 'entities') {
      return {
        status: 501,
        body: 'The local host does not support durable entities: run the app with `func start`.',
      };
    }
    return { status: 404, body: { error: `No durable API route for ${req.method} ${req.url.pathname}.` } };
  } catch (err) {
    if (err instanceof InstanceNotFoundError) return { status: 404, body: { error: err.message } };
    if (err instanceof InstanceStateError) return { status: err.httpStatus, body: { error: err.message } };
    if (err instanceof SyntaxError)
      return { status: 400, body: { error: `The request body is not JSON: ${err.message}` } };
    throw err;
  }
}

function statusResponse(
  engine: DurableEngine,
  id: string,
  q: URLSearchParams,
  mode: 'webhook' | 'rpc',
  base: string,
  hub: string,
): ApiResponse {
  const status = engine.status(id, {
    showHistory: q.get('showHistory') === 'true',
    showInput: q.get('showInput') !== 'false',
  });
  if (!status) return notFound(id);
  if (mode === 'rpc') return { status: 200, body: status };
  if (
    status.runtimeStatus === 'Pending' ||
    status.runtimeStatus === 'Running' ||
    status.runtimeStatus === 'Suspended'
  ) {
    const location = managementUrls(base, hub, id).statusQueryGetUri;
    return { status: 202, headers: { Location: location, 'Retry-After': '1' }, body: status };
  }
  if (status.runtimeStatus === 'Failed' || status.runtimeStatus === 'Terminated')
    return { status: 400, body: status };
  return { status: 200, body: status };
}

function notFound(id: string): ApiResponse {
  return { status: 404, body: { error: `No orchestration instance '${id}'.` } };
}

function parseBody(body: Buffer): unknown {
  const text = body.toString('utf8').trim();
  return text === '' ? undefined : JSON.parse(text);
}

function filterFrom(q: URLSearchParams): InstanceFilter {
  const statuses = q.get('runtimeStatus');
  const from = q.get('createdTimeFrom');
  const to = q.get('createdTimeTo');
  return {
    runtimeStatus: statuses ? (statuses.split(',').filter(Boolean) as RuntimeStatus[]) : undefined,
    createdTimeFrom: from ? new Date(from) : undefined,
    createdTimeTo: to ? new Date(to) : undefined,
    instanceIdPrefix: q.get('instanceIdPrefix') ?? undefined,
  };
}

/** The `durableClient` input values a function needs (none when it declares no durable client binding). */
export function clientInputData(
  bindings: Record<string, { type?: string | null; direction?: string | null }>,
  client: DurableClientInput,
): { name: string; data: { string: string } }[] {
  return Object.entries(bindings)
    .filter(
      ([, b]) => b.direction === 'in' && (b.type === 'durableClient' || b.type === 'orchestrationClient'),
    )
    .map(([name]) => ({ name, data: { string: JSON.stringify(client) } }));
}
