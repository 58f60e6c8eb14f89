import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { sandboxRehearsal, SANDBOX_FALLBACK } from '../../cli/run';
import { startHost, type LocalHost } from '../../devhost/host';
import { startSandbox, type DumpMessage, type RequestLogEntry, type SandboxHandle } from '../../sandbox';
import { tempDir } from '../support/fixtures';
import { hostApi } from '../support/hostApi';
import { FAST_RATES, SAMPLE_EXPORT } from '../support/migration';

const TOKEN = 'xoxb-delta-stand-in';
const ID = 'live';
const LOOK_BACK_SECONDS = 7 * 24 * 3600;

const isMessagePost = (r: RequestLogEntry): boolean =>
  r.method === 'POST' && /\/messages(\/[^/]+\/replies)?$/.test(r.path) && r.status < 300;

interface PassView {
  pass: number;
  kind: string;
  source: string;
  outcome: string;
  newMessages: number;
  editedInSlack: number;
  deletedInSlack: number;
}

interface MigrationView {
  stage?: string;
  passes: PassView[];
  channels: { source: string; posted: number }[];
  error?: string;
}

/** The export's messages of a channel folder, read straight from its day files. */
function exported(channel: string): { ts: string; user?: string }[] {
  const dir = path.join(SAMPLE_EXPORT, channel);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { ts: string; user?: string }[]);
}

const newest = (messages: { ts: string }[]): string =>
  messages.map((m) => m.ts).sort((a, b) => Number(a) - Number(b) || a.localeCompare(b))[messages.length - 1];

/** Every message and reply the tenant holds whose body contains `text`. */
function found(sandbox: SandboxHandle, text: string): DumpMessage[] {
  return sandbox
    .dump()
    .teams.flatMap((t) => t.channels.flatMap((c) => c.messages.flatMap((m) => [m, ...m.replies])))
    .filter((m) => m.body.content.includes(text));
}

describe('the delta-sync timer reads what is new in Slack through its Web API, once', () => {
  const dirs: string[] = [];
  let sandbox: SandboxHandle;
  let host: LocalHost;
  const { api, settled: settledOf } = hostApi<MigrationView>(() => host);
  const settled = (): Promise<MigrationView> => settledOf(ID, 180_000);

  beforeAll(async () => {
    const rehearsal = await sandboxRehearsal(SAMPLE_EXPORT);
    sandbox = await startSandbox({
      users: rehearsal.users,
      timeScale: 10,
      slackApi: { export: SAMPLE_EXPORT, token: TOKEN },
    });
    const dir = tempDir('slack-api-delta-');
    dirs.push(dir);
    host = await startHost({
      port: 0,
      stateDir: dir,
      timerTriggers: false,
      values: {
        ...FAST_RATES,
        GRAPH_URL: sandbox.url,
        SLACK_TOKEN: TOKEN,
        SLACK_API_URL: sandbox.slackApiUrl,
        SLACK_FILES_URL: sandbox.slackFilesUrl,
        TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true',
        MIGRATION_DELTA_SCHEDULE: '0 0 3 1 1 *',
      },
    });
    const started = await api('POST', '/migrations', {
      migrationId: ID,
      source: { kind: 'slack-api', workspace: 'slack-sample' },
      team: { displayName: 'Live deltas' },
      fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
      userMap: rehearsal.userMap,
      prestage: true,
      options: { batchSeconds: 1, operationPollSeconds: 1 },
    });
    expect(started.status).toBe(202);
    expect((await settled()).stage).toBe('prestaged');
  }, 300_000);
  afterAll(async () => {
    await host?.stop();
    await sandbox?.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('imports messages added to the workspace, a post and a late reply, through one timer firing, and nothing on the next', async () => {
    const postsBefore = sandbox.requestLog().filter(isMessagePost).length;
    const callsBefore = sandbox.slackApiCalls().length;
    const threads = exported('threads');
    const parent = newest(threads.filter((m) => m.user));
    const author = threads.find((m) => m.ts === parent)!.user!;
    sandbox.addSlackMessages('threads', [
      { user: author, text: 'Added after the import: a late reply', thread_ts: parent },
      { user: author, text: 'Added after the import: a new post' },
    ]);
    sandbox.addSlackMessages('traveling-sailor', [
      { user: 'U0BMQB6JE', text: 'Added after the import: news from the sailor' },
    ]);

    await host.invoke('migrationDeltaSync');
    const first = await settled();
    const delta = first.passes.filter((p) => p.kind === 'delta');
    expect(delta).toHaveLength(1);
    expect(delta[0]).toMatchObject({
      source: 'Slack Web API (slack-sample)',
      outcome: 'prestaged',
      newMessages: 3,
      editedInSlack: 0,
      deletedInSlack: 0,
    });
    expect(sandbox.requestLog().filter(isMessagePost).length - postsBefore).toBe(3);
    for (const text of [
      'Added after the import: a late reply',
      'Added after the import: a new post',
      'Added after the import: news from the sailor',
    ])
      expect(found(sandbox, text)).toHaveLength(1);
    const reply = found(sandbox, 'a late reply')[0];
    const thread = sandbox
      .dump()
      .teams.flatMap((t) => t.channels.flatMap((c) => c.messages))
      .find((m) => m.replies.some((r) => r.id === reply.id));
    expect(thread?.createdDateTime).toBe(new Date(Number(parent) * 1000).toISOString());

    // The pass read each imported channel's history from its newest imported message less the look-back.
    const histories = sandbox
      .slackApiCalls()
      .slice(callsBefore)
      .filter((c) => c.method === 'conversations.history');
    for (const channel of ['enrique', 'traveling-sailor', 'threads']) {
      const mark = Number(newest(exported(channel)));
      const read = histories.filter((c) => c.params.channel === readChannelId(channel));
      expect(read.length).toBeGreaterThan(0);
      expect(read.every((c) => Number(c.params.oldest) === Math.max(0, mark - LOOK_BACK_SECONDS))).toBe(true);
    }

    const postsAfter = sandbox.requestLog().filter(isMessagePost).length;
    await host.invoke('migrationDeltaSync');
    const second = await settled();
    expect(second.passes.filter((p) => p.kind === 'delta')).toHaveLength(2);
    expect(second.passes.at(-1)).toMatchObject({ newMessages: 0, editedInSlack: 0, deletedInSlack: 0 });
    expect(sandbox.requestLog().filter(isMessagePost).length).toBe(postsAfter);
  }, 300_000);

  it('answers 400 for a delta without a snapshot of a migration that reads an export, and 404 for an unknown one', async () => {
    const exportRun = await api('POST', '/migrations', {
      migrationId: 'export-run',
      source: { path: SAMPLE_EXPORT },
      team: { displayName: 'From the export' },
      fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
      channels: ['threads'],
      prestage: true,
      options: { batchSeconds: 1, operationPollSeconds: 1 },
    });
    expect(exportRun.status).toBe(202);
    expect((await host.client.waitForCompletion('migration-export-run', 180_000)).runtimeStatus).toBe(
      'Completed',
    );
    const refused = await api('POST', '/migrations/export-run/delta', {});
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/needs a newer snapshot: give "source"/);
    const unknown = await api('POST', '/migrations/nobody/delta', {});
    expect(unknown.status).toBe(404);
  }, 300_000);
});

/** A channel's Slack id, from the export's channels.json. */
function readChannelId(name: string): string {
  const channels = JSON.parse(readFileSync(path.join(SAMPLE_EXPORT, 'channels.json'), 'utf8')) as {
    id: string;
    name: string;
  }[];
  return channels.find((c) => c.name === name)!.id;
}
