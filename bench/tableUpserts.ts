/**
 * What an upsert costs embedded Azurite's table store as a table grows: rows written as the ledger writes
 * a channel's message rows (transactions of 99 upserts plus the partition's counts row, Replace), either
 * all into one partition (one channel) or spread over `--partitions` partitions (a workspace's channels),
 * with Azurite on disk as the local host runs it (every acknowledged write saved first) and in memory.
 * Prints one JSON line per `--step` rows: the rows already in the table and in the partition written, and
 * the milliseconds per 1,000 rows of that step, and how long listing the first partition's rows takes (as the
 * ledger recounts a channel); each series stops after `--max-seconds`. Not part of `npm test`.
 *
 *   node dist/bench/tableUpserts.js --rows 60000 --step 5000 --partitions 200 --max-seconds 300
 */
import { odata, TableClient, type TransactionAction } from '@azure/data-tables';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAzurite } from '../devhost/azurite';

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

/** Writes `rows` rows into `partitions` partitions round-robin, one transaction of 100 actions at a time. */
async function fill(
  table: TableClient,
  layout: string,
  o: { rows: number; step: number; partitions: number; maxSeconds: number },
): Promise<void> {
  const written = new Array<number>(o.partitions).fill(0);
  const started = Date.now();
  for (let done = 0; done < o.rows;) {
    const stepStarted = performance.now();
    const stepEnd = done + o.step;
    while (done < stepEnd) {
      const p = Math.floor(done / 99) % o.partitions;
      const partitionKey = `run|channel-${p}`;
      const actions: TransactionAction[] = [];
      for (let i = 0; i < 99; i++, done++)
        actions.push([
          'upsert',
          {
            partitionKey,
            rowKey: `m${String(written[p]++).padStart(9, '0')}`,
            state: 'posted',
            teamsId: String(done),
          },
          'Replace',
        ]);
      actions.push(['upsert', { partitionKey, rowKey: '~counts', posted: written[p] }, 'Replace']);
      await table.submitTransaction(actions);
    }
    const ms = performance.now() - stepStarted;
    const listStarted = performance.now();
    let listed = 0;
    const filter = odata`PartitionKey eq ${'run|channel-0'} and RowKey ge ${'m'} and RowKey lt ${'n'}`;
    for await (const e of table.listEntities({ queryOptions: { filter, select: ['state'] } }))
      if (e.state === 'posted') listed++;
    const listMs = performance.now() - listStarted;
    process.stdout.write(
      `${JSON.stringify({
        layout,
        partitions: o.partitions,
        tableRowsBefore: stepEnd - o.step,
        partitionRowsBefore: Math.round((stepEnd - o.step) / o.partitions),
        msPer1000Rows: Math.round((ms * 1000) / o.step),
        partitionZeroRows: listed,
        msToListPartitionZero: Math.round(listMs),
        load1: Math.round(loadavg()[0] * 10) / 10,
      })}\n`,
    );
    if ((Date.now() - started) / 1000 > o.maxSeconds) break;
  }
}

async function main(): Promise<void> {
  const rows = flag('rows', 60_000);
  const step = flag('step', 5_000);
  const partitions = flag('partitions', 200);
  const maxSeconds = flag('max-seconds', 300);
  for (const persistence of ['disk', 'memory'] as const)
    for (const [layout, count] of [
      ['one partition', 1],
      [`${partitions} partitions`, partitions],
    ] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'table-upserts-'));
      const azurite = await startAzurite(persistence === 'disk' ? { location: join(dir, 'azurite') } : {});
      try {
        const table = TableClient.fromConnectionString(azurite.connectionString, 'rows', {
          allowInsecureConnection: true,
        });
        await table.createTable();
        await fill(table, `${persistence}, ${layout}`, { rows, step, partitions: count, maxSeconds });
      } finally {
        await azurite.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
