import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHost, type LocalHost } from '../../../devhost/host';
import { F } from '../../fixtures/devhost-app';
import { probe } from '../../fixtures/devhost-app/probe';

type Event = {
  EventType: string;
  EventId: number;
  Timestamp: string;
  FireAt?: string;
  TaskScheduledId?: number;
  Name?: string;
};

describe('local durable host: orchestrations on the real durable-functions SDK (virtual clock)', () => {
  let host: LocalHost;
  let stateDir: string;
  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'devhost-engine-'));
    host = await startHost({
      appEntry: path.join(__dirname, '../../fixtures/devhost-app'),
      port: 0,
      stateDir,
      clock: 'virtual',
      activityConcurrency: 3,
    });
  });
  afterAll(async () => {
    await host?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });
  beforeEach(() => probe.reset());

  const run = async (name: string, input?: unknown, instanceId?: string) => {
    const id = await host.client.start(name, { input, instanceId });
    return host.client.waitForCompletion(id, 20000);
  };
  const historyOf = async (id: string): Promise<Event[]> =>
    ((await host.client.status(id, { showHistory: true }))?.history ?? []) as unknown as Event[];

  it('runs activities in sequence and returns their results', async () => {
    const status = await run(F.sequence, ['Tokyo', 'Seattle', 'London']);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    expect(status.input).toEqual(['Tokyo', 'Seattle', 'London']);
  });

  it('fans out with Task.all and never runs more activities at once than the limit', async () => {
    const status = await run(F.fanOut, 10);
    expect(status.output).toBe(90);
    expect(probe.maxInFlight).toBe(3);
  });

  it('retries a failing activity on the RetryOptions backoff until it succeeds', async () => {
    const status = await run(F.retrying, { key: 'ok', failures: 2, maxAttempts: 4 });
    expect(status.output).toEqual({ attempt: 3 });
    const history = await historyOf(status.instanceId);
    const failures = history.filter((e) => e.EventType === 'TaskFailed');
    const timers = history.filter((e) => e.EventType === 'TimerCreated');
    expect(failures).toHaveLength(2);
    const delays = timers.map((t, i) => Date.parse(t.FireAt!) - Date.parse(failures[i].Timestamp));
    expect(delays).toEqual([1000, 2000]);
  });

  it('surfaces exhausted retries to the orchestrator as a failed task, backoff capped at the max interval', async () => {
    const status = await run(F.retrying, { key: 'never', failures: 99, maxAttempts: 4 });
    expect(status.runtimeStatus).toBe('Completed');
    expect((status.output as { gaveUp: string }).gaveUp).toContain(
      "Activity function 'flaky' failed: transient failure 4 of never",
    );
    expect(probe.attempts.get('never')).toBe(4);
    const history = await historyOf(status.instanceId);
    const failures = history.filter((e) => e.EventType === 'TaskFailed');
    const timers = history.filter((e) => e.EventType === 'TimerCreated');
    expect(timers.map((t, i) => Date.parse(t.FireAt!) - Date.parse(failures[i].Timestamp))).toEqual([
      1000, 2000, 3000, 3000,
    ]);
  });

  it('stops retrying once the retry timeout has elapsed', async () => {
    const status = await run(F.retrying, {
      key: 'slow',
      failures: 99,
      maxAttempts: 10,
      retryTimeoutMs: 2500,
    });
    expect((status.output as { gaveUp: string }).gaveUp).toContain('Retry timeout of 2500 ms elapsed');
    expect(probe.attempts.get('slow')).toBe(3);
  });

  it('runs sub-orchestrations with derived and given ids, and the parent catches a failing one', async () => {
    const status = await run(F.parent, undefined, 'parent-1');
    expect(status.runtimeStatus).toBe('Completed');
    const output = status.output as {
      derived: { instanceId: string; parent: string };
      named: { instanceId: string };
      caught: string;
    };
    expect(output.derived).toEqual({ value: 'a', instanceId: 'parent-1:0', parent: 'parent-1' });
    expect(output.named.instanceId).toBe('parent-1:named');
    expect(output.caught).toContain('child refused c');
    const child = await host.client.status('parent-1:2');
    expect(child?.runtimeStatus).toBe('Failed');
  });

  it('resolves Task.any with the first task to finish: an activity beats a timer, a timer beats a missing event', async () => {
    const status = await run(F.race);
    expect(status.output).toEqual({ first: 'Hello race!', second: 'timeout' });
  });

  it('fires durable timers on the virtual clock in due order, advancing currentUtcDateTime (long timers in legs)', async () => {
    const status = await run(F.sleeper);
    expect(status.output).toEqual({ afterShort: 2 * 3600_000, afterLong: 10 * 24 * 3600_000 });
    const timers = (await historyOf(status.instanceId)).filter((e) => e.EventType === 'TimerCreated');
    const longStart = Date.parse(timers[1].Timestamp);
    const day = 24 * 3600_000;
    expect(timers.slice(1).map((t) => (Date.parse(t.FireAt!) - longStart) / day)).toEqual([3, 6, 10]);
  });

  it('delivers external events and shows the custom status while waiting', async () => {
    const id = await host.client.start(F.approval, { instanceId: 'approval-1' });
    await waitFor(async () => (await host.client.status(id))?.runtimeStatus === 'Running');
    expect((await host.client.status(id))?.customStatus).toEqual({ phase: 'awaiting approval' });
    await host.client.raiseEvent(id, 'approve', { approvedBy: 'ops' });
    const status = await host.client.waitForCompletion(id);
    expect(status.output).toEqual({ approvedBy: 'ops' });
    expect(status.customStatus).toEqual({ phase: 'approved' });
  });

  it('continues as new with a fresh history and the carried input until it returns', async () => {
    const status = await run(F.counter, { n: 1, until: 4 });
    expect(status.output).toBe(4);
    expect(status.input).toEqual({ n: 4, until: 4 });
    const history = await historyOf(status.instanceId);
    expect(history.filter((e) => e.EventType === 'ExecutionStarted')).toHaveLength(1);
    expect(history.filter((e) => e.EventType === 'TaskScheduled')).toHaveLength(1);
  });

  it('fails the instance with the orchestrator error message', async () => {
    const status = await run(F.failing);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toContain(
      "Orchestrator function 'failing' failed: channel general could not be mapped",
    );
  });

  it('fails loudly when a replay diverges from the recorded history', async () => {
    const status = await run(F.nondeterministic);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toContain('Non-deterministic orchestrator');
    expect(status.output).toContain(
      "at sequence position 0 the history scheduled CallActivity 'alpha' but the replay produced CallActivity 'beta'",
    );
  });

  it('refuses to start a running instance id and restarts a finished one', async () => {
    await host.client.start(F.approval, { instanceId: 'dup' });
    await expect(host.client.start(F.approval, { instanceId: 'dup' })).rejects.toThrow(
      /already (Pending|Running)/,
    );
    await host.client.terminate('dup', 'test over');
    const terminated = await host.client.waitForCompletion('dup');
    expect(terminated).toMatchObject({ runtimeStatus: 'Terminated', output: 'test over' });
    await host.client.start(F.sequence, { instanceId: 'dup', input: ['again'] });
    expect((await host.client.waitForCompletion('dup')).output).toEqual(['Hello again!']);
  });

  it('lists instances by status and time, and purges finished ones', async () => {
    const from = new Date();
    await run(F.sequence, ['x'], 'listed-done');
    await host.client.start(F.approval, { instanceId: 'listed-waiting' });
    const running = await host.client.list({ runtimeStatus: ['Running', 'Pending'], createdTimeFrom: from });
    expect(running.map((s) => s.instanceId)).toEqual(['listed-waiting']);
    const completed = await host.client.list({ runtimeStatus: ['Completed'], createdTimeFrom: from });
    expect(completed.map((s) => s.instanceId)).toEqual(['listed-done']);
    expect(await host.client.purge('listed-done')).toBe(1);
    expect(await host.client.status('listed-done')).toBeUndefined();
    await expect(host.client.purge('listed-waiting')).rejects.toThrow(/terminate it or wait/);
    await host.client.terminate('listed-waiting', 'cleanup');
  });
});

async function waitFor(check: () => Promise<boolean>, attempts = 200): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not reached');
}
