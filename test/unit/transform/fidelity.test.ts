import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImportMessage } from '../../../core/graph/messageBody';
import { MESSAGE_SIZE_LIMIT, messageSize } from '../../../core/graph/messageSize';
import type { TenantDirectory } from '../../../core/graph/nativeContent';
import type { PlanManifest, PlannedMessage } from '../../../core/model';
import { LocalFolderStore } from '../../../core/state/localStore';
import { planExport, type PlanOptions } from '../../../core/transform/plan';
import { EXPORT_2016, ZULIP, assembleZulipExport, readJson, tempDir } from '../../support/fixtures';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const PETER = 'U06NU4E26M9';
const PETER_ENTRA = '11111111-1111-4111-8111-111111111111';
const fx = (name: string): Record<string, unknown> =>
  readJson(join(ZULIP, 'exported_messages_fixtures', `${name}.json`));

type Json = Record<string, unknown>;
const writeJson = (path: string, value: unknown): void => writeFileSync(path, JSON.stringify(value, null, 1));

/** Plans an export folder and returns the manifest and every channel's plan lines by channel name. */
async function plan(
  dir: string,
  options: Partial<PlanOptions> = {},
): Promise<{ manifest: PlanManifest; lines: Map<string, PlannedMessage[]> }> {
  const store = new LocalFolderStore(tempDir());
  const manifest = await planExport(dir, { now: NOW, ...options }, store);
  const lines = new Map<string, PlannedMessage[]>();
  for (const c of manifest.channels) {
    const text = (await store.get(c.planPath)).toString().trim();
    lines.set(c.sourceName, text ? text.split('\n').map((l) => JSON.parse(l) as PlannedMessage) : []);
  }
  return { manifest, lines };
}

/** A tenant that has the given source users (by Entra id) and channels (by plan key). */
function tenant(users: Record<string, string>, channels: Record<string, string> = {}): TenantDirectory {
  return {
    user: (id) => users[id],
    channel: (key) => channels[key],
    teamId: 'team-1',
    channelId: '19:general@thread.tacv2',
  };
}

const post = (m: PlannedMessage, t: TenantDirectory): ReturnType<typeof buildImportMessage> =>
  buildImportMessage(m, { entraId: PETER_ENTRA, displayName: 'Peter' }, new Map(), new Map(), t);

/** The zulip fixtures assembled, with #rich-text-blocks (C0AHX20ADQQ) added to the channels of the export. */
function zulipWithRichTextChannel(): string {
  const dir = assembleZulipExport();
  const channels = readJson<Json[]>(join(dir, 'channels.json'));
  channels.push({ id: 'C0AHX20ADQQ', name: 'rich-text-blocks', created: '1700000000', members: [] });
  writeJson(join(dir, 'channels.json'), channels);
  mkdirSync(join(dir, 'rich-text-blocks'));
  writeJson(join(dir, 'rich-text-blocks', '2026-02-25.json'), [
    { type: 'message', user: PETER, ts: '1772029000.000100', text: 'first' },
  ]);
  return dir;
}

describe('mentions on the real fixtures', () => {
  const userMap = { text: `${PETER},${PETER_ENTRA}\n`, source: 'map.csv' };

  it('a user mention of someone the user map names is a Teams mention; an unknown user is bold text', async () => {
    const { lines, manifest } = await plan(assembleZulipExport(), { userMap });
    const message = fx('message_with_user_mentions');
    const line = lines.get('general')!.find((l) => l.key === message.ts)!;
    expect(line.html).toBe('<p><at id="0">Peter</at> test user mention <strong>@U074VRHQ11T</strong></p>');
    expect(line.mentions).toEqual([{ id: 0, kind: 'user', sourceUserId: PETER, text: 'Peter' }]);
    const general = manifest.channels.find((c) => c.sourceName === 'general')!;
    expect(general.fidelity!.mentions.text['unknown-user']).toBeGreaterThanOrEqual(1);

    const mapped = post(line, tenant({ [PETER]: PETER_ENTRA }));
    expect(mapped.body.content).toBe(line.html);
    expect(mapped.mentions).toEqual([
      {
        id: 0,
        mentionText: 'Peter',
        mentioned: { user: { id: PETER_ENTRA, displayName: 'Peter', userIdentityType: 'aadUser' } },
      },
    ]);
    const unmapped = post(line, tenant({}));
    expect(unmapped.body.content).toBe(
      '<p><strong>@Peter</strong> test user mention <strong>@U074VRHQ11T</strong></p>',
    );
    expect(unmapped.mentions).toBeUndefined();
  });

  it('a user in users.json without e-mail or map line, a bot and a deleted user are bold text from the plan on', async () => {
    const dir = assembleZulipExport();
    const users = readJson<Json[]>(join(dir, 'users.json'));
    users.push({ id: 'UBOT00001', name: 'deploy', is_bot: true, profile: { email: 'bot@example.com' } });
    users.push({ id: 'UGONE0001', name: 'gone', deleted: true, profile: { email: 'gone@example.com' } });
    writeJson(join(dir, 'users.json'), users);
    const day = readJson<Json[]>(join(dir, 'general', '2026-02-25.json'));
    day.push({
      type: 'message',
      user: 'U061A1R2R',
      ts: '1772200000.000100',
      text: 'ping <@U061A5N1G> <@UBOT00001> <@UGONE0001> <@U061A1R2R>',
    });
    writeJson(join(dir, 'general', '2026-02-25.json'), day);
    const { lines, manifest } = await plan(dir);
    const line = lines.get('general')!.find((l) => l.key === '1772200000.000100')!;
    // Jane has no e-mail, the bot and the deleted user never map; Jon has an e-mail the tenant may know.
    expect(line.html).toBe(
      '<p>ping <strong>@Jane</strong> <strong>@deploy</strong> <strong>@gone</strong> <at id="0">Jon</at></p>',
    );
    expect(line.mentions).toEqual([{ id: 0, kind: 'user', sourceUserId: 'U061A1R2R', text: 'Jon' }]);
    const general = manifest.channels.find((c) => c.sourceName === 'general')!;
    expect(general.fidelity!.mentions.text).toMatchObject({ 'no-email': 1, bot: 1, 'deleted-user': 1 });
  });

  it('a channel of this migration is a channel mention with its Teams id; others are bold #name', async () => {
    const { lines } = await plan(zulipWithRichTextChannel());
    const message = fx('message_with_channel_mentions');
    const line = lines.get('general')!.find((l) => l.key === message.ts)!;
    // The blocks name channels by id only; the message text gives the labels of the two it labels.
    expect(line.html).toBe(
      '<p><strong>#C079A3FA12P</strong> <at id="0">rich-text-blocks</at> <strong>#general</strong></p>',
    );
    expect(line.mentions).toEqual([
      { id: 0, kind: 'channel', channelKey: 'C0AHX20ADQQ', text: 'rich-text-blocks' },
    ]);
    const created = post(line, tenant({}, { C0AHX20ADQQ: '19:rtb@thread.tacv2' }));
    expect(created.mentions).toEqual([
      {
        id: 0,
        mentionText: 'rich-text-blocks',
        mentioned: {
          conversation: {
            id: '19:rtb@thread.tacv2',
            displayName: 'rich-text-blocks',
            conversationIdentityType: 'channel',
          },
        },
      },
    ]);
    const notYet = post(line, tenant({}));
    expect(notYet.body.content).toBe(
      '<p><strong>#C079A3FA12P</strong> <strong>#rich-text-blocks</strong> <strong>#general</strong></p>',
    );
  });

  it('<!channel> and <!here> mention the channel posted in, <!everyone> the team', async () => {
    const dir = assembleZulipExport();
    const day = readJson<Json[]>(join(dir, 'general', '2026-02-25.json'));
    day.push({ type: 'message', user: PETER, ts: '1772200001.000100', text: '<!everyone> all hands' });
    writeJson(join(dir, 'general', '2026-02-25.json'), day);
    const { lines, manifest } = await plan(dir, { teamName: 'Plan8' });
    const message = fx('message_with_workspace_mentions');
    const line = lines.get('general')!.find((l) => l.key === message.ts)!;
    expect(line.html).toBe(
      '<p><at id="0">General</at> <b><i><u><at id="1">General</at></u></i></b> test mention</p>',
    );
    const body = post(line, tenant({}));
    const channel = {
      id: '19:general@thread.tacv2',
      displayName: 'General',
      conversationIdentityType: 'channel',
    };
    expect(body.mentions).toEqual([
      { id: 0, mentionText: 'General', mentioned: { conversation: channel } },
      { id: 1, mentionText: 'General', mentioned: { conversation: channel } },
    ]);
    const everyone = lines.get('general')!.find((l) => l.key === '1772200001.000100')!;
    expect(everyone.html).toBe(`<p><at id="0">${manifest.team.displayName}</at> all hands</p>`);
    expect(post(everyone, tenant({})).mentions![0].mentioned).toEqual({
      conversation: { id: 'team-1', displayName: 'Plan8', conversationIdentityType: 'team' },
    });
  });

  it('user groups show the handle from the message or from the user-group CSV, never the raw id', async () => {
    const dir = assembleZulipExport();
    const day = readJson<Json[]>(join(dir, 'general', '2026-02-25.json'));
    day.push(
      { type: 'message', user: PETER, ts: '1772200002.000100', text: 'cc <!subteam^S0614TZR7|@design>' },
      {
        type: 'message',
        user: PETER,
        ts: '1772200003.000100',
        text: 'cc <!subteam^S0999>',
        blocks: [
          {
            type: 'rich_text',
            elements: [
              {
                type: 'rich_text_section',
                elements: [
                  { type: 'text', text: 'cc ' },
                  { type: 'usergroup', usergroup_id: 'S0999' },
                  { type: 'usergroup', usergroup_id: 'S0888' },
                ],
              },
            ],
          },
        ],
      },
    );
    writeJson(join(dir, 'general', '2026-02-25.json'), day);
    const { lines } = await plan(dir, {
      userGroups: { text: 'id,handle\nS0999,@ops\n', source: 'groups.csv' },
    });
    const html = (key: string): string => lines.get('general')!.find((l) => l.key === key)!.html;
    expect(html('1772200002.000100')).toBe('<p>cc <strong>@design</strong></p>');
    expect(html('1772200003.000100')).toBe('<p>cc <strong>@ops</strong><strong>@user group</strong></p>');
  });

  it('the 2016 export: <@U..> mentions of users without e-mail stay bold, and validate counts why', async () => {
    const { manifest } = await plan(EXPORT_2016);
    let mentions = 0;
    for (const c of manifest.channels)
      for (const file of readdirJson(join(EXPORT_2016, c.sourceName)))
        for (const m of file.filter((x) => x.subtype !== 'channel_join' && x.subtype !== 'bot_add'))
          mentions += [...JSON.stringify(m).matchAll(/<@U[A-Z0-9]+(\|[^>]*)?>/g)].length;
    const counted = manifest.channels.reduce(
      (n, c) => n + c.fidelity!.mentions.native + (c.fidelity!.mentions.text['no-email'] ?? 0),
      0,
    );
    expect(mentions).toBeGreaterThan(0);
    expect(counted).toBe(mentions);
    expect(manifest.channels.every((c) => c.fidelity!.mentions.native === 0)).toBe(true);
  });
});

function readdirJson(dir: string): Json[][] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Json[]);
}

/** The 2016 export with 300 extra people (with e-mails) and the real reaction message's reactions replaced. */
function export2016WithReactions(reactions: Json[]): { dir: string; key: string } {
  const dir = tempDir('export-2016-');
  for (const f of ['channels.json', 'integration_logs.json'])
    writeFileSync(join(dir, f), readFileSync(join(EXPORT_2016, f)));
  const users = readJson<Json[]>(join(EXPORT_2016, 'users.json'));
  for (let i = 0; i < 300; i++)
    users.push({ id: reactor(i), name: `reactor${i}`, profile: { email: `reactor${i}@example.com` } });
  writeJson(join(dir, 'users.json'), users);
  let key = '';
  for (const channel of ['enrique', 'traveling-sailor']) {
    mkdirSync(join(dir, channel));
    for (const f of readdirSync(join(EXPORT_2016, channel))) {
      const day = readJson<Json[]>(join(EXPORT_2016, channel, f));
      for (const m of day)
        if (m.reactions) {
          m.reactions = reactions;
          key = String(m.ts);
        }
      writeJson(join(dir, channel, f), day);
    }
  }
  return { dir, key };
}
const reactor = (i: number): string => `UR${String(i).padStart(7, '0')}`;

describe('reactions on the real fixtures', () => {
  const THUMBS_3 = String.fromCodePoint(0x1f44d, 0x1f3fc);
  const TADA = String.fromCodePoint(0x1f389);
  const HEART = String.fromCodePoint(0x2764, 0xfe0f);
  const everyone = Object.fromEntries(
    Array.from({ length: 300 }, (_, i) => [
      reactor(i),
      `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    ]),
  );
  const reactions = [
    { name: '+1::skin-tone-3', users: [reactor(1)], count: 1 },
    { name: 'botman', users: ['U0BMS113R'], count: 1 },
    { name: 'tada', users: Array.from({ length: 300 }, (_, i) => reactor(i)), count: 300 },
    { name: 'heart', users: [reactor(1), 'U0BMS113R'], count: 3 },
  ];

  it('skin tones, custom emoji, the 250 cap and the size limit: native in the export order, the rest in the line', async () => {
    const { dir, key } = export2016WithReactions(reactions);
    const { lines, manifest } = await plan(dir);
    const line = [...lines.values()].flat().find((l) => l.key === key)!;
    expect(line.reactionLine!.map((e) => e.label)).toEqual([THUMBS_3, ':botman:', TADA, HEART]);
    const body = post(line, tenant(everyone));
    const native = body.reactions!;
    // The export's order: the skin-toned thumbs up first, then the party poppers of users[] in order.
    expect(native[0]).toEqual({
      reactionType: THUMBS_3,
      createdDateTime: line.createdDateTime,
      user: { user: { id: everyone[reactor(1)], displayName: 'reactor1', userIdentityType: 'aadUser' } },
    });
    expect(native.slice(1).map((r) => r.user.user.id)).toEqual(
      Array.from({ length: native.length - 1 }, (_, i) => everyone[reactor(i)]),
    );
    expect(native.slice(1).every((r) => r.reactionType === TADA)).toBe(true);
    // Far fewer than 250 fit in ~28 KB; what fits is filled, and the post stays within the limit.
    expect(native.length).toBeLessThan(250);
    const size = messageSize(body.body, body.mentions, body.reactions);
    expect(size).toBeLessThanOrEqual(MESSAGE_SIZE_LIMIT);
    expect(size).toBeGreaterThan(23_000);
    const tadaText = 300 - (native.length - 1);
    expect(body.body.content.endsWith(`<p>:botman: 1 · ${TADA} ${tadaText} · ${HEART} 3</p>`)).toBe(true);
    const enrique = manifest.channels.find((c) => c.sourceName === 'enrique')!.fidelity!.reactions;
    expect(enrique.native).toBe(native.length);
    expect(enrique.text).toEqual({
      'custom-emoji': 1,
      'reactor-unmatched': 1,
      'reactor-not-listed': 1,
      // 👍🏼 by reactor1, 300 🎉 and ❤️ by reactor1 are candidates; past the first 250, over the cap.
      'over-cap': 1 + 300 + 1 - 250,
      'over-size': 250 - native.length,
    });
  });

  it('reactors the tenant lacks join the text line; --reactions text writes every reaction there', async () => {
    const { dir, key } = export2016WithReactions(reactions.slice(0, 2));
    const { lines } = await plan(dir);
    const line = [...lines.values()].flat().find((l) => l.key === key)!;
    const none = post(line, tenant({}));
    expect(none.reactions).toBeUndefined();
    expect(none.body.content.endsWith(`<p>${THUMBS_3} 1 · :botman: 1</p>`)).toBe(true);
    const asText = await plan(dir, { reactions: 'text' });
    const textLine = [...asText.lines.values()].flat().find((l) => l.key === key)!;
    expect(textLine.reactions).toBeUndefined();
    expect(post(textLine, tenant(everyone)).body.content.endsWith(`<p>${THUMBS_3} 1 · :botman: 1</p>`)).toBe(
      true,
    );
  });
});

describe('app content and system-parent threads on the real fixtures', () => {
  it('a bot message whose content is only in attachments[].blocks is planned, with fields as a table', async () => {
    const dir = tempDir('export-2016-');
    for (const f of ['channels.json', 'users.json', 'integration_logs.json'])
      writeFileSync(join(dir, f), readFileSync(join(EXPORT_2016, f)));
    for (const channel of ['enrique', 'traveling-sailor']) {
      mkdirSync(join(dir, channel));
      for (const f of readdirSync(join(EXPORT_2016, channel)))
        writeFileSync(join(dir, channel, f), readFileSync(join(EXPORT_2016, channel, f)));
    }
    const day = readJson<Json[]>(join(dir, 'enrique', '2016-03-28.json'));
    const travis = day.find((m) => m.subtype === 'bot_message')!;
    day.push({
      ...travis,
      ts: '1459200000.000100',
      text: '',
      attachments: [
        {
          fallback: 'Build passed',
          text: 'Build <https://travis-ci.org/mesos-magellan/enrique/builds/1|#1> passed',
          fields: [{ title: 'Branch', value: 'master', short: true }],
          blocks: [
            {
              type: 'section',
              text: { type: 'mrkdwn', text: '*Deployed* to <https://example.com|staging>' },
            },
            { type: 'image', image_url: 'https://example.com/graph.png', alt_text: 'build graph' },
          ],
        },
      ],
    });
    writeJson(join(dir, 'enrique', '2016-03-28.json'), day);
    const { lines } = await plan(dir);
    const line = lines.get('enrique')!.find((l) => l.key === '1459200000.000100')!;
    expect(line.html).toBe(
      '<blockquote>Build <a href="https://travis-ci.org/mesos-magellan/enrique/builds/1">#1</a> passed' +
        '<table><tr><th>Branch</th><td>master</td></tr></table>' +
        '<p><b>Deployed</b> to <a href="https://example.com">staging</a></p>' +
        '<p><a href="https://example.com/graph.png">build graph</a></p></blockquote>',
    );
  });

  it("replies to a join keep the join as the thread's first message", async () => {
    const dir = assembleZulipExport();
    const path = join(dir, 'random', '2017-06-25.json');
    const day = readJson<Json[]>(path);
    const join0 = day.find((m) => m.subtype === 'channel_join')!;
    const reply = day[day.indexOf(join0) + 1];
    reply.thread_ts = join0.ts;
    writeJson(path, day);
    const before = (await plan(assembleZulipExport())).manifest.channels.find(
      (c) => c.sourceName === 'random',
    )!;
    const { lines, manifest } = await plan(dir);
    const random = manifest.channels.find((c) => c.sourceName === 'random')!;
    const notice = lines.get('random')!.find((l) => l.key === join0.ts)!;
    expect(notice.parentKey).toBeUndefined();
    expect(notice.html).toBe('<p><em><strong>@k._</strong> has joined the channel</em></p>');
    expect(lines.get('random')!.find((l) => l.key === reply.ts)!.parentKey).toBe(join0.ts);
    expect(random.skipped['system-event']).toBe(before.skipped['system-event']! - 1);
    expect(random.replies).toBe(before.replies + 1);
  });

  it('a huddle thread keeps the huddle as a notice: "Huddle · 17 min · Jane, Jon", by whoever started it', async () => {
    const dir = assembleZulipExport();
    const path = join(dir, 'threads', '2015-06-12.json');
    const day = readJson<Json[]>(path);
    const parent = day.find((m) => m.ts === '1434139102.000002')!;
    Object.assign(parent, {
      subtype: 'huddle_thread',
      user: 'USLACKBOT',
      text: '',
      room: {
        created_by: 'U061A5N1G',
        date_start: 1434139102,
        date_end: 1434139102 + 17 * 60,
        participant_history: ['U061A5N1G', 'U061A1R2R'],
        call_family: 'huddle',
      },
    });
    writeJson(path, day);
    const { lines } = await plan(dir);
    const threads = lines.get('threads')!;
    const notice = threads.find((l) => l.key === parent.ts)!;
    expect(notice.html).toBe('<p><em>Huddle · 17 min · Jane, Jon</em></p>');
    expect(notice.author).toEqual({ sourceUserId: 'U061A5N1G', displayName: 'Jane', kind: 'system' });
    expect(threads.filter((l) => l.parentKey === parent.ts).length).toBeGreaterThan(0);
  });
});
