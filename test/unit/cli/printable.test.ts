import { printable, printableJson, printableLines } from '../../../cli/printable';

/** A channel name as a hostile export may hold it: an escape sequence, a bell, a bidi override, a zero-width space. */
const HOSTILE = 'ops\u001b[2J\u0007\u202egnp.exe\u200b\u009b';

describe('text from an export, printed', () => {
  it('shows every control and format character as an escape, so it cannot drive the terminal or reorder the line', () => {
    expect(printable(HOSTILE)).toBe('ops\\u{1b}[2J\\u{7}\\u{202e}gnp.exe\\u{200b}\\u{9b}');
    expect(printable('Équipe 🚀 日本')).toBe('Équipe 🚀 日本');
  });

  it('keeps the lines of a multi-line summary and escapes within each', () => {
    expect(printableLines(`a\u001b\nb\u202e`)).toBe('a\\u{1b}\nb\\u{202e}');
  });

  it('writes JSON whose strings parse back to exactly the same values, with no raw control or format character', () => {
    const value = { team: HOSTILE, channels: [HOSTILE, 'plain'] };
    const printed = printableJson(JSON.stringify(value, null, 2));
    expect(JSON.parse(printed)).toEqual(value);
    expect(printed).not.toMatch(/[\p{Cf}\u007f-\u009f]/u);
    expect(printed.replace(/\n/g, '')).not.toMatch(/\p{Cc}/u);
  });
});
