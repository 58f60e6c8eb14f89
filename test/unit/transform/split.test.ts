import fc from 'fast-check';
import { mentionEntryBytes, reactionEntryBytes } from '../../../core/graph/messageSize';
import type { PlannedMessage } from '../../../core/model';
import { BODY_BUDGET_BYTES, bodySize, splitBlocks } from '../../../core/transform/split';
import { mrkdwnToBlocks } from '../../../core/transform/mrkdwn';
import { planExport } from '../../../core/transform/plan';
import { LocalFolderStore } from '../../../core/state/localStore';
import { tempDir } from '../../support/fixtures';
import { msg, writeExport } from '../../support/slackExport';

const text = (html: string): string =>
  html
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
const names = { user: () => undefined, channel: () => undefined };

describe('body measure and splitting', () => {
  it('bodySize is the UTF-8 length of the JSON-escaped string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(bodySize(s)).toBe(Buffer.byteLength(JSON.stringify(s)) - 2);
      }),
      { numRuns: 500 },
    );
  });

  it('a 100 KB message splits at block boundaries into parts under the budget that rejoin exactly', () => {
    const paragraphs = Array.from(
      { length: 400 },
      (_, i) => `Paragraph ${i}: ${'lorem "ipsum" & <dolor> é 🎉 '.repeat(8)}`,
    );
    const blocks = mrkdwnToBlocks(paragraphs.join('\n\n'), names);
    const whole = blocks.join('');
    expect(bodySize(whole)).toBeGreaterThan(100_000);
    const parts = splitBlocks(blocks);
    expect(parts.length).toBeGreaterThanOrEqual(5);
    for (const p of parts) expect(bodySize(p)).toBeLessThanOrEqual(BODY_BUDGET_BYTES);
    expect(parts.join('')).toBe(whole);
  });

  it('one huge block is cut between characters, tags closed and reopened, never inside a tag or entity', () => {
    const huge = mrkdwnToBlocks(`*${'bold &amp; &lt;b&gt; 🎉 '.repeat(9000)}end*`, names);
    expect(huge).toHaveLength(1);
    const parts = splitBlocks(huge, 24_000);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) {
      expect(bodySize(p)).toBeLessThanOrEqual(24_000);
      expect(p.startsWith('<p><b>')).toBe(true);
      expect(p.endsWith('</b></p>')).toBe(true);
      expect(p).not.toMatch(/&[a-z#0-9]*$/);
      expect(p.replace(/<[^<>]*>/g, '')).not.toMatch(/[<>]/);
    }
    expect(text(parts.join(''))).toBe(text(huge[0]));
  });

  it('random block lists: every part within budget, text preserved', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 400 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 200, max: 2000 }),
        (texts, budget) => {
          const blocks = texts.map((t) => `<p><i>${t.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</i></p>`);
          const parts = splitBlocks(blocks, budget);
          for (const p of parts) expect(bodySize(p)).toBeLessThanOrEqual(budget);
          expect(text(parts.join(''))).toBe(text(blocks.join('')));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the plan posts a split message as consecutive parts 1 ms apart; its replies point at part 1', async () => {
    const dir = writeExport({
      days: {
        general: {
          '2020-01-01': [
            msg(
              '1577836800.000100',
              Array.from({ length: 300 }, (_, i) => `line ${i} ${'x'.repeat(200)}`).join('\n\n'),
            ),
            msg('1577836800.000200', 'reply', { thread_ts: '1577836800.000100' }),
          ],
        },
      },
    });
    const store = new LocalFolderStore(tempDir());
    const m = await planExport(dir, { now: Date.parse('2026-01-01T00:00:00Z') }, store);
    const lines = (await store.get('channels/C1.ndjson'))
      .toString()
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            key: string;
            parentKey?: string;
            createdDateTime: string;
            part?: { index: number; of: number };
          },
      );
    const parts = lines.filter((l) => l.part);
    expect(parts.length).toBeGreaterThan(2);
    expect(parts.map((p) => p.key)).toEqual(parts.map((_, i) => `1577836800.000100#p${i + 1}`));
    expect(lines[lines.length - 1]).toMatchObject({
      key: '1577836800.000200',
      parentKey: '1577836800.000100#p1',
    });
    expect(m.channels[0]).toMatchObject({
      split: 1,
      splitExtraParts: parts.length - 1,
      posts: parts.length,
      replies: 1,
    });
  });
});

describe('splitting a message with mentions and reactions', () => {
  it("renumbers each part's mentions from 0, one-to-one with its <at> tags, and counts them in the budget", async () => {
    const paragraphs = Array.from(
      { length: 300 },
      (_, i) => `Point ${i} for <@U1> and <@U2>: ${'x '.repeat(60)}`,
    );
    const dir = writeExport({
      days: {
        general: {
          '2017-07-14': [
            msg('1500000000.000100', paragraphs.join('\n\n'), {
              reactions: [{ name: 'wave', users: ['U1', 'U2'], count: 2 }],
            }),
          ],
        },
      },
    });
    const store = new LocalFolderStore(tempDir());
    const manifest = await planExport(dir, { now: Date.parse('2026-01-01T00:00:00Z') }, store);
    const lines = (await store.get(manifest.channels[0].planPath))
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as PlannedMessage);
    expect(lines.length).toBeGreaterThan(2);
    let mentions = 0;
    for (const [i, line] of lines.entries()) {
      const tags = [...line.html.matchAll(/<at id="(\d+)">([^<]*)<\/at>/g)];
      expect(tags.map((t) => Number(t[1]))).toEqual(tags.map((_t, k) => k));
      expect((line.mentions ?? []).map((m) => [m.id, m.text])).toEqual(tags.map((t) => [Number(t[1]), t[2]]));
      mentions += tags.length;
      const entries = (line.mentions ?? []).map((m) => mentionEntryBytes(m)).reduce((a, b) => a + b, 0);
      const reactionBytes = (line.reactions ?? [])
        .map((r) => reactionEntryBytes(r.emoji, r.displayName))
        .reduce((a, b) => a + b, 0);
      expect(bodySize(line.html) + entries + reactionBytes).toBeLessThanOrEqual(BODY_BUDGET_BYTES);
      expect(!!line.reactionLine).toBe(i === lines.length - 1);
    }
    expect(mentions).toBe(600);
    expect(lines.at(-1)!.reactions!.map((r) => r.sourceUserId)).toEqual(['U1', 'U2']);
  });

  it('a message with an element that cannot be cut stays over the limit and is reported', async () => {
    const url = `https://example.com/${'a'.repeat(30_000)}`;
    const dir = writeExport({
      days: { general: { '2017-07-14': [msg('1500000000.000100', `<${url}|long>`)] } },
    });
    const manifest = await planExport(dir, { now: Date.parse('2026-01-01T00:00:00Z') });
    expect(manifest.problems.map((p) => p.code)).toContain('message-too-large');
  });
});
