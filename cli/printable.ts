/**
 * Characters a terminal may act on or that change how text around them reads: C0 and C1 controls (escape
 * sequences, bell, CSI) and Unicode format characters (bidi overrides and isolates, zero-width characters).
 */
const UNPRINTABLE = /[\p{Cc}\p{Cf}]/gu;
/** The same, less the C0 controls that JSON.stringify escapes itself (any left are the layout's newlines). */
const UNESCAPED_BY_JSON = /[\u007f-\u009f\p{Cf}]/gu;

/**
 * Text from an export made safe to print for people: each control or format character shown as `\u{1b}`,
 * `\u{202e}`..., so a name can neither drive the terminal nor reorder what is printed around it.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** Printed text of several lines whose names come from an export: each line made safe (see printable). */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}

/**
 * JSON text made safe to print: the same characters written as `\uXXXX` escapes inside the strings, so the
 * document parses to exactly the same values. (JSON.stringify already escapes C0 controls.)
 */
export function printableJson(json: string): string {
  return json.replace(UNESCAPED_BY_JSON, (c) =>
    [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}
