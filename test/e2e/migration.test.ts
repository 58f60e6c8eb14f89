import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MigrationReport } from '../../core/pipeline/report';
import { runMigration, sandboxUsersFromExport, SANDBOX_FALLBACK } from '../../cli/run';
import { startSandbox, sandboxUserFor, type SandboxHandle } from '../../sandbox';
import {
  capturedIo,
  FAST_RATES,
  messageCount,
  SAMPLE_EXPORT,
  seenTeams,
  SLACK_EVENTS,
  testRunOptions,
} from '../support/migration';

describe('migrating the bundled sample into the sandbox', () => {
  let sandbox: SandboxHandle;
  let stateDir: string;
  const env = { ...process.env };

  beforeAll(async () => {
    Object.assign(process.env, FAST_RATES);
    sandbox = await startSandbox({
      users: await sandboxUsersFromExport(SAMPLE_EXPORT),
      timeScale: 10,
      slackFiles: { export: SAMPLE_EXPORT },
    });
    stateDir = mkdtempSync(path.join(tmpdir(), 'e2e-run-'));
  });
  afterAll(async () => {
    await sandbox.stop();
    rmSync(stateDir, { recursive: true, force: true });
    process.env = env;
  });

  it('posts every planned message once, in its thread, as its author, then completes the team and adds members', async () => {
    const { io, out, err } = capturedIo();
    const code = await runMigration(
      SAMPLE_EXPORT,
      testRunOptions(stateDir, sandbox.url, { runId: 'sample', slackFilesUrl: sandbox.slackFilesUrl }),
      io,
    );
    expect(code).toBe(0);
    expect(err.join('\n')).toMatch(
      /^Live status while it runs: http:\/\/127\.0\.0\.1:\d+\/api\/migrations\/sample\/dashboard$/m,
    );
    const report = JSON.parse(out.join('\n'));
    expect(report.phase).toBe('completed');

    const expected = readSampleExport(SAMPLE_EXPORT);
    const total = expected.reduce((n, c) => n + c.messages.length, 0);
    expect(report.totals).toMatchObject({ planned: total, posted: total, failed: 0 });

    const [team] = seenTeams(sandbox.dump());
    expect(team.migrationMode).toBe('completed');
    expect(messageCount(team)).toBe(total);
    expect(team.channels.every((c) => c.migrationMode === 'completed')).toBe(true);

    for (const source of expected) {
      const line = report.channels.find((c: { source: string }) => c.source === source.name);
      expect(line).toMatchObject({ sourceMessages: source.read, planned: source.messages.length, failed: 0 });
      expect(line.elapsedSeconds).toBeGreaterThanOrEqual(0);
      const channel = team.channels.find((c) => c.displayName === line.teamsName)!;
      expect(channel).toBeDefined();
      const posted = channel.messages
        .flatMap((m) => [
          { m, parent: undefined as string | undefined },
          ...m.replies.map((r) => ({ m: r, parent: m.createdDateTime })),
        ])
        .sort((a, b) => a.m.createdDateTime.localeCompare(b.m.createdDateTime));
      expect(posted).toHaveLength(source.messages.length);
      const timeOf = new Map<string, string>();
      source.messages.forEach((want, i) => {
        const got = posted[i]!;
        const ms = Date.parse(got.m.createdDateTime);
        // Messages of one millisecond are moved 1 ms apart in Slack's order; nothing moves further than that.
        expect(ms - want.ms).toBeGreaterThanOrEqual(0);
        expect(ms - want.ms).toBeLessThan(10);
        timeOf.set(want.ts, got.m.createdDateTime);
        expect(got.parent).toBe(want.threadTs === undefined ? undefined : timeOf.get(want.threadTs));
        expect(got.m.from).toBe(want.authorEmail ? sandboxUserFor(want.authorEmail).id : SANDBOX_FALLBACK.id);
        if (!want.authorEmail) expect(got.m.body).toContain('Originally posted by');
        const text = visibleText(got.m.body);
        for (const word of want.words) expect(text).toContain(word);
        const moved =
          [...got.m.body.matchAll(/<attachment id="[0-9A-F-]{36}"><\/attachment>/gi)].length + got.m.images;
        expect(moved).toBe(want.files);
      });
    }
    expect(team.members.length).toBeGreaterThan(0);
  });

  it('rehearses in the embedded sandbox with every person of the sample under their own name', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'e2e-embedded-'));
    try {
      const { io, out } = capturedIo();
      const options = testRunOptions(dir, '', { runId: 'embedded', sandbox: { timeScale: 10 } });
      delete options.graphUrl;
      delete options.fallbackUser;
      delete options.slackFilesUrl;
      expect(await runMigration(SAMPLE_EXPORT, options, io)).toBe(0);
      const report = JSON.parse(out.join('\n')) as MigrationReport;
      const accounts = JSON.parse(readFileSync(path.join(SAMPLE_EXPORT, 'users.json'), 'utf8')) as {
        id: string;
        is_bot?: boolean;
        deleted?: boolean;
      }[];
      const people = accounts.filter((u) => !u.is_bot && !u.deleted);
      expect(report.users).toMatchObject({ matched: people.length, unmatched: 0 });
      const listed = new Map(report.users.people.map((p) => [p.sourceId, p]));
      for (const person of people)
        expect(listed.get(person.id)).toMatchObject({
          kind: 'person',
          matchedBy: expect.stringMatching(/^(map|email)$/),
        });
      for (const other of report.users.people.filter((p) => !people.some((u) => u.id === p.sourceId)))
        expect(other).toMatchObject({
          kind: expect.stringMatching(/^(bot|deleted)$/),
          matchedBy: 'unmatched',
          postsAs: SANDBOX_FALLBACK.displayName,
        });
      const html = readFileSync(path.join(dir, 'reports', 'embedded.html'), 'utf8');
      for (const person of people) expect(html).toContain(`<code>${person.id}</code>`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('changes nothing when the same run is started again', async () => {
    const before = seenTeams(sandbox.dump());
    const postsBefore = sandbox
      .requestLog()
      .filter((r) => r.method === 'POST' && /\/messages/.test(r.path)).length;
    const { io } = capturedIo();
    expect(
      await runMigration(
        SAMPLE_EXPORT,
        testRunOptions(stateDir, sandbox.url, { runId: 'sample', slackFilesUrl: sandbox.slackFilesUrl }),
        io,
      ),
    ).toBe(0);
    expect(seenTeams(sandbox.dump())).toEqual(before);
    const postsAfter = sandbox
      .requestLog()
      .filter((r) => r.method === 'POST' && /\/messages/.test(r.path)).length;
    expect(postsAfter).toBe(postsBefore);
  });
});

interface ExpectedMessage {
  ts: string;
  /** Slack's time truncated to the millisecond. */
  ms: number;
  threadTs?: string;
  /** The author's e-mail when the author is a person with one (everyone else posts as the fallback account). */
  authorEmail?: string;
  /** Words of the message's own text that any rendering must keep. */
  words: string[];
  /** Files the message shares, each arriving as an inline image or a file in SharePoint. */
  files: number;
}

/**
 * What the sample should become, read straight from its JSON files (not through the planner): per channel,
 * every message that is not a Slack event, in Slack's order, with its thread, author and words.
 */
function readSampleExport(dir: string): { name: string; read: number; messages: ExpectedMessage[] }[] {
  type Raw = {
    files?: unknown[];
    file?: unknown;
    ts: string;
    thread_ts?: string;
    subtype?: string;
    user?: string;
    text?: string;
    bot_id?: string;
    comment?: { user?: string };
  };
  const read = <T>(file: string): T => JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as T;
  const emails = new Map(
    read<{ id: string; is_bot?: boolean; deleted?: boolean; profile?: { email?: string } }[]>('users.json')
      .filter((u) => !u.is_bot && !u.deleted && u.profile?.email)
      .map((u) => [u.id, u.profile!.email!]),
  );
  return read<{ name: string }[]>('channels.json').map(({ name }) => {
    const raw = readdirSync(path.join(dir, name))
      .sort()
      .flatMap((day) => read<Raw[]>(path.join(name, day)));
    const messages = raw
      .filter((m) => !SLACK_EVENTS.has(m.subtype ?? ''))
      .map((m): ExpectedMessage => {
        const [seconds, micros] = m.ts.split('.') as [string, string];
        const person = m.subtype === 'bot_message' || m.bot_id ? undefined : (m.user ?? m.comment?.user);
        const words = (m.text ?? '')
          .replace(/<[^>]*>/g, ' ')
          .replace(/:[a-z0-9_+-]+:/g, ' ')
          .replace(/&[a-z]+;/g, ' ')
          .split(/[^A-Za-z0-9]+/)
          .filter((w) => w.length >= 4 && !/^\d+$/.test(w));
        return {
          ts: m.ts,
          ms: Number(seconds) * 1000 + Math.floor(Number(micros) / 1000),
          ...(m.thread_ts && m.thread_ts !== m.ts ? { threadTs: m.thread_ts } : {}),
          ...(person && emails.has(person) ? { authorEmail: emails.get(person) } : {}),
          words: m.subtype === 'file_share' || m.subtype === 'file_comment' ? [] : words,
          files: m.files?.length ?? (m.file ? 1 : 0),
        };
      })
      .sort((a, b) => a.ms - b.ms || a.ts.localeCompare(b.ts));
    return { name, read: raw.length, messages };
  });
}

/** The text a reader sees in a message body: tags dropped, entities decoded. */
function visibleText(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_, code: string) => String.fromCodePoint(parseInt(code, 16)))
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"');
}
