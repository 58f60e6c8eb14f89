import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatReport, validateExport } from '../../../cli/validate';
import { ExportReadError } from '../../../core/sources/archive';
import { EXPORT_2016, tempDir } from '../../support/fixtures';
import { runCli } from '../../support/process';
import { msg, writeExport } from '../../support/slackExport';

const NOW = new Date('2026-06-01T00:00:00Z');

describe('validate', () => {
  it('reports channels, users and problems for the 2016 export', async () => {
    const report = await validateExport(EXPORT_2016, { now: NOW });
    expect(report.importable).toBe(true);
    expect(report.channels).toEqual([
      {
        source: 'enrique',
        teamsName: 'enrique',
        general: false,
        posts: 96,
        replies: 0,
        skipped: { 'system-event': 6 },
        files: 0,
        inlineImages: 0,
        fileOutcomes: { inline: 0, sharepoint: 0, fallback: {} },
        split: 0,
        collisions: 3,
        // Ten <@U..> outside joins, of users without e-mail; one :botman: reaction, a custom emoji.
        mentions: { native: 0, text: { 'no-email': 10 } },
        reactions: { native: 0, text: { 'custom-emoji': 1 } },
      },
      {
        source: 'traveling-sailor',
        teamsName: 'traveling-sailor',
        general: false,
        posts: 51,
        replies: 0,
        skipped: { 'system-event': 5 },
        files: 4,
        inlineImages: 0,
        // three snippets shared (uploaded), and a comment on one of them (a link to that upload)
        fileOutcomes: { inline: 0, sharepoint: 3, fallback: { 'earlier-upload': 1 } },
        split: 0,
        collisions: 0,
        mentions: { native: 0, text: { 'no-email': 9 } },
        reactions: { native: 0, text: {} },
      },
    ]);
    expect(report.users).toMatchObject({ total: 4, matched: 0, unmatched: 4 });
    expect(formatReport(report)).toContain(
      '#traveling-sailor -> traveling-sailor: 51 posts, 0 replies, skipped 5 system-event, 4 files',
    );
    expect(formatReport(report)).toContain(
      '    mentions 0 native, 10 as text (no-email 10); reactions 0 native, 1 as text (custom-emoji 1)',
    );
  });

  it('--json through the CLI: shape and exit code 0', async () => {
    const { code, out } = await runCli([
      'validate',
      EXPORT_2016,
      '--json',
      '--channels',
      'enrique',
      '--since',
      '2016-03-01',
    ]);
    expect(code).toBe(0);
    const json = JSON.parse(out) as Record<string, unknown> & {
      channels: Array<Record<string, unknown>>;
      problems: unknown[];
      users: Record<string, number>;
    };
    expect(json.channels).toHaveLength(1);
    expect(Object.keys(json.channels[0])).toEqual(
      expect.arrayContaining(['source', 'teamsName', 'posts', 'replies', 'skipped']),
    );
    expect(json.channels[0].skipped).toMatchObject({ 'filtered-by-date': 6 + 6 + 2 + 20 + 9 });
    expect(json.users).toMatchObject({ matched: 0, unmatched: 4 });
    expect(Array.isArray(json.problems)).toBe(true);
  });

  it('exit codes: 2 for a file that is not a ZIP or an export without channels.json, 1 for broken day files', async () => {
    const notZip = join(tempDir(), 'x.zip');
    writeFileSync(notZip, 'nope');
    const a = await runCli(['validate', notZip]);
    expect(a.code).toBe(2);
    expect(a.err).toContain("x.zip' is not a readable ZIP file");
    const empty = tempDir();
    writeFileSync(join(empty, 'users.json'), '[]');
    const b = await runCli(['validate', empty]);
    expect(b.code).toBe(2);
    expect(b.err).toContain('has no channels.json');
    await expect(validateExport(empty)).rejects.toThrow(ExportReadError);
    const broken = writeExport({
      days: {
        general: {
          '2020-01-01': '[{"ts": "1577836800.000100",, }]',
          '2020-01-02': [msg('1577923200.000100', 'ok')],
        },
      },
    });
    const c = await runCli(['validate', broken, '--json']);
    expect(c.code).toBe(1);
    const report = JSON.parse(c.out) as {
      importable: boolean;
      problems: Array<{ severity: string; message: string }>;
    };
    expect(report.importable).toBe(false);
    expect(report.problems).toContainEqual(
      expect.objectContaining({
        severity: 'error',
        message: expect.stringContaining("'general/2020-01-01.json' is not valid JSON at line 1, column 29"),
      }),
    );
    const human = await runCli(['validate', broken]);
    expect(human.out).toContain('ERROR [day-file-json]');
    expect(human.out).toContain('cannot be imported as it stands');
  });

  it('bad option values and an unreadable user map exit 2 naming the option', async () => {
    expect((await runCli(['validate', EXPORT_2016, '--since', 'yesterday-ish'])).err).toContain(
      "--since 'yesterday-ish' is not a date",
    );
    const r = await runCli(['validate', EXPORT_2016, '--user-map', '/nonexistent/map.csv']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--user-map '/nonexistent/map.csv' cannot be read");
    const g = await runCli(['validate', EXPORT_2016, '--user-groups', '/nonexistent/groups.csv']);
    expect(g.code).toBe(2);
    expect(g.err).toContain("--user-groups '/nonexistent/groups.csv' cannot be read");
    const x = await runCli(['validate', EXPORT_2016, '--reactions', 'emoji']);
    expect(x.code).toBe(2);
    expect(x.err).toContain("--reactions must be 'native' or 'text', not 'emoji'");
  });

  it('a user map makes mentions of mapped people native; --reactions text moves reactions to the text line', async () => {
    const map = join(tempDir(), 'map.csv');
    writeFileSync(map, 'U0BMS113R,doubledeez@example.com\n');
    const report = await validateExport(EXPORT_2016, { now: NOW, userMap: map, reactions: 'text' });
    const native = report.channels.reduce((n, c) => n + c.mentions.native, 0);
    expect(native).toBe(countMentions('U0BMS113R'));
    expect(native).toBeGreaterThan(0);
    expect(report.channels[0].reactions).toEqual({ native: 0, text: { 'custom-emoji': 1 } });
  });
});

/** `<@U..>` of one user in the 2016 export's messages other than joins. */
function countMentions(id: string): number {
  let n = 0;
  for (const channel of ['enrique', 'traveling-sailor'])
    for (const file of readdirSync(join(EXPORT_2016, channel)))
      for (const m of JSON.parse(readFileSync(join(EXPORT_2016, channel, file), 'utf8')) as Array<
        Record<string, unknown>
      >)
        if (m.subtype !== 'channel_join' && m.subtype !== 'bot_add')
          n += [...JSON.stringify(m).matchAll(new RegExp(`<@${id}(\\|[^>]*)?>`, 'g'))].length;
  return n;
}
