import { spawnSync } from 'node:child_process';
import { constants } from 'node:buffer';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateExport } from '../../../cli/validate';
import { stageSource } from '../../../core/pipeline/stage';
import type { PipelineDeps } from '../../../core/pipeline/deps';
import { DEFAULT_ARCHIVE_LIMITS, ExportReadError } from '../../../core/sources/archive';
import {
  MAX_ELEMENTS_PER_FILE,
  MAX_ELEMENT_BYTES,
  openSlackExport,
} from '../../../core/sources/slack/export';
import { LocalFolderStore } from '../../../core/state/localStore';
import { planExport } from '../../../core/transform/plan';
import {
  dayName,
  deeplyNestedInvalidJson,
  OVER_STRING_LIMIT_BYTES,
  writeDeeplyNested,
  writeElementFlood,
  writeOverStringLimit,
  writeSymlinks,
  writeTraversalChannelId,
  writeZipBomb,
} from '../../fixtures/hostile/build';
import { tempDir } from '../../support/fixtures';
import { msg, writeExport } from '../../support/slackExport';

const NOW = new Date('2026-06-01T00:00:00Z');
const MiB = 1024 * 1024;
const MB = 1_000_000;

interface Measured {
  code: number;
  report?: { importable: boolean; problems: Array<{ code: string; message: string }> };
  error: string;
  peakBytes: number;
}

/** `teams-import validate --json` in a child process, with the child's peak resident memory (VmHWM). */
function validateMeasured(path: string): Measured {
  const root = join(__dirname, '..', '..', '..');
  const child = spawnSync(
    process.execPath,
    ['-r', join(root, 'test/support/swc-register.js'), join(root, 'test/fixtures/hostile/peak.ts'), path],
    { encoding: 'utf8', maxBuffer: 64 * MiB },
  );
  if (child.status !== 0) throw new Error(`validate child failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as Measured;
}

const codes = (m: Measured, code: string) => m.report!.problems.filter((p) => p.code === code);

describe('hostile exports: memory and time bounded by design, refusals that name the file', () => {
  const root = tempDir('hostile-export-');

  it("refuses the issue's ZIP bomb (16 day files of 400 MB of spaces, 6 MB zipped) from its directory, in little memory", () => {
    const m = validateMeasured(writeZipBomb(join(root, 'bomb400.zip'), 16, 400 * MB));
    expect(m.report!.importable).toBe(false);
    const refused = codes(m, 'day-file-too-large');
    expect(refused.map((p) => p.message.slice(1, 24))).toEqual(
      Array.from({ length: 16 }, (_, d) => `general/${dayName(d)}.json`),
    );
    expect(refused[0].message).toContain(
      `over the ${DEFAULT_ARCHIVE_LIMITS.maxEntryBytes} bytes (256 MiB) limit`,
    );
    // Read ahead and parsed whole, these files took 7.5 GB; the refusal reads none of them.
    expect(m.peakBytes).toBeLessThan(400 * MB);
  });

  it('stops a bomb under the per-file limit (16 files of 200 MiB of spaces) after one element limit of each', () => {
    const m = validateMeasured(writeZipBomb(join(root, 'bomb200.zip'), 16, 200 * MiB));
    expect(m.report!.importable).toBe(false);
    const refused = codes(m, 'day-file-limit');
    expect(refused).toHaveLength(16);
    expect(refused[0].message).toBe(
      `element 0 of 'general/${dayName(0)}.json' is larger than the ${MAX_ELEMENT_BYTES}-byte limit for one element; ` +
        'the rest of the file is not read: the export is damaged or was altered, export it again.',
    );
    // 3.2 GB of day files: holding any one of them whole would take more than this.
    expect(m.peakBytes).toBeLessThan(400 * MB);
  });

  it('reads a flood of valid elements that are not messages only up to the element limit, holding none of them', () => {
    const m = validateMeasured(writeElementFlood(join(root, 'flood.zip'), 4, 64 * MiB));
    const refused = codes(m, 'day-file-limit');
    expect(refused.map((p) => p.message.split(';')[0])).toEqual(
      Array.from(
        { length: 4 },
        (_, d) =>
          `element ${MAX_ELEMENTS_PER_FILE} of 'general/${dayName(d)}.json' is over the limit of ${MAX_ELEMENTS_PER_FILE} elements for one file`,
      ),
    );
    expect(m.peakBytes).toBeLessThan(400 * MB);
  });

  it("refuses a day file just over V8's string limit by name and limit, instead of 'Cannot create a string'", async () => {
    expect(DEFAULT_ARCHIVE_LIMITS.maxEntryBytes).toBeLessThan(constants.MAX_STRING_LENGTH);
    const report = await validateExport(writeOverStringLimit(join(root, 'over-string.zip')), { now: NOW });
    expect(report.importable).toBe(false);
    expect(report.problems).toContainEqual({
      severity: 'error',
      code: 'day-file-too-large',
      message: expect.stringContaining(
        `'general/${dayName(0)}.json' expands to ${OVER_STRING_LIMIT_BYTES} bytes (512 MiB), over the 268435456 bytes (256 MiB) limit`,
      ),
      where: `general/${dayName(0)}.json`,
    });
  });

  it('streams a legitimate day file larger than the read-ahead budget, in parts, to the same plan as small files give', async () => {
    const odd = [
      msg('1577836700.000001', 'quotes \\" and brackets [{ inside a string }] \\\\'),
      msg('1577836700.000002', 'unicode \u00e9\u20ac\ud83d\ude00 and escapes \n\t', { __proto__x: 1 }),
      { ...(msg('1577836700.000003', 'a key named __proto__') as object), ['__proto__']: { polluted: true } },
    ];
    const messages = [
      ...odd,
      ...Array.from({ length: 40_000 }, (_, i) =>
        msg(
          `${1577836800 + Math.floor(i / 10)}.${String(100 + (i % 10)).padStart(6, '0')}`,
          `message ${i} ${'x'.repeat(400)}`,
        ),
      ),
    ];
    const big = writeExport({ days: { general: { [dayName(0)]: messages } } });
    const small = writeExport({
      days: {
        general: Object.fromEntries(
          Array.from({ length: 41 }, (_, d) => [dayName(d), messages.slice(d * 1000, (d + 1) * 1000)]),
        ),
      },
    });
    const exp = await openSlackExport(big);
    const parts = [];
    for await (const day of exp.days(exp.conversations[0])) parts.push(day);
    await exp.close();
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.every((p) => p.path === `general/${dayName(0)}.json`)).toBe(true);
    expect(parts.reduce((n, p) => n + p.messages.length, 0)).toBe(messages.length);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const plans = [];
    for (const dir of [big, small]) {
      const store = new LocalFolderStore(tempDir());
      const manifest = await planExport(dir, { now: NOW }, store);
      expect(manifest.channels[0].posts).toBe(messages.length);
      plans.push((await store.get('channels/C1.ndjson')).toString('utf8'));
    }
    expect(plans[0]).toBe(plans[1]);
  });

  it('gives deeply nested invalid JSON a real line and column, never NaN', async () => {
    const depth = 100_000;
    const dir = writeDeeplyNested(tempDir(), depth);
    const report = await validateExport(dir, { now: NOW });
    const refused = report.problems.find((p) => p.where === `general/${dayName(1)}.json`)!;
    expect(refused.message).toBe(
      `element 0 of 'general/${dayName(1)}.json' nests arrays or objects deeper than 64 levels; ` +
        'the rest of the file is not read: the export is damaged or was altered, export it again.',
    );
    writeFileSync(join(dir, 'team_info.json'), `{"team": ${deeplyNestedInvalidJson(depth)}}`);
    const column = '{"team": '.length + depth + '1,]'.length;
    await expect(validateExport(dir, { now: NOW })).rejects.toThrow(
      new ExportReadError(
        `'team_info.json' is not valid JSON at line 1, column ${column} (unexpected ']'): repair or remove the file and run again.`,
      ),
    );
  });

  it('reports symbolic links (and reads nothing through them) in a folder export', async () => {
    const dir = writeSymlinks(tempDir(), join(tempDir(), 'outside.json'));
    const report = await validateExport(dir, { now: NOW });
    const skipped = report.problems.filter((p) => p.code === 'folder-entry-skipped');
    expect(skipped.map((p) => p.where)).toEqual([`general/${dayName(1)}.json`, 'secrets.json']);
    expect(skipped[0].message).toContain('is a symbolic link; it was skipped');
    expect(report.totals.posts).toBe(1);
  });

  it("refuses a channel id that climbs out of a path, in validate and in run's staging alike, leaving no plan", async () => {
    const dir = writeTraversalChannelId(tempDir());
    const report = await validateExport(dir, { now: NOW });
    expect(report.importable).toBe(false);
    const invalid = report.problems.find((p) => p.code === 'conversation-id-invalid')!;
    expect(invalid.message).toContain(
      `channels.json lists 'escape' with the id "../../../x", which is not a Slack id`,
    );

    const store = new LocalFolderStore(tempDir());
    const deps = {
      store,
      openSource: async (s: { path?: string }) => {
        const slack = await openSlackExport(s.path!);
        return { slack, release: () => slack.close() };
      },
      files: { botToken: false, maxFileBytes: 250 * 1024 * 1024 },
    } as unknown as PipelineDeps;
    const staged = await stageSource(deps, {
      migrationId: 'm1',
      source: { kind: 'path', path: dir },
      team: { visibility: 'private' },
      options: {} as never,
      now: NOW.toISOString(),
    });
    expect(staged.ok).toBe(false);
    expect(!staged.ok && staged.problems.find((p) => p.code === 'conversation-id-invalid')?.message).toBe(
      invalid.message,
    );
    expect(await store.list('')).toEqual([]);
  });
});

describe('a staging that fails part way', () => {
  it('deletes the channel plans it had written before the failure', async () => {
    const dir = writeExport({
      days: {
        general: { [dayName(0)]: [msg('1577836800.000100', 'one')] },
        random: { [dayName(0)]: [msg('1577836801.000100', 'two')] },
      },
    });
    const inner = new LocalFolderStore(tempDir());
    const store = Object.assign(Object.create(inner) as LocalFolderStore, {
      put: async (name: string, data: Parameters<LocalFolderStore['put']>[1]) => {
        if (name.endsWith('/C2.ndjson')) throw new Error('the storage account went away');
        return inner.put(name, data);
      },
    });
    const deps = {
      store,
      openSource: async (s: { path?: string }) => {
        const slack = await openSlackExport(s.path!);
        return { slack, release: () => slack.close() };
      },
      files: { botToken: false, maxFileBytes: 250 * 1024 * 1024 },
    } as unknown as PipelineDeps;
    const input = {
      migrationId: 'm2',
      source: { kind: 'path' as const, path: dir },
      team: { visibility: 'private' as const },
      options: {} as never,
      now: NOW.toISOString(),
    };
    await expect(stageSource(deps, input)).rejects.toThrow('the storage account went away');
    expect(await inner.list('')).toEqual([]);
  });
});
