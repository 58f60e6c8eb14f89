import '../../devhost/register';
import { app } from '@azure/functions';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { runMigration, type RunOptions } from '../../cli/run';
import * as hostModule from '../../devhost/host';
import type { LocalHost } from '../../devhost/host';
import { HistoryCounter } from './history';
import { round } from './metrics';

/** One `postMessages` activity as the host ran it: its channel, when it started and ended (epoch ms), its answer. */
export interface BatchSpan {
  teamId: string;
  channelId: string;
  start: number;
  end: number;
  /** The step found no posting slot free and posted nothing. */
  budgetWait: boolean;
  failed: boolean;
}

/** What one instrumented `runMigration` saw besides the sandbox's request log. */
export interface InstrumentedRun {
  exitCode: number;
  /** The team orchestration's created and last-updated instants (epoch ms). */
  teamTimes: { created: number; done: number };
  histories: HistoryCounter;
  batches: BatchSpan[];
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  loadAverage: { min: number; max: number; mean: number };
  /** Peak resident set of this process (host, sandbox, CLI) and of its child processes (Azurite), in MB. */
  peakRssMb: { process: number; children: number };
}

const POST_MESSAGES = 'postMessages';

/** Peak resident set (VmHWM, kB) of each live child process of this one, read from /proc (Linux). */
function childPeaks(): Map<number, number> {
  const peaks = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return peaks;
  }
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) !== process.pid) continue;
      peaks.set(Number(pid), Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0));
    } catch {
      // the process ended between the listing and the read
    }
  }
  return peaks;
}

/**
 * Runs `runMigration` (the `teams-import run` code: local host, embedded Azurite, the app's HTTP API) and
 * watches it from outside the product: Durable histories polled every `historyPollMs` (see
 * {@link HistoryCounter}), each `postMessages` activity's start and end through the Functions programming
 * model's invocation hooks, load average and peak RSS every 5 s, and this process's event-loop delay.
 */
export async function runInstrumented(
  exportDir: string,
  options: RunOptions,
  watch: {
    teamInstance: string;
    historyPollMs: number;
    progress?: (line: string) => void;
    /** Stops the run (the CLI's Ctrl-C): `runMigration`'s error then goes to `onStopped`, and the exit code is -1. */
    signal?: AbortSignal;
    onStopped?: (err: unknown) => void;
  },
): Promise<InstrumentedRun> {
  const histories = new HistoryCounter();
  const batches: BatchSpan[] = [];
  const started = new Map<string, { teamId: string; channelId: string; start: number }>();
  const pre = app.hook.preInvocation((ctx) => {
    if (ctx.invocationContext.functionName !== POST_MESSAGES) return;
    const input = ctx.inputs[0] as { teamId?: string; channelId?: string } | undefined;
    if (!input?.channelId || !input.teamId) return;
    started.set(ctx.invocationContext.invocationId, {
      teamId: input.teamId,
      channelId: input.channelId,
      start: performance.timeOrigin + performance.now(),
    });
  });
  const post = app.hook.postInvocation((ctx) => {
    const begun = started.get(ctx.invocationContext.invocationId);
    if (!begun) return;
    started.delete(ctx.invocationContext.invocationId);
    const result = ctx.result as { budgetWait?: boolean } | undefined;
    batches.push({
      ...begun,
      end: performance.timeOrigin + performance.now(),
      budgetWait: result?.budgetWait === true,
      failed: ctx.error !== undefined && ctx.error !== null,
    });
  });

  let teamTimes: { created: number; done: number } | undefined;
  const realStartHost = hostModule.startHost;
  let poller: NodeJS.Timeout | undefined;
  let polling: Promise<void> = Promise.resolve();
  (hostModule as { startHost: typeof realStartHost }).startHost = async (hostOptions) => {
    const host: LocalHost = await realStartHost(hostOptions);
    poller = setInterval(() => {
      polling = polling.then(() => histories.poll(host.client)).catch(() => undefined);
    }, watch.historyPollMs);
    return {
      ...host,
      stop: async () => {
        clearInterval(poller);
        await polling;
        await histories.poll(host.client);
        const status = await host.client.status(watch.teamInstance);
        if (status)
          teamTimes = { created: Date.parse(status.createdTime), done: Date.parse(status.lastUpdatedTime) };
        await host.stop();
      },
    };
  };

  const loads: number[] = [loadavg()[0]];
  const children = new Map<number, number>();
  const sample = (): void => {
    loads.push(loadavg()[0]);
    for (const [pid, kb] of childPeaks()) children.set(pid, Math.max(kb, children.get(pid) ?? 0));
  };
  const sampler = setInterval(sample, 5000);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let exitCode: number;
  try {
    exitCode = await runMigration(exportDir, options, {
      out: () => undefined,
      err: (t) => watch.progress?.(t),
      isTty: false,
      ...(watch.signal ? { signal: watch.signal } : {}),
    });
  } catch (err) {
    if (!watch.signal?.aborted) throw err;
    watch.onStopped?.(err);
    exitCode = -1;
  } finally {
    (hostModule as { startHost: typeof realStartHost }).startHost = realStartHost;
    clearInterval(sampler);
    loop.disable();
    pre.dispose();
    post.dispose();
  }
  if (!teamTimes) throw new Error(`The team orchestration '${watch.teamInstance}' was not found.`);
  return {
    exitCode,
    teamTimes,
    histories,
    batches,
    eventLoopDelayMs: {
      p50: round(loop.percentile(50) / 1e6, 1),
      p99: round(loop.percentile(99) / 1e6, 1),
      max: round(loop.max / 1e6, 1),
    },
    loadAverage: {
      min: round(Math.min(...loads), 2),
      max: round(Math.max(...loads), 2),
      mean: round(loads.reduce((a, b) => a + b, 0) / loads.length, 2),
    },
    peakRssMb: {
      process: Math.round(process.resourceUsage().maxRSS / 1024),
      children: Math.round([...children.values()].reduce((a, b) => a + b, 0) / 1024),
    },
  };
}
