import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runMigration, sandboxUsersFromExport } from '../../cli/run';
import { BASE_SCOPES } from '../../core/sources/slack/webApi';
import { startSandbox, type DumpMessage, type SandboxDump, type SandboxHandle } from '../../sandbox';
import {
  capturedIo,
  FAST_RATES,
  messageCount,
  SAMPLE_EXPORT,
  seenTeams,
  testRunOptions,
} from '../support/migration';

const TOKEN = 'xoxb-e2e-stand-in';

/** Each message's attachments (name, type) and the bytes of every file the tenant's drives hold, by path. */
async function filesOf(
  sandbox: SandboxHandle,
): Promise<{ attachments: string[]; bytes: Map<string, string> }> {
  const dump: SandboxDump = sandbox.dump();
  const messages = dump.teams.flatMap((t) =>
    t.channels.flatMap((c) => c.messages.flatMap((m): DumpMessage[] => [m, ...m.replies])),
  );
  const attachments = messages
    .flatMap((m) =>
      (m.attachments as { name: string; contentType: string }[]).map(
        (a) => `${m.createdDateTime} ${a.contentType} ${a.name}`,
      ),
    )
    .sort();
  const bytes = new Map<string, string>();
  for (const m of messages)
    for (const a of m.attachments as { contentUrl: string; name: string }[]) {
      const res = await fetch(a.contentUrl);
      bytes.set(a.name, Buffer.from(await res.arrayBuffer()).toString('base64'));
    }
  return { attachments, bytes };
}

describe("a migration from Slack's Web API (the sandbox's stand-in) equals the same export's", () => {
  const env = { ...process.env };
  let root: string;
  let fromExport: SandboxHandle;
  let fromApi: SandboxHandle;
  let apiCode: number;
  let apiOut: string[];

  beforeAll(async () => {
    Object.assign(process.env, FAST_RATES, { SLACK_TOKEN: TOKEN });
    root = mkdtempSync(path.join(tmpdir(), 'e2e-slack-api-'));
    const users = await sandboxUsersFromExport(SAMPLE_EXPORT);
    fromExport = await startSandbox({ users, timeScale: 10, slackFiles: { export: SAMPLE_EXPORT } });
    fromApi = await startSandbox({
      users,
      timeScale: 10,
      slackApi: {
        export: SAMPLE_EXPORT,
        token: TOKEN,
        rateLimits: [
          { method: 'conversations.history', count: 1, retryAfterSeconds: 1 },
          { method: 'conversations.replies', count: 1, retryAfterSeconds: 1 },
        ],
      },
    });
    const exported = capturedIo();
    expect(
      await runMigration(
        SAMPLE_EXPORT,
        testRunOptions(path.join(root, 'export'), fromExport.url, {
          runId: 'same',
          slackFilesUrl: fromExport.slackFilesUrl,
        }),
        exported.io,
      ),
    ).toBe(0);
    const read = capturedIo();
    apiCode = await runMigration(
      undefined,
      testRunOptions(path.join(root, 'api'), fromApi.url, {
        runId: 'same',
        slackWorkspace: 'slack-sample',
        slackApiUrl: fromApi.slackApiUrl,
        slackFilesUrl: fromApi.slackFilesUrl,
      }),
      read.io,
    );
    apiOut = [...read.out, ...read.err];
  }, 300_000);
  afterAll(async () => {
    await fromExport?.stop();
    await fromApi?.stop();
    rmSync(root, { recursive: true, force: true });
    process.env = env;
  });

  it('imports the same messages, authors, times, threads, members and inline images', () => {
    expect(apiCode).toBe(0);
    const [team] = seenTeams(fromApi.dump());
    expect(team!.migrationMode).toBe('completed');
    expect(messageCount(team!)).toBeGreaterThan(0);
    expect(seenTeams(fromApi.dump())).toEqual(seenTeams(fromExport.dump()));
  });

  it('moves the same files, downloaded with the token as Bearer since the API gives no file token', async () => {
    const api = await filesOf(fromApi);
    const exported = await filesOf(fromExport);
    expect(api.attachments.length).toBeGreaterThan(0);
    expect(api.attachments).toEqual(exported.attachments);
    expect(api.bytes).toEqual(exported.bytes);
    const downloads = fromApi.slackFilesServed();
    expect(downloads.length).toBe(new Set(downloads.map((d) => d.fileId)).size);
    expect(downloads.every((d) => d.status === 200 && !d.path.includes('t='))).toBe(true);
  });

  it('waits out the ratelimited answers and asks again for the same page', () => {
    const calls = fromApi.slackApiCalls();
    for (const method of ['conversations.history', 'conversations.replies']) {
      const ofMethod = calls.filter((c) => c.method === method);
      expect(ofMethod[0]).toMatchObject({ status: 429, error: 'ratelimited' });
      // Channels are staged several at once, so the same page's next call need not be the method's next one.
      const again = ofMethod
        .slice(1)
        .find((c) => JSON.stringify(c.params) === JSON.stringify(ofMethod[0]!.params));
      expect(again).toMatchObject({ status: 200 });
    }
  });

  it('keeps the token out of everything it prints and records', () => {
    expect(apiOut.join('\n')).not.toContain(TOKEN);
    expect(JSON.stringify(fromApi.slackApiCalls())).not.toContain(TOKEN);
  });
});

describe('a token without a scope the migration needs', () => {
  const env = { ...process.env };
  let root: string;
  let sandbox: SandboxHandle;

  beforeAll(async () => {
    Object.assign(process.env, FAST_RATES, { SLACK_TOKEN: TOKEN });
    root = mkdtempSync(path.join(tmpdir(), 'e2e-slack-scope-'));
    sandbox = await startSandbox({
      users: await sandboxUsersFromExport(SAMPLE_EXPORT),
      timeScale: 10,
      slackApi: {
        export: SAMPLE_EXPORT,
        token: TOKEN,
        scopes: BASE_SCOPES.filter((s) => s !== 'channels:history'),
      },
    });
  });
  afterAll(async () => {
    await sandbox?.stop();
    rmSync(root, { recursive: true, force: true });
    process.env = env;
  });

  it('fails before anything is created, naming the missing scope', async () => {
    const { io, err } = capturedIo();
    const code = await runMigration(
      undefined,
      testRunOptions(path.join(root, 'state'), sandbox.url, {
        runId: 'no-history',
        slackWorkspace: 'slack-sample',
        slackApiUrl: sandbox.slackApiUrl,
        slackFilesUrl: sandbox.slackFilesUrl,
      }),
      io,
    );
    expect(code).toBe(1);
    expect(err.join('\n')).toContain('nothing was created in Teams');
    expect(err.join('\n')).toMatch(/SLACK_TOKEN lacks the Slack scope channels:history \(it has /);
    expect(sandbox.requestLog().filter((r) => r.method !== 'GET')).toEqual([]);
    expect(sandbox.dump().teams).toEqual([]);
    expect(sandbox.slackApiCalls().map((c) => c.method)).toEqual(['auth.test']);
  }, 120_000);
});
