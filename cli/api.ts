import { InvalidArgumentError, type Command } from 'commander';

/** Where the commands that talk to a running app find it, and how they print. */
export interface ApiOptions {
  api: string;
  key?: string;
  json: boolean;
}

/** Where those commands write; `fetch` is a test seam. */
export interface ApiIo {
  out(line: string): void;
  err(line: string): void;
  fetch?: typeof fetch;
}

/** A call the app refused or could not answer: the message says what to do. */
export class ApiError extends Error {}

/** The default app: the local host of `teams-import serve` (port 7071, like `func start`). */
export const DEFAULT_API = 'http://127.0.0.1:7071';

/**
 * Calls `<api>/api/<route>` with the function key (`x-functions-key`) when given; answers the body (parsed
 * JSON, or `{ text }` for any other content), or throws an ApiError naming the route, the status and the
 * app's own reason.
 */
export async function callApi(
  opts: Pick<ApiOptions, 'api' | 'key'>,
  io: Pick<ApiIo, 'fetch'>,
  method: string,
  route: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const url = `${opts.api.replace(/\/+$/, '')}/api/${route}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (opts.key) headers['x-functions-key'] = opts.key;
  let res: Response;
  try {
    res = await (io.fetch ?? fetch)(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new ApiError(
      `The app at ${opts.api} cannot be reached (${cause}): start it with 'teams-import serve' or pass --api URL`,
    );
  }
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  if (res.status === 401 || res.status === 403)
    throw new ApiError(`The app refused the call (${res.status}): pass the function key with --key`);
  if (res.status >= 400) {
    const detail = Array.isArray(json?.errors)
      ? json.errors.join('; ')
      : String(json?.error ?? text.slice(0, 300));
    throw new ApiError(`${method} ${route.split('?')[0]} failed with ${res.status}: ${detail}`);
  }
  return json ?? { text };
}

/** Runs a command's work; an ApiError is printed and exits 1, anything else is a bug and propagates. */
export async function guarded(io: Pick<ApiIo, 'err'>, work: () => Promise<void>): Promise<number> {
  try {
    await work();
    return 0;
  } catch (error) {
    if (error instanceof ApiError) {
      io.err(error.message);
      return 1;
    }
    throw error;
  }
}

/** Parses `--api`: the app's origin. */
export function apiUrl(value: string): string {
  try {
    return new URL(value).origin;
  } catch {
    throw new InvalidArgumentError('--api must be the app URL, e.g. http://127.0.0.1:7071');
  }
}

/** Adds `--api`, `--key` (default TEAMS_IMPORT_FUNCTION_KEY) and `--json` to a command. */
export function withApiOptions(command: Command): Command {
  return command
    .option('--api <url>', 'the running app', apiUrl, DEFAULT_API)
    .option('--key <key>', 'function key of the app (x-functions-key)', process.env.TEAMS_IMPORT_FUNCTION_KEY)
    .option('--json', 'print JSON', false);
}
