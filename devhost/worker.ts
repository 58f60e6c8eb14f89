import { randomUUID } from 'node:crypto';
import {
  getHooks,
  getProgrammingModel,
  getRegistrations,
  setSystemLog,
  type CoreInvocationContext,
  type FunctionCallback,
  type Registration,
  type RpcBindingInfo,
  type RpcInvocationResponse,
  type RpcLogLevel,
  type RpcParameterBinding,
  type RpcTypedData,
} from './functionsCore';

/** A log line from the app or the host. */
export type LogSink = (line: string) => void;

/** The result of one invocation: the RPC response for the host and the handler's raw return value. */
export interface InvocationOutcome {
  response: RpcInvocationResponse;
  result: unknown;
}

/** Trigger types the Durable extension owns. */
export const DURABLE_TRIGGERS = {
  orchestration: 'orchestrationTrigger',
  activity: 'activityTrigger',
  entity: 'entityTrigger',
} as const;

/** Reads RPC typed data back into a JS value (the inverse of what `@azure/functions` returns). */
export function fromTypedData(data: RpcTypedData | null | undefined): unknown {
  if (!data) return undefined;
  if (data.json !== undefined && data.json !== null) return JSON.parse(data.json);
  if (data.string !== undefined && data.string !== null) return data.string;
  if (data.bytes) return Buffer.from(data.bytes);
  if (data.stream) return Buffer.from(data.stream);
  if (data.int !== undefined && data.int !== null) return Number(data.int);
  if (data.double !== undefined && data.double !== null) return data.double;
  return undefined;
}

/** The trigger binding of a registration (every function has exactly one). */
export function triggerOf(reg: Registration): { name: string; binding: RpcBindingInfo } {
  const entry = Object.entries(reg.metadata.bindings).find(([, b]) => /trigger$/i.test(b.type ?? ''));
  if (!entry) throw new Error(`Function "${reg.metadata.name}" has no trigger binding.`);
  return { name: entry[0], binding: entry[1] };
}

/**
 * Invokes registered functions the way the Node worker does: `getInvocationModel(coreCtx)` ->
 * `getArguments` -> preInvocation hooks -> `invokeFunction` -> postInvocation hooks -> `getResponse`.
 */
export class Worker {
  readonly #log: LogSink;
  readonly #appHookData: Record<string, unknown> = {};

  constructor(log: LogSink) {
    this.#log = log;
    setSystemLog((level, category, message) => {
      if (level !== 'debug' && level !== 'trace') this.#log(`[${level}] ${category}: ${message}`);
    });
  }

  /** Every registered function. */
  functions(): Registration[] {
    return getRegistrations();
  }

  /** The registered function with that name, or an error naming the ones that exist. */
  get(name: string): Registration {
    const reg = getRegistrations().find((r) => r.metadata.name.toLowerCase() === name.toLowerCase());
    if (!reg) {
      const known = getRegistrations()
        .map((r) => r.metadata.name)
        .join(', ');
      throw new Error(`No function named "${name}" is registered (registered: ${known || 'none'}).`);
    }
    return reg;
  }

  /** The registered functions whose trigger has this type. */
  byTrigger(type: string): Registration[] {
    return getRegistrations().filter((r) => triggerOf(r).binding.type?.toLowerCase() === type.toLowerCase());
  }

  /** Runs the app's appStart hooks. */
  async appStart(functionAppDirectory: string): Promise<void> {
    for (const hook of getHooks('appStart')) {
      await hook({ hookData: {}, appHookData: this.#appHookData, functionAppDirectory });
    }
  }

  /** Runs the app's appTerminate hooks. */
  async appTerminate(): Promise<void> {
    for (const hook of getHooks('appTerminate')) {
      await hook({ hookData: {}, appHookData: this.#appHookData });
    }
  }

  /** Invokes one function with RPC-shaped input data; rejects with the handler's error. */
  async invoke(
    name: string,
    inputData: RpcParameterBinding[],
    triggerMetadata?: Record<string, RpcTypedData>,
  ): Promise<InvocationOutcome> {
    const reg = this.get(name);
    const invocationId = randomUUID();
    const coreCtx: CoreInvocationContext = {
      invocationId,
      request: { invocationId, functionId: reg.metadata.functionId ?? name, inputData, triggerMetadata },
      metadata: reg.metadata,
      log: (level: RpcLogLevel, category, message) => {
        if (level !== 'debug' && level !== 'trace') this.#log(`[${reg.metadata.name}] ${message}`);
      },
    };
    const model = getProgrammingModel().getInvocationModel(coreCtx);
    const { context, inputs } = await model.getArguments();
    const hookData: Record<string, unknown> = {};
    const pre = {
      invocationContext: context,
      inputs,
      functionCallback: reg.callback,
      hookData,
      appHookData: this.#appHookData,
    };
    coreCtx.state = 'preInvocationHooks';
    for (const hook of getHooks('preInvocation')) await hook(pre);
    coreCtx.state = 'invocation';
    let result: unknown;
    let error: unknown;
    try {
      result = await model.invokeFunction(context, pre.inputs, pre.functionCallback as FunctionCallback);
    } catch (err) {
      error = err;
    }
    const post = {
      invocationContext: context,
      inputs: pre.inputs,
      result,
      error,
      hookData,
      appHookData: this.#appHookData,
    };
    coreCtx.state = 'postInvocationHooks';
    for (const hook of getHooks('postInvocation')) await hook(post);
    coreCtx.state = undefined;
    if (post.error !== undefined && post.error !== null) throw post.error;
    const response = await model.getResponse(context, post.result);
    return { response, result: post.result };
  }
}
