import { plainProgress } from '../../../cli/progress';
import { buildDashboard } from '../../../core/operations/dashboard';
import type { ChannelRecord } from '../../../core/state/ledgerRecords';

const channels = Array.from({ length: 300 }, (_, i) => ({
  key: `C${i}`,
  sourceName: `chan-${i}`,
  teamsName: `chan-${i}`,
  messages: 10,
}));

function snapshot(doneCount: number, now: number, runtimeStatus = 'Running') {
  const records: ChannelRecord[] = channels.slice(0, doneCount + 5).map((c, i) => ({
    runId: 'r',
    channelKey: c.key,
    state: i < doneCount ? 'posted' : 'posting',
    cursor: 0,
    posted: i < doneCount ? 10 : 3,
    failed: 0,
    missing: 0,
    throttled: 0,
    updatedAt: '',
  }));
  return buildDashboard({
    migrationId: 'r',
    instanceId: 'migration-r',
    team: 'T',
    runtimeStatus,
    customStatus: { phase: 'importing' },
    channels,
    records,
    now,
  });
}

describe('plain progress (no terminal)', () => {
  it('prints one summary line per interval and one line per channel when it finishes, never every channel on a line', () => {
    const lines: string[] = [];
    let now = 0;
    const view = plainProgress(
      (l) => lines.push(l),
      () => now,
      5000,
    );
    view.update(snapshot(0, now));
    now = 1000;
    view.update(snapshot(2, now));
    now = 6000;
    view.update(snapshot(3, now));
    const summaries = lines.filter((l) => l.startsWith('importing:'));
    expect(summaries).toHaveLength(2);
    expect(lines.filter((l) => /^chan-\d+: 10\/10 posted \(posted\)$/.test(l))).toEqual([
      'chan-0: 10/10 posted (posted)',
      'chan-1: 10/10 posted (posted)',
      'chan-2: 10/10 posted (posted)',
    ]);
    expect(summaries[1]).toMatch(
      /^importing: 45\/3000 messages posted \(1\.5%\) · 0 failed, 0 missing · 3\/300 channels done, 5 in flight/,
    );
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(300);
  });
});
