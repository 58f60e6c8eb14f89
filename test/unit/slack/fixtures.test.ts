import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PlanManifest, PlannedChannel } from '../../../core/model';
import { LocalFolderStore } from '../../../core/state/localStore';
import { planExport } from '../../../core/transform/plan';
import { zipFolder } from '../../../bench/zipWriter';
import { EXPORT_2016, assembleZulipExport, readJson, tempDir } from '../../support/fixtures';

const NOW = Date.parse('2026-06-01T00:00:00Z');

function countFixture(folder: string): { total: number; bySubtype: Record<string, number> } {
  const bySubtype: Record<string, number> = {};
  let total = 0;
  for (const f of readdirSync(folder).filter((n) => n.endsWith('.json'))) {
    for (const m of readJson<Array<{ subtype?: string }>>(join(folder, f))) {
      total++;
      bySubtype[m.subtype ?? '-'] = (bySubtype[m.subtype ?? '-'] ?? 0) + 1;
    }
  }
  return { total, bySubtype };
}

function skippedSum(c: PlannedChannel): number {
  return Object.values(c.skipped).reduce((a, b) => a + (b ?? 0), 0);
}

function expectAccounted(c: PlannedChannel): void {
  expect(c.sourceMessages).toBe(c.messages - c.splitExtraParts + skippedSum(c));
}

describe('real fixtures: every message accounted for', () => {
  it('2016 export: counts per channel match an independent count of the day files', async () => {
    const m = await planExport(EXPORT_2016, { now: NOW });
    expect(m.importable).toBe(true);
    expect(m.channels.map((c) => c.teamsName)).toEqual(['enrique', 'traveling-sailor']);
    let all = 0;
    for (const c of m.channels) {
      const counted = countFixture(join(EXPORT_2016, c.sourceName));
      all += counted.total;
      expect(c.sourceMessages).toBe(counted.total);
      expect(c.skipped['system-event']).toBe(
        (counted.bySubtype.channel_join ?? 0) + (counted.bySubtype.bot_add ?? 0),
      );
      expect(c.posts).toBe(counted.total - c.skipped['system-event']!);
      expectAccounted(c);
    }
    expect(all).toBe(158);
    const sailor = m.channels.find((c) => c.sourceName === 'traveling-sailor')!;
    expect(sailor.files).toBe(4);
  });

  it('2016 export with system events included: nothing is skipped', async () => {
    const m = await planExport(EXPORT_2016, { now: NOW, includeSystemEvents: true });
    for (const c of m.channels) {
      expect(skippedSum(c)).toBe(0);
      expect(c.messages).toBe(c.sourceMessages);
    }
  });

  it("today's format (zulip fixtures assembled): threads, broadcast, General, archived, DMs not imported", async () => {
    const dir = assembleZulipExport();
    const store = new LocalFolderStore(tempDir());
    const m = await planExport(dir, { now: NOW }, store);
    const general = m.channels[0];
    expect(general).toMatchObject({ sourceName: 'general', teamsName: 'General', isGeneral: true });
    const random = m.channels.find((c) => c.sourceName === 'random')!;
    expect(random.description).toBe('no purpose (archived in Slack)');
    for (const c of m.channels) {
      const folder = join(dir, c.sourceName);
      const counted = readdirSync(dir).includes(c.sourceName) ? countFixture(folder).total : 0;
      expect(c.sourceMessages).toBe(counted);
      expectAccounted(c);
    }
    expect(m.notImported.map((n) => n.kind).sort()).toEqual([
      'dm',
      'dm',
      'dm',
      'dm',
      'groupDm',
      'groupDm',
      'groupDm',
    ]);
    const threads = m.channels.find((c) => c.sourceName === 'threads')!;
    expect(threads).toMatchObject({ posts: 3, replies: 4 });
    const lines = (await store.get(threads.planPath))
      .toString()
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { key: string; parentKey?: string; createdDateTime: string; html: string },
      );
    const byKey = new Map(lines.map((l, i) => [l.key, i]));
    for (const [i, l] of lines.entries()) {
      if (l.parentKey) expect(byKey.get(l.parentKey)!).toBeLessThan(i);
      if (i > 0)
        expect(Date.parse(l.createdDateTime)).toBeGreaterThan(Date.parse(lines[i - 1].createdDateTime));
    }
    const late = lines.find((l) => l.key === '1449868294.000007')!;
    expect(late.parentKey).toBe('1539868294.000007');
    expect(Date.parse(late.createdDateTime)).toBe(Date.parse('2018-10-18T13:11:34.001Z'));
    expect(lines.find((l) => l.html.includes('everyone should see this'))!.html).toContain(
      '(also sent to the channel)',
    );
    expect(m.problems.find((p) => p.code === 'user-missing')?.message).toContain("'Peter'");
  });

  it('reads the same export from a ZIP (also with a top folder) and plans byte-identical files', async () => {
    const plan = async (
      input: string,
    ): Promise<{ files: Record<string, string>; manifest: PlanManifest }> => {
      const root = tempDir();
      const store = new LocalFolderStore(root);
      const manifest = await planExport(input, { now: NOW }, store);
      const files: Record<string, string> = {};
      for (const name of await store.list('channels/')) files[name] = (await store.get(name)).toString();
      return { files, manifest };
    };
    const zip = join(tempDir(), 'export.zip');
    zipFolder(EXPORT_2016, zip);
    const nested = join(tempDir(), 'nested.zip');
    zipFolder(EXPORT_2016, nested, 'slack-export/');
    const fromFolder = await plan(EXPORT_2016);
    const fromZip = await plan(zip);
    const fromNested = await plan(nested);
    expect(Object.keys(fromZip.files)).toHaveLength(2);
    expect(fromZip.files).toEqual(fromFolder.files);
    expect(fromNested.files).toEqual(fromFolder.files);
    expect(fromZip.manifest.channels).toEqual(fromFolder.manifest.channels);
  });

  it('plans are byte-identical across runs with the same options', async () => {
    const a = tempDir();
    const b = tempDir();
    const dir = assembleZulipExport();
    await planExport(dir, { now: NOW }, new LocalFolderStore(a));
    await planExport(dir, { now: NOW }, new LocalFolderStore(b));
    const names = await new LocalFolderStore(a).list('');
    expect(names.length).toBeGreaterThan(3);
    expect(await new LocalFolderStore(b).list('')).toEqual(names);
    for (const n of names) expect(readFileSync(join(b, n))).toEqual(readFileSync(join(a, n)));
  });
});

describe('the bundled sample export', () => {
  it('plans with no errors, threads included, every message accounted for, under 300 messages', async () => {
    const sample = join(__dirname, '..', '..', '..', 'samples', 'slack-sample');
    const m = await planExport(sample, { now: NOW });
    expect(m.importable).toBe(true);
    expect(m.problems.filter((p) => p.severity !== 'info')).toEqual([]);
    let source = 0;
    for (const c of m.channels) {
      expect(c.sourceMessages).toBe(countFixture(join(sample, c.sourceName)).total);
      expectAccounted(c);
      source += c.sourceMessages;
    }
    expect(source).toBeLessThan(300);
    expect(m.channels.find((c) => c.sourceName === 'threads')!.replies).toBe(3);
  });
});
