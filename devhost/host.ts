import './register';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startAzurite, type AzuriteHandle } from './azurite';
import { realClock, virtualClock } from './durable/clock';
import { DurableEngine, type InstanceFilter, type OrchestrationStatus } from './durable/engine';
import type { Registration, RpcHttpData } from './functionsCore';
import { startHttpServer, type HttpServerHandle } from './http';
import { clientInputData, durableClientInput, handleDurableApi, type DurableClientInput } from './rpc';
import { parseSchedule } from './schedule';
import { loadLocalSettings, readHostJson } from './settings';
import { fromTypedData, triggerOf, Worker } from './worker';

/** Options for {@link startHost}. */
export interface HostOptions {
  /** Module to require for the app's registrations; default the app's functions/index. */
  appEntry?: string;
  /** Folder with host.json and local.settings.json; default the package root. */
  appRoot?: string;
  /** Loopback port; 7071 like `func`, 0 for a free one. */
  port?: number;
  /** Where embedded Azurite keeps its data (`<stateDir>/azurite`); default `<appRoot>/.teams-import/devhost`. */
  stateDir?: string;
  /** Use this storage instead of starting Azurite. */
  storageConnectionString?: string;
  /**
   * App settings for this host's life, as a Function App's settings or `local.settings.json` Values give
   * them (these win over both); the app reads them once when it starts. Restored when the host stops.
   */
  values?: Record<string, string | undefined>;
  /** Most activities running at once; default host.json maxConcurrentActivityFunctions. */
  activityConcurrency?: number;
  /** `real` timers (default) or a `virtual` clock that fires durable timers at once, in due order. */
  clock?: 'real' | 'virtual';
  /** Run timer triggers on their schedules; default true on the real clock. */
  timerTriggers?: boolean;
  /** Receives the host's and the app's log lines; default silent. */
  log?: (line: string) => void;
}

/** Direct access to the durable engine, the same operations the durable client API offers over HTTP. */
export interface HostClient {
  start(orchestrator: string, opts?: { input?: unknown; instanceId?: string }): Promise<string>;
  status(instanceId: string, opts?: { showHistory?: boolean }): Promise<OrchestrationStatus | undefined>;
  waitForCompletion(instanceId: string, timeoutMs?: number): Promise<OrchestrationStatus>;
  raiseEvent(instanceId: string, eventName: string, data?: unknown): Promise<void>;
  terminate(instanceId: string, reason?: string): Promise<void>;
  list(filter?: InstanceFilter): Promise<OrchestrationStatus[]>;
  purge(instanceId: string): Promise<number>;
}

/** A running local host. */
export interface LocalHost {
  /** Origin of the loopback server, e.g. `http://127.0.0.1:7071`. */
  url: string;
  storageConnectionString: string;
  client: HostClient;
  /** Invokes a non-HTTP function (e.g. a timer trigger) now, as `POST /admin/functions/{name}` does. */
  invoke(functionName: string): Promise<void>;
  /** Closes the server, stops timers and Azurite, restores the environment; leaves no child process. */
  stop(): Promise<void>;
}

function packageRoot(from: string): string {
  let dir = from;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return from;
    dir = parent;
  }
  return dir;
}

/**
 * Starts the local host: loads the app's registrations through the `@azure/functions-core` stand-in, starts
 * embedded Azurite (unless given storage), drives orchestrations with the real `durable-functions` SDK, and
 * serves HTTP triggers and the durable APIs on 127.0.0.1.
 */
export async function startHost(options: HostOptions = {}): Promise<LocalHost> {
  const log = options.log ?? (() => undefined);
  const appRoot = options.appRoot ?? packageRoot(__dirname);
  const settings = readHostJson(appRoot);
  const given = Object.entries(options.values ?? {}).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  const envBefore: Record<string, string | undefined> = {
    AzureWebJobsStorage: process.env.AzureWebJobsStorage,
    WEBSITE_HOSTNAME: process.env.WEBSITE_HOSTNAME,
    ...Object.fromEntries(given.map(([key]) => [key, process.env[key]])),
  };
  for (const [key, value] of given) process.env[key] = value;
  const envSet = loadLocalSettings(appRoot);
  let azurite: AzuriteHandle | undefined;
  let server: HttpServerHandle | undefined;
  let engine: DurableEngine | undefined;
  const timerHandles = new Set<NodeJS.Timeout>();
  const restoreEnv = (): void => {
    for (const key of envSet) delete process.env[key];
    for (const [key, value] of Object.entries(envBefore)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  try {
    const explicit = options.storageConnectionString;
    if (explicit) {
      process.env.AzureWebJobsStorage = explicit;
    } else {
      azurite = await startAzurite({
        location: path.join(options.stateDir ?? path.join(appRoot, '.teams-import', 'devhost'), 'azurite'),
      });
      process.env.AzureWebJobsStorage = azurite.connectionString;
      log(
        `[host] Azurite: blob ${azurite.blobEndpoint}, queue ${azurite.queueEndpoint}, table ${azurite.tableEndpoint}`,
      );
    }
    const storageConnectionString = process.env.AzureWebJobsStorage;

    const worker = new Worker(log);
    await import(options.appEntry ?? path.join(__dirname, '..', 'functions', 'index'));
    const clock = options.clock === 'virtual' ? virtualClock() : realClock();
    const durable = new DurableEngine({
      worker,
      clock,
      taskHubName: settings.taskHubName,
      activityConcurrency: options.activityConcurrency ?? settings.maxConcurrentActivityFunctions,
      log,
    });
    engine = durable;
    let clientInput: DurableClientInput | undefined = undefined;
    const client = (): DurableClientInput => clientInput!;

    const invokeTrigger = async (
      reg: Registration,
      triggerData: RpcHttpData | unknown,
      http: boolean,
    ): Promise<unknown> => {
      const data = http ? { http: triggerData as RpcHttpData } : { json: JSON.stringify(triggerData) };
      const outcome = await worker.invoke(reg.metadata.name, [
        { name: triggerOf(reg).name, data },
        ...clientInputData(reg.metadata.bindings, client()),
      ]);
      if (!http) return fromTypedData(outcome.response.returnValue);
      return (
        outcome.response.returnValue?.http ??
        outcome.response.outputData?.find((o) => o.data?.http)?.data?.http
      );
    };
    const timerPayload = (last?: Date): unknown => ({
      Schedule: { AdjustForDST: true },
      ScheduleStatus: last
        ? { Last: last.toISOString(), Next: new Date().toISOString(), LastUpdated: new Date().toISOString() }
        : null,
      IsPastDue: false,
    });
    const invokeAdmin = async (reg: Registration): Promise<void> => {
      await invokeTrigger(reg, timerPayload(), false);
    };

    server = await startHttpServer(options.port ?? 7071, {
      worker,
      routePrefix: settings.routePrefix,
      log,
      durableApi: (req, mode) => handleDurableApi(durable, settings.taskHubName, req, mode),
      invokeHttpFunction: async (reg, request) =>
        (await invokeTrigger(reg, request, true)) as RpcHttpData | undefined,
      invokeAdmin,
    });
    clientInput = durableClientInput(server.url, settings.taskHubName);
    process.env.WEBSITE_HOSTNAME ??= server.url.replace(/^http:\/\//, '');
    // Like the Functions host, the app starts once its settings (the host name included) are known.
    await worker.appStart(appRoot);

    if (options.timerTriggers ?? options.clock !== 'virtual') {
      for (const reg of worker.byTrigger('timerTrigger')) {
        const binding = triggerOf(reg).binding;
        const schedule = parseSchedule(String(binding.schedule));
        let last: Date | undefined;
        const arm = (): void => {
          const due = schedule.next(new Date());
          const handle = setTimeout(
            () => {
              timerHandles.delete(handle);
              const fired = new Date();
              invokeTrigger(reg, timerPayload(last), false).then(
                () => undefined,
                (err: unknown) => log(`[host] timer ${reg.metadata.name} failed: ${String(err)}`),
              );
              last = fired;
              arm();
            },
            Math.min(due.getTime() - Date.now(), 2 ** 31 - 1),
          );
          timerHandles.add(handle);
        };
        arm();
        if (binding.runOnStartup === true)
          void invokeAdmin(reg).catch((err: unknown) => log(`[host] ${String(err)}`));
      }
    }

    const hostClient: HostClient = {
      start: async (name, opts = {}) => durable.start(name, opts.input, opts.instanceId),
      status: async (id, opts = {}) => durable.status(id, opts),
      waitForCompletion: (id, timeoutMs) => durable.waitForCompletion(id, timeoutMs),
      raiseEvent: async (id, name, data) => durable.raiseEvent(id, name, data),
      terminate: async (id, reason) => durable.terminate(id, reason),
      list: async (filter) => durable.list(filter),
      purge: async (id) => durable.purge(id),
    };
    const httpServer = server;
    const storage = azurite;
    let stopped: Promise<void> | undefined;
    log(`[host] ${worker.functions().length} functions loaded; task hub ${settings.taskHubName}`);
    return {
      url: server.url,
      storageConnectionString: storageConnectionString!,
      client: hostClient,
      invoke: async (name) => invokeAdmin(worker.get(name)),
      stop: () =>
        (stopped ??= (async () => {
          timerHandles.forEach((h) => clearTimeout(h));
          durable.dispose();
          await httpServer.close();
          await worker.appTerminate();
          await storage?.stop();
          restoreEnv();
        })()),
    };
  } catch (err) {
    timerHandles.forEach((h) => clearTimeout(h));
    engine?.dispose();
    await server?.close();
    await azurite?.stop();
    restoreEnv();
    throw err;
  }
}
