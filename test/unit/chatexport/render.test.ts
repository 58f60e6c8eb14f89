import { conversationTitle, EXPORT_CSP, renderConversation } from '../../../core/chatexport/render';
import { ALICE, BOB, CAROL, chat, elements, mainOf, message, staged } from './builders';

const DAY1 = '2025-01-15T';
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex').toString('base64');

describe('conversation titles', () => {
  it('uses the topic when there is one', () => {
    expect(conversationTitle(chat('c', [BOB, CAROL], 'Launch plan'), ALICE.userId)).toBe('Launch plan');
  });

  it('uses the other member for a 1:1 chat and the other members, sorted, for an unnamed group', () => {
    expect(conversationTitle(chat('c', [BOB], null, 'oneOnOne'), ALICE.userId)).toBe('Bob Brown');
    expect(conversationTitle(chat('c', [CAROL, BOB], '   '), ALICE.userId)).toBe('Bob Brown, Carol Chen');
  });

  it('abbreviates long member lists and falls back to e-mail, then "Unknown user"', () => {
    const many = ['Eve', 'Dan', 'Fay', 'Gus', 'Hal', 'Ivy'].map((name) => ({
      userId: name,
      displayName: name,
    }));
    expect(conversationTitle(chat('c', many), ALICE.userId)).toBe('Dan, Eve, Fay, Gus and 2 more');
    const nameless = [{ userId: 'x', displayName: null, email: 'x@contoso.com' }, { userId: 'y' }];
    expect(conversationTitle(chat('c', nameless), ALICE.userId)).toBe('Unknown user, x@contoso.com');
  });

  it('names a chat with nobody else after its only member', () => {
    expect(conversationTitle({ id: 'c', members: [ALICE] }, ALICE.userId)).toBe('Alice Adams');
    expect(conversationTitle({ id: 'c' }, ALICE.userId)).toBe('Chat');
  });
});

describe('rendering a conversation', () => {
  const summary = chat('19:abc@thread.v2', [BOB, CAROL], 'Launch plan');

  it('is a self-contained page with the strict CSP and the title', () => {
    const html = renderConversation(staged(summary, [message('1', `${DAY1}09:00:00.000Z`, '<p>Hello</p>')]));
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${EXPORT_CSP}">`);
    expect(EXPORT_CSP).toBe("default-src 'none'; img-src data:; style-src 'unsafe-inline'");
    expect(html).toContain('<title>Launch plan</title>');
    expect(html).toContain('<h1>Launch plan</h1>');
    expect(html).toContain(
      'Group chat · 3 members: Alice Adams, Bob Brown, Carol Chen · 1 message · times in UTC',
    );
    const external = elements(html).filter((el) => ['script', 'link', 'iframe', 'base'].includes(el.tag));
    expect(external).toEqual([]);
  });

  it('shows messages in time order with author and local time in the given time zone', () => {
    const html = renderConversation(
      staged(summary, [
        message('3', `${DAY1}13:03:00.000Z`, '<p>third</p>', { from: { user: { id: CAROL.userId } } }),
        message('1', `${DAY1}09:00:00.000Z`, '<p>first</p>'),
        message('2', `${DAY1}10:30:00.000Z`, '<p>second</p>', {
          from: { user: { id: BOB.userId, displayName: 'Bob B.' } },
        }),
      ]),
      { timeZone: 'Europe/Paris' },
    );
    const order = ['first', 'second', 'third'].map((word) => html.indexOf(`<p>${word}</p>`));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(html).toContain(
      '<span class="author">Bob B.</span> <time datetime="2025-01-15T10:30:00.000Z">11:30</time>',
    );
    expect(html).toContain(
      '<span class="author">Carol Chen</span> <time datetime="2025-01-15T13:03:00.000Z">14:03</time>',
    );
    expect(html).toContain('<h2 class="day">Wednesday, 15 January 2025</h2>');
    expect(html).toContain('times in Europe/Paris');
  });

  it('defaults to UTC and starts a new day heading when the local date changes', () => {
    const messages = [
      message('1', '2025-01-15T23:30:00.000Z', '<p>late</p>'),
      message('2', '2025-01-16T00:10:00.000Z', '<p>next day</p>'),
    ];
    const utc = renderConversation(staged(summary, messages));
    expect(utc.match(/<h2 class="day">/g)).toHaveLength(2);
    const tokyo = renderConversation(staged(summary, messages), { timeZone: 'Asia/Tokyo' });
    expect(tokyo.match(/<h2 class="day">/g)).toHaveLength(1);
    expect(() => renderConversation(staged(summary, messages), { timeZone: 'Mars/Olympus' })).toThrow(
      /IANA time zone/,
    );
  });

  it('shows replies under their parent, and notes replies whose parent is not exported', () => {
    const html = renderConversation(
      staged(summary, [
        message('1', `${DAY1}09:00:00.000Z`, '<p>parent</p>'),
        message('2', `${DAY1}09:05:00.000Z`, '<p>unrelated</p>'),
        message('3', `${DAY1}09:10:00.000Z`, '<p>reply</p>', { replyToId: '1' }),
        message('4', `${DAY1}09:20:00.000Z`, '<p>reply to reply</p>', { replyToId: '3' }),
        message('5', `${DAY1}09:30:00.000Z`, '<p>orphan</p>', { replyToId: 'gone' }),
      ]),
    );
    const main = mainOf(html);
    const parent = main.indexOf('<p>parent</p>');
    const replies = main.indexOf('<div class="replies">');
    expect(parent).toBeLessThan(replies);
    expect(replies).toBeLessThan(main.indexOf('<p>reply</p>'));
    expect(main.indexOf('<p>reply</p>')).toBeLessThan(main.indexOf('<p>reply to reply</p>'));
    expect(main.indexOf('<p>reply to reply</p>')).toBeLessThan(main.indexOf('<p>unrelated</p>'));
    expect(main.match(/<div class="replies">/g)).toHaveLength(1);
    expect(main).toContain('reply to a message not in this export');
  });

  it("marks edits and deletions, and never shows a deleted message's text", () => {
    const html = renderConversation(
      staged(summary, [
        message('1', `${DAY1}09:00:00.000Z`, '<p>fixed typo</p>', {
          lastEditedDateTime: `${DAY1}09:02:00.000Z`,
        }),
        message('2', `${DAY1}09:01:00.000Z`, '<p>secret oops</p>', {
          deletedDateTime: `${DAY1}09:03:00.000Z`,
        }),
      ]),
    );
    expect(html).toContain('<span class="edited" title="edited 15 Jan 2025, 09:02">edited</span>');
    expect(html).toContain('<div class="body deleted">This message was deleted</div>');
    expect(html).not.toContain('secret oops');
  });

  it('renders system events as notices, resolving names Graph leaves empty', () => {
    const html = renderConversation(
      staged(summary, [
        message('1', `${DAY1}09:00:00.000Z`, '<systemEventMessage/>', {
          messageType: 'systemEventMessage',
          from: null,
          eventDetail: {
            '@odata.type': '#microsoft.graph.membersAddedEventMessageDetail',
            initiator: { user: { id: ALICE.userId, displayName: null } },
            members: [
              { id: BOB.userId, displayName: null },
              { id: CAROL.userId, displayName: 'Carol Chen' },
            ],
          },
        }),
        message('2', `${DAY1}09:01:00.000Z`, '<systemEventMessage/>', {
          messageType: 'unknownFutureValue',
          from: null,
          eventDetail: {
            '@odata.type': '#microsoft.graph.chatRenamedEventMessageDetail',
            initiator: { user: { id: BOB.userId } },
            chatDisplayName: 'Launch <plan>',
          },
        }),
        message('3', `${DAY1}09:02:00.000Z`, '', {
          messageType: 'systemEventMessage',
          from: null,
          eventDetail: {
            '@odata.type': '#microsoft.graph.callEndedEventMessageDetail',
            callDuration: 'PT1H2M3S',
          },
        }),
        message('4', `${DAY1}09:03:00.000Z`, '', {
          messageType: 'systemEventMessage',
          from: null,
          eventDetail: { '@odata.type': '#microsoft.graph.somethingNewEventMessageDetail' },
        }),
      ]),
    );
    expect(html).toContain('09:00</time> · Alice Adams added Bob Brown and Carol Chen to the chat</p>');
    expect(html).toContain('Bob Brown renamed the chat to “Launch &lt;plan&gt;”');
    expect(html).toContain('Call ended after 1 h 2 min 3 s');
    expect(html).toContain('Event: something new');
    expect(html).toContain('· 0 messages ·');
  });

  it('shows attachments as safe links, quoted replies as quotes, and reactions with counts', () => {
    const html = renderConversation(
      staged(summary, [
        message('1', `${DAY1}09:00:00.000Z`, '<p>original</p>'),
        message(
          '2',
          `${DAY1}09:01:00.000Z`,
          '<attachment id="q"></attachment><p>see file</p><attachment id="f"></attachment>',
          {
            attachments: [
              {
                id: 'q',
                contentType: 'messageReference',
                content: JSON.stringify({
                  messageId: '1',
                  messagePreview: 'original <b>',
                  messageSender: { user: { id: ALICE.userId } },
                }),
              },
              {
                id: 'f',
                contentType: 'reference',
                contentUrl: 'https://contoso.sharepoint.com/a b.docx',
                name: 'Plan.docx',
              },
              { id: 'j', contentType: 'reference', contentUrl: 'javascript:alert(1)', name: 'Trap' },
            ],
            reactions: [
              { reactionType: 'like', user: { user: { id: BOB.userId } } },
              { reactionType: '😂', user: { user: { id: CAROL.userId } } },
              { reactionType: 'like', user: { user: { id: CAROL.userId } } },
              { reactionType: 'heart', user: { user: { id: BOB.userId } } },
            ],
          },
        ),
      ]),
    );
    expect(html).toContain(
      '<blockquote class="quote"><a href="#m-1">Replying to Alice Adams</a>: original &lt;b&gt;</blockquote>',
    );
    expect(html).toContain(
      '<li><a href="https://contoso.sharepoint.com/a%20b.docx" rel="noopener noreferrer" target="_blank">Plan.docx</a></li>',
    );
    expect(html).toContain('<li>Trap</li>');
    expect(html).not.toContain('javascript:');
    expect(html).toContain(
      '<div class="reactions"><span class="reaction" title="Bob Brown, Carol Chen">👍 2</span><span class="reaction" title="Carol Chen">😂 1</span><span class="reaction" title="Bob Brown">❤️ 1</span></div>',
    );
  });

  it('embeds fetched images as data: URIs and shows placeholders for the others', () => {
    const hosted = (n: number) =>
      `https://graph.microsoft.com/v1.0/chats/19:abc@thread.v2/messages/1/hostedContents/h${n}/$value`;
    const html = renderConversation(
      staged(
        summary,
        [
          message(
            '1',
            `${DAY1}09:00:00.000Z`,
            `<p><img src="${hosted(1)}" width="200" height="abc"><img src="${hosted(2)}"><img src="${hosted(3)}"><img src="https://elsewhere.test/x.png"></p>`,
          ),
        ],
        {
          [hosted(1)]: { kind: 'embedded', contentType: 'image/png', base64: PNG },
          [hosted(2)]: { kind: 'tooLarge', limitBytes: 4 * 1024 * 1024 },
          [hosted(3)]: { kind: 'unavailable', reason: 'Graph answered 404' },
        },
      ),
    );
    expect(html).toContain(`<img src="data:image/png;base64,${PNG}" alt="image" width="200" />`);
    expect(html).toContain('<span class="image-placeholder">[image not included: over 4 MB]</span>');
    expect(html).toContain('<span class="image-placeholder">[image not included: Graph answered 404]</span>');
    expect(html).toContain('<span class="image-placeholder">[image not included: external image]</span>');
    expect(html).not.toContain('graph.microsoft.com');
    expect(html).not.toContain('elsewhere.test');
  });

  it('escapes text bodies and keeps their line breaks', () => {
    const html = renderConversation(
      staged(summary, [
        message('1', `${DAY1}09:00:00.000Z`, '<b>not bold</b>\nline 2', {
          body: { contentType: 'text', content: '<b>not bold</b>\nline 2' },
        }),
      ]),
    );
    expect(html).toContain('<div class="body">&lt;b&gt;not bold&lt;/b&gt;<br>line 2</div>');
  });

  it('is deterministic: the same conversation renders to the same bytes', () => {
    const conversation = () =>
      staged(summary, [
        message('2', `${DAY1}10:00:00.000Z`, '<p>b</p>', { reactions: [{ reactionType: 'like' }] }),
        message('1', `${DAY1}09:00:00.000Z`, '<p>a</p>'),
      ]);
    const first = renderConversation(conversation(), { timeZone: 'America/New_York' });
    const second = renderConversation(conversation(), { timeZone: 'America/New_York' });
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(true);
    expect(first).not.toMatch(/Exported on|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z(?!")/);
  });
});
