import { validateExport } from '../../../cli/validate';
import { HOSTILE_NAMES, writeHostileNames } from '../../fixtures/hostile/build';
import { tempDir } from '../../support/fixtures';
import { runCli } from '../../support/process';

const NOW = new Date('2026-06-01T00:00:00Z');
/** A control (C0, DEL, C1) or format character (bidi, zero width) anywhere but the line breaks. */
const RAW = /[\p{Cc}\p{Cf}]/u;

describe('names with terminal escapes and bidi controls', () => {
  const dir = writeHostileNames(tempDir());

  it('validate prints them escaped: no escape sequence, bell, CSI or bidi control reaches the terminal', async () => {
    const { out } = await runCli(['validate', dir]);
    expect(out.split('\n').filter((line) => RAW.test(line))).toEqual([]);
    expect(out).toContain('ops\\u{1b}]0;pwned\\u{7}');
    expect(out).toContain('red\\u{1b}[31malert\\u{1b}[0m');
    expect(out).toContain('invoice\\u{202e}txt.exe');
    expect(out).toContain('csi\\u{9b}31m');
  });

  it('validate --json escapes them inside the strings and still parses to the same report', async () => {
    const { out } = await runCli(['validate', '--json', dir]);
    expect(out.replace(/\n/g, '')).not.toMatch(RAW);
    const parsed = JSON.parse(out) as { channels: Array<{ source: string }> };
    expect(parsed.channels.map((c) => c.source).sort()).toEqual([...Object.values(HOSTILE_NAMES)].sort());
    const direct = await validateExport(dir);
    expect(parsed.channels).toEqual(direct.channels);
  });

  it('Teams channel names lose controls and format characters, and each rename says so', async () => {
    const report = await validateExport(dir, { now: NOW });
    const teamsName = (source: string) => report.channels.find((c) => c.source === source)?.teamsName;
    expect(teamsName(HOSTILE_NAMES.colour)).toBe('red[31malert[0m');
    expect(teamsName(HOSTILE_NAMES.rightToLeft)).toBe('invoicetxt.exe');
    expect(teamsName(HOSTILE_NAMES.zeroWidth)).toBe('payroll');
    expect(teamsName(HOSTILE_NAMES.isolate)).toBe('teamhidden');
    expect(teamsName(HOSTILE_NAMES.c1)).toBe('csi31m');
    for (const c of report.channels) expect(c.teamsName).not.toMatch(RAW);
    const renamed = report.problems.find(
      (p) => p.code === 'channel-renamed' && p.message.startsWith(`channel '${HOSTILE_NAMES.rightToLeft}'`),
    );
    expect(renamed?.message).toContain('control and invisible formatting characters (U+202E) are removed');
  });
});
