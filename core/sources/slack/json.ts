import { Tokenizer, TokenParser, TokenType, type ParsedTokenInfo } from '@streamparser/json';

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

/** A JSON array element over a reader's size or nesting limit: the message names the file, the element and the limit. */
export class JsonElementLimitError extends Error {
  constructor(
    readonly path: string,
    readonly index: number,
    reason: string,
  ) {
    super(
      `element ${index} of '${path}' ${reason}; the rest of the file is not read: ` +
        'the export is damaged or was altered, export it again.',
    );
    this.name = 'JsonElementLimitError';
  }
}

/** A JSON file whose top-level value is not the array expected. */
export class JsonNotArrayError extends Error {
  constructor(readonly path: string) {
    super(`'${path}' is not a JSON array`);
    this.name = 'JsonNotArrayError';
  }
}

/** Limits on a streamed JSON array and each of its elements. */
export interface JsonElementLimits {
  /** Largest element, in bytes of the file. */
  maxElementBytes: number;
  /** Deepest nesting of arrays and objects inside one element. */
  maxDepth: number;
  /** Most elements in the array. */
  maxElements: number;
}

const NEWLINE = 0x0a;

/** Line and column (both from 1, the column in characters) of every byte offset of a stream, fed chunk by chunk. */
class Positions {
  private line = 1;
  /** Characters between the start of the current line and the start of the current chunk. */
  private column = 0;
  private chunk: Uint8Array = new Uint8Array(0);
  private chunkStart = 0;

  /** Moves past the previous chunk and on to `chunk`, which starts at byte `start`. */
  next(chunk: Uint8Array, start: number): void {
    const at = this.locate(this.chunk.length);
    this.line = at.line;
    this.column = at.column - 1;
    this.chunk = chunk;
    this.chunkStart = start;
  }

  /** Where byte `offset` is; offsets before the current chunk report its start. */
  at(offset: number): { line: number; column: number } {
    return this.locate(Math.max(0, Math.min(offset - this.chunkStart, this.chunk.length)));
  }

  private locate(end: number): { line: number; column: number } {
    let line = this.line;
    let from = 0;
    let column = this.column;
    for (
      let nl = this.chunk.indexOf(NEWLINE);
      nl !== -1 && nl < end;
      nl = this.chunk.indexOf(NEWLINE, nl + 1)
    ) {
      line++;
      from = nl + 1;
      column = 0;
    }
    for (let i = from; i < end; i++) if ((this.chunk[i] & 0xc0) !== 0x80) column++;
    return { line, column: column + 1 };
  }
}

function describe(token: ParsedTokenInfo | undefined): string {
  if (!token) return 'unexpected input';
  if (token.token === TokenType.STRING) return 'unexpected string';
  if (token.token === TokenType.NUMBER) return `unexpected number ${String(token.value)}`;
  return `unexpected '${String(token.value)}'`;
}

/** Bytes fed to the tokenizer at once, so the size checks run at least this often. */
const STEP = 65_536;

/**
 * Reads one JSON array from a stream of byte chunks and hands each element to `onElement` as soon as it is
 * complete, so a file of any size never becomes one string. An element (counted from the separator before
 * it) larger than `maxElementBytes`, or nested deeper than `maxDepth`, stops the read with
 * {@link JsonElementLimitError}; bad JSON with a {@link JsonFileError} at its line and column; a top-level
 * value that is not an array with {@link JsonNotArrayError}. Memory stays within one element and one step.
 */
export class JsonArrayReader {
  private readonly tokenizer = new Tokenizer();
  private readonly parser = new TokenParser({ paths: ['$.*'], keepStack: false });
  private readonly positions = new Positions();
  private fed = 0;
  /** Bytes before the tokenizer's offset 0 (a byte order mark). */
  private shift = 0;
  private depth = 0;
  private started = false;
  /** Where the element being read starts (after the `[` or `,` before it); -1 outside the array. */
  private boundary = -1;
  private index = 0;
  private lastToken: ParsedTokenInfo | undefined;
  private lastOffset = 0;
  private failure: Error | undefined;

  constructor(
    private readonly path: string,
    private readonly limits: JsonElementLimits,
    onElement: (value: unknown, index: number) => void,
  ) {
    this.tokenizer.onToken = (token) => this.token(token);
    this.tokenizer.onError = (err) => this.fail(err);
    this.parser.onError = (err) => this.fail(err);
    this.parser.onValue = ({ value, key }) => onElement(value, key as number);
  }

  /** Feeds the next chunk of the file; throws as the class says. */
  write(chunk: Uint8Array): void {
    if (this.fed === 0 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) this.shift = 3;
    for (let at = 0; at < chunk.length; at += STEP) {
      const step = chunk.subarray(at, at + STEP);
      this.positions.next(step, this.fed);
      this.fed += step.length;
      this.tokenizer.write(step);
      if (this.boundary >= 0 && this.fed - this.boundary > this.limits.maxElementBytes)
        this.refuse(this.tooLargeReason());
      this.check();
    }
  }

  /** Ends the file: throws when it stopped before the array was closed, or was empty. */
  end(): void {
    this.tokenizer.end();
    this.check();
    if (this.parser.isEnded) return;
    const at = this.positions.at(this.fed);
    const detail = this.started ? 'the file ends before the array is closed' : 'the file is empty';
    throw new JsonFileError(this.path, at.line, at.column, detail);
  }

  private token(token: ParsedTokenInfo): void {
    if (this.failure) return;
    const offset = token.offset + this.shift;
    this.lastToken = token;
    this.lastOffset = offset;
    if (!this.started) {
      this.started = true;
      if (token.token !== TokenType.LEFT_BRACKET) {
        this.failure = new JsonNotArrayError(this.path);
        return;
      }
    }
    const opens = token.token === TokenType.LEFT_BRACE || token.token === TokenType.LEFT_BRACKET;
    const closes = token.token === TokenType.RIGHT_BRACE || token.token === TokenType.RIGHT_BRACKET;
    if (opens) this.depth++;
    if (closes) this.depth--;
    if (this.depth > this.limits.maxDepth + 1)
      return this.refuse(`nests arrays or objects deeper than ${this.limits.maxDepth} levels`);
    const completes = this.depth === 1 && !opens && token.token !== TokenType.COMMA;
    if (completes && closes && offset + 1 - this.boundary > this.limits.maxElementBytes)
      return this.refuse(this.tooLargeReason());
    if (completes && this.index >= this.limits.maxElements)
      return this.refuse(`is over the limit of ${this.limits.maxElements} elements for one file`);
    this.parser.write(token);
    if (this.depth === 0) this.boundary = -1;
    else if (this.depth === 1 && !completes) this.boundary = offset + 1;
    else if (completes) {
      this.boundary = closes ? offset + 1 : this.fed;
      this.index++;
    }
  }

  private tooLargeReason(): string {
    return `is larger than the ${this.limits.maxElementBytes}-byte limit for one element`;
  }

  private refuse(reason: string): void {
    this.failure ??= new JsonElementLimitError(this.path, this.index, reason);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    const absolute = /absolute position "(\d+)"/.exec(err.message);
    const offset = absolute ? Number(absolute[1]) : this.lastToken ? this.lastOffset : this.fed;
    const at = this.positions.at(offset);
    const detail = absolute
      ? `unexpected character ${JSON.stringify(/Unexpected "([\s\S])"/.exec(err.message)?.[1] ?? '?')}`
      : /ended in the middle/.test(err.message)
        ? 'the file ends inside a value'
        : err instanceof TypeError
          ? 'the text is not valid UTF-8'
          : describe(this.lastToken);
    this.failure = new JsonFileError(this.path, at.line, at.column, detail);
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }
}

/** Reads a JSON array from chunks (a stream or slices of one buffer) into a list; see {@link JsonArrayReader}. */
export async function readJsonArray(
  path: string,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  limits: JsonElementLimits,
): Promise<unknown[]> {
  const values: unknown[] = [];
  const reader = new JsonArrayReader(path, limits, (v) => values.push(v));
  for await (const chunk of chunks) reader.write(chunk);
  reader.end();
  return values;
}

/** A buffer as consecutive slices (no copies), for feeding a {@link JsonArrayReader}. */
export function* slices(bytes: Uint8Array, size = 65_536): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether JSON text nests arrays and objects at most `max` deep (brackets inside strings do not count). */
function nestsAtMost(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === QUOTE) {
      for (;;) {
        i = bytes.indexOf(QUOTE, i + 1);
        if (i === -1) return true;
        let escapes = 0;
        while (bytes[i - 1 - escapes] === BACKSLASH) escapes++;
        if (escapes % 2 === 0) break;
      }
    } else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) return false;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return true;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The largest array that cannot hold an element over the limit, nor more elements than allowed (two bytes each at least). */
export function smallArrayBytes(limits: JsonElementLimits): number {
  return Math.min(limits.maxElementBytes, 2 * limits.maxElements);
}

/**
 * The elements of a JSON array held in one small buffer, parsed whole with `JSON.parse` when the buffer
 * cannot break any of the limits (it is no larger than one element may be, too short for more elements
 * than allowed, and nests no deeper than allowed); undefined when it could, or does not parse as an array,
 * and must go through a {@link JsonArrayReader}, which refuses with the same errors whatever the size.
 */
export function parseSmallArray(bytes: Uint8Array, limits: JsonElementLimits): unknown[] | undefined {
  if (bytes.length > smallArrayBytes(limits)) return undefined;
  if (!nestsAtMost(bytes, limits.maxDepth + 1)) return undefined;
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes));
    return Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Parses a whole JSON file; on failure throws a {@link JsonFileError} naming the first bad position. */
export function parseJsonFile(path: string, bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw locateJsonError(path, bytes, (err as Error).message.split('\n')[0]);
  }
}

function locateJsonError(path: string, bytes: Buffer, fallback: string): JsonFileError {
  const tokenizer = new Tokenizer();
  const parser = new TokenParser({ keepStack: false });
  const positions = new Positions();
  positions.next(bytes, 0);
  let last: ParsedTokenInfo | undefined;
  let found: JsonFileError | undefined;
  const shift = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const fail = (err: Error): void => {
    if (found) return;
    const absolute = /absolute position "(\d+)"/.exec(err.message);
    const at = positions.at(absolute ? Number(absolute[1]) : last ? last.offset + shift : bytes.length);
    found = new JsonFileError(path, at.line, at.column, absolute || !last ? fallback : describe(last));
  };
  tokenizer.onToken = (token) => {
    last = token;
    if (!found) parser.write(token);
  };
  tokenizer.onError = fail;
  parser.onError = fail;
  parser.onValue = () => undefined;
  tokenizer.write(bytes);
  if (!found) tokenizer.end();
  if (found) return found;
  const at = positions.at(bytes.length);
  return new JsonFileError(path, at.line, at.column, fallback);
}
