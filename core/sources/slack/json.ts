/** A JSON file that does not parse: the message names the file, line, column and what to do. */
export class JsonFileError extends Error {
  constructor(
    readonly path: string,
    readonly line: number,
    readonly column: number,
    detail: string,
  ) {
    super(
      `'${path}' is not valid JSON at line ${line}, column ${column} (${detail}): ` +
        'repair or remove the file and run again.',
    );
    this.name = 'JsonFileError';
  }
}

/** Parses a JSON file's text; on failure throws a {@link JsonFileError} naming the first bad position. */
export function parseJsonFile(path: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const offset = firstJsonErrorOffset(text);
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    throw new JsonFileError(path, line, column, (err as Error).message.split('\n')[0]);
  }
}

/** The offset of the first character where `text` stops being valid JSON (text.length when it ends early). */
export function firstJsonErrorOffset(text: string): number {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string): void => {
    for (const ch of word) {
      if (text[i] !== ch) fail();
      i++;
    }
  };
  const str = (): void => {
    i++;
    while (i < text.length) {
      const ch = text[i];
      if (ch === '"') {
        i++;
        return;
      }
      if (ch === '\\') i += 2;
      else if (ch < ' ') fail();
      else i++;
    }
    fail();
  };
  const num = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
    if (!m) fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else fail();
      }
    } else if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else fail();
      }
    } else if (ch === '"') str();
    else if (ch === 't') literal('true');
    else if (ch === 'f') literal('false');
    else if (ch === 'n') literal('null');
    else num();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return text.length;
  } catch (pos) {
    return Math.min(pos as number, text.length);
  }
}
