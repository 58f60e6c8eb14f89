import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatReport, validateExport } from '../../../cli/validate';
import { planExport } from '../../../core/transform/plan';
import { assembleZulipExport, readJson } from '../../support/fixtures';

const NOW = new Date('2026-06-01T00:00:00Z');

type Conv = { id: string; name?: string; members: string[] };
type User = { id: string; profile?: { email?: string } };

/**
 * The zulip fixtures' dms.json and mpims.json (the members of the first DM given an e-mail), with day files written for the first DM and the first group DM
 * (three and two messages by their first member) so each choice has messages to move.
 */
function exportWithDms(): {
  dir: string;
  dms: Conv[];
  mpims: Conv[];
  users: User[];
  written: Map<string, number>;
} {
  const dir = assembleZulipExport();
  const dms = readJson<Conv[]>(join(dir, 'dms.json'));
  const mpims = readJson<Conv[]>(join(dir, 'mpims.json'));
  const users = readJson<User[]>(join(dir, 'users.json')).map((u) =>
    dms[0].members.includes(u.id)
      ? { ...u, profile: { ...u.profile, email: `${u.id.toLowerCase()}@example.com` } }
      : u,
  );
  writeFileSync(join(dir, 'users.json'), JSON.stringify(users));
  const written = new Map<string, number>();
  const write = (folder: string, key: string, author: string, n: number): void => {
    mkdirSync(join(dir, folder), { recursive: true });
    const messages = Array.from({ length: n }, (_, i) => ({
      type: 'message',
      user: author,
      text: `note ${i + 1}`,
      ts: `${1_600_000_000 + i}.000100`,
    }));
    writeFileSync(join(dir, folder, '2020-09-13.json'), JSON.stringify(messages));
    written.set(key, n);
  };
  write(dms[0].id, dms[0].id, dms[0].members[0], 3);
  write(mpims[0].name!, mpims[0].id, mpims[0].members[0], 2);
  return { dir, dms, mpims, users, written };
}

describe('validate --dms: what each choice would move', () => {
  it('counts the conversations and messages of chats (members with an e-mail), onedrive and skip', async () => {
    const { dir, dms, mpims, users, written } = exportWithDms();
    const emails = new Set(users.filter((u) => u.profile?.email).map((u) => u.id));
    const all = [...dms, ...mpims];
    const chatable = all.filter((c) => new Set(c.members).size >= 2 && c.members.every((m) => emails.has(m)));
    const messagesOf = (list: Conv[]): number => list.reduce((n, c) => n + (written.get(c.id) ?? 0), 0);

    expect(chatable.map((c) => c.id)).toContain(dms[0].id);
    const report = await validateExport(dir, { now: NOW });
    expect(report.dms).toEqual({
      chats: {
        conversations: chatable.length,
        messages: messagesOf(chatable),
        toOneDrive: {
          conversations: all.length - chatable.length,
          messages: messagesOf(all.filter((c) => !chatable.includes(c))),
        },
      },
      onedrive: { conversations: all.length, messages: messagesOf(all) },
      skip: { conversations: 0, messages: 0 },
    });
    expect(formatReport(report)).toContain(
      `--dms onedrive ${all.length} conversation(s), ${messagesOf(all)} message(s)`,
    );
  });

  it('by default (skip) lists every DM and group DM as not imported, saying how to move it', async () => {
    const { dir, dms, mpims } = exportWithDms();
    const report = await validateExport(dir, { now: NOW });
    const listed = report.notImported.filter((n) => n.kind === 'dm' || n.kind === 'groupDm');
    expect(listed.map((n) => n.source).sort()).toEqual(
      [...dms.map((d) => d.id), ...mpims.map((m) => m.name!)].sort(),
    );
    for (const n of listed) expect(n.reason).toMatch(/--dms chats or --dms onedrive/);
    expect(report.problems.filter((p) => p.code === 'dm-member-unknown')).toEqual([]);
  });

  it('plans DMs into chats/<id>.ndjson only when --dms asks for them', async () => {
    const { dir, dms } = exportWithDms();
    const skipped = await planExport(dir, { now: NOW });
    expect(skipped.chats).toBeUndefined();
    const planned = await planExport(dir, { now: NOW, dms: 'chats' });
    const first = planned.chats!.find((c) => c.key === dms[0].id)!;
    expect({
      planPath: first.planPath,
      kind: first.kind,
      messages: first.messages,
      members: first.members,
    }).toEqual({
      planPath: `chats/${dms[0].id}.ndjson`,
      kind: 'dm',
      messages: 3,
      members: dms[0].members,
    });
    expect(planned.notImported.filter((n) => n.kind === 'dm' || n.kind === 'groupDm')).toEqual([]);
  });
});
