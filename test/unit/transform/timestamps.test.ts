import fc from 'fast-check';
import { parseSlackTs, planTimestamps, type TimedUnit } from '../../../core/transform/timestamps';
import { planExport } from '../../../core/transform/plan';
import { LocalFolderStore } from '../../../core/state/localStore';
import { tempDir } from '../../support/fixtures';
import { msg, writeExport } from '../../support/slackExport';

const NOW = Date.parse('2026-06-01T00:00:00Z');

const unitsArb = fc
  .array(
    fc.record({
      micros: fc.integer({ min: 1_400_000_000_000_000, max: 1_400_000_000_050_000 }),
      parentPick: fc.option(fc.nat(), { nil: undefined }),
      parts: fc.integer({ min: 1, max: 3 }),
    }),
    { minLength: 1, maxLength: 60 },
  )
  .map((raw) => {
    const units: TimedUnit[] = raw.map((r, i) => ({
      key: `${Math.floor(r.micros / 1e6)}.${String(r.micros % 1e6).padStart(6, '0')}-${i}`,
      micros: r.micros,
      ms: Math.floor(r.micros / 1000),
      parts: r.parts,
    }));
    const tops = raw.map((r, i) => (r.parentPick === undefined ? i : -1)).filter((i) => i >= 0);
    raw.forEach((r, i) => {
      if (r.parentPick !== undefined && tops.length) units[i].parent = tops[r.parentPick % tops.length];
    });
    return units;
  });

describe('planned timestamps (property-based)', () => {
  it('unique to the ms, replies after their parent, none before the floor, strictly increasing, deterministic', () => {
    fc.assert(
      fc.property(
        unitsArb,
        fc.integer({ min: 1_399_999_999_990_000, max: 1_400_000_000_020_000 }),
        (units, floorMicros) => {
          const floor = Math.floor(floorMicros / 1000);
          const plan = planTimestamps(units, floor);
          const all = plan.order.flatMap((i) => plan.times[i]);
          expect(new Set(all).size).toBe(all.length);
          for (let k = 1; k < all.length; k++) expect(all[k]).toBeGreaterThan(all[k - 1]);
          expect(Math.min(...all)).toBeGreaterThanOrEqual(floor);
          units.forEach((u, i) => {
            expect(plan.times[i][0]).toBeGreaterThanOrEqual(u.ms);
            if (u.parent !== undefined) {
              const parentTimes = plan.times[u.parent];
              expect(plan.times[i][0]).toBeGreaterThan(parentTimes[parentTimes.length - 1]);
              expect(plan.order.indexOf(i)).toBeGreaterThan(plan.order.indexOf(u.parent));
            }
          });
          expect(planTimestamps(units, floor)).toEqual(plan);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('nothing after `now` and nothing before the channel in whole plans of random channels', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 999_999 }), fc.boolean()),
          {
            minLength: 1,
            maxLength: 25,
          },
        ),
        fc.integer({ min: 0, max: 5000 }),
        async (raw, nowOffset) => {
          const base = 1_600_000_000;
          const seen = new Set<string>();
          const messages = raw
            .map(([s, us, reply]) => ({ ts: `${base + s}.${String(us).padStart(6, '0')}`, reply }))
            .filter((m) => !seen.has(m.ts) && seen.add(m.ts));
          const first = messages[0].ts;
          const dir = writeExport({
            channels: [{ id: 'C1', name: 'c', created: base + 4000 }],
            days: {
              c: {
                '2020-09-13': messages.map((m, i) =>
                  msg(m.ts, `m${i}`, m.reply && m.ts !== first ? { thread_ts: first } : {}),
                ),
              },
            },
          });
          const now = (base + nowOffset) * 1000;
          const store = new LocalFolderStore(tempDir());
          const manifest = await planExport(dir, { now }, store);
          const channel = manifest.channels[0];
          const lines = (await store.get(channel.planPath))
            .toString()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { createdDateTime: string });
          const created = Date.parse(channel.createdDateTime);
          expect(Date.parse(manifest.team.createdDateTime)).toBeLessThan(created);
          expect(created).toBeLessThanOrEqual(now);
          for (const l of lines) {
            expect(Date.parse(l.createdDateTime)).toBeGreaterThan(created);
            expect(Date.parse(l.createdDateTime)).toBeLessThanOrEqual(now);
          }
          expect(channel.sourceMessages).toBe(
            channel.messages -
              channel.splitExtraParts +
              Object.values(channel.skipped).reduce((a, b) => a + (b ?? 0), 0),
          );
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('real cases', () => {
  it('1503435956.000247 and 1503435956.000512 share a millisecond: the later is bumped by 1 ms', async () => {
    expect(parseSlackTs('1503435956.000247')).toEqual({ micros: 1503435956000247, ms: 1503435956000 });
    const dir = writeExport({
      days: {
        general: { '2017-08-22': [msg('1503435956.000512', 'second'), msg('1503435956.000247', 'first')] },
      },
    });
    const store = new LocalFolderStore(tempDir());
    const m = await planExport(dir, { now: NOW }, store);
    const lines = (await store.get('channels/C1.ndjson'))
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; createdDateTime: string });
    expect(lines.map((l) => [l.key, l.createdDateTime])).toEqual([
      ['1503435956.000247', '2017-08-22T21:05:56.000Z'],
      ['1503435956.000512', '2017-08-22T21:05:56.001Z'],
    ]);
    expect(m.channels[0].timestampBumps).toBe(1);
  });

  it('a channel dated after its first message is back-dated to 1 ms before it; the team precedes every channel', async () => {
    const dir = writeExport({
      channels: [{ id: 'C1', name: 'late', created: 1600000000, is_general: true }],
      days: { late: { '2020-09-13': [msg('1599999000.000001', 'early')] } },
    });
    const m = await planExport(dir, { now: NOW });
    expect(m.channels[0].createdDateTime).toBe(new Date(1599999000000 - 1).toISOString());
    expect(Date.parse(m.team.createdDateTime)).toBeLessThan(Date.parse(m.channels[0].createdDateTime));
    expect(m.problems.map((p) => p.code)).toContain('channel-backdated');
  });

  it('messages after `now` are left out and reported, never dated in the future', async () => {
    const dir = writeExport({
      days: {
        general: { '2030-01-01': [msg('1577836800.000001', 'past'), msg('1893456000.000001', 'future')] },
      },
    });
    const m = await planExport(dir, { now: NOW });
    expect(m.channels[0].skipped).toEqual({ 'in-future': 1 });
    expect(m.problems.find((p) => p.code === 'in-future')?.severity).toBe('warning');
  });
});
