import fs from 'node:fs';
import { Language, Parser, type Node, type Tree } from 'web-tree-sitter';

/** A problem the infra check found, at a 1-based line of a file. */
export interface Finding {
  file: string;
  line: number;
  rule: string;
  /** Where in the resource body, e.g. `properties.siteConfig.appSettings[2].name`. */
  path?: string;
  message: string;
}

let parserReady: Promise<Parser> | undefined;

/**
 * The Bicep grammar of the npm package `tree-sitter-bicep`, run through `web-tree-sitter` (its WASM build), so
 * nothing is compiled on install.
 */
function bicepParser(): Promise<Parser> {
  parserReady ??= (async () => {
    await Parser.init();
    // Bytes rather than a path: given a path, web-tree-sitter reads it with a dynamic import, which Jest's
    // CommonJS sandbox refuses.
    const wasm = fs.readFileSync(require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm'));
    const language = await Language.load(wasm);
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return parserReady;
}

/** A parsed Bicep file, with a finding for each syntax error. */
export interface ParsedBicep {
  file: string;
  tree: Tree;
  syntaxErrors: Finding[];
}

/** Parses one Bicep file; syntax errors are reported with their line, never thrown. */
export async function parseBicep(file: string, source: string): Promise<ParsedBicep> {
  const parser = await bicepParser();
  const tree = parser.parse(source);
  if (!tree) throw new Error(`tree-sitter-bicep returned no tree for ${file}`);
  const syntaxErrors: Finding[] = [];
  if (tree.rootNode.hasError) collectSyntaxErrors(tree.rootNode, file, source, syntaxErrors);
  return { file, tree, syntaxErrors };
}

function collectSyntaxErrors(node: Node, file: string, source: string, out: Finding[]): void {
  if (node.isMissing) {
    out.push({
      file,
      line: node.startPosition.row + 1,
      rule: 'syntax',
      message: `syntax error: '${node.type}' expected at column ${node.startPosition.column + 1}`,
    });
    return;
  }
  if (node.isError) {
    const snippet = source
      .slice(node.startIndex, Math.min(node.endIndex, node.startIndex + 40))
      .split('\n')[0];
    out.push({
      file,
      line: node.startPosition.row + 1,
      rule: 'syntax',
      message: `syntax error: unexpected '${snippet.trim()}' at column ${node.startPosition.column + 1}`,
    });
    return;
  }
  for (const child of node.children)
    if (child && child.hasError) collectSyntaxErrors(child, file, source, out);
}

/** The named children of a node, without the null entries the API allows. */
export function named(node: Node): Node[] {
  return node.namedChildren.filter((n): n is Node => n !== null);
}

export const line = (node: Node): number => node.startPosition.row + 1;

/**
 * The value of a string literal with no interpolation (`'abc'`, `'''multi-line'''`), escapes decoded; undefined
 * for anything else, including `'a-${b}'`.
 */
export function literalString(node: Node | null | undefined): string | undefined {
  if (!node || node.type !== 'string') return undefined;
  if (node.child(0)?.type === "'''")
    return named(node)
      .map((c) => c.text)
      .join('');
  let value = '';
  for (const child of node.children) {
    if (!child || child.type === "'" || child.type === "'''") continue;
    if (child.type === 'interpolation') return undefined;
    value += child.text.startsWith('\\') ? decodeEscape(child.text) : child.text;
  }
  return value;
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", $: '$' };

function decodeEscape(text: string): string {
  const body = text.slice(1);
  if (body.startsWith('u{')) return String.fromCodePoint(parseInt(body.slice(2, -1), 16));
  return ESCAPES[body] ?? body;
}

/** Whether a string node holds `${...}` parts. */
export const isInterpolated = (node: Node): boolean =>
  node.type === 'string' && named(node).some((c) => c.type === 'interpolation');

/** A key of an object literal: its text, the node to report at, and whether it is known before deployment. */
export interface ObjectEntry {
  key: string | undefined;
  keyNode: Node;
  value: Node | undefined;
  /** A nested `resource` declaration in place of a property. */
  resource?: Node;
}

/** The entries of an object literal, in order (decorators skipped). */
export function objectEntries(object: Node): ObjectEntry[] {
  const entries: ObjectEntry[] = [];
  for (const property of named(object)) {
    if (property.type !== 'object_property') continue;
    const [first, second] = named(property);
    if (!first) continue;
    if (first.type === 'resource_declaration') {
      entries.push({ key: undefined, keyNode: first, value: undefined, resource: first });
      continue;
    }
    let key: string | undefined;
    if (first.type === 'identifier') key = first.text;
    else if (first.type === 'compatible_identifier') key = named(first)[0]?.text;
    else if (first.type === 'string') key = literalString(first);
    entries.push({ key, keyNode: first, value: second });
  }
  return entries;
}

/** The value of a property of an object literal, looked up case-insensitively as Bicep does. */
export function objectProperty(object: Node, key: string): Node | undefined {
  const wanted = key.toLowerCase();
  return objectEntries(object).find((e) => e.key?.toLowerCase() === wanted)?.value;
}

/** The object literal(s) a resource or module body stands for: `{...}`, `if (c) {...}`, `[for x in y: {...}]`. */
export function declarationBody(declaration: Node): { object: Node | undefined; loop: boolean } {
  const body = named(declaration).at(-1);
  return bodyObject(body);
}

function bodyObject(body: Node | undefined): { object: Node | undefined; loop: boolean } {
  if (!body) return { object: undefined, loop: false };
  if (body.type === 'object') return { object: body, loop: false };
  if (body.type === 'if_statement')
    return { object: named(body).find((n) => n.type === 'object'), loop: false };
  if (body.type === 'for_statement') {
    const inner = bodyObject(body.childForFieldName('body') ?? undefined);
    return { object: inner.object, loop: true };
  }
  return { object: undefined, loop: false };
}
