import { escapeHtml } from '../transform/html';

/** Markup that is already safe: made only by {@link html} or {@link raw}. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Marks trusted markup (a constant of the code, never data) as safe to insert unescaped. */
export function raw(text: string): Html {
  return new Html(text);
}

function part(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(part).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/**
 * A template whose every interpolated value is escaped (the project's one `escapeHtml`), except markup made
 * by `html` or `raw`; arrays are joined, and undefined, null and false print nothing.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  values.forEach((value, i) => {
    out += part(value) + strings[i + 1];
  });
  return new Html(out);
}
