/**
 * A stand-in for `@azure/functions-core`, the module the Azure Functions Node worker injects: it captures the
 * programming model, the function registrations and the hooks that `@azure/functions` hands to the worker,
 * so the local host can invoke them exactly as the worker does.
 */

/** Worker version this stand-in reports (the v4 worker line the library expects). */
export const version = '3.10.1';
/** Functions host version this stand-in reports. */
export const hostVersion = '4.1037.0';

/** RPC typed data, as the worker passes binding values to the programming model. */
export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  stream?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
}

/** RPC HTTP data: the request the host hands an HTTP trigger, or the response the function returns. */
export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: RpcTypedData | null;
  params?: Record<string, string> | null;
  statusCode?: string | null;
  query?: Record<string, string> | null;
  cookies?: RpcHttpCookie[] | null;
}

/** A cookie in an RPC HTTP response. */
export interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: { value?: string | null } | null;
  path?: { value?: string | null } | null;
  expires?: { value?: { seconds?: number | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: string | null;
  maxAge?: { value?: number | null } | null;
}

/** One binding as registered: its type, direction and the options the app gave it. */
export interface RpcBindingInfo {
  type?: string | null;
  direction?: 'in' | 'out' | 'inout' | null;
  [option: string]: unknown;
}

/** What `@azure/functions` registers for one function. */
export interface FunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: unknown;
}

/** One input value of an invocation request. */
export interface RpcParameterBinding {
  name: string;
  data?: RpcTypedData;
}

/** The invocation request the worker receives from the host. */
export interface RpcInvocationRequest {
  invocationId: string;
  functionId: string;
  inputData: RpcParameterBinding[];
  triggerMetadata?: Record<string, RpcTypedData>;
}

/** The invocation response the programming model builds for the host. */
export interface RpcInvocationResponse {
  invocationId?: string;
  outputData?: { name: string; data?: RpcTypedData }[];
  returnValue?: RpcTypedData | null;
}

/** Log levels the worker accepts. */
export type RpcLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';

/** The per-invocation context the worker hands the programming model. */
export interface CoreInvocationContext {
  invocationId: string;
  request: RpcInvocationRequest;
  metadata: FunctionMetadata;
  state?: 'preInvocationHooks' | 'postInvocationHooks' | 'invocation';
  log(level: RpcLogLevel, category: 'user' | 'system' | 'customMetric', message: string): void;
}

/** The invocation model `@azure/functions` returns for one invocation. */
export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

/** The programming model `@azure/functions` installs. */
export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreContext: CoreInvocationContext): InvocationModel;
}

/** A registered function's handler, as the library wraps it. */
export type FunctionCallback = (...args: unknown[]) => unknown;

/** A hook callback; its context object is shaped by the hook name. */
export type HookCallback = (context: Record<string, unknown>) => void | Promise<void>;

/** Releases a registration when disposed (same contract as the worker's Disposable). */
export class Disposable {
  #callOnDispose: (() => unknown) | undefined;
  /** Combines several disposables into one. */
  static from(...likes: { dispose: () => unknown }[]): Disposable {
    return new Disposable(() => likes.forEach((l) => l.dispose()));
  }
  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }
  /** Runs the release callback once. */
  dispose(): unknown {
    const call = this.#callOnDispose;
    this.#callOnDispose = undefined;
    return call?.();
  }
}

/** A captured function registration. */
export interface Registration {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

const registrations = new Map<string, Registration>();
const hooks = new Map<string, HookCallback[]>();
let programmingModel: ProgrammingModel | undefined;

/** Records the programming model (`@azure/functions` calls this once on its first registration). */
export function setProgrammingModel(model: ProgrammingModel): void {
  programmingModel = model;
}

/** Returns the programming model the app installed; throws if no function was ever registered. */
export function getProgrammingModel(): ProgrammingModel {
  if (!programmingModel) {
    throw new Error(
      'No programming model registered: the app never loaded "@azure/functions" through the local host. ' +
        'Load the app after devhost/register (or under jest with the moduleNameMapper for @azure/functions-core).',
    );
  }
  return programmingModel;
}

/** Records one function registration; a second registration with the same name is refused as the worker does. */
export function registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
  if (registrations.has(metadata.name)) {
    throw new Error(
      `A function named "${metadata.name}" is already registered: function names must be unique.`,
    );
  }
  registrations.set(metadata.name, { metadata, callback });
  return new Disposable(() => registrations.delete(metadata.name));
}

/** Records a lifecycle hook (appStart, appTerminate, preInvocation, postInvocation, log). */
export function registerHook(hookName: string, callback: HookCallback): Disposable {
  const list = hooks.get(hookName) ?? [];
  list.push(callback);
  hooks.set(hookName, list);
  return new Disposable(() => {
    const current = hooks.get(hookName) ?? [];
    hooks.set(
      hookName,
      current.filter((c) => c !== callback),
    );
  });
}

/** Worker log sink used by `@azure/functions` for system messages; the host replaces it through `setSystemLog`. */
export function log(level: RpcLogLevel, category: string, message: string): void {
  systemLog(level, category, message);
}

let systemLog: (level: RpcLogLevel, category: string, message: string) => void = () => undefined;

/** Routes the library's system log lines to the host's logger. */
export function setSystemLog(sink: (level: RpcLogLevel, category: string, message: string) => void): void {
  systemLog = sink;
}

/** Every function registered so far in this process. */
export function getRegistrations(): Registration[] {
  return [...registrations.values()];
}

/** The hooks registered under one name, in registration order. */
export function getHooks(hookName: string): HookCallback[] {
  return [...(hooks.get(hookName) ?? [])];
}
