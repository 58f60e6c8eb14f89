import sanitizeHtml from 'sanitize-html';

/** What to put where a message's `<img>` was: an embedded image or a visible placeholder text. */
export type ImageResolution = { kind: 'data'; uri: string } | { kind: 'placeholder'; text: string };

/** Decides, per `src` as written in the message, what the rendered file shows instead. */
export type ImageResolver = (src: string) => ImageResolution;

/** The only data: URIs the renderer emits: base64 raster images (SVG can carry script, so it is never embedded). */
export const EMBEDDABLE_IMAGE_TYPES: ReadonlySet<string> = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/bmp',
]);

const DATA_URI = /^data:(image\/[a-z]+);base64,[A-Za-z0-9+/]*={0,2}$/;

const ALLOWED_TAGS = [
  'p',
  'div',
  'span',
  'br',
  'hr',
  'b',
  'strong',
  'i',
  'em',
  'u',
  's',
  'strike',
  'del',
  'ins',
  'sub',
  'sup',
  'small',
  'mark',
  'blockquote',
  'code',
  'pre',
  'ul',
  'ol',
  'li',
  'a',
  'img',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'table',
  'caption',
  'thead',
  'tbody',
  'tfoot',
  'tr',
  'th',
  'td',
];

const NON_TEXT_TAGS = [
  'script',
  'style',
  'textarea',
  'option',
  'select',
  'noscript',
  'svg',
  'math',
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'template',
  'head',
  'title',
  'noembed',
  'noframes',
  'xmp',
];

function dimension(value: string | undefined): string | undefined {
  return value !== undefined && /^\d{1,4}$/.test(value) ? value : undefined;
}

function placeholder(text: string): sanitizeHtml.Tag {
  return { tagName: 'span', attribs: { class: 'image-placeholder' }, text: `[${text}]` };
}

/**
 * Sanitizes message HTML with an allow-list: formatting, lists, tables, links (http/https/mailto only, with
 * rel="noopener noreferrer") and images whose src the resolver turned into a raster data: URI; everything
 * else (script, styles, event handlers, frames, forms, SVG, any other image source) is dropped or replaced.
 */
export function sanitizeMessageHtml(html: string, resolveImage: ImageResolver): string {
  return sanitizeHtml(html, {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: {
      a: ['href', 'title', 'rel', 'target'],
      img: ['src', 'alt', 'title', 'width', 'height'],
      td: ['colspan', 'rowspan'],
      th: ['colspan', 'rowspan'],
      ol: ['start'],
      span: ['class', 'title'],
    },
    allowedClasses: { span: ['mention', 'emoji', 'image-placeholder'] },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['data'] },
    allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
    allowProtocolRelative: false,
    allowedStyles: {},
    disallowedTagsMode: 'discard',
    nonTextTags: NON_TEXT_TAGS,
    transformTags: {
      a: (_tag, attribs) => ({
        tagName: 'a',
        attribs: {
          ...(attribs.href !== undefined ? { href: attribs.href } : {}),
          ...(attribs.title !== undefined ? { title: attribs.title } : {}),
          rel: 'noopener noreferrer',
          target: '_blank',
        },
      }),
      img: (_tag, attribs) => {
        const resolved = resolveImage(attribs.src ?? '');
        if (resolved.kind === 'placeholder') return placeholder(resolved.text);
        const match = DATA_URI.exec(resolved.uri);
        if (!match || !EMBEDDABLE_IMAGE_TYPES.has(match[1])) return placeholder('image not included');
        const width = dimension(attribs.width);
        const height = dimension(attribs.height);
        return {
          tagName: 'img',
          attribs: {
            src: resolved.uri,
            alt: attribs.alt ?? 'image',
            ...(width !== undefined ? { width } : {}),
            ...(height !== undefined ? { height } : {}),
          },
        };
      },
      at: () => ({ tagName: 'span', attribs: { class: 'mention' } }),
      emoji: (_tag, attribs) => ({
        tagName: 'span',
        attribs: { class: 'emoji', ...(attribs.title !== undefined ? { title: attribs.title } : {}) },
        text: attribs.alt ?? '',
      }),
      codeblock: () => ({ tagName: 'pre', attribs: {} }),
    },
  });
}

/** The `src` of every `<img>` in message HTML, decoded as a browser would read them, in document order. */
export function extractImageSources(html: string): string[] {
  const sources: string[] = [];
  sanitizeHtml(html, {
    allowedTags: ['img'],
    allowedAttributes: { img: ['src'] },
    allowedSchemes: ['http', 'https', 'data'],
    transformTags: {
      img: (tag, attribs) => {
        if (attribs.src) sources.push(attribs.src);
        return { tagName: tag, attribs };
      },
    },
  });
  return sources;
}
