import fc from 'fast-check';
import { formatSummary } from '../../../cli/run';
import { COMPLETED_BEFORE_POSTED } from '../../../core/pipeline/reconcile';
import { explainChannel, type ChannelReport, type MigrationReport } from '../../../core/pipeline/report';

/** A channel's outcome: planned messages split into posted, failed, missing and not tried, maybe an error. */
const outcome = fc
  .record({
    posted: fc.nat(50),
    failed: fc.nat(5),
    missing: fc.nat(5),
    notTried: fc.nat(5),
    error: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
    state: fc.constantFrom('pending', 'created', 'posting', 'posted', 'completed'),
  })
  .map((o) => ({
    state: o.state,
    planned: o.posted + o.failed + o.missing + o.notTried,
    posted: o.posted,
    failed: o.failed,
    missing: o.missing,
    failures: Array.from({ length: o.failed }, (_, i) => ({
      key: `17000000${i}.000000`,
      error: `400 BadRequest: no ${i}`,
    })),
    missingMessages: Array.from({ length: o.missing }, (_, i) => ({
      key: `17000001${i}.000000`,
      reason: COMPLETED_BEFORE_POSTED,
    })),
    ...(o.error ? { error: o.error } : {}),
  }));

describe('saying why', () => {
  it('explains every planned message a channel lacks once the run has ended, and nothing when none is lacking', () => {
    fc.assert(
      fc.property(outcome, (c) => {
        const why = explainChannel(c).join('\n');
        expect(why === '').toBe(c.posted === c.planned && !c.error);
        if (c.failed > 0) expect(why).toContain(`${c.failures[0].key}: ${c.failures[0].error}`);
        if (c.missing > 0) expect(why).toContain(`can no longer be imported: ${COMPLETED_BEFORE_POSTED}`);
        if (c.error) expect(why).toContain(c.error);
        const notTried = c.planned - c.posted - c.failed - c.missing;
        if (notTried > 0) expect(why).toMatch(new RegExp(`${notTried} messages? not tried yet`));
      }),
    );
  });

  it('a run that ends needs-attention never prints "0 failed" without saying, per channel, what is missing and why', () => {
    fc.assert(
      fc.property(fc.array(outcome, { minLength: 1, maxLength: 4 }), (outcomes) => {
        const channels: ChannelReport[] = outcomes.map((o, i) => ({
          source: `c${i}`,
          teamsName: `channel-${i}`,
          sourceMessages: o.planned,
          posts: o.planned,
          replies: 0,
          notTried: o.planned - o.posted - o.failed - o.missing,
          skipped: {},
          split: 0,
          timestampBumps: 0,
          reactionsAsText: 0,
          throttled: 0,
          editedInSlack: 0,
          deletedInSlack: 0,
          changedInSlack: [],
          ...o,
          why: explainChannel(o),
        }));
        const sum = (f: (c: ChannelReport) => number): number => channels.reduce((n, c) => n + f(c), 0);
        const report: MigrationReport = {
          runId: 'r',
          phase: sum((c) => c.failed) > 0 || channels.some((c) => c.error) ? 'needs-attention' : 'completed',
          generatedAt: '2024-01-01T00:00:00.000Z',
          team: { displayName: 'T', teamId: 't' },
          totals: {
            planned: sum((c) => c.planned),
            posted: sum((c) => c.posted),
            failed: sum((c) => c.failed),
            missing: sum((c) => c.missing),
            skipped: 0,
            throttled: 0,
          },
          summary: { moved: [], notMoved: [] },
          channels,
          passes: [],
          users: { matched: 1, unmatched: 0, unmatchedUsers: [], byMatch: {}, people: [] },
          content: {
            files: { inline: 0, sharepoint: 0, fallback: {} },
            mentions: { native: 0, text: {} },
            reactions: { native: 0, text: {}, refusedAsText: 0 },
          },
          throughput: { series: [] },
          notImported: [],
          problems: [],
        };
        const summary = formatSummary(report, 'report.html').split('\n');
        for (const c of channels.filter((c) => c.posted < c.planned || c.error)) {
          const at = summary.findIndex((l) => l.startsWith(`  ${c.teamsName} `));
          expect(summary[at + 1]).toMatch(/^ {6}\S/);
        }
        if (report.phase === 'needs-attention')
          expect(summary.join('\n')).toMatch(/run again with the same --run-id to retry/);
      }),
    );
  });
});
