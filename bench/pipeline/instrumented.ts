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
  /**
   * CPU time (user + system) of this process during the run, and of its child processes as last sampled
   * (every 5 s, so up to 5 s of a child's last work may be missing).
   */
  cpuSeconds: { process: number; children: number };
}

const POST_MESSAGES = 'postMessages';

/** Clock ticks a second of /proc/<pid>/stat's CPU times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** Peak resident set (VmHWM, kB) and CPU seconds so far of each live child process of this one, from /proc (Linux). */
function childUsage(): Map<number, { peakKb: number; cpuSeconds: number }> {
  const usage = new Map<number, { peakKb: number; cpuSeconds: number }>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return usage;
  }
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) !== process.pid) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      usage.set(Number(pid), {
        peakKb: Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0),
        cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
      });
    } catch {
      // the process ended between the listing and the read
    }
  }
  return usage;
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
  const children = new Map<number, { peakKb: number; cpuSeconds: number }>();
  const sample = (): void => {
    loads.push(loadavg()[0]);
    for (const [pid, now] of childUsage()) {
      const before = children.get(pid);
      children.set(pid, {
        peakKb: Math.max(now.peakKb, before?.peakKb ?? 0),
        cpuSeconds: Math.max(now.cpuSeconds, before?.cpuSeconds ?? 0),
      });
    }
  };
  const cpuBefore = process.cpuUsage();
  const sampler = setInterval(sample, 5000);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let exitCode: number;
  let cpu: NodeJS.CpuUsage | undefined;
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
    cpu = process.cpuUsage(cpuBefore);
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
      children: Math.round([...children.values()].reduce((a, b) => a + b.peakKb, 0) / 1024),
    },
    cpuSeconds: {
      process: round((cpu.user + cpu.system) / 1e6, 1),
      children: round(
        [...children.values()].reduce((a, b) => a + b.cpuSeconds, 0),
        1,
      ),
    },
  };
}
