import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { ApiError, callApi, guarded, withApiOptions, type ApiIo, type ApiOptions } from './api';
import type { CommandRegistrar } from './command';

/** Where the chats commands find the app, and how they print. */
export interface ChatsOptions extends ApiOptions {
  /** How often `discover` asks whether discovery is done (ms); default 1000. */
  pollMs?: number;
}

/** Where `teams-import chats` writes; `fetch` is a test seam. */
export type ChatsIo = ApiIo;

interface ApiUser {
  id: string;
  upn: string;
  mail?: string;
  displayName?: string;
  targetUpn?: string;
  status: string;
  reason?: string;
  running?: boolean;
  lastPass?: { mode: string; finishedAt: string; chats: number; uploaded: number; addedMessages: number };
}

/** Calls a chat-export route (`/api/chat-export/<route>`). */
function call(opts: ChatsOptions, io: ChatsIo, method: string, route: string, body?: unknown) {
  return callApi(opts, io, method, `chat-export/${route}`, body);
}

function statusLine(u: ApiUser): string {
  const pass = u.lastPass
    ? `  last ${u.lastPass.mode} pass: ${u.lastPass.chats} chats, ${u.lastPass.uploaded} uploaded, ${u.lastPass.addedMessages} new messages`
    : '';
  return `${u.upn.padEnd(36)} ${u.status.padEnd(15)}${u.reason ? ` ${u.reason}` : ''}${pass}`.trimEnd();
}

function summary(u: ApiUser): Record<string, unknown> {
  return {
    id: u.id,
    upn: u.upn,
    ...(u.mail ? { mail: u.mail } : {}),
    status: u.status,
    ...(u.reason ? { reason: u.reason } : {}),
  };
}

/** `chats discover`: lists the source tenant's users into the chat-export user list (a CSV map overrides targets). */
export function runDiscover(opts: ChatsOptions & { userMap?: string }, io: ChatsIo): Promise<number> {
  return guarded(io, async () => {
    const userMap = opts.userMap ? await readFile(opts.userMap, 'utf8') : undefined;
    await call(opts, io, 'POST', 'discover', userMap ? { userMap } : {});
    let result = await call(opts, io, 'GET', 'discover');
    while (result.runtimeStatus === 'Running' || result.runtimeStatus === 'Pending') {
      await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 1000));
      result = await call(opts, io, 'GET', 'discover');
    }
    if (result.runtimeStatus !== 'Completed')
      throw new ApiError(
        `Discovery ended ${String(result.runtimeStatus).toLowerCase()}: ${String(result.error ?? 'no reason given')}`,
      );
    if (opts.json) return io.out(JSON.stringify(result));
    const teams = (result.teams as unknown[] | undefined)?.length ?? 0;
    io.out(`Discovered ${String(result.users)} users (${String(result.added)} new) and ${teams} teams.`);
  });
}

/** `chats users`: the user list with status; `--add UPN` adds one user. */
export function runUsers(
  opts: ChatsOptions & { add?: string; target?: string },
  io: ChatsIo,
): Promise<number> {
  return guarded(io, async () => {
    if (opts.add) {
      const user = (await call(opts, io, 'POST', 'users', {
        user: opts.add,
        ...(opts.target ? { targetUpn: opts.target } : {}),
      })) as unknown as ApiUser;
      return io.out(
        opts.json ? JSON.stringify(user) : `Added ${user.upn} (${user.id}) -> ${user.targetUpn ?? ''}`,
      );
    }
    const users = ((await call(opts, io, 'GET', 'users')).users ?? []) as ApiUser[];
    if (opts.json) return io.out(JSON.stringify(users));
    for (const u of users) io.out(`${u.id}  ${u.upn}  -> ${u.targetUpn ?? ''}  ${u.status}`);
  });
}

/** `chats send-links`: mails consent links to every user not yet consented (`--all`) or to the named ones. */
export function runSendLinks(
  opts: ChatsOptions & { all: boolean; user: string[] },
  io: ChatsIo,
): Promise<number> {
  return guarded(io, async () => {
    if (opts.all === opts.user.length > 0)
      throw new ApiError('send-links needs either --all or one or more --user ID|UPN (not both)');
    const result = await call(
      opts,
      io,
      'POST',
      'send-links',
      opts.all ? { all: true } : { users: opts.user },
    );
    if (opts.json) return io.out(JSON.stringify(result));
    io.out(`Sent ${(result.sent as string[]).length} link(s).`);
    for (const s of result.skipped as { id: string; reason: string }[])
      io.out(`Skipped ${s.id}: ${s.reason}`);
  });
}

/** `chats delta`: starts a delta pass for the named users, or (`--all`) for every exported user. */
export function runDelta(
  opts: ChatsOptions & { all: boolean; user: string[] },
  io: ChatsIo,
): Promise<number> {
  return guarded(io, async () => {
    if (opts.all === opts.user.length > 0)
      throw new ApiError('delta needs either --all or one or more --user ID (not both)');
    let ids = opts.user;
    if (opts.all) {
      const users = ((await call(opts, io, 'GET', 'users')).users ?? []) as ApiUser[];
      ids = users.filter((u) => u.status === 'exported' || u.status === 'failed').map((u) => u.id);
    }
    const started: unknown[] = [];
    for (const id of ids) {
      const result = await call(opts, io, 'POST', `users/${encodeURIComponent(id)}/delta`);
      started.push(result);
      if (!opts.json) io.out(`Delta pass started for ${id} (${String(result.instanceId)}).`);
    }
    if (opts.json) io.out(JSON.stringify(started));
    else if (ids.length === 0) io.out('No exported user to run a delta pass for.');
  });
}

/** `chats status`: each user's status and reason (`--json`: `[{id, upn, mail, status, reason?}]`). */
export function runStatus(opts: ChatsOptions & { user: string[] }, io: ChatsIo): Promise<number> {
  return guarded(io, async () => {
    const users =
      opts.user.length > 0
        ? await Promise.all(
            opts.user.map(
              async (id) =>
                (await call(opts, io, 'GET', `users/${encodeURIComponent(id)}`)) as unknown as ApiUser,
            ),
          )
        : (((await call(opts, io, 'GET', 'users')).users ?? []) as ApiUser[]);
    if (opts.json) return io.out(JSON.stringify(users.map(summary)));
    for (const u of users) io.out(statusLine(u));
  });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Adds `teams-import chats`: the private chat export's admin commands, talking to a running app over HTTP. */
export const registerChats: CommandRegistrar = (program: Command, setExitCode) => {
  const chats = program
    .command('chats')
    .description(
      "Export users' private Teams chats to their OneDrive: discover users, mail consent links, run delta passes, see status.",
    );
  const common = withApiOptions;
  const io: ChatsIo = { out: (line) => console.log(line), err: (line) => console.error(line) };
  common(chats.command('discover').description('list the source tenant users into the chat-export user list'))
    .option('--user-map <file>', 'CSV of source,target UPNs overriding the same-UPN default')
    .action(async (opts: ChatsOptions & { userMap?: string }) => setExitCode(await runDiscover(opts, io)));
  common(chats.command('users').description('list the chat-export users, or add one with --add'))
    .option('--add <idOrUpn>', 'add this source user')
    .option('--target <upn>', 'with --add: the target user UPN')
    .action(async (opts: ChatsOptions & { add?: string; target?: string }) =>
      setExitCode(await runUsers(opts, io)),
    );
  common(chats.command('send-links').description('mail personal consent links'))
    .option('--all', 'every user not yet consented', false)
    .option('--user <idOrUpn>', 'this user (repeatable)', collect, [])
    .action(async (opts: ChatsOptions & { all: boolean; user: string[] }) =>
      setExitCode(await runSendLinks(opts, io)),
    );
  common(chats.command('delta').description('re-run the export of consented users with their stored consent'))
    .option('--all', 'every exported user', false)
    .option('--user <id>', 'this user (repeatable)', collect, [])
    .action(async (opts: ChatsOptions & { all: boolean; user: string[] }) =>
      setExitCode(await runDelta(opts, io)),
    );
  common(chats.command('status').description('status of each user'))
    .option('--all', 'every user (the default)', false)
    .option('--user <id>', 'only this user (repeatable)', collect, [])
    .action(async (opts: ChatsOptions & { user: string[] }) => setExitCode(await runStatus(opts, io)));
};
