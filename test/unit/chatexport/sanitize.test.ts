import { renderConversation } from '../../../core/chatexport/render';
import { extractImageSources, sanitizeMessageHtml } from '../../../core/chatexport/sanitize';
import { chat, elements, mainOf, message, staged } from './builders';
import { HOSTILE } from './hostile';

const PNG = Buffer.from('89504e470d0a1a0a', 'hex').toString('base64');
const HOSTED = 'https://graph.microsoft.com/v1.0/chats/c/messages/1/hostedContents/h1/$value';

const ALLOWED_DATA_IMAGE = /^data:image\/(png|jpeg|gif|webp|bmp);base64,[A-Za-z0-9+/]*={0,2}$/;

function render(content: string) {
  const conversation = staged(chat('c'), [message('1', '2025-01-15T09:00:00.000Z', content)], {
    [HOSTED]: { kind: 'embedded', contentType: 'image/png', base64: PNG },
  });
  return renderConversation(conversation);
}

const FORBIDDEN_ATTRIBUTES = [
  'style',
  'srcset',
  'formaction',
  'action',
  'data',
  'poster',
  'xlink:href',
  'srcdoc',
];

function assertInert(html: string): void {
  const main = mainOf(html);
  expect(main).not.toMatch(/<script/i);
  expect(main).not.toMatch(
    /<(iframe|object|embed|form|input|button|style|link|meta|base|svg|math|template|video|audio|source|frame)\b/i,
  );
  expect(main).not.toMatch(/javascript:|vbscript:|evil\.test/i);
  for (const tag of main.match(/<[a-z][^>]*>/gi) ?? []) {
    expect(tag).toMatch(/^<[a-z0-9]+(\s+[a-z-]+(="[^"]*")?)*\s*\/?>$/i);
    const names = Array.from(tag.matchAll(/\s([a-z-]+)(?:="[^"]*")?/gi), (m) => m[1]);
    expect(names.filter((name) => /^on/i.test(name) || FORBIDDEN_ATTRIBUTES.includes(name))).toEqual([]);
  }

  const all = elements(html);
  expect(all.filter((el) => el.tag === 'script')).toEqual([]);
  expect(all.filter((el) => el.tag === 'style')).toHaveLength(1);
  const metas = all.filter((el) => el.tag === 'meta');
  expect(
    metas.map((el) => el.attribs['http-equiv'] ?? el.attribs.name ?? Object.keys(el.attribs)[0]),
  ).toEqual(['charset', 'Content-Security-Policy', 'referrer', 'viewport']);
  for (const el of elements(main)) {
    for (const [name, value] of Object.entries(el.attribs)) {
      expect(name).not.toMatch(/^on/i);
      expect(FORBIDDEN_ATTRIBUTES).not.toContain(name);
      if (name === 'href') expect(value).toMatch(/^(https?:\/\/|mailto:|#m-)/);
      if (name === 'src') {
        expect(el.tag).toBe('img');
        expect(value).toMatch(ALLOWED_DATA_IMAGE);
      }
    }
    if (el.tag === 'a' && el.attribs.href?.startsWith('http')) {
      expect(el.attribs.rel).toBe('noopener noreferrer');
    }
    if (el.tag === 'img') expect(el.attribs.src).toBe(`data:image/png;base64,${PNG}`);
  }
}

describe('message HTML sanitizing', () => {
  it.each(Object.entries(HOSTILE))('renders %s inert', (_name, content) => {
    assertInert(render(content));
  });

  it('renders all hostile content together inert', () => {
    assertInert(render(Object.values(HOSTILE).join('\n')));
  });

  it('keeps ordinary formatting, links and mentions', () => {
    const html = mainOf(
      render(
        '<p>Hi <at id="0">Bob Brown</at>, see <a href="https://contoso.com/x?a=1&amp;b=2" title="doc">this</a> ' +
          '<b>bold</b> <em>em</em> <emoji id="smile" alt="😄" title="Smile"></emoji></p><ul><li>one</li></ul>' +
          '<pre><code>const x = 1 &lt; 2;</code></pre><a href="mailto:bob@contoso.com">mail</a>' +
          `<img src="${HOSTED}" alt="chart">`,
      ),
    );
    expect(html).toContain('<span class="mention">Bob Brown</span>');
    expect(html).toContain(
      '<a href="https://contoso.com/x?a=1&amp;b=2" title="doc" rel="noopener noreferrer" target="_blank">this</a>',
    );
    expect(html).toContain('<b>bold</b> <em>em</em> <span class="emoji" title="Smile">😄</span>');
    expect(html).toContain('<ul><li>one</li></ul>');
    expect(html).toContain('<pre><code>const x = 1 &lt; 2;</code></pre>');
    expect(html).toContain(
      '<a href="mailto:bob@contoso.com" rel="noopener noreferrer" target="_blank">mail</a>',
    );
    expect(html).toContain(`<img src="data:image/png;base64,${PNG}" alt="chart" />`);
  });

  it('replaces sender-written images and non-raster resolutions with placeholders', () => {
    const svg = sanitizeMessageHtml('<img src="a">', () => ({
      kind: 'data',
      uri: 'data:image/svg+xml;base64,AAAA',
    }));
    expect(svg).toBe('<span class="image-placeholder">[image not included]</span>');
    const odd = sanitizeMessageHtml('<img src="a">', () => ({
      kind: 'data',
      uri: 'https://evil.test/x.png',
    }));
    expect(odd).toBe('<span class="image-placeholder">[image not included]</span>');
    expect(render(HOSTILE.dataPngFromSender)).toContain('[image not included: external image]');
  });

  it('extracts image sources as a browser decodes them', () => {
    expect(
      extractImageSources(
        `<p><img src="${HOSTED.replace('$', '&#36;')}"><img src='https://x.test/a?b=1&amp;c=2'></p>`,
      ),
    ).toEqual([HOSTED, 'https://x.test/a?b=1&c=2']);
  });
});
