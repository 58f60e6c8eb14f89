import * as df from 'durable-functions';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HistoryEvent, OrchestrationTriggerPayload } from '../../../devhost/durable/history';
import { fromTypedData, triggerOf, Worker } from '../../../devhost/worker';

interface GoldenCase {
  name: string;
  history: HistoryEvent[];
  expected: Record<string, unknown>;
}

const golden = JSON.parse(
  readFileSync(path.join(__dirname, '../../fixtures/devhost-app/golden-history.json'), 'utf8'),
) as { input: unknown; cases: GoldenCase[] };

const pinned = (
  JSON.parse(readFileSync(require.resolve('durable-functions/package.json'), 'utf8')) as { version: string }
).version;

df.app.orchestration('golden', function* (context) {
  const started = context.df.currentUtcDateTime.getTime();
  const first: string = yield context.df.callActivity('say', 'A');
  const rest: string[] = yield context.df.Task.all([
    context.df.callActivity('say', 'B'),
    context.df.callActivityWithRetry('say', new df.RetryOptions(500, 2), 'C'),
  ]);
  yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 60_000));
  context.df.setCustomStatus({ step: 'waiting for go' });
  const event: unknown = yield context.df.waitForExternalEvent('go');
  return {
    results: [first, ...rest],
    event,
    elapsedMs: context.df.currentUtcDateTime.getTime() - started,
    replaying: context.df.isReplaying,
  };
});

describe(`golden history: durable-functions ${pinned} replay protocol`, () => {
  const worker = new Worker(() => undefined);

  it.each(golden.cases.map((c) => [c.name, c] as const))('%s', async (_name, goldenCase) => {
    const reg = worker.get('golden');
    const payload: OrchestrationTriggerPayload = {
      history: goldenCase.history,
      input: golden.input,
      instanceId: 'golden-1',
      isReplaying: true,
      upperSchemaVersion: 1,
      upperSchemaVersionNew: 2,
      longRunningTimerIntervalDuration: '3.00:00:00',
      maximumShortTimerDuration: '6.00:00:00',
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };
    const outcome = await worker.invoke(reg.metadata.name, [
      { name: triggerOf(reg).name, data: { string: JSON.stringify(payload) } },
    ]);
    const reply = fromTypedData(outcome.response.returnValue);
    try {
      expect(reply).toEqual(goldenCase.expected);
    } catch (err) {
      throw new Error(
        `durable-functions history protocol changed: version ${pinned} no longer answers the recorded history ` +
          `"${goldenCase.name}" as the local host expects. Re-check devhost/durable against the SDK ` +
          `(lib/src/orchestrations/TaskOrchestrationExecutor.js) before upgrading.\n${(err as Error).message}`,
      );
    }
  });
});
