import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import {
  parseFaults,
  SANDBOX_SLACK_TOKEN,
  sandboxUserSchema,
  startSandbox,
  type SandboxOptions,
  type SandboxUser,
} from '../sandbox';
import type { CommandRegistrar } from './command';

/** The `sandbox` subcommand's options as commander hands them over (strings until validated). */
export interface SandboxCommandOptions {
  port?: string;
  users?: string;
  ratePerChannel?: string;
  rateGlobal?: string;
  rateChat?: string;
  timeScale?: string;
  faults?: string;
  seed?: string;
  state?: string;
  token?: string;
  slackFiles?: string;
  slackFilesBytes?: string;
  slackToken?: string;
  slackFrom?: string;
  slackScopes?: string;
}

/** Where the command writes and how it learns to stop; the CLI wires stdout, stderr and SIGINT/SIGTERM. */
export interface SandboxCommandIo {
  out(line: string): void;
  err(line: string): void;
  waitForStop(): Promise<void>;
}

/** Reads `--users FILE`: a JSON array of `{id, displayName, mail, userPrincipalName}`; errors name the file. */
export async function loadUsersFile(file: string): Promise<SandboxUser[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(
      `--users ${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`--users ${file}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = z.array(sandboxUserSchema).safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const [index, ...field] = issue?.path ?? [];
    const where = index === undefined ? 'the file must hold a JSON array of users' : `entry ${String(index)}`;
    const what = field.length > 0 ? ` '${field.join('.')}'` : '';
    throw new Error(
      `--users ${file}: ${where}${what}: ${issue?.message ?? 'invalid'} (expected {"id","displayName","mail","userPrincipalName"})`,
    );
  }
  const ids = new Set<string>();
  for (const user of parsed.data) {
    if (ids.has(user.id.toLowerCase()))
      throw new Error(`--users ${file}: user id '${user.id}' appears twice`);
    ids.add(user.id.toLowerCase());
  }
  return parsed.data;
}

function numberOption(
  name: string,
  value: string | undefined,
  check: (n: number) => boolean,
  rule: string,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !check(n))
    throw new Error(`--${name} '${value}': ${rule}`);
  return n;
}

/** Validates the options into `startSandbox` options; an error names the option and the rule it breaks. */
export async function sandboxOptionsFrom(opts: SandboxCommandOptions): Promise<SandboxOptions> {
  const options: SandboxOptions = {
    port: numberOption(
      'port',
      opts.port,
      (n) => Number.isInteger(n) && n >= 0 && n <= 65535,
      'must be a port number (0 picks a free one)',
    ),
    ratePerChannel: numberOption(
      'rate-per-channel',
      opts.ratePerChannel,
      (n) => Number.isInteger(n) && n >= 0,
      'must be a whole number >= 0 (0 disables)',
    ),
    rateGlobal: numberOption(
      'rate-global',
      opts.rateGlobal,
      (n) => Number.isInteger(n) && n >= 0,
      'must be a whole number >= 0 (0 disables)',
    ),
    rateChatGlobal: numberOption(
      'rate-chat',
      opts.rateChat,
      (n) => Number.isInteger(n) && n >= 0,
      'must be a whole number >= 0 (0 disables)',
    ),
    timeScale: numberOption('time-scale', opts.timeScale, (n) => n > 0, 'must be a number > 0'),
    seed: numberOption('seed', opts.seed, (n) => Number.isInteger(n), 'must be an integer'),
    token: opts.token,
    stateFile: opts.state === undefined ? undefined : resolve(opts.state),
  };
  if (opts.faults !== undefined) {
    try {
      options.faults = parseFaults(opts.faults);
    } catch (err) {
      throw new Error(`--faults '${opts.faults}': ${(err as Error).message}`);
    }
  }
  if (opts.users !== undefined) options.users = await loadUsersFile(resolve(opts.users));
  if (opts.slackFrom !== undefined)
    options.slackApi = {
      export: resolve(opts.slackFrom),
      ...(opts.slackToken ? { token: opts.slackToken } : {}),
      ...(opts.slackScopes !== undefined
        ? {
            scopes: opts.slackScopes
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          }
        : {}),
    };
  else if (opts.slackScopes !== undefined) throw new Error('--slack-scopes needs --slack-from <export>');
  if (opts.slackFiles !== undefined || (opts.slackFrom !== undefined && opts.slackFilesBytes !== undefined))
    options.slackFiles = {
      export: resolve(opts.slackFiles ?? opts.slackFrom!),
      ...(opts.slackFilesBytes ? { bytesDir: resolve(opts.slackFilesBytes) } : {}),
      ...(opts.slackToken ? { botToken: opts.slackToken } : {}),
    };
  else if (
    opts.slackFrom === undefined &&
    (opts.slackFilesBytes !== undefined || opts.slackToken !== undefined)
  )
    throw new Error(
      '--slack-files-bytes and --slack-token need --slack-files <export> or --slack-from <export>',
    );
  return options;
}

/** Runs the sandbox until `io.waitForStop()` resolves: prints its URL first, saves the state on the way out. */
export async function runSandboxCommand(opts: SandboxCommandOptions, io: SandboxCommandIo): Promise<number> {
  let options: SandboxOptions;
  try {
    options = await sandboxOptionsFrom(opts);
  } catch (err) {
    io.err(`teams-import sandbox: ${(err as Error).message}`);
    return 2;
  }
  let handle;
  try {
    handle = await startSandbox(options);
  } catch (err) {
    io.err(`teams-import sandbox: ${(err as Error).message}`);
    return 1;
  }
  io.out(handle.url);
  io.out(
    `Graph: ${handle.url}/v1.0 · preview and state: ${handle.url}/_sandbox · ${handle.dump().users.length} user(s)` +
      (options.stateFile ? ` · state: ${options.stateFile}` : ''),
  );
  if (handle.slackFilesUrl)
    io.out(`Slack files: ${handle.slackFilesUrl} (run with --slack-files-url ${handle.slackFilesUrl})`);
  if (handle.slackApiUrl)
    io.out(
      `Slack Web API: ${handle.slackApiUrl} (run --slack-workspace <workspace> --slack-api-url ${handle.slackApiUrl}` +
        ` --slack-files-url ${handle.slackFilesUrl} with SLACK_TOKEN set to the --slack-token, default ${SANDBOX_SLACK_TOKEN};` +
        ` messages: POST ${handle.url}/_sandbox/slack-api/messages, calls: GET ${handle.url}/_sandbox/slack-api/calls)`,
    );
  await io.waitForStop();
  await handle.stop();
  if (options.stateFile) io.out(`state saved to ${options.stateFile}`);
  return 0;
}

function untilSignal(): Promise<void> {
  return new Promise((resolveStop) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolveStop();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** `teams-import sandbox`: the local Teams sandbox on 127.0.0.1, until SIGINT/SIGTERM. */
export const registerSandbox: CommandRegistrar = (program: Command, setExitCode) => {
  program
    .command('sandbox')
    .description(
      "Runs the local Teams sandbox: a Graph server that enforces the import API's rules (prints its URL first)",
    )
    .option('--port <n>', 'port on 127.0.0.1 (0 picks a free one)', '0')
    .option('--users <file>', 'JSON array of Entra users {id, displayName, mail, userPrincipalName}')
    .option('--rate-per-channel <n>', 'message POSTs per channel per second (0 disables)', '5')
    .option('--rate-global <n>', 'message POSTs per app per second (0 disables)', '50')
    .option('--rate-chat <n>', 'chat message imports per app per second (0 disables)', '20')
    .option('--time-scale <k>', 'run the rate limits k times faster (benchmarks)', '1')
    .option('--faults <spec>', "faults to inject, e.g. '429:0.05,503:0.02,latency:0.1@200,lost:0.02'")
    .option('--seed <s>', 'seed of the fault decisions', '1')
    .option('--state <file>', 'load the state from this file and save it back (on changes and on exit)')
    .option('--token <token>', 'accept only this bearer token (default: any)')
    .option(
      '--slack-files <export>',
      "serve this Slack export's files under /slack-files, checking their tokens",
    )
    .option(
      '--slack-files-bytes <dir>',
      'with --slack-files: read each file from <dir>/<file id> (default: generated)',
    )
    .option(
      '--slack-token <token>',
      `with --slack-files: also accept this bot token as Bearer; with --slack-from: the Web API's token (default ${SANDBOX_SLACK_TOKEN})`,
    )
    .option(
      '--slack-from <export>',
      "stand in for Slack's Web API under /slack-api/, serving this export's workspace (and its files under /slack-files)",
    )
    .option(
      '--slack-scopes <a,b>',
      "with --slack-from: the scopes the token has (default every scope a migration needs, private channels' included)",
    )
    .action(async (opts: SandboxCommandOptions) => {
      const code = await runSandboxCommand(opts, {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
        waitForStop: untilSignal,
      });
      setExitCode(code);
    });
};
