/**
 * The Durable Task history and action vocabulary shared with `durable-functions`: event type numbers from
 * lib/src/history/HistoryEventType.js, action type numbers from lib/src/actions/ActionType.js.
 */

/** History event types (the numbers the SDK switches on). */
export enum EventType {
  ExecutionStarted = 0,
  ExecutionCompleted = 1,
  ExecutionFailed = 2,
  ExecutionTerminated = 3,
  TaskScheduled = 4,
  TaskCompleted = 5,
  TaskFailed = 6,
  SubOrchestrationInstanceCreated = 7,
  SubOrchestrationInstanceCompleted = 8,
  SubOrchestrationInstanceFailed = 9,
  TimerCreated = 10,
  TimerFired = 11,
  OrchestratorStarted = 12,
  OrchestratorCompleted = 13,
  EventSent = 14,
  EventRaised = 15,
  ContinueAsNew = 16,
  GenericEvent = 17,
  HistoryState = 18,
  ExecutionSuspended = 19,
  ExecutionResumed = 20,
}

/** Action types an orchestrator returns. */
export enum ActionType {
  CallActivity = 0,
  CallActivityWithRetry = 1,
  CallSubOrchestrator = 2,
  CallSubOrchestratorWithRetry = 3,
  ContinueAsNew = 4,
  CreateTimer = 5,
  WaitForExternalEvent = 6,
  CallEntity = 7,
  CallHttp = 8,
  SignalEntity = 9,
  WhenAny = 11,
  WhenAll = 12,
  LockEntities = 13,
  ReleaseEntities = 14,
}

/** One history event in the PascalCase wire shape the extension sends (`Result`/`Input` are JSON text). */
export interface HistoryEvent {
  EventType: EventType;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Input?: string;
  Result?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  InstanceId?: string;
  Reason?: string;
  Details?: string;
  OrchestrationStatus?: string;
}

/** Retry options as serialized by `RetryOptions` in the SDK. */
export interface WireRetryOptions {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** One action as serialized on the wire (only the fields the host reads). */
export interface WireAction {
  actionType: ActionType;
  functionName?: string;
  input?: unknown;
  instanceId?: string;
  retryOptions?: WireRetryOptions;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  compoundActions?: WireAction[];
}

/** The orchestrator's reply for one episode (`OrchestratorState` in the SDK). */
export interface OrchestratorReply {
  isDone: boolean;
  actions: WireAction[][];
  output?: unknown;
  customStatus?: unknown;
  error?: string;
  schemaVersion?: number;
}

/** Payload the extension sends as the orchestration trigger value. */
export interface OrchestrationTriggerPayload {
  history: HistoryEvent[];
  input: unknown;
  instanceId: string;
  isReplaying: boolean;
  parentInstanceId?: string;
  upperSchemaVersion: number;
  upperSchemaVersionNew: number;
  longRunningTimerIntervalDuration: string;
  maximumShortTimerDuration: string;
  defaultHttpAsyncRequestSleepTimeMillseconds: number;
}

/** Timer split settings the Azure Storage backend uses: timers longer than 6 days run as 3-day legs. */
export const MAXIMUM_SHORT_TIMER_MS = 6 * 24 * 3600 * 1000;
/** Length of each leg of a long timer. */
export const LONG_TIMER_INTERVAL_MS = 3 * 24 * 3600 * 1000;

/** Builds one history event with the common fields set. */
export function event(type: EventType, at: Date, fields: Partial<HistoryEvent> = {}): HistoryEvent {
  return { EventType: type, EventId: -1, IsPlayed: false, Timestamp: at.toISOString(), ...fields };
}

/**
 * Flattens `WhenAll`/`WhenAny` compounds into the atomic actions in scheduling order, the order in which the
 * SDK numbers its tasks. `identity` (the live action objects of the same reply) drops actions the orchestrator
 * re-awaits in a later compound, which the SDK does not number twice.
 */
export function flattenActions(actions: WireAction[], identity?: unknown[]): WireAction[] {
  const seen = new Set<unknown>();
  const out: WireAction[] = [];
  const walk = (wire: WireAction[], live: unknown[] | undefined): void => {
    wire.forEach((action, i) => {
      const liveAction = live?.[i] as { compoundActions?: unknown[] } | undefined;
      if (action.actionType === ActionType.WhenAll || action.actionType === ActionType.WhenAny) {
        walk(action.compoundActions ?? [], liveAction?.compoundActions);
        return;
      }
      if (liveAction !== undefined) {
        if (seen.has(liveAction)) return;
        seen.add(liveAction);
      }
      out.push(action);
    });
  };
  walk(actions, identity);
  return out;
}

/** A short description of an action for error messages: `CallActivity 'sayHello'`. */
export function describeAction(action: WireAction): string {
  const kind = ActionType[action.actionType] ?? `action type ${action.actionType}`;
  const name = action.functionName ?? action.externalEventName;
  return name ? `${kind} '${name}'` : kind;
}

/** True when two actions at the same position are the same decision (kind and target). */
export function sameDecision(a: WireAction, b: WireAction): boolean {
  if (a.actionType !== b.actionType) return false;
  if ((a.functionName ?? '') !== (b.functionName ?? '')) return false;
  if ((a.externalEventName ?? '') !== (b.externalEventName ?? '')) return false;
  return (a.instanceId ?? '') === (b.instanceId ?? '');
}

/** The action's input as a value: the SDK JSON-encodes string inputs of activities and continueAsNew once. */
export function actionInput(action: WireAction): unknown {
  const encoded =
    action.actionType === ActionType.CallActivity ||
    action.actionType === ActionType.CallActivityWithRetry ||
    action.actionType === ActionType.ContinueAsNew;
  if (encoded && typeof action.input === 'string') {
    try {
      return JSON.parse(action.input);
    } catch {
      return action.input;
    }
  }
  return action.input;
}

/** A history event for humans and the status API: the event type by name, everything else as recorded. */
export function presentEvent(e: HistoryEvent): Record<string, unknown> {
  return { ...e, EventType: EventType[e.EventType] };
}

/** Next retry delay per the Durable retry policy: first * coefficient^(attempt-1), capped at the max interval. */
export function retryDelayMs(options: WireRetryOptions, failedAttempt: number): number {
  const coefficient =
    options.backoffCoefficient && options.backoffCoefficient > 0 ? options.backoffCoefficient : 1;
  const delay = options.firstRetryIntervalInMilliseconds * Math.pow(coefficient, failedAttempt - 1);
  const cap = options.maxRetryIntervalInMilliseconds;
  return cap && cap > 0 ? Math.min(delay, cap) : delay;
}
