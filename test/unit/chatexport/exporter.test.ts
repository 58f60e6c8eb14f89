import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ConsentGoneError } from '../../../core/chatexport/consent';
import { ChatExporter, type ChatCursor } from '../../../core/chatexport/exporter';
import { chatIdHash } from '../../../core/chatexport/names';
import type { GraphChatMessage } from '../../../core/chatexport/types';
import { ALICE, BOB, CAROL, chat, message } from './builders';
import { FakeChatSource, MemorySink } from './fakes';

const BASE = Date.UTC(2025, 0, 15, 8, 0, 0);
const at = (minute: number) => new Date(BASE + minute * 60_000).toISOString();
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(100, 1)]);
const hostedUrl = (chatId: string, messageId: string, n = 1) =>
  `https://graph.microsoft.com/v1.0/chats/${chatId}/messages/${messageId}/hostedContents/h${n}/$value`;

function articles(html: string): number {
  return (html.match(/<article class="msg"/g) ?? []).length;
}

function setup() {
  const source = new FakeChatSource();
  const sink = new MemorySink();
  const exporter = new ChatExporter({ source, sink, maxImageBytes: 4 * 1024 * 1024 });
  const user = { sourceUserId: ALICE.userId, targetUserId: 'target-alice' };
  return { source, sink, exporter, user };
}

describe('chat exporter', () => {
  it('exports every chat to one file and reports the cursors', async () => {
    const { source, sink, exporter, user } = setup();
    source.chats.push(
      chat('19:one@unq.gbl.spaces', [BOB], null, 'oneOnOne'),
      chat('19:grp@thread.v2', [BOB, CAROL], 'Launch'),
    );
    source.messages.set('19:one@unq.gbl.spaces', [
      message('1', at(0), '<p>hi Bob</p>'),
      message('2', at(1), '<p>hi Alice</p>'),
    ]);
    source.messages.set('19:grp@thread.v2', [message('10', at(2), '<p>launch day</p>')]);

    const result = await exporter.exportUser(user);

    expect(
      result.chats.map((chatResult) => [chatResult.title, chatResult.status, chatResult.totalMessages]),
    ).toEqual([
      ['Launch', 'uploaded', 1],
      ['Bob Brown', 'uploaded', 2],
    ]);
    const oneName = `Bob Brown-${chatIdHash('19:one@unq.gbl.spaces')}.html`;
    expect(result.cursors['19:one@unq.gbl.spaces']).toMatchObject({ fileName: oneName, watermark: at(1) });
    expect(sink.uploads.map((upload) => [upload.targetUserId, upload.fileName])).toEqual([
      ['target-alice', `Launch-${chatIdHash('19:grp@thread.v2')}.html`],
      ['target-alice', oneName],
    ]);
    expect(sink.file('target-alice', oneName)).toContain('<p>hi Alice</p>');
    expect(source.requests.every((request) => request.since === undefined)).toBe(true);
  });

  it('pages a 10,000-message chat 50 at a time, merging each page before asking for the next', async () => {
    const { source, sink, exporter, user } = setup();
    const chatId = '19:big@thread.v2';
    source.chats.push(chat(chatId, [BOB], 'Big'));
    source.generated.set(chatId, (index) =>
      message(String(100000 + index), new Date(BASE + index * 1000).toISOString(), `<p>message ${index}</p>`),
    );
    source.generatedCount.set(chatId, 10_000);
    source.yieldBetweenPages = true;

    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const handedOut: WeakRef<GraphChatMessage>[] = [];
    const retainedAtPage: number[] = [];
    source.onPage = (_chatId, pageIndex, page) => {
      if (pageIndex % 25 === 0) {
        gc();
        retainedAtPage.push(handedOut.filter((ref) => ref.deref() !== undefined).length);
      }
      for (const raw of page) handedOut.push(new WeakRef(raw));
    };

    const [result] = (await exporter.exportUser(user)).chats;

    expect(source.requests).toHaveLength(1);
    expect(source.requests[0].pageSizes).toHaveLength(200);
    expect(Math.max(...source.requests[0].pageSizes)).toBe(50);
    expect(result).toMatchObject({ status: 'uploaded', fetchedMessages: 10_000, totalMessages: 10_000 });
    expect(retainedAtPage).toHaveLength(8);
    expect(Math.max(...retainedAtPage)).toBeLessThanOrEqual(2 * 50);
    const html = sink.file('target-alice', result.fileName);
    expect(articles(html)).toBe(10_000);
    expect(html.indexOf('<p>message 0</p>')).toBeLessThan(html.indexOf('<p>message 9999</p>'));
    expect(result.cursor?.watermark).toBe(new Date(BASE + 9_999_000).toISOString());

    handedOut.length = 0;
    retainedAtPage.length = 0;
    const hoarded: GraphChatMessage[][] = [];
    for await (const page of source.listMessages(chatId)) hoarded.push(page);
    expect(Math.max(...retainedAtPage)).toBeGreaterThan(1000);
    expect(hoarded).toHaveLength(200);
  }, 120_000);

  it('on a delta pass fetches only newer messages and the file holds exactly the old ones plus the new', async () => {
    const { source, sink, exporter, user } = setup();
    const chatId = '19:delta@thread.v2';
    source.chats.push(chat(chatId, [BOB], 'Delta'));
    const initial = Array.from({ length: 120 }, (_, i) =>
      message(`m${String(i).padStart(3, '0')}`, at(i), `<p>old ${i}</p>`),
    );
    source.messages.set(chatId, initial);
    const first = await exporter.exportUser(user);
    const watermark = first.cursors[chatId].watermark;
    expect(watermark).toBe(at(119));
    expect(source.requests[0].pageSizes).toEqual([50, 50, 20]);

    const edited = {
      ...initial[5],
      lastModifiedDateTime: at(200),
      lastEditedDateTime: at(200),
      body: { contentType: 'html', content: '<p>old 5, edited</p>' },
    };
    const deleted = { ...initial[6], lastModifiedDateTime: at(201), deletedDateTime: at(201) };
    const added = [0, 1, 2].map((i) =>
      message(`n${i}`, at(300 + i), `<p>new ${i}</p>`, { from: { user: { id: BOB.userId } } }),
    );
    source.messages.set(chatId, [...initial.slice(0, 5), edited, deleted, ...initial.slice(7), ...added]);

    const second = await exporter.exportUser({ ...user, cursors: first.cursors });

    expect(source.requests[1]).toEqual({ chatId, since: watermark, pageSizes: [5] });
    expect(second.chats[0]).toMatchObject({
      status: 'uploaded',
      fetchedMessages: 5,
      addedMessages: 3,
      updatedMessages: 2,
      totalMessages: 123,
      fileName: first.cursors[chatId].fileName,
    });
    expect(second.cursors[chatId].watermark).toBe(at(302));
    const html = sink.file('target-alice', first.cursors[chatId].fileName);
    expect(articles(html)).toBe(123);
    for (let i = 0; i < 120; i += 1) {
      if (i === 5 || i === 6) continue;
      expect(html).toContain(`<p>old ${i}</p>`);
    }
    for (let i = 0; i < 3; i += 1) expect(html).toContain(`<p>new ${i}</p>`);
    expect(html).toContain('<p>old 5, edited</p>');
    expect(html).not.toContain('<p>old 6</p>');
    expect(html).toContain('This message was deleted');
    expect(html.indexOf('<p>old 119</p>')).toBeLessThan(html.indexOf('<p>new 0</p>'));
    expect(sink.uploads).toHaveLength(2);
  });

  it('lists a chat in full again when its staged copy is gone, instead of uploading only the delta', async () => {
    const { source, sink, exporter, user } = setup();
    const chatId = '19:lost@thread.v2';
    source.chats.push(chat(chatId, [BOB], 'Lost'));
    source.messages.set(chatId, [message('1', at(0), '<p>one</p>'), message('2', at(1), '<p>two</p>')]);
    const first = await exporter.exportUser(user);
    sink.staged.clear();
    source.messages.get(chatId)?.push(message('3', at(2), '<p>three</p>'));

    const second = await exporter.exportUser({ ...user, cursors: first.cursors });

    expect(source.requests.slice(1).map((request) => request.since)).toEqual([at(1), undefined]);
    expect(second.chats[0]).toMatchObject({ status: 'uploaded', totalMessages: 3 });
    expect(articles(sink.file('target-alice', first.cursors[chatId].fileName))).toBe(3);
  });

  it('does not re-upload, or even read the staging of, a chat with nothing new', async () => {
    const { source, sink, exporter, user } = setup();
    source.chats.push(chat('19:a@thread.v2', [BOB], 'A'), chat('19:b@thread.v2', [CAROL], 'B'));
    source.messages.set('19:a@thread.v2', [message('1', at(0), '<p>a</p>')]);
    source.messages.set('19:b@thread.v2', [message('2', at(0), '<p>b</p>')]);
    const first = await exporter.exportUser(user);
    const loadsAfterFirst = sink.loads;
    source.messages.get('19:b@thread.v2')?.push(message('3', at(5), '<p>b2</p>'));

    const second = await exporter.exportUser({ ...user, cursors: first.cursors });

    expect(second.chats.map((result) => [result.title, result.status])).toEqual([
      ['A', 'unchanged'],
      ['B', 'uploaded'],
    ]);
    expect(sink.uploads.map((upload) => upload.fileName)).toEqual([
      first.cursors['19:a@thread.v2'].fileName,
      first.cursors['19:b@thread.v2'].fileName,
      first.cursors['19:b@thread.v2'].fileName,
    ]);
    expect(sink.loads - loadsAfterFirst).toBe(1);
    expect(second.cursors['19:a@thread.v2']).toEqual(first.cursors['19:a@thread.v2']);
  });

  it('keeps a renamed chat in its first file, with the new title inside', async () => {
    const { source, sink, exporter, user } = setup();
    const summary = chat('19:r@thread.v2', [BOB], 'Old name');
    source.chats.push(summary);
    source.messages.set(summary.id, [message('1', at(0), '<p>a</p>')]);
    const first = await exporter.exportUser(user);
    summary.topic = 'New name';

    const second = await exporter.exportUser({ ...user, cursors: first.cursors });

    expect(second.chats[0]).toMatchObject({
      status: 'uploaded',
      title: 'New name',
      fileName: first.cursors[summary.id].fileName,
    });
    expect(first.cursors[summary.id].fileName).toMatch(/^Old name-[0-9a-f]{8}\.html$/);
    expect(sink.file('target-alice', first.cursors[summary.id].fileName)).toContain('<h1>New name</h1>');
    expect(sink.files.size).toBe(1);
  });

  it('gives two chats with the same title two files, and keeps recorded names even if they would collide', async () => {
    const { source, exporter, user } = setup();
    source.chats.push(chat('19:x@thread.v2', [BOB], 'Standup'), chat('19:y@thread.v2', [CAROL], 'Standup'));
    const taken: Record<string, ChatCursor> = {
      '19:old@thread.v2': { fileName: `Standup-${chatIdHash('19:x@thread.v2')}.html` },
    };

    const planned = await exporter.planChats(user.sourceUserId, taken);

    const names = planned.map((entry) => entry.fileName);
    expect(new Set(names.map((name) => name.toLowerCase())).size).toBe(2);
    expect(names[0]).toBe(`Standup-${chatIdHash('19:x@thread.v2', 12)}.html`);
    expect(names[1]).toBe(`Standup-${chatIdHash('19:y@thread.v2')}.html`);
  });

  it('embeds inline images and shows a placeholder for one over the size limit', async () => {
    const { source, sink, exporter, user } = setup();
    const chatId = '19:img@thread.v2';
    source.chats.push(chat(chatId, [BOB], 'Pictures'));
    source.hosted.set(hostedUrl(chatId, '1', 1), { contentType: 'image/png', bytes: PNG });
    source.hosted.set(hostedUrl(chatId, '1', 2), {
      contentType: 'image/jpeg',
      bytes: Buffer.alloc(5 * 1024 * 1024, 7),
    });
    source.hosted.set(hostedUrl(chatId, '1', 3), {
      contentType: 'image/svg+xml',
      bytes: Buffer.from('<svg/>'),
    });
    source.messages.set(chatId, [
      message(
        '1',
        at(0),
        `<p><img src="${hostedUrl(chatId, '1', 1)}"><img src="${hostedUrl(chatId, '1', 2)}"><img src="${hostedUrl(chatId, '1', 3)}"><img src="https://tracker.test/p.gif"></p>`,
      ),
    ]);

    const [result] = (await exporter.exportUser(user)).chats;

    const html = sink.file('target-alice', result.fileName);
    expect(html).toContain(`<img src="data:image/png;base64,${PNG.toString('base64')}"`);
    expect(html).toContain('[image not included: over 4 MB]');
    expect(html).toContain('[image not included: unsupported image type image/svg+xml]');
    expect(html).toContain('[image not included: external image]');
    expect(html.length).toBeLessThan(100_000);
    expect(source.hostedRequests).toHaveLength(3);

    source.messages.get(chatId)?.push(message('2', at(1), '<p>later</p>'));
    await exporter.exportUser({ ...user, cursors: { [chatId]: result.cursor! } });
    expect(source.hostedRequests).toHaveLength(3);
    expect(sink.file('target-alice', result.fileName)).toContain(
      `data:image/png;base64,${PNG.toString('base64')}`,
    );
  });

  it('reports a failed upload without advancing that chat, and retries it on the next pass', async () => {
    const { source, sink, exporter, user } = setup();
    source.chats.push(chat('19:f@thread.v2', [BOB], 'Flaky'));
    source.messages.set('19:f@thread.v2', [message('1', at(0), '<p>a</p>')]);
    const planned = await exporter.planChats(user.sourceUserId);
    sink.failUploadsOf = planned[0].fileName;

    const first = await exporter.exportUser(user);
    expect(first.chats[0]).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/Upload of TeamsHistory\/Flaky-.*503/),
    });
    expect(first.cursors).toEqual({});

    sink.failUploadsOf = undefined;
    const second = await exporter.exportUser({ ...user, cursors: first.cursors });
    expect(second.chats[0]).toMatchObject({ status: 'uploaded', totalMessages: 1 });
  });

  it('stops the pass when the consent is gone', async () => {
    const { source, exporter, user } = setup();
    source.chats.push(chat('19:c@thread.v2', [BOB], 'C'));
    source.failWith = new ConsentGoneError('Graph answered 401 to a delegated request');
    await expect(exporter.exportUser(user)).rejects.toBeInstanceOf(ConsentGoneError);
  });

  it('skips chats that have no messages at all', async () => {
    const { source, sink, exporter, user } = setup();
    source.chats.push(chat('19:empty@thread.v2', [BOB], 'Empty'));
    const result = await exporter.exportUser(user);
    expect(result.chats[0]).toMatchObject({ status: 'empty', totalMessages: 0 });
    expect(sink.uploads).toEqual([]);
  });
});
