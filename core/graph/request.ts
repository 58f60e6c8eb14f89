import { ResponseType } from '@microsoft/microsoft-graph-client';
import type { GraphClientHandle } from './client';
import { GraphError, graphErrorFromResponse } from './errors';
import { RequestTraits } from './middleware/context';

/** HTTP methods the import client uses. */
export type GraphMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Per-call options of GraphCaller. */
export interface GraphCallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Marks a POST whose repeat is harmless, so the HTTP layer may resend it after a lost answer. */
  idempotent?: boolean;
}

/** A successful answer: status, headers and the parsed body (JSON, text, or undefined when empty). */
export interface GraphAnswer<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** Sends requests through the Graph client and turns every error status into a GraphError naming the call. */
export class GraphCaller {
  private readonly origin: string;

  constructor(readonly handle: GraphClientHandle) {
    this.origin = new URL(handle.baseUrl).origin;
  }

  /** Sends one request; resolves on 2xx, throws GraphError (or a network error type) otherwise. */
  async call<T>(
    call: string,
    method: GraphMethod,
    pathOrUrl: string,
    options: GraphCallOptions = {},
  ): Promise<GraphAnswer<T>> {
    const response = await this.raw(call, method, pathOrUrl, options);
    if (!response.ok) throw await graphErrorFromResponse(response, call);
    return { status: response.status, headers: response.headers, body: (await parseBody(response)) as T };
  }

  /** Sends one request and returns the raw response, whatever its status (throttling retries still apply). */
  async raw(
    call: string,
    method: GraphMethod,
    pathOrUrl: string,
    options: GraphCallOptions = {},
  ): Promise<Response> {
    const request = this.handle.client
      .api(this.apiPath(pathOrUrl))
      .responseType(ResponseType.RAW)
      .middlewareOptions(options.idempotent === undefined ? [] : [new RequestTraits(options.idempotent)]);
    if (options.headers) request.headers(options.headers);
    try {
      switch (method) {
        case 'GET':
          return (await request.get()) as Response;
        case 'POST':
          return (await request.post(options.body)) as Response;
        case 'PUT':
          return (await request.put(options.body)) as Response;
        case 'PATCH':
          return (await request.patch(options.body)) as Response;
        case 'DELETE':
          return (await request.delete()) as Response;
      }
    } catch (err) {
      throw err instanceof GraphError ? err.withCall(call) : err;
    }
  }

  /** A path relative to the service root and version, from a relative path or an absolute URL of the same origin. */
  apiPath(pathOrUrl: string): string {
    if (!/^https?:\/\//i.test(pathOrUrl)) return pathOrUrl;
    const url = new URL(pathOrUrl);
    if (url.origin !== this.origin)
      throw new Error(
        `Refusing to send a Graph request to ${url.origin}: the client is bound to ${this.origin}.`,
      );
    const versionPrefix = `/${this.handle.version}/`;
    const path = url.pathname.startsWith(versionPrefix)
      ? url.pathname.slice(versionPrefix.length - 1)
      : url.pathname;
    return path + url.search;
  }
}

async function parseBody(response: Response): Promise<unknown> {
  if (response.status === 204) return undefined;
  const text = await response.text();
  if (!text) return undefined;
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('json') || /^[[{]/.test(text.trimStart())) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** Encodes one path segment (ids such as `19:abc@thread.tacv2`, file names). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

/** An OData string literal with its single quotes doubled; URL-encode the whole expression separately. */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

const ALREADY_MIGRATING = /already (in|under) migration/i;

/**
 * `POST <path>/startMigration` of a channel or a chat, with the conversation's creation moved back to
 * `conversationCreationDateTime` when given; one already in migration answers 400, reported as
 * `alreadyInMigration`.
 */
export async function startMigration(
  caller: GraphCaller,
  operation: string,
  path: string,
  conversationCreationDateTime?: string,
): Promise<{ alreadyInMigration: boolean }> {
  try {
    await caller.call(operation, 'POST', `${path}/startMigration`, {
      body: conversationCreationDateTime ? { conversationCreationDateTime } : {},
      idempotent: true,
    });
    return { alreadyInMigration: false };
  } catch (err) {
    if (err instanceof GraphError && err.status === 400 && ALREADY_MIGRATING.test(err.serviceMessage))
      return { alreadyInMigration: true };
    throw err;
  }
}
