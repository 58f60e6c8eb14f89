import { mrkdwnToBlocks, type RenderNames } from '../../../core/transform/mrkdwn';
import { adversarialText } from '../../fixtures/hostile/build';

const names: RenderNames = { user: () => undefined, channel: () => undefined };

/** CPU time of one conversion, the least of three (the machine is shared: the least is the least disturbed). */
function cpuMs(text: string): number {
  let least = Infinity;
  for (let run = 0; run < 3; run++) {
    const start = process.cpuUsage();
    mrkdwnToBlocks(text, names);
    const used = process.cpuUsage(start);
    least = Math.min(least, (used.user + used.system) / 1000);
  }
  return least;
}

/** How conversion time grows from 200 KB to 2 MB of the same text: about 10 when linear, about 100 when quadratic. */
function growth(make: (size: number) => string): number {
  mrkdwnToBlocks(make(20_000), names);
  return cpuMs(make(2_000_000)) / Math.max(cpuMs(make(200_000)), 1);
}

describe('mrkdwn scans stay linear on adversarial messages', () => {
  it.each([
    ['unmatched <', (n: number) => adversarialText(n, '<')],
    ['unmatched backticks', (n: number) => adversarialText(n, '`')],
    ['a bold opener before unmatched <', (n: number) => `*a${adversarialText(n - 2, '<')}`],
    ['a bold opener before unmatched backticks and <', (n: number) => `_x${'`<'.repeat(n / 2 - 1)}`],
    ['many lines each opening bold and a link', (n: number) => '*a <\n'.repeat(n / 5)],
  ])('%s: ten times the text takes about ten times as long', (_name, make) => {
    expect(growth(make)).toBeLessThan(30);
  });

  it('a 2 MB message of < converts to that many escaped characters', () => {
    const size = 2_000_000;
    expect(mrkdwnToBlocks(adversarialText(size, '<'), names)).toEqual([`<p>${'&lt;'.repeat(size)}</p>`]);
  });
});
