import { renderReportHtml } from '../../../core/operations/reportHtml';
import { summarize, type MigrationReport } from '../../../core/pipeline/report';

/** The page's text with whitespace collapsed as a browser shows it. */
const flat = (html: string): string =>
  html.replace(/\s+/g, ' ').replace(/> </g, '><').replace(/> /g, '>').replace(/ </g, '<');

const HOSTILE = '<img src=x onerror=alert(1)>"\'&';

function report(): MigrationReport {
  const base: Omit<MigrationReport, 'summary'> = {
    runId: 'm-1',
    phase: 'needs-attention',
    generatedAt: '2025-01-15T10:00:00.000Z',
    team: { displayName: `Team ${HOSTILE}`, teamId: 't1' },
    totals: { planned: 10, posted: 8, failed: 2, missing: 0, skipped: 1, throttled: 3 },
    channels: [
      {
        source: `chan ${HOSTILE}`,
        teamsName: `chan ${HOSTILE}`,
        state: 'posting',
        sourceMessages: 11,
        planned: 10,
        posts: 10,
        replies: 0,
        posted: 8,
        failed: 2,
        missing: 0,
        notTried: 0,
        skipped: { 'system-event': 1 },
        split: 0,
        timestampBumps: 0,
        throttled: 3,
        reactionsAsText: 0,
        failures: [{ key: '1.000001', error: `400 BadRequest: ${HOSTILE}` }],
        missingMessages: [],
        why: [`2 messages failed (1.000001: 400 BadRequest: ${HOSTILE}); the next run tries them again.`],
        editedInSlack: 1,
        deletedInSlack: 0,
        changedInSlack: [
          {
            key: `1.000002 ${HOSTILE}`,
            change: 'edited',
            teamsLink: 'https://teams.microsoft.com/l/message/19%3Aabc/1?x="y"',
            slackLink: 'https://acme.slack.com/archives/C1/p1000002',
          },
        ],
      },
    ],
    users: {
      matched: 1,
      unmatched: 1,
      fallback: 'Migration Account',
      unmatchedUsers: ['Deploy Bot (B1)'],
      byMatch: { email: 1, unmatched: 1 },
      people: [
        { sourceId: 'U1', name: `Ada ${HOSTILE}`, kind: 'person', matchedBy: 'email', postsAs: 'Ada' },
        {
          sourceId: 'B1',
          name: 'Deploy Bot',
          kind: 'bot',
          matchedBy: 'unmatched',
          postsAs: 'Migration Account',
        },
      ],
    },
    content: {
      files: { inline: 2, sharepoint: 1, fallback: { 'too-large': 1 } },
      mentions: { native: 4, text: { bot: 1 } },
      reactions: { native: 5, text: { 'custom-emoji': 2 }, refusedAsText: 0 },
    },
    throughput: { series: [{ minute: '2025-01-15T09:00:00.000Z', messages: 8 }] },
    notImported: [],
    problems: [],
    passes: [],
  };
  return { ...base, summary: summarize(base) };
}

describe('the report page', () => {
  it('escapes every value from the export', () => {
    const html = renderReportHtml(report());
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
  });

  it('opens with the summary, then the passes, the chart, the channels, the people and the content', () => {
    const html = renderReportHtml(report());
    const order = [
      'id="summary-h"',
      'id="passes-h"',
      'id="throughput-h"',
      'id="channels-h"',
      'id="users-h"',
      'id="content-h"',
    ].map((marker) => html.indexOf(marker));
    expect(order.every((at) => at > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(html).toContain('No passes recorded.');
  });

  it('says what did not move and why, and names bots as bots posting as the fallback account', () => {
    const r = report();
    expect(r.summary.moved[0]).toBe(
      `8 of 10 planned messages are in Teams, in 1 channel of the team 'Team ${HOSTILE}'.`,
    );
    expect(r.summary.moved[1]).toBe(
      'Under their own names: 1 of 1 person; as Migration Account, their names shown: 1 bot or deleted account.',
    );
    expect(r.summary.notMoved).toEqual([
      `chan ${HOSTILE}: ${r.channels[0].why[0]}`,
      '1 Slack message was left out on purpose (system-event: 1).',
    ]);
    const html = flat(renderReportHtml(r));
    expect(html).toMatch(
      /Deploy Bot<\/th><td class="text"><code>B1<\/code><\/td><td class="text">bot<\/td><td class="text">not matched \(fallback account\)<\/td><td class="text">Migration Account<\/td>/,
    );
  });

  it('lists passes in order when the ledger records them', () => {
    const html = flat(
      renderReportHtml({
        ...report(),
        passes: [
          {
            pass: 1,
            kind: 'initial',
            source: 'export.zip',
            startedAt: '2025-01-15T09:00:00Z',
            finishedAt: '2025-01-15T09:30:00Z',
            outcome: 'needs-attention',
            newMessages: 10,
            posted: 8,
            failed: 2,
            editedInSlack: 0,
            deletedInSlack: 0,
          },
          {
            pass: 2,
            kind: 'delta',
            source: 'Slack Web API',
            startedAt: '2025-01-16T09:00:00Z',
            outcome: 'running',
            newMessages: 3,
            posted: 1,
            failed: 0,
            editedInSlack: 1,
            deletedInSlack: 0,
          },
        ],
      }),
    );
    expect(html).not.toContain('No passes recorded.');
    expect(html.indexOf('initial')).toBeLessThan(html.indexOf('delta'));
    expect(html).toMatch(
      /<b>delta<\/b>from Slack Web API: started 2025-01-16T09:00:00Z \(running\) · running · 3 new, 1 posted, 0 failed, 1 edited and 0 deleted in Slack after import/,
    );
  });

  it('lists the messages changed in Slack after import, with escaped keys and links', () => {
    const html = flat(renderReportHtml(report()));
    expect(html).toContain('id="changed-h"');
    expect(html).toContain(`chan ${'&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;'}</b>: 1 edited, 0 deleted`);
    expect(html).toContain('href="https://teams.microsoft.com/l/message/19%3Aabc/1?x=&quot;y&quot;"');
    expect(html).toContain('<a href="https://acme.slack.com/archives/C1/p1000002">in Slack</a>');
    expect(html).not.toContain('<img src=x');
  });
});
