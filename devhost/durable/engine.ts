import { randomUUID } from 'node:crypto';
import { DURABLE_TRIGGERS, fromTypedData, triggerOf, type Worker } from '../worker';
import type { DurableClock } from './clock';
import {
  ActionType,
  EventType,
  LONG_TIMER_INTERVAL_MS,
  MAXIMUM_SHORT_TIMER_MS,
  actionInput,
  describeAction,
  event,
  flattenActions,
  presentEvent,
  retryDelayMs,
  sameDecision,
  type HistoryEvent,
  type OrchestrationTriggerPayload,
  type OrchestratorReply,
  type WireAction,
  type WireRetryOptions,
} from './history';

/** Orchestration runtime statuses, as the Durable extension reports them. */
export type RuntimeStatus =
  'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated' | 'ContinuedAsNew' | 'Suspended';

/** The status of one instance, in the JSON shape of the Durable HTTP API. */
export interface OrchestrationStatus {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  history?: Record<string, unknown>[];
}

/** Filter for {@link DurableEngine.list} and {@link DurableEngine.purgeBy}. */
export interface InstanceFilter {
  runtimeStatus?: RuntimeStatus[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  instanceIdPrefix?: string;
}

/** Raised when an operation names an instance that does not exist (HTTP 404). */
export class InstanceNotFoundError extends Error {}
/** Raised when an operation conflicts with the instance's state (HTTP 409, or 410 for finished instances). */
export class InstanceStateError extends Error {
  constructor(
    message: string,
    readonly httpStatus: 409 | 410,
  ) {
    super(message);
  }
}

/** Options for {@link DurableEngine}. */
export interface EngineOptions {
  worker: Worker;
  clock: DurableClock;
  taskHubName: string;
  /** Most activity invocations running at once (the real host's maxConcurrentActivityFunctions). */
  activityConcurrency: number;
  log: (line: string) => void;
}

const ACTIVE: RuntimeStatus[] = ['Pending', 'Running', 'Suspended'];
const OUT_OF_PROC_DATA = '\n\n$OutOfProcData$:';

interface RetryState {
  action: WireAction;
  options: WireRetryOptions;
  attempt: number;
  firstAttemptAt: number;
  expired: boolean;
  lastReason: string;
  lastDetails: string;
}

interface Execution {
  id: string;
  input: string | undefined;
  history: HistoryEvent[];
  inbox: HistoryEvent[];
  decisions: WireAction[];
  nextId: number;
  retries: Map<number, RetryState>;
  retryTimers: Map<number, RetryState>;
  longTimers: Map<number, { finalAt: Date; position: number }>;
  timers: Map<number, () => void>;
  positionTimer: Map<number, number>;
}

interface Instance {
  instanceId: string;
  name: string;
  status: RuntimeStatus;
  createdTime: Date;
  lastUpdatedTime: Date;
  input: string | undefined;
  output: unknown;
  customStatus: unknown;
  parent?: { instanceId: string; executionId: string; taskId: number };
  exec: Execution;
  busy: boolean;
  waiters: ((status: OrchestrationStatus) => void)[];
}

type EpisodeResult =
  | { ok: true; reply: OrchestratorReply; live: unknown[] | undefined }
  | { ok: false; message: string; details: string; reply?: OrchestratorReply };

/**
 * An in-memory Durable Task engine driving the app's orchestrators through the real `durable-functions` replay
 * protocol. Invariant: each episode delivers exactly one new history event, so the host assigns task ids in the
 * same order as the SDK (retry timers and long-timer legs included) and can check every replay against the
 * decisions recorded before it.
 */
export class DurableEngine {
  readonly #opts: EngineOptions;
  readonly #instances = new Map<string, Instance>();
  readonly #activityQueue: (() => void)[] = [];
  #activitiesRunning = 0;
  #work = 0;
  #disposed = false;

  constructor(opts: EngineOptions) {
    this.#opts = opts;
  }

  /** Starts an orchestration; refuses an id whose instance is Pending/Running/Suspended (NonRunningStates). */
  start(name: string, input?: unknown, instanceId: string = randomUUID().replace(/-/g, '')): string {
    this.#create(name, instanceId, input === undefined ? undefined : JSON.stringify(input));
    return instanceId;
  }

  /** The status of an instance, or undefined when there is none. */
  status(
    instanceId: string,
    opts: { showHistory?: boolean; showInput?: boolean } = {},
  ): OrchestrationStatus | undefined {
    const inst = this.#instances.get(instanceId);
    return inst ? this.#present(inst, opts) : undefined;
  }

  /** Statuses of every instance matching the filter, oldest first. */
  list(filter: InstanceFilter = {}, opts: { showInput?: boolean } = {}): OrchestrationStatus[] {
    return [...this.#instances.values()]
      .filter((i) => matches(i, filter))
      .sort((a, b) => a.createdTime.getTime() - b.createdTime.getTime())
      .map((i) => this.#present(i, opts));
  }

  /** Resolves with the status once the instance is Completed, Failed or Terminated. */
  waitForCompletion(instanceId: string, timeoutMs = 30000): Promise<OrchestrationStatus> {
    const inst = this.#instances.get(instanceId);
    if (!inst) return Promise.reject(new InstanceNotFoundError(`No orchestration instance '${instanceId}'.`));
    if (!ACTIVE.includes(inst.status)) return Promise.resolve(this.#present(inst));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        inst.waiters = inst.waiters.filter((w) => w !== done);
        reject(
          new Error(
            `Orchestration '${instanceId}' (${inst.name}) is still ${inst.status} after ${timeoutMs} ms; ` +
              'check its custom status and history (status with showHistory) for what it waits on.',
          ),
        );
      }, timeoutMs);
      const done = (status: OrchestrationStatus): void => {
        clearTimeout(timer);
        resolve(status);
      };
      inst.waiters.push(done);
    });
  }

  /** Delivers an external event; 404 when the instance is unknown, 410 when it has finished. */
  raiseEvent(instanceId: string, eventName: string, data: unknown): void {
    const inst = this.#active(instanceId, 'raise an event on');
    this.#deliver(
      inst,
      inst.exec.id,
      event(EventType.EventRaised, this.#opts.clock.now(), {
        Name: eventName,
        Input: data === undefined ? undefined : JSON.stringify(data),
      }),
    );
  }

  /** Terminates a running instance with a reason (its output). */
  terminate(instanceId: string, reason = ''): void {
    const inst = this.#active(instanceId, 'terminate');
    inst.exec.history.push(
      event(EventType.ExecutionTerminated, this.#opts.clock.now(), { Input: JSON.stringify(reason) }),
    );
    this.#finish(inst, 'Terminated', reason, { reason: `Orchestration terminated: ${reason}`, details: '' });
  }

  /** Pauses event processing for an instance until {@link resume}. */
  suspend(instanceId: string, reason = ''): void {
    const inst = this.#active(instanceId, 'suspend');
    inst.exec.history.push(event(EventType.ExecutionSuspended, this.#opts.clock.now(), { Reason: reason }));
    inst.status = 'Suspended';
    inst.lastUpdatedTime = new Date();
  }

  /** Resumes a suspended instance. */
  resume(instanceId: string, reason = ''): void {
    const inst = this.#active(instanceId, 'resume');
    if (inst.status !== 'Suspended') return;
    inst.exec.history.push(event(EventType.ExecutionResumed, this.#opts.clock.now(), { Reason: reason }));
    inst.status = 'Running';
    inst.lastUpdatedTime = new Date();
    this.#pump(inst);
  }

  /** Deletes a finished instance's history and status; returns how many instances were deleted. */
  purge(instanceId: string): number {
    const inst = this.#instances.get(instanceId);
    if (!inst) return 0;
    if (ACTIVE.includes(inst.status)) {
      throw new InstanceStateError(
        `Orchestration '${instanceId}' is ${inst.status}: terminate it or wait for it to finish before purging.`,
        409,
      );
    }
    this.#instances.delete(instanceId);
    return 1;
  }

  /** Deletes every finished instance matching the filter; returns how many were deleted. */
  purgeBy(filter: InstanceFilter): number {
    let deleted = 0;
    for (const inst of [...this.#instances.values()]) {
      if (!ACTIVE.includes(inst.status) && matches(inst, filter)) {
        this.#instances.delete(inst.instanceId);
        deleted++;
      }
    }
    return deleted;
  }

  /** Stops all timers and ignores any result still to come. */
  dispose(): void {
    this.#disposed = true;
    for (const inst of this.#instances.values()) this.#cancelTimers(inst.exec);
    this.#activityQueue.length = 0;
    this.#opts.clock.dispose();
  }

  #create(
    name: string,
    instanceId: string,
    input: string | undefined,
    parent?: Instance['parent'],
  ): Instance {
    if (this.#disposed) throw new Error('The local host has stopped: start it again to run orchestrations.');
    const reg = this.#opts.worker
      .functions()
      .find((r) => r.metadata.name.toLowerCase() === name.toLowerCase());
    if (!reg || triggerOf(reg).binding.type !== DURABLE_TRIGGERS.orchestration) {
      throw new InstanceNotFoundError(
        `No orchestrator function named '${name}' is registered (register it with df.app.orchestration).`,
      );
    }
    const existing = this.#instances.get(instanceId);
    if (existing && ACTIVE.includes(existing.status)) {
      throw new InstanceStateError(
        `An orchestration with instance ID '${instanceId}' is already ${existing.status}; ` +
          'only Completed, Failed or Terminated instances can be restarted (overridableExistingInstanceStates: NonRunningStates).',
        409,
      );
    }
    const now = new Date();
    const inst: Instance = {
      instanceId,
      name: reg.metadata.name,
      status: 'Pending',
      createdTime: now,
      lastUpdatedTime: now,
      input,
      output: undefined,
      customStatus: undefined,
      parent,
      exec: this.#newExecution(reg.metadata.name, input),
      busy: false,
      waiters: existing?.waiters ?? [],
    };
    this.#instances.set(instanceId, inst);
    this.#pump(inst);
    return inst;
  }

  #newExecution(name: string, input: string | undefined): Execution {
    return {
      id: randomUUID(),
      input,
      history: [],
      inbox: [event(EventType.ExecutionStarted, this.#opts.clock.now(), { Name: name, Input: input })],
      decisions: [],
      nextId: 0,
      retries: new Map(),
      retryTimers: new Map(),
      longTimers: new Map(),
      timers: new Map(),
      positionTimer: new Map(),
    };
  }

  #active(instanceId: string, verb: string): Instance {
    const inst = this.#instances.get(instanceId);
    if (!inst) throw new InstanceNotFoundError(`No orchestration instance '${instanceId}' to ${verb}.`);
    if (!ACTIVE.includes(inst.status)) {
      throw new InstanceStateError(
        `Cannot ${verb} orchestration '${instanceId}': it is already ${inst.status}.`,
        410,
      );
    }
    return inst;
  }

  #deliver(inst: Instance, executionId: string, ev: HistoryEvent): void {
    if (this.#disposed || inst.exec.id !== executionId || !ACTIVE.includes(inst.status)) return;
    if (this.#instances.get(inst.instanceId) !== inst) return;
    inst.exec.inbox.push(ev);
    this.#pump(inst);
  }

  #pump(inst: Instance): void {
    if (inst.busy || inst.status === 'Suspended' || this.#disposed) return;
    inst.busy = true;
    this.#begin();
    void (async () => {
      try {
        while (!this.#disposed && ACTIVE.includes(inst.status) && inst.status !== 'Suspended') {
          const next = inst.exec.inbox.shift();
          if (!next) break;
          await this.#episode(inst, inst.exec, next);
        }
      } catch (err) {
        this.#fail(
          inst,
          `The local host failed while running '${inst.name}': ${errorMessage(err)}`,
          errorDetails(err),
        );
      } finally {
        inst.busy = false;
        this.#end();
      }
    })();
  }

  #begin(): void {
    this.#work++;
  }

  #end(): void {
    this.#work--;
    if (this.#work === 0 && this.#opts.clock.kind === 'virtual') {
      setImmediate(() => {
        if (this.#work === 0 && !this.#disposed) this.#opts.clock.onIdle();
      });
    }
  }

  async #episode(inst: Instance, exec: Execution, ev: HistoryEvent): Promise<void> {
    const now = this.#opts.clock.now();
    const fresh = [event(EventType.OrchestratorStarted, now), ev];
    const result = await this.#invokeOrchestrator(inst, exec, fresh);
    if (inst.exec !== exec || !ACTIVE.includes(inst.status) || this.#instances.get(inst.instanceId) !== inst)
      return;
    exec.history.push(...fresh.map((e) => ({ ...e, IsPlayed: true })));
    if (inst.status === 'Pending') inst.status = 'Running';
    inst.lastUpdatedTime = new Date();
    if (result.reply && 'customStatus' in result.reply) inst.customStatus = result.reply.customStatus;
    if (!result.ok) {
      this.#fail(inst, `Orchestrator function '${inst.name}' failed: ${result.message}`, result.details);
      return;
    }
    inst.customStatus = result.reply.customStatus;
    this.#afterEvent(inst, exec, ev, now);
    const actions = flattenActions(result.reply.actions[0] ?? [], result.live);
    const divergence = findDivergence(exec.decisions, actions);
    if (divergence) {
      this.#fail(
        inst,
        `Non-deterministic orchestrator '${inst.name}' (instance '${inst.instanceId}'): ${divergence}. ` +
          'Orchestrator code must make the same decisions on every replay: take time from ' +
          'context.df.currentUtcDateTime, data from the input or activities, never from module state, clocks or random numbers.',
        '',
      );
      return;
    }
    actions.forEach((action, position) => {
      if (action.actionType === ActionType.CreateTimer && action.isCanceled) {
        const timerId = exec.positionTimer.get(position);
        if (timerId !== undefined) exec.timers.get(timerId)?.();
      }
    });
    for (let position = exec.decisions.length; position < actions.length; position++) {
      const action = actions[position];
      exec.decisions.push(action);
      const unsupported = this.#schedule(inst, exec, action, position, now);
      if (unsupported) {
        this.#fail(inst, unsupported, '');
        return;
      }
    }
    exec.history.push(event(EventType.OrchestratorCompleted, now));
    if (!result.reply.isDone) return;
    const continueAs = actions.find((a) => a.actionType === ActionType.ContinueAsNew);
    if (continueAs) this.#continueAsNew(inst, actionInput(continueAs));
    else this.#finish(inst, 'Completed', result.reply.output);
  }

  async #invokeOrchestrator(inst: Instance, exec: Execution, fresh: HistoryEvent[]): Promise<EpisodeResult> {
    const reg = this.#opts.worker.get(inst.name);
    const payload: OrchestrationTriggerPayload = {
      history: [...exec.history, ...fresh],
      input: exec.input === undefined ? undefined : JSON.parse(exec.input),
      instanceId: inst.instanceId,
      isReplaying: exec.history.length > 0,
      parentInstanceId: inst.parent?.instanceId,
      upperSchemaVersion: 1,
      upperSchemaVersionNew: 2,
      longRunningTimerIntervalDuration: '3.00:00:00',
      maximumShortTimerDuration: '6.00:00:00',
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };
    try {
      const outcome = await this.#opts.worker.invoke(reg.metadata.name, [
        { name: triggerOf(reg).name, data: { string: JSON.stringify(payload) } },
      ]);
      const reply = fromTypedData(outcome.response.returnValue) as OrchestratorReply;
      const live = (outcome.result as { actions?: unknown[][] } | undefined)?.actions?.[0];
      return { ok: true, reply, live };
    } catch (err) {
      const text = errorMessage(err);
      const at = text.indexOf(OUT_OF_PROC_DATA);
      if (at < 0) return { ok: false, message: text, details: errorDetails(err) };
      const reply = JSON.parse(text.slice(at + OUT_OF_PROC_DATA.length)) as OrchestratorReply;
      return { ok: false, message: reply.error ?? text.slice(0, at), details: errorDetails(err), reply };
    }
  }

  #afterEvent(inst: Instance, exec: Execution, ev: HistoryEvent, now: Date): void {
    const failed =
      ev.EventType === EventType.TaskFailed || ev.EventType === EventType.SubOrchestrationInstanceFailed;
    if (failed && exec.retries.has(ev.TaskScheduledId ?? -1)) {
      const retry = exec.retries.get(ev.TaskScheduledId!)!;
      exec.retries.delete(ev.TaskScheduledId!);
      retry.lastReason = ev.Reason ?? '';
      retry.lastDetails = ev.Details ?? '';
      const timeout = retry.options.retryTimeoutInMilliseconds;
      retry.expired = !!timeout && timeout > 0 && now.getTime() >= retry.firstAttemptAt + timeout;
      const delay = retry.expired ? 0 : retryDelayMs(retry.options, retry.attempt);
      const timerId = exec.nextId++;
      exec.retryTimers.set(timerId, retry);
      this.#startTimer(inst, exec, timerId, new Date(now.getTime() + delay), now);
      return;
    }
    if (ev.EventType !== EventType.TimerFired) return;
    const timerId = ev.TimerId ?? -1;
    exec.timers.delete(timerId);
    const retry = exec.retryTimers.get(timerId);
    if (retry) {
      exec.retryTimers.delete(timerId);
      if (retry.attempt >= retry.options.maxNumberOfAttempts) return;
      retry.attempt++;
      const attemptId = exec.nextId++;
      exec.retries.set(attemptId, retry);
      if (retry.expired) {
        const failure = {
          TaskScheduledId: attemptId,
          Reason: `Retry timeout of ${retry.options.retryTimeoutInMilliseconds} ms elapsed; last failure: ${retry.lastReason}`,
          Details: retry.lastDetails,
        };
        const type =
          retry.action.actionType === ActionType.CallActivityWithRetry
            ? EventType.TaskFailed
            : EventType.SubOrchestrationInstanceFailed;
        queueMicrotask(() => this.#deliver(inst, exec.id, event(type, this.#opts.clock.now(), failure)));
      } else {
        this.#startTask(inst, exec, retry.action, attemptId, now);
      }
      return;
    }
    const long = exec.longTimers.get(timerId);
    if (long) {
      exec.longTimers.delete(timerId);
      if (long.finalAt.getTime() <= now.getTime()) return;
      const legId = exec.nextId++;
      this.#startLeg(inst, exec, legId, long.finalAt, long.position, now);
    }
  }

  #schedule(
    inst: Instance,
    exec: Execution,
    action: WireAction,
    position: number,
    now: Date,
  ): string | undefined {
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallSubOrchestrator:
        this.#startTask(inst, exec, action, exec.nextId++, now);
        return undefined;
      case ActionType.CallActivityWithRetry:
      case ActionType.CallSubOrchestratorWithRetry: {
        const id = exec.nextId++;
        exec.retries.set(id, {
          action,
          options: action.retryOptions!,
          attempt: 1,
          firstAttemptAt: now.getTime(),
          expired: false,
          lastReason: '',
          lastDetails: '',
        });
        this.#startTask(inst, exec, action, id, now);
        return undefined;
      }
      case ActionType.CreateTimer: {
        const id = exec.nextId++;
        this.#startLeg(inst, exec, id, new Date(action.fireAt!), position, now);
        return undefined;
      }
      case ActionType.WaitForExternalEvent:
      case ActionType.ContinueAsNew:
        return undefined;
      default:
        return (
          `Orchestrator '${inst.name}' used ${describeAction(action)}, which the local host does not support ` +
          '(durable entities and callHttp need the Azure Functions host: run the app with `func start`).'
        );
    }
  }

  #startLeg(
    inst: Instance,
    exec: Execution,
    timerId: number,
    finalAt: Date,
    position: number,
    now: Date,
  ): void {
    let fireAt = finalAt;
    if (finalAt.getTime() - now.getTime() > MAXIMUM_SHORT_TIMER_MS) {
      fireAt = new Date(now.getTime() + LONG_TIMER_INTERVAL_MS);
      exec.longTimers.set(timerId, { finalAt, position });
    }
    exec.positionTimer.set(position, timerId);
    this.#startTimer(inst, exec, timerId, fireAt, now);
  }

  #startTimer(inst: Instance, exec: Execution, timerId: number, fireAt: Date, now: Date): void {
    exec.history.push(event(EventType.TimerCreated, now, { EventId: timerId, FireAt: fireAt.toISOString() }));
    const cancel = this.#opts.clock.schedule(fireAt, () => {
      exec.timers.delete(timerId);
      this.#deliver(
        inst,
        exec.id,
        event(EventType.TimerFired, this.#opts.clock.now(), {
          TimerId: timerId,
          FireAt: fireAt.toISOString(),
        }),
      );
    });
    exec.timers.set(timerId, () => {
      exec.timers.delete(timerId);
      cancel();
    });
  }

  #startTask(inst: Instance, exec: Execution, action: WireAction, taskId: number, now: Date): void {
    const input = actionInput(action);
    const inputText = input === undefined ? undefined : JSON.stringify(input);
    const name = action.functionName!;
    if (
      action.actionType === ActionType.CallActivity ||
      action.actionType === ActionType.CallActivityWithRetry
    ) {
      exec.history.push(
        event(EventType.TaskScheduled, now, { EventId: taskId, Name: name, Input: inputText }),
      );
      this.#runActivity(inst, exec, name, input, taskId);
      return;
    }
    const childId = action.instanceId || `${inst.instanceId}:${taskId}`;
    exec.history.push(
      event(EventType.SubOrchestrationInstanceCreated, now, {
        EventId: taskId,
        Name: name,
        InstanceId: childId,
        Input: inputText,
      }),
    );
    try {
      this.#create(name, childId, inputText, { instanceId: inst.instanceId, executionId: exec.id, taskId });
    } catch (err) {
      queueMicrotask(() =>
        this.#deliver(
          inst,
          exec.id,
          event(EventType.SubOrchestrationInstanceFailed, this.#opts.clock.now(), {
            TaskScheduledId: taskId,
            Reason: errorMessage(err),
            Details: '',
          }),
        ),
      );
    }
  }

  #runActivity(inst: Instance, exec: Execution, name: string, input: unknown, taskId: number): void {
    this.#begin();
    const run = async (): Promise<void> => {
      this.#activitiesRunning++;
      let completion: HistoryEvent;
      try {
        const reg = this.#opts.worker
          .functions()
          .find((r) => r.metadata.name.toLowerCase() === name.toLowerCase());
        if (!reg || triggerOf(reg).binding.type !== DURABLE_TRIGGERS.activity) {
          throw new Error(
            `The function '${name}' doesn't exist or is not an activity function (register it with df.app.activity).`,
          );
        }
        const outcome = await this.#opts.worker.invoke(reg.metadata.name, [
          {
            name: triggerOf(reg).name,
            ...(input === undefined ? {} : { data: { json: JSON.stringify(input) } }),
          },
        ]);
        const value = fromTypedData(outcome.response.returnValue);
        completion = event(EventType.TaskCompleted, this.#opts.clock.now(), {
          TaskScheduledId: taskId,
          Result: value === undefined ? 'null' : JSON.stringify(value),
        });
      } catch (err) {
        completion = event(EventType.TaskFailed, this.#opts.clock.now(), {
          TaskScheduledId: taskId,
          Reason: `Activity function '${name}' failed: ${errorMessage(err)}`,
          Details: errorDetails(err),
        });
      } finally {
        this.#activitiesRunning--;
        this.#activityQueue.shift()?.();
      }
      this.#deliver(inst, exec.id, completion);
      this.#end();
    };
    if (this.#activitiesRunning < this.#opts.activityConcurrency) void run();
    else this.#activityQueue.push(() => void run());
  }

  #continueAsNew(inst: Instance, input: unknown): void {
    this.#cancelTimers(inst.exec);
    inst.exec.history.push(event(EventType.ContinueAsNew, this.#opts.clock.now()));
    const text = input === undefined ? undefined : JSON.stringify(input);
    inst.status = 'ContinuedAsNew';
    inst.input = text;
    inst.exec = this.#newExecution(inst.name, text);
    inst.status = 'Running';
    inst.lastUpdatedTime = new Date();
    this.#opts.log(`[durable] ${inst.name} '${inst.instanceId}' continued as new`);
  }

  #fail(inst: Instance, message: string, details: string): void {
    if (!ACTIVE.includes(inst.status)) return;
    inst.exec.history.push(
      event(EventType.ExecutionCompleted, this.#opts.clock.now(), {
        OrchestrationStatus: 'Failed',
        Result: JSON.stringify(message),
        Details: details,
      }),
    );
    this.#finish(inst, 'Failed', message, { reason: message, details });
  }

  #finish(
    inst: Instance,
    status: RuntimeStatus,
    output: unknown,
    failure?: { reason: string; details: string },
  ): void {
    if (!ACTIVE.includes(inst.status)) return;
    if (status === 'Completed') {
      inst.exec.history.push(
        event(EventType.ExecutionCompleted, this.#opts.clock.now(), {
          OrchestrationStatus: 'Completed',
          Result: output === undefined ? undefined : JSON.stringify(output),
        }),
      );
    }
    this.#cancelTimers(inst.exec);
    inst.exec.inbox.length = 0;
    inst.status = status;
    inst.output = output;
    inst.lastUpdatedTime = new Date();
    this.#opts.log(
      `[durable] ${inst.name} '${inst.instanceId}' ${status}${failure ? `: ${failure.reason}` : ''}`,
    );
    const parent = inst.parent && this.#instances.get(inst.parent.instanceId);
    if (parent && inst.parent) {
      const at = this.#opts.clock.now();
      const ev = failure
        ? event(EventType.SubOrchestrationInstanceFailed, at, {
            TaskScheduledId: inst.parent.taskId,
            Reason: `Sub-orchestration '${inst.name}' (instance '${inst.instanceId}') failed: ${failure.reason}`,
            Details: failure.details,
          })
        : event(EventType.SubOrchestrationInstanceCompleted, at, {
            TaskScheduledId: inst.parent.taskId,
            Result: output === undefined ? 'null' : JSON.stringify(output),
          });
      this.#deliver(parent, inst.parent.executionId, ev);
    }
    const status_ = this.#present(inst);
    const waiters = inst.waiters;
    inst.waiters = [];
    waiters.forEach((w) => w(status_));
  }

  #cancelTimers(exec: Execution): void {
    [...exec.timers.values()].forEach((cancel) => cancel());
  }

  #present(inst: Instance, opts: { showHistory?: boolean; showInput?: boolean } = {}): OrchestrationStatus {
    const status: OrchestrationStatus = {
      name: inst.name,
      instanceId: inst.instanceId,
      runtimeStatus: inst.status,
      input: opts.showInput === false || inst.input === undefined ? null : JSON.parse(inst.input),
      output: inst.output === undefined ? null : inst.output,
      customStatus: inst.customStatus === undefined ? null : inst.customStatus,
      createdTime: inst.createdTime.toISOString(),
      lastUpdatedTime: inst.lastUpdatedTime.toISOString(),
    };
    if (opts.showHistory) status.history = inst.exec.history.map(presentEvent);
    return status;
  }
}

function matches(inst: Instance, filter: InstanceFilter): boolean {
  if (filter.runtimeStatus?.length && !filter.runtimeStatus.includes(inst.status)) return false;
  if (filter.createdTimeFrom && inst.createdTime < filter.createdTimeFrom) return false;
  if (filter.createdTimeTo && inst.createdTime > filter.createdTimeTo) return false;
  if (filter.instanceIdPrefix && !inst.instanceId.startsWith(filter.instanceIdPrefix)) return false;
  return true;
}

function findDivergence(recorded: WireAction[], replayed: WireAction[]): string | undefined {
  for (let i = 0; i < recorded.length; i++) {
    const actual = replayed[i];
    if (!actual) {
      return `at sequence position ${i} the history scheduled ${describeAction(recorded[i])} but the replay scheduled nothing there`;
    }
    if (!sameDecision(recorded[i], actual)) {
      return `at sequence position ${i} the history scheduled ${describeAction(recorded[i])} but the replay produced ${describeAction(actual)}`;
    }
  }
  return undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errorDetails(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
