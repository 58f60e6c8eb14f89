import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { SANDBOX_FALLBACK, type RunIo, type RunOptions } from '../../cli/run';
import {
  parseFaults,
  refusesMessage,
  SLACK_FILES_PREFIX,
  type SandboxDump,
  type DumpMessage,
} from '../../sandbox';
import type { KnownMessage } from './slackExport';

/** The repository root. */
export const ROOT = path.resolve(__dirname, '..', '..');
/** The bundled sample export. */
export const SAMPLE_EXPORT = path.join(ROOT, 'samples', 'slack-sample');

/**
 * Settings that let a test run the app ten times faster than the service against a sandbox with timeScale 10:
 * ten times the rates, and a tenth of the longest Retry-After waited inside a request.
 */
export const FAST_RATES = {
  TEAMS_IMPORT_RATE_PER_CHANNEL: '50',
  TEAMS_IMPORT_RATE_GLOBAL: '500',
  TEAMS_IMPORT_MAX_RETRY_AFTER_SECONDS: '6',
};

/** Slack subtypes the planner leaves out by default (events, not messages). */
export const SLACK_EVENTS = new Set([
  'channel_join',
  'channel_leave',
  'channel_topic',
  'channel_purpose',
  'channel_name',
  'channel_archive',
  'channel_unarchive',
  'bot_add',
  'bot_remove',
  'pinned_item',
  'unpinned_item',
]);

/** A message as a Teams user would see it: time, author, body, inline images and its replies. */
export interface SeenMessage {
  createdDateTime: string;
  from?: string;
  body: string;
  images: number;
  replies: SeenMessage[];
}

/** What a migrated tenant holds, free of generated ids, for comparing two runs. */
export interface SeenTeam {
  displayName: string;
  migrationMode: string | null;
  members: string[];
  channels: {
    displayName: string;
    migrationMode: string | null;
    createdDateTime: string;
    messages: SeenMessage[];
  }[];
}

const byTime = (a: { createdDateTime: string }, b: { createdDateTime: string }): number =>
  a.createdDateTime.localeCompare(b.createdDateTime);

function seen(m: DumpMessage): SeenMessage {
  return {
    createdDateTime: m.createdDateTime,
    from: m.from?.user?.id,
    body: m.body.content,
    images: m.hostedContents.length,
    replies: m.replies.map(seen).sort(byTime),
  };
}

/** Normalizes a sandbox dump: teams, channels and messages sorted, ids dropped, members as `userId:roles`. */
export function seenTeams(dump: SandboxDump): SeenTeam[] {
  return dump.teams
    .map((t) => ({
      displayName: t.displayName,
      migrationMode: t.migrationMode,
      members: t.members.map((m) => `${m.userId}:${[...m.roles].sort().join('+')}`).sort(),
      channels: t.channels
        .filter((c) => !c.deleted)
        .map((c) => ({
          displayName: c.displayName,
          migrationMode: c.migrationMode,
          createdDateTime: c.createdDateTime,
          messages: c.messages.map(seen).sort(byTime),
        }))
        .sort((a, b) => a.displayName.localeCompare(b.displayName)),
    }))
    .sort((a, b) => a.displayName.localeCompare(b.displayName));
}

/** Counts the messages (replies included) of a normalized team. */
export function messageCount(team: SeenTeam): number {
  return team.channels.reduce((n, c) => n + c.messages.reduce((k, m) => k + 1 + m.replies.length, 0), 0);
}

/**
 * Starts `teams-import <args>` as a child process on the TypeScript sources (compiled by swc on load). With
 * `ownGroup` it leads a process group of its own, which its embedded Azurite joins, so `killGroup` can kill
 * the run with its storage, as a crash of the machine's processes would.
 */
export function spawnCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: { ownGroup?: boolean } = {},
): ChildProcess & { output: () => string } {
  const script = `require(${JSON.stringify(path.join(ROOT, 'cli', 'main.ts'))}).main(process.argv).then((c) => { process.exitCode = c; }, (e) => { console.error(e); process.exitCode = 1; });`;
  const child = spawn(
    process.execPath,
    ['-r', path.join(__dirname, 'swc-register.js'), '-e', script, 'teams-import', ...args],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.ownGroup ?? false,
    },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return Object.assign(child, { output: () => output });
}

/** SIGKILLs a child started with `ownGroup` together with every process of its group (its Azurite). */
export function killGroup(child: ChildProcess): void {
  process.kill(-child.pid!, 'SIGKILL');
}

/** Resolves to the child's exit code (or signal name). */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}

/** Resolves to the child's exit code, or kills it and fails with its output when it runs longer than `ms`. */
export async function exitedWithin(
  child: ChildProcess & { output: () => string },
  ms: number,
): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`teams-import did not finish within ${ms} ms; its output:\n${child.output()}`));
    }, ms);
  });
  try {
    return await Promise.race([exited(child), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Arguments of a `teams-import run` child process against a test sandbox: small batches, fast polls, the
 * sandbox's fallback account, JSON on stdout; `extra` adds (or, for a flag given twice, overrides) options.
 */
export function testRunArgs(
  exportPath: string,
  opts: { graphUrl: string; stateDir: string; runId: string; slackFilesUrl?: string },
  extra: string[] = [],
): string[] {
  return [
    'run',
    exportPath,
    '--graph-url',
    opts.graphUrl,
    '--state-dir',
    opts.stateDir,
    '--run-id',
    opts.runId,
    '--fallback-user',
    SANDBOX_FALLBACK.userPrincipalName,
    '--batch-seconds',
    '1',
    '--operation-poll-seconds',
    '1',
    ...(opts.slackFilesUrl ? ['--slack-files-url', opts.slackFilesUrl] : []),
    '--json',
    ...extra,
  ];
}

/** Options of an in-process `runMigration` against a test sandbox: small batches, fast polls, the sandbox's fallback account. */
export function testRunOptions(
  stateDir: string,
  graphUrl: string,
  extra: Partial<RunOptions> = {},
): RunOptions {
  return {
    stateDir,
    graphUrl,
    json: true,
    includeSystemEvents: false,
    completeOnErrors: false,
    channelConcurrency: 10,
    batchSeconds: 1,
    operationPollSeconds: 1,
    fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
    slackFilesUrl: `${graphUrl}${SLACK_FILES_PREFIX}`,
    ...extra,
  };
}

/** A RunIo that keeps what the run prints. */
export function capturedIo(): { io: RunIo; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => out.push(t), err: (t) => err.push(t), isTty: false }, out, err };
}

/**
 * The messages a sandbox `refuse` rule refuses (sent and answered 400), and those that then wait for their
 * refused thread's first message (never sent), worked out from the export's times and the sandbox's rule.
 */
export function refusals(
  known: KnownMessage[],
  spec: string,
  seed: number,
): { refused: KnownMessage[]; waiting: KnownMessage[] } {
  const refusedKeys = new Set(
    known.filter((k) => refusesMessage(parseFaults(spec), seed, k.ms)).map((k) => k.key),
  );
  const waiting = known.filter((k) => k.parentKey !== undefined && refusedKeys.has(k.parentKey));
  const refused = known.filter((k) => refusedKeys.has(k.key) && !waiting.includes(k));
  return { refused, waiting };
}

/**
 * Creates an ordinary team (not in migration mode) in a sandbox as a tenant admin would, with these standard
 * channels besides General, and answers its id.
 */
export async function createOrdinaryTeam(
  sandboxUrl: string,
  displayName: string,
  channels: string[] = [],
): Promise<string> {
  const request = async (method: string, at: string, body?: unknown): Promise<Response> =>
    fetch(at.startsWith('http') ? at : `${sandboxUrl}/v1.0${at}`, {
      method,
      headers: { authorization: 'Bearer tenant-admin', 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  const created = await request('POST', '/teams', {
    'template@odata.bind': "https://graph.microsoft.com/v1.0/teamsTemplates('standard')",
    displayName,
  });
  if (created.status !== 202) throw new Error(`team creation answered ${created.status}`);
  const location = created.headers.get('location')!;
  for (;;) {
    const op = (await (await request('GET', location)).json()) as {
      status: string;
      targetResourceId: string;
    };
    if (op.status !== 'succeeded') continue;
    for (const name of channels) {
      const made = await request('POST', `/teams/${op.targetResourceId}/channels`, { displayName: name });
      if (made.status !== 201) throw new Error(`channel creation answered ${made.status}`);
    }
    return op.targetResourceId;
  }
}
