import { join } from 'node:path';
import sanitizeHtml from 'sanitize-html';
import { readSlackMessage } from '../../../core/sources/slack/messages';
import type { SourceMessage } from '../../../core/model';
import { renderEmoji } from '../../../core/transform/emoji';
import { mrkdwnToBlocks, type RenderNames } from '../../../core/transform/mrkdwn';
import { renderMessage } from '../../../core/transform/render';
import { EXPORT_2016, ZULIP, readJson } from '../../support/fixtures';

const names: RenderNames = {
  user: (id) => ({ U06NU4E26M9: 'Peter', U074VRHQ11T: 'Ana', U0BMS113R: 'doubledeez' })[id],
  channel: (id) => ({ C06P6T3QGD7: 'General', C0AHX20ADQQ: 'rich-text-blocks' })[id],
};
const options = { canDownloadFiles: false, channelKey: 'C1' };
const read = (raw: unknown): SourceMessage => {
  const r = readSlackMessage(raw, 'C1', { isBotUser: () => false }, () => undefined);
  if (!r.ok) throw new Error(r.reason);
  return r.message;
};
const html = (raw: unknown): string => renderMessage(read(raw), names, options).blocks.join('');
const md = (text: string): string => mrkdwnToBlocks(text, names).join('');
const fx = (name: string): unknown => readJson(join(ZULIP, 'exported_messages_fixtures', `${name}.json`));

/** Tags and attributes the converter may produce; anything else in the output would be a defect. */
const ALLOWED: sanitizeHtml.IOptions = {
  allowedTags: [
    'p',
    'br',
    'b',
    'i',
    's',
    'u',
    'em',
    'strong',
    'code',
    'pre',
    'blockquote',
    'ul',
    'ol',
    'li',
    'a',
    'img',
    'hr',
    'attachment',
    'table',
    'tr',
    'th',
    'td',
  ],
  allowedAttributes: { a: ['href'], img: ['src', 'alt'], attachment: ['id'], ol: ['start'] },
  allowedSchemes: ['http', 'https', 'mailto', 'tel'],
  allowedSchemesByTag: { img: [] },
  allowProtocolRelative: false,
  parser: { decodeEntities: true },
};
/** sanitize-html's serialization differs only in `<br />` and unescaped `'`; undo that before comparing. */
const sanitized = (out: string): string =>
  sanitizeHtml(out, ALLOWED)
    .replace(/<(br|hr) \/>/g, '<$1>')
    .replace(/'/g, '&#39;');

describe('golden HTML of real messages (blocks preferred over text)', () => {
  const golden: Record<string, string> = {
    message_with_basic_formatting:
      '<p>Hello there, I am a basic rich text block!</p><p>Hello there, <b>I am a bold rich text block!</b></p><p>Hello there, <i>I am an italic rich text block!</i></p><p>Hello there, <s>I am a strikethrough rich text block!</s></p>',
    message_with_bullet_list:
      '<p>Basic bullet list with rich elements</p><ul><li>item 1: 🏀</li><li>item 2: <b>this </b>is <i>a list</i> <u>item</u></li><li>item 3: <b><a href="https://example.com/">with a link</a></b></li><li>item 4: we are near <s>the end</s></li><li>item 5: <b><i><s><u><a href="https://chat.zulip.org/">this is the end</a></u></s></i></b></li></ul>',
    message_with_channel_mentions:
      '<p><strong>#C079A3FA12P</strong> <strong>#rich-text-blocks</strong> <strong>#General</strong></p>',
    message_with_code_block:
      '<pre># I&#39;m a code block!\n\ndef convert_slack_formatting(text: str) -&gt; str:\n    return text</pre>',
    message_with_emojis: '<p>Hello there! Here are some emojis 🏀 🏂 🏁</p>',
    message_with_quote_block:
      '<blockquote>Hello there, I am a rich text section block!<br><b>Hello there, I am a rich text section block!</b><br><b><i><s><u><code>Hello there, I am a rich text section block!</code></u></s></i></b></blockquote>',
    message_with_user_mentions: '<p><strong>@Peter</strong> test user mention <strong>@Ana</strong></p>',
    message_with_workspace_mentions:
      '<p><strong>@channel</strong> <b><i><u><strong>@here</strong></u></i></b> test mention</p>',
    message_with_links:
      '<p><a href="https://chat.zulip.org/">Text with a link</a><br><b><a href="https://chat.zulip.org/">Text with a link</a></b><br><i><a href="https://chat.zulip.org/">Text with a link</a></i><br><u><a href="https://chat.zulip.org/">Text with a link</a></u><br><s><a href="https://chat.zulip.org/">Text with a link</a></s></p><blockquote><b><a href="https://chat.zulip.org/">Public view of Zulip Community | Zulip team chat</a></b><br>Browse the publicly accessible channels in Zulip Community without logging in.</blockquote>',
  };
  it.each(Object.keys(golden))('%s', (name) => {
    const out = html(fx(name));
    expect(out).toBe(golden[name]);
    expect(sanitized(out)).toBe(out);
  });

  it('the same messages from their mrkdwn text alone (blocks removed)', () => {
    const textOnly = (name: string): string => {
      const { blocks: _b, attachments: _a, ...rest } = fx(name) as Record<string, unknown>;
      return html(rest);
    };
    expect(textOnly('message_with_basic_formatting')).toBe(
      '<p>Hello there, I am a basic rich text block! Hello there, <b>I am a bold rich text block!</b> Hello there, <i>I am an italic rich text block!</i> Hello there, <s>I am a strikethrough rich text block!</s></p>',
    );
    expect(textOnly('message_with_code_block')).toBe(
      '<pre># I&#39;m a code block!\n\ndef convert_slack_formatting(text: str) -&gt; str:\n    return text</pre>',
    );
    expect(textOnly('message_with_quote_block')).toBe(
      '<blockquote>Hello there, I am a rich text section block!<br><b>Hello there, I am a rich text section block!</b><br><s><i><b><code>Hello there, I am a rich text section block!</code></b></i></s></blockquote>',
    );
    expect(textOnly('message_with_channel_mentions')).toBe(
      '<p><strong>#C079A3FA12P</strong> <strong>#rich-text-blocks</strong> <strong>#General</strong></p>',
    );
    expect(textOnly('message_with_workspace_mentions')).toBe(
      '<p><strong>@channel</strong> <i><b><strong>@here</strong></b></i> test mention</p>',
    );
    expect(textOnly('message_with_bullet_list')).toBe(
      '<p>Basic bullet list with rich elements</p><ul><li>item 1: 🏀</li><li>item 2: <b>this</b> is <i>a list</i> item</li><li>item 3: <b><a href="https://example.com/">with a link</a></b></li><li>item 4: we are near <s>the end</s></li><li>item 5: <s><i><b><a href="https://chat.zulip.org/">this is the end</a></b></i></s></li></ul>',
    );
  });

  it('files: a canvas becomes its title linked to Slack, a snippet an attachment; token query strings are dropped', () => {
    const raw = fx('message_with_variety_files_and_rich_text') as { files: Array<Record<string, string>> };
    const r = renderMessage(read(raw), names, options);
    expect(r.files.map((f) => f.name)).toEqual(['channels.json']);
    expect(r.files[0].url).toBe(raw.files[1].url_private_download.replace(/\?token=.*$/, ''));
    expect(JSON.stringify(r)).not.toContain('xoxe');
    expect(r.blocks.join('')).toBe(
      `<p>message with <b>files  </b><b><strong>@Ana</strong></b><b> </b></p>` +
        `<p>📝 <a href="${raw.files[0].permalink}">Canvas: ${raw.files[0].title}</a></p>` +
        `<attachment id="${r.files[0].attachmentId}"></attachment>`,
    );
    expect(r.files[0].attachmentId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('2016 bot message with attachments, reactions and a custom emoji', () => {
    const day = readJson<unknown[]>(join(EXPORT_2016, 'enrique', '2016-03-28.json'));
    const withReaction = day.find((m) => (m as { reactions?: unknown }).reactions)!;
    const message = read(withReaction);
    expect(message.kind).toBe('bot');
    expect(html(withReaction)).toBe(
      '<p>[enrique:master] 1 new commit by hfaran:</p><blockquote><a href="https://github.com/mesos-magellan/enrique/commit/b698a38dabbd81c51029f163e74bcd76115e9c2f">b698a38</a>: Implement killTask; resolves #20 - hfaran</blockquote>',
    );
    const { reactions } = renderMessage(message, names, options);
    expect(reactions.candidates).toEqual([]);
    expect(reactions.line).toEqual([{ label: ':botman:', count: 1 }]);
    expect(reactions.textReasons).toEqual({ 'custom-emoji': 1 });
  });

  it('2016 file_share: text plus a file attachment; edited message carries (edited)', () => {
    const day = readJson<Array<Record<string, unknown>>>(
      join(EXPORT_2016, 'traveling-sailor', '2016-03-27.json'),
    );
    const share = renderMessage(read(day[0]), names, options);
    expect(share.files).toHaveLength(1);
    expect(share.files[0]).toMatchObject({ name: '10_cities.js', mimeType: 'text/plain', size: 478 });
    expect(share.blocks[0]).toBe(
      '<p><strong>@doubledeez</strong> uploaded a file: <a href="https://mesos-magellan.slack.com/files/U0BMS113R/F0VQ4C4BT/10_cities.js">10 cities</a></p>',
    );
    const edited = readJson<Array<Record<string, unknown>>>(
      join(EXPORT_2016, 'traveling-sailor', '2016-03-25.json'),
    ).find((m) => m.edited);
    expect(html(edited).endsWith('<p><em>(edited)</em></p>')).toBe(true);
  });
});

describe('escaping and mrkdwn edge cases', () => {
  it('a typed <script> arrives as text', () => {
    expect(md('&lt;script&gt;alert(1)&lt;/script&gt;')).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>');
    const out = html({
      ts: '1.000001',
      user: 'U1',
      text: 'x',
      blocks: [
        {
          type: 'rich_text',
          elements: [
            {
              type: 'rich_text_section',
              elements: [{ type: 'text', text: '<script>alert("x")</script> & <b>' }],
            },
          ],
        },
      ],
    });
    expect(out).toBe('<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;</p>');
  });

  it('links: only safe schemes become links; labels and URLs are escaped', () => {
    expect(md('<javascript:alert(1)|click>')).toBe('<p>click</p>');
    expect(md('<https://a.example/?q=1&amp;r="2"|a &lt;b&gt;>')).toBe(
      '<p><a href="https://a.example/?q=1&amp;r=&quot;2&quot;">a &lt;b&gt;</a></p>',
    );
    expect(md('<https://x.example>')).toBe('<p><a href="https://x.example">https://x.example</a></p>');
    expect(md('<mailto:a@b.example|a@b.example>')).toBe(
      '<p><a href="mailto:a@b.example">a@b.example</a></p>',
    );
  });

  it('emphasis needs word boundaries; snake_case and 2*3*4 stay text', () => {
    expect(md('snake_case_name and 2*3*4')).toBe('<p>snake_case_name and 2*3*4</p>');
    expect(md('*bold* _it_ ~gone~ `a*b*c`')).toBe(
      '<p><b>bold</b> <i>it</i> <s>gone</s> <code>a*b*c</code></p>',
    );
    expect(md('~*_nested_*~')).toBe('<p><s><b><i>nested</i></b></s></p>');
    expect(md('* not bold *')).toBe('<p>* not bold *</p>');
    expect(md('*unclosed and _also')).toBe('<p>*unclosed and _also</p>');
  });

  it('mentions, broadcasts, user groups, dates', () => {
    expect(
      md(
        '<@U06NU4E26M9> <@UNKNOWN> <!here> <!everyone> <!subteam^S1|@devs> <!date^1392734382^{date}|Feb 18>',
      ),
    ).toBe(
      '<p><strong>@Peter</strong> <strong>@UNKNOWN</strong> <strong>@here</strong> <strong>@everyone</strong> <strong>@devs</strong> Feb 18</p>',
    );
  });

  it('code blocks keep specials as plain labels; quotes and lists', () => {
    expect(md('```<tel:123|123> &lt;b&gt;```')).toBe('<pre>123 &lt;b&gt;</pre>');
    expect(md('&gt; quoted\n&gt; more\nafter')).toBe('<blockquote>quoted<br>more</blockquote><p>after</p>');
    expect(md('&gt;&gt;&gt; all\nof this')).toBe('<blockquote>all<br>of this</blockquote>');
    expect(md('• one\n• two')).toBe('<ul><li>one</li><li>two</li></ul>');
    expect(md('line one\nline two\n\nnext')).toBe('<p>line one<br>line two</p><p>next</p>');
  });

  it('emoji: shortcodes, Slack aliases, skin tones, custom emoji kept', () => {
    expect(md(':thumbsup: :+1::skin-tone-3: :wave::skin-tone-6: :party_parrot:')).toBe(
      '<p>👍 👍🏼 👋🏿 :party_parrot:</p>',
    );
    expect(renderEmoji('+1::skin-tone-2')).toBe('👍🏻');
    expect(renderEmoji('wave', 5)).toBe('👋🏾');
    // Two-tone Slack names, Slack-only aliases from emoji-datasource, and Slack's own picture emoji kept as text.
    expect(renderEmoji('handshake::skin-tone-2-4')).toBe(
      String.fromCodePoint(0x1faf1, 0x1f3fb, 0x200d, 0x1faf2, 0x1f3fd),
    );
    expect(md(':thinking_face: :flag-us: :slightly_smiling_face: :simple_smile:')).toBe(
      '<p>🤔 🇺🇸 🙂 :simple_smile:</p>',
    );
  });

  it('nested rich-text lists and ordered lists', () => {
    const list = (style: string, indent: number, items: string[]): object => ({
      type: 'rich_text_list',
      style,
      indent,
      elements: items.map((t) => ({ type: 'rich_text_section', elements: [{ type: 'text', text: t }] })),
    });
    const out = html({
      ts: '1.000001',
      user: 'U1',
      text: '',
      blocks: [
        {
          type: 'rich_text',
          elements: [list('bullet', 0, ['a']), list('ordered', 1, ['b', 'c']), list('bullet', 0, ['d'])],
        },
      ],
    });
    expect(out).toBe('<ul><li>a<ol><li>b</li><li>c</li></ol></li><li>d</li></ul>');
    expect(sanitized(out)).toBe(out);
  });

  it('system events render as notices; tombstones as a placeholder', () => {
    expect(
      html({
        ts: '1.000001',
        user: 'U1',
        subtype: 'channel_join',
        text: '<@U06NU4E26M9> has joined the channel',
      }),
    ).toBe('<p><em><strong>@Peter</strong> has joined the channel</em></p>');
    expect(
      html({
        ts: '1.000001',
        user: 'USLACKBOT',
        subtype: 'tombstone',
        hidden: true,
        text: 'This message was deleted.',
        thread_ts: '1.000001',
      }),
    ).toBe('<p><em>This message was deleted.</em></p>');
  });

  it('images: an attachment placeholder marked as an image up to 4 MiB, decided after the download', () => {
    const raw = {
      ts: '1.000001',
      user: 'U1',
      text: '',
      files: [
        {
          id: 'F1',
          name: 'cat.png',
          mimetype: 'image/png',
          size: 1000,
          url_private: 'https://files.slack.com/F1/cat.png?t=xoxe-secret',
        },
      ],
    };
    const small = renderMessage(read(raw), names, options);
    expect(small.hostedContents).toHaveLength(0);
    expect(small.files).toMatchObject([
      { name: 'cat.png', url: 'https://files.slack.com/F1/cat.png', image: true },
    ]);
    expect(small.blocks.join('')).toBe(`<attachment id="${small.files[0].attachmentId}"></attachment>`);
    const big = { ...raw, files: [{ ...raw.files[0], size: 4 * 1024 * 1024 + 1 }] };
    expect(renderMessage(read(big), names, options).files[0].image).toBeUndefined();
  });
});
