import type { HostClient } from '../../devhost/host';

/** Durable history events of one instance, per execution (continueAsNew starts a new one). */
interface InstanceHistory {
  /** Execution number -> events seen in it (the most seen by any poll) and the last event's type. */
  executions: Map<number, { events: number; lastType: string }>;
  /** The instance's last update as of the last poll that read its history. */
  lastUpdated?: string;
}

/** Events of the episode that ends an execution by continueAsNew, when the last poll came before it. */
const CONTINUE_AS_NEW_EPISODE = [
  'OrchestratorStarted',
  'TaskCompleted',
  'OrchestratorCompleted',
  'ContinueAsNew',
];

/**
 * Counts Durable history events across executions by polling every instance's history: the local host
 * keeps only the current execution's history, so each execution's count is its largest observed length,
 * completed by the closing continueAsNew episode when the last poll preceded it. An instance not updated
 * since the poll that last read it is not read again.
 */
export class HistoryCounter {
  readonly instances = new Map<string, InstanceHistory>();
  polls = 0;

  async poll(client: HostClient): Promise<void> {
    this.polls++;
    for (const listed of await client.list()) {
      const known = this.instances.get(listed.instanceId);
      if (known?.lastUpdated !== undefined && known.lastUpdated === listed.lastUpdatedTime) continue;
      const status = await client.status(listed.instanceId, { showHistory: true });
      const history = status?.history ?? [];
      if (history.length === 0) continue;
      const started = history.find((e) => e.EventType === 'ExecutionStarted') as
        { EventType?: string; Input?: string } | undefined;
      let execution = 0;
      if (started?.Input) {
        const input = JSON.parse(started.Input) as { execution?: number };
        execution = input.execution ?? 0;
      }
      const inst: InstanceHistory = known ?? { executions: new Map() };
      this.instances.set(listed.instanceId, inst);
      inst.lastUpdated = status?.lastUpdatedTime;
      const seen = inst.executions.get(execution);
      if (!seen || history.length >= seen.events)
        inst.executions.set(execution, {
          events: history.length,
          lastType: String((history.at(-1) as { EventType?: string }).EventType),
        });
    }
  }

  /** Total events; `closingEpisodesAdded` counts the closing episodes added for executions whose end no poll saw. */
  total(): { events: number; executions: number; closingEpisodesAdded: number; missingExecutions: number } {
    let events = 0;
    let executions = 0;
    let closingEpisodesAdded = 0;
    let missingExecutions = 0;
    for (const inst of this.instances.values()) {
      const last = Math.max(...inst.executions.keys());
      missingExecutions += last + 1 - inst.executions.size;
      for (const [n, e] of inst.executions) {
        executions++;
        events += e.events;
        if (n < last && e.lastType !== 'ContinueAsNew') {
          events += CONTINUE_AS_NEW_EPISODE.length;
          closingEpisodesAdded++;
        }
      }
    }
    return { events, executions, closingEpisodesAdded, missingExecutions };
  }
}
