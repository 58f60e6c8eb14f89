import path from 'node:path';
import type { PlannedMessage, Problem } from '../../../core/model';
import { openSlackExport } from '../../../core/sources/slack/export';
import { LocalFolderStore } from '../../../core/state/localStore';
import {
  assemblePlan,
  indexPlan,
  planExport,
  planItem,
  type ItemSummary,
  type PlanOptions,
} from '../../../core/transform/plan';
import { ProblemLog } from '../../../core/transform/problems';
import { tempDir } from '../../support/fixtures';
import { msg, writeExport } from '../../support/slackExport';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const ROOT = path.resolve(__dirname, '..', '..', '..');
const EXPORTS = {
  sample: path.join(ROOT, 'samples', 'slack-sample'),
  zulip: path.join(ROOT, 'test', 'fixtures', 'slack', 'zulip'),
  'slack-export-viewer-2016': path.join(ROOT, 'test', 'fixtures', 'slack', 'slack-export-viewer-2016'),
};
const OPTION_SETS: Record<string, PlanOptions> = {
  defaults: { now: NOW },
  'chats, private channels, system events, files': {
    now: NOW,
    dms: 'chats',
    privateChannels: true,
    includeSystemEvents: true,
    slackBotToken: true,
  },
  'text reactions, small bodies, a date bound, DMs to OneDrive': {
    now: NOW,
    reactions: 'text',
    dms: 'onedrive',
    bodyBudgetBytes: 2000,
    since: Date.parse('2016-01-01T00:00:00Z'),
  },
};

/** A fixed permutation of 0..n-1 (a seeded Fisher-Yates), so a failure can be replayed. */
function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let state = seed;
  for (let i = n - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Every object of a store, by name, as bytes. */
async function contents(store: LocalFolderStore): Promise<Map<string, Buffer>> {
  const names = await store.list('');
  return new Map(await Promise.all(names.map(async (n) => [n, await store.get(n)] as const)));
}

/** Plans every item apart, in the given order, each summary through JSON as an activity's would go, then assembles. */
async function planApart(dir: string, options: PlanOptions, order: (n: number) => number[]) {
  const store = new LocalFolderStore(tempDir());
  const indexExp = await openSlackExport(dir);
  const index = JSON.parse(JSON.stringify(indexPlan(indexExp, options))) as ReturnType<typeof indexPlan>;
  await indexExp.close();
  const summaries: ItemSummary[] = [];
  for (const item of order(index.items.length)) {
    // A new opening of the export for each item, as each activity has.
    const exp = await openSlackExport(dir);
    try {
      summaries.push(
        JSON.parse(JSON.stringify(await planItem(exp, options, index, item, store))) as ItemSummary,
      );
    } finally {
      await exp.close();
    }
  }
  const exp = await openSlackExport(dir);
  try {
    const manifest = await assemblePlan(exp, options, index, summaries, store);
    return { store, manifest, items: index.items.length };
  } finally {
    await exp.close();
  }
}

describe('planning the items of an export apart', () => {
  for (const [name, dir] of Object.entries(EXPORTS))
    for (const [label, options] of Object.entries(OPTION_SETS))
      it(`gives ${name} the same plan files and manifest as planning it whole (${label})`, async () => {
        const whole = new LocalFolderStore(tempDir());
        await planExport(dir, options, whole);
        const apart = await planApart(dir, options, (n) => shuffled(n, n * 7919 + 17));
        expect(apart.items).toBeGreaterThan(1);
        const expected = await contents(whole);
        const actual = await contents(apart.store);
        expect([...actual.keys()]).toEqual([...expected.keys()]);
        for (const [file, bytes] of expected)
          expect({ file, text: actual.get(file)!.toString() }).toEqual({ file, text: bytes.toString() });
      });

  it('plans a channel from its own messages only: names learned in one channel do not carry to another', async () => {
    const dir = writeExport({
      channels: [
        { id: 'C1', name: 'general', created: 1500000000, is_general: true },
        { id: 'C2', name: 'zeta', created: 1500000000 },
      ],
      days: {
        general: {
          '2020-01-01': [
            msg('1577836800.000100', 'hi', { user: 'UX', user_profile: { display_name: 'Xav' } }),
            msg('1577836801.000100', 'added <https://acme.slack.com/services/B9|Deploybot>', {
              subtype: 'bot_add',
            }),
          ],
        },
        zeta: {
          '2020-01-02': [
            msg('1577923200.000100', 'ping <@UX>'),
            msg('1577923201.000100', 'again', { user: 'UX', user_profile: { display_name: 'X2' } }),
            {
              type: 'message',
              subtype: 'bot_message',
              ts: '1577923202.000100',
              bot_id: 'B9',
              text: 'deployed',
            },
          ],
        },
      },
    });
    for (const order of [(n: number) => shuffled(n, 1), (n: number) => shuffled(n, 2).reverse()]) {
      const { store, manifest } = await planApart(dir, { now: NOW }, order);
      const zeta = (await store.get('channels/C2.ndjson'))
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as PlannedMessage);
      expect(zeta.map((m) => [m.author.displayName, m.html])).toEqual([
        ['Ann', '<p>ping <strong>@X2</strong></p>'],
        ['X2', '<p>again</p>'],
        ['Integration B9', '<p>deployed</p>'],
      ]);
      const general = (await store.get('channels/C1.ndjson')).toString();
      expect(JSON.parse(general.split('\n')[0]).author.displayName).toBe('Xav');
      // The workspace knows the author by the first name the first channel saw, and warns once.
      expect(manifest.users.find((u) => u.sourceId === 'UX')?.displayName).toBe('Xav');
      const warnings = manifest.problems.filter((p) => p.code === 'user-missing');
      expect(warnings).toEqual([
        expect.objectContaining({
          where: 'C1',
          message: expect.stringContaining('message 1577836800.000100'),
        }),
      ]);
    }
  });

  it('warns once per unknown author across channels, listing as many as one log would', async () => {
    const authors = (from: number, to: number, ts: number): object[] =>
      Array.from({ length: to - from }, (_, i) =>
        msg(`${ts + i}.000100`, 'hello', {
          user: `UNK${from + i}`,
          user_profile: { display_name: `n${from + i}` },
        }),
      );
    const dir = writeExport({
      days: {
        general: { '2020-01-01': authors(0, 60, 1577836800) },
        random: { '2020-01-02': authors(30, 90, 1577923200) },
      },
    });
    const { manifest } = await planApart(dir, { now: NOW }, (n) => shuffled(n, 3));
    const listed = manifest.problems.filter((p) => p.code === 'user-missing' && !p.message.includes('more'));
    expect(listed.map((p) => p.message.match(/author '(\w+)'/)![1])).toEqual(
      Array.from({ length: 50 }, (_, i) => `UNK${i}`),
    );
    expect(
      manifest.problems.find((p) => p.code === 'user-missing' && p.message.includes('more'))?.message,
    ).toBe("40 more 'user-missing' problems not listed (90 in all).");
  });
});

describe('a problem log merged from the logs of parts', () => {
  it('lists exactly what one log fed every problem lists, caps and worst severities included', () => {
    const severities: Problem['severity'][] = ['info', 'warning', 'error'];
    for (let seed = 1; seed <= 20; seed++) {
      let state = seed;
      const next = (n: number): number => (state = (state * 1103515245 + 12345) % 2 ** 31) % n;
      const problems: Problem[] = Array.from({ length: 400 }, (_, i) => ({
        severity: severities[next(10) === 0 ? 2 : next(2)],
        code: `code-${next(5)}`,
        message: `problem ${i}`,
      }));
      const one = new ProblemLog(7);
      one.add(...problems);
      const merged = new ProblemLog(7);
      let at = 0;
      while (at < problems.length) {
        const part = new ProblemLog(7);
        const end = Math.min(problems.length, at + 1 + next(60));
        part.add(...problems.slice(at, end));
        merged.merge(JSON.parse(JSON.stringify(part.state())) as ReturnType<ProblemLog['state']>);
        at = end;
      }
      expect(merged.list()).toEqual(one.list());
      expect(merged.hasErrors).toBe(one.hasErrors);
    }
  });

  it('places inserted problems where they fell among the kept ones', () => {
    const p = (code: string, n: number): Problem => ({ severity: 'warning', code, message: `${code} ${n}` });
    const part = new ProblemLog(2);
    part.add(p('a', 1), p('b', 1), p('a', 2), p('a', 3));
    const merged = new ProblemLog(2);
    merged.add(p('c', 0));
    merged.merge(part.state(), [
      { at: 0, problem: p('u', 1) },
      { at: 2, problem: p('u', 2) },
      { at: 3, problem: p('u', 3) },
    ]);
    expect(merged.list().map((x) => x.message)).toEqual([
      'c 0',
      'u 1',
      'a 1',
      'b 1',
      'u 2',
      'a 2',
      "1 more 'a' problems not listed (3 in all).",
      "1 more 'u' problems not listed (3 in all).",
    ]);
  });
});
