import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFolderStore } from '../core/state/localStore';
import { planExport } from '../core/transform/plan';

/**
 * Validate+plan benchmark: plans an export into a temporary folder store and prints messages/s, CPU time
 * and the process's peak RSS as JSON. Run one size per process so peak RSS belongs to that size alone.
 */
async function main(): Promise<void> {
  const input = process.argv[2];
  if (!input) {
    process.stderr.write('usage: node dist/bench/slack-plan.js <export.zip|folder>\n');
    process.exit(2);
  }
  const out = mkdtempSync(join(tmpdir(), 'slack-plan-'));
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  const manifest = await planExport(
    input,
    { now: Date.parse('2030-01-01T00:00:00Z') },
    new LocalFolderStore(out),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  clearInterval(sampler);
  const source = manifest.channels.reduce((a, c) => a + c.sourceMessages, 0);
  rmSync(out, { recursive: true, force: true });
  process.stdout.write(
    JSON.stringify({
      input,
      sourceMessages: source,
      plannedLines: manifest.totals.messages,
      seconds: Number(seconds.toFixed(2)),
      messagesPerSecond: Math.round(source / seconds),
      cpuSeconds: Number(cpuSeconds.toFixed(2)),
      cpuSecondsPer1M: Number(((cpuSeconds * 1e6) / source).toFixed(1)),
      peakRssMB: Math.round(Math.max(peak, process.resourceUsage().maxRSS * 1024) / 1024 / 1024),
      importable: manifest.importable,
    }) + '\n',
  );
}

void main();
