import path from 'node:path';
import type { Node } from 'web-tree-sitter';
import {
  declarationBody,
  isInterpolated,
  line,
  literalString,
  named,
  objectEntries,
  type Finding,
  type ParsedBicep,
} from './bicepSyntax';
import {
  FLAG_READ_ONLY,
  FLAG_REQUIRED,
  type PropertyDef,
  type ResolvedType,
  type ResourceTypeIndex,
  type TypeNode,
} from './resourceTypes';

/** Keys Bicep itself understands in a resource body, whatever the resource type. */
const BICEP_RESOURCE_KEYS = new Set(['parent', 'scope', 'dependson']);
/** Keys allowed in the body of an `existing` resource. */
const EXISTING_RESOURCE_KEYS = new Set(['name', 'scope', 'parent']);
/** Keys of a module body. */
const MODULE_KEYS = new Set(['name', 'params', 'scope', 'dependson']);

interface Env {
  file: string;
  /** The resource being checked, for messages: `'storage' (Microsoft.Storage/storageAccounts@2025-01-01)`. */
  resource: string;
  /** The file's `var` declarations, so a value that names one is checked as what it holds. */
  vars: Map<string, Node>;
}

/**
 * Checks every `resource` declaration of a parsed file (nested ones too) against the resource type definitions:
 * the type and API version exist, and the body has no unknown or read-only properties, no missing required
 * ones, and no literal outside its type's allowed values. Expressions are accepted as they are only known at
 * deployment.
 */
export function checkResources(parsed: ParsedBicep, types: ResourceTypeIndex): Finding[] {
  const findings: Finding[] = [];
  const vars = new Map<string, Node>();
  for (const statement of named(parsed.tree.rootNode)) {
    if (statement.type !== 'variable_declaration') continue;
    const [identifier, value] = named(statement);
    if (identifier && value) vars.set(identifier.text, value);
  }
  for (const statement of named(parsed.tree.rootNode)) {
    if (statement.type === 'resource_declaration')
      checkResource(statement, undefined, parsed.file, types, vars, findings);
  }
  return findings;
}

interface ParentType {
  type: string;
  apiVersion: string;
}

function checkResource(
  declaration: Node,
  parent: ParentType | undefined,
  file: string,
  types: ResourceTypeIndex,
  vars: Map<string, Node>,
  findings: Finding[],
): void {
  const [symbol, typeNode] = named(declaration);
  const symbolic = symbol?.text ?? '?';
  const typeText = literalString(typeNode);
  const { object } = declarationBody(declaration);
  if (typeText === undefined) {
    findings.push({
      file,
      line: line(declaration),
      rule: 'unknown-type',
      message: `resource '${symbolic}': the type must be a plain string such as 'Microsoft.Web/sites@2024-11-01'`,
    });
    return;
  }
  const at = typeText.indexOf('@');
  const typePart = at < 0 ? typeText : typeText.slice(0, at);
  let apiVersion = at < 0 ? undefined : typeText.slice(at + 1);
  let type = typePart;
  if (parent && !typePart.includes('/')) {
    type = `${parent.type}/${typePart}`;
    apiVersion ??= parent.apiVersion;
  }
  const nested = (): void => {
    if (!object || !apiVersion) return;
    for (const entry of objectEntries(object)) {
      if (entry.resource) checkResource(entry.resource, { type, apiVersion }, file, types, vars, findings);
    }
  };
  if (!apiVersion) {
    findings.push({
      file,
      line: line(typeNode),
      rule: 'unknown-api-version',
      message: `resource '${symbolic}': '${typeText}' names no API version (write '${typeText}@<version>')`,
    });
    return;
  }
  const entry = types.find(type, apiVersion);
  const label = `'${symbolic}' (${type}@${apiVersion})`;
  if (!entry) {
    findings.push({ file, line: line(typeNode), ...unknownTypeMessage(type, apiVersion, symbolic, types) });
    nested();
    return;
  }
  const existing = declaration.children.some((c) => c?.type === 'existing');
  if (!existing && entry.writableScopes === 0) {
    findings.push({
      file,
      line: line(typeNode),
      rule: 'unknown-type',
      message: `resource ${label}: this type can only be read; declare it with 'existing'`,
    });
  }
  if (object) {
    const env: Env = { file, resource: label, vars };
    if (existing) findings.push(...checkExistingBody(object, env));
    else {
      const hasParent = objectEntries(object).some((e) => e.key?.toLowerCase() === 'parent');
      // A child declared at the top level without `parent` is named 'account/default/x': its name is not
      // held to the child's own name pattern.
      const relaxName = !parent && !hasParent && type.split('/').length > 2;
      findings.push(...checkObject(object, entry.body, '', env, { resourceBody: true, relaxName }));
    }
  }
  nested();
}

function unknownTypeMessage(
  type: string,
  apiVersion: string,
  symbolic: string,
  types: ResourceTypeIndex,
): { rule: string; message: string } {
  const versions = types.versionsOf(type);
  if (versions.length > 0) {
    return {
      rule: 'unknown-api-version',
      message:
        `resource '${symbolic}': API version ${apiVersion} of ${type} is not defined (defined: ${versions.join(', ')}); ` +
        `if Azure has it, copy its types.json from Azure/bicep-types-az into test/fixtures/azure-resource-types/`,
    };
  }
  const namespace = type.split('/')[0];
  if (types.hasNamespace(namespace)) {
    return {
      rule: 'unknown-type',
      message: `resource '${symbolic}': ${type} is not a resource type of ${namespace} in the type definitions`,
    };
  }
  return {
    rule: 'unknown-type',
    message:
      `resource '${symbolic}': no type definitions for ${namespace}; copy generated/<folder>/${namespace.toLowerCase()}/` +
      `${apiVersion}/types.json from Azure/bicep-types-az into test/fixtures/azure-resource-types/ as ` +
      `${namespace.toLowerCase()}@${apiVersion}.json`,
  };
}

function checkExistingBody(object: Node, env: Env): Finding[] {
  const findings: Finding[] = [];
  for (const entry of objectEntries(object)) {
    if (entry.resource || entry.key === undefined) continue;
    if (!EXISTING_RESOURCE_KEYS.has(entry.key.toLowerCase())) {
      findings.push({
        file: env.file,
        line: line(entry.keyNode),
        rule: 'unknown-property',
        path: entry.key,
        message: `resource ${env.resource} is 'existing': only name, scope and parent may be set, not '${entry.key}'`,
      });
    }
  }
  return findings;
}

interface ObjectOptions {
  resourceBody?: boolean;
  relaxName?: boolean;
}

const join = (base: string, key: string): string => (base ? `${base}.${key}` : key);

function checkObject(
  object: Node,
  type: ResolvedType,
  path: string,
  env: Env,
  options: ObjectOptions = {},
): Finding[] {
  const findings: Finding[] = [];
  const shape = objectShape(object, type, path, env, findings);
  const present = new Set<string>();
  for (const entry of objectEntries(object)) {
    if (entry.resource) continue;
    if (entry.key === undefined) {
      if (shape.additional && entry.value)
        findings.push(...checkValue(entry.value, shape.additional, path, env));
      continue;
    }
    const lower = entry.key.toLowerCase();
    present.add(lower);
    if (options.resourceBody && BICEP_RESOURCE_KEYS.has(lower)) continue;
    const childPath = join(path, entry.key);
    const property = shape.properties.get(lower);
    if (!property) {
      if (shape.additional) {
        if (entry.value) findings.push(...checkValue(entry.value, shape.additional, childPath, env));
      } else if (!shape.open) {
        findings.push({
          file: env.file,
          line: line(entry.keyNode),
          rule: 'unknown-property',
          path: childPath,
          message: `resource ${env.resource}: '${entry.key}' is not a property of ${typeLabel(type.node)}${suggestion(entry.key, [...shape.names])}`,
        });
      }
      continue;
    }
    if (property.def.flags & FLAG_READ_ONLY) {
      findings.push({
        file: env.file,
        line: line(entry.keyNode),
        rule: 'read-only-property',
        path: childPath,
        message: `resource ${env.resource}: '${property.name}' is read-only; Azure sets it`,
      });
      continue;
    }
    if (options.relaxName && lower === 'name') continue;
    if (entry.value)
      findings.push(...checkValue(entry.value, type.file.resolve(property.def.type), childPath, env));
  }
  for (const [lower, property] of shape.properties) {
    const required = property.def.flags & FLAG_REQUIRED && !(property.def.flags & FLAG_READ_ONLY);
    if (required && !present.has(lower)) {
      findings.push({
        file: env.file,
        line: line(object),
        rule: 'missing-property',
        path: join(path, property.name),
        message: `resource ${env.resource}: required property '${property.name}' of ${typeLabel(type.node)} is missing`,
      });
    }
  }
  return findings;
}

interface ObjectShape {
  properties: Map<string, { name: string; def: PropertyDef }>;
  names: Set<string>;
  additional?: ResolvedType;
  /** The exact property set is unknown (a discriminator that is an expression): unknown names are accepted. */
  open: boolean;
}

function objectShape(
  object: Node,
  type: ResolvedType,
  path: string,
  env: Env,
  findings: Finding[],
): ObjectShape {
  const properties = new Map<string, { name: string; def: PropertyDef }>();
  const add = (defs: Record<string, PropertyDef> | undefined): void => {
    for (const [name, def] of Object.entries(defs ?? {})) properties.set(name.toLowerCase(), { name, def });
  };
  const node = type.node;
  if (node.$type === 'ObjectType') {
    add(node.properties);
    const additional = node.additionalProperties ? type.file.resolve(node.additionalProperties) : undefined;
    return {
      properties,
      names: new Set([...properties.values()].map((p) => p.name)),
      additional,
      open: false,
    };
  }
  if (node.$type !== 'DiscriminatedObjectType') return { properties, names: new Set(), open: true };
  add(node.baseProperties);
  const discriminator = objectEntries(object).find(
    (e) => e.key?.toLowerCase() === node.discriminator.toLowerCase(),
  );
  const value = literalString(discriminator?.value);
  let open = true;
  if (!discriminator) {
    findings.push({
      file: env.file,
      line: line(object),
      rule: 'missing-property',
      path: join(path, node.discriminator),
      message: `resource ${env.resource}: '${node.discriminator}' is required to tell which ${node.name} this is (${Object.keys(node.elements).join(', ')})`,
    });
  } else if (value !== undefined) {
    const key =
      Object.keys(node.elements).find((k) => k === value) ??
      Object.keys(node.elements).find((k) => k.toLowerCase() === value.toLowerCase());
    if (key === undefined) {
      findings.push({
        file: env.file,
        line: line(discriminator.value ?? discriminator.keyNode),
        rule: 'invalid-value',
        path: join(path, node.discriminator),
        message: `resource ${env.resource}: '${value}' is not one of ${Object.keys(node.elements)
          .map((k) => `'${k}'`)
          .join(', ')}`,
      });
    } else {
      const element = type.file.resolve(node.elements[key]).node;
      if (element.$type === 'ObjectType') add(element.properties);
      open = false;
    }
  }
  return { properties, names: new Set([...properties.values()].map((p) => p.name)), open };
}

type ValueKind =
  'object' | 'array' | 'string' | 'interpolated' | 'number' | 'boolean' | 'null' | 'expression';

function kindOf(node: Node): ValueKind {
  switch (node.type) {
    case 'object':
      return 'object';
    case 'array':
    case 'for_statement':
      return 'array';
    case 'string':
      return isInterpolated(node) ? 'interpolated' : 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    default:
      return 'expression';
  }
}

/**
 * The values a property may take: both sides of `c ? a : b`, the inside of `(x)`, what a `var` holds, and for an
 * array every argument of `concat(...)` and the input of `filter(...)`.
 */
function alternatives(node: Node, type: ResolvedType, env: Env, seen: Set<string> = new Set()): Node[] {
  const more = (n: Node | null | undefined): Node[] => (n ? alternatives(n, type, env, seen) : []);
  switch (node.type) {
    case 'ternary_expression':
      return [...more(node.childForFieldName('consequence')), ...more(node.childForFieldName('alternative'))];
    case 'parenthesized_expression': {
      const inner = named(node);
      return inner.length === 1 ? more(inner[0]) : [node];
    }
    case 'identifier': {
      const value = env.vars.get(node.text);
      if (!value || seen.has(node.text)) return [node];
      seen.add(node.text);
      return more(value);
    }
    case 'call_expression': {
      const name = node.childForFieldName('function')?.text;
      const argumentList = node.childForFieldName('arguments');
      const args = argumentList ? named(argumentList) : [];
      if (type.node.$type !== 'ArrayType') return [node];
      if (name === 'concat') return args.flatMap(more);
      if (name === 'filter' && args[0]) return more(args[0]);
      return [node];
    }
    default:
      return [node];
  }
}

function checkValue(node: Node, type: ResolvedType, path: string, env: Env): Finding[] {
  const findings: Finding[] = [];
  for (const branch of alternatives(node, type, env)) findings.push(...checkLiteral(branch, type, path, env));
  return findings;
}

function checkLiteral(node: Node, type: ResolvedType, path: string, env: Env): Finding[] {
  const kind = kindOf(node);
  if (kind === 'expression' || kind === 'null') return [];
  const t = type.node;
  const finding = (message: string): Finding[] => [
    {
      file: env.file,
      line: line(node),
      rule: 'invalid-value',
      path,
      message: `resource ${env.resource}: ${message}`,
    },
  ];
  const mismatch = (): Finding[] => finding(`'${path}' expects ${describe(type)}, not ${describeKind(kind)}`);
  switch (t.$type) {
    case 'AnyType':
      return [];
    case 'UnionType':
      return checkUnion(node, kind, type, path, env);
    case 'StringLiteralType':
      if (kind === 'interpolated') return [];
      if (kind !== 'string') return mismatch();
      return literalString(node) === t.value
        ? []
        : finding(`'${literalString(node)}' is not the allowed value '${t.value}'`);
    case 'StringType': {
      if (kind === 'interpolated') return [];
      if (kind !== 'string') return mismatch();
      const value = literalString(node) ?? '';
      if (t.minLength !== undefined && value.length < t.minLength)
        return finding(`'${value}' is shorter than ${t.minLength} characters`);
      if (t.maxLength !== undefined && value.length > t.maxLength)
        return finding(`'${value}' is longer than ${t.maxLength} characters`);
      if (t.pattern && !matchesPattern(value, t.pattern))
        return finding(`'${value}' does not match the pattern ${t.pattern}`);
      return [];
    }
    case 'IntegerType': {
      if (kind !== 'number') return mismatch();
      const value = Number(node.text);
      if (t.minValue !== undefined && value < t.minValue)
        return finding(`${value} is below the minimum ${t.minValue}`);
      if (t.maxValue !== undefined && value > t.maxValue)
        return finding(`${value} is above the maximum ${t.maxValue}`);
      return [];
    }
    case 'BooleanType':
      return kind === 'boolean' ? [] : mismatch();
    case 'NullType':
      return mismatch();
    case 'ArrayType': {
      if (kind !== 'array') return mismatch();
      const item = type.file.resolve(t.itemType);
      if (node.type === 'for_statement') {
        const body = node.childForFieldName('body');
        const object = body?.type === 'if_statement' ? named(body).find((n) => n.type === 'object') : body;
        return object ? checkValue(object, item, `${path}[]`, env) : [];
      }
      const elements = named(node).filter((n) => n.type !== 'decorators');
      return elements.flatMap((element, i) => checkValue(element, item, `${path}[${i}]`, env));
    }
    case 'ObjectType':
    case 'DiscriminatedObjectType':
      return kind === 'object' ? checkObject(node, type, path, env) : mismatch();
    default:
      return [];
  }
}

function checkUnion(node: Node, kind: ValueKind, type: ResolvedType, path: string, env: Env): Finding[] {
  if (type.node.$type !== 'UnionType') return [];
  const members = type.node.elements.map((ref) => type.file.resolve(ref));
  const candidates = members.filter((m) => accepts(m.node, kind));
  if (candidates.length === 0) {
    return [
      {
        file: env.file,
        line: line(node),
        rule: 'invalid-value',
        path,
        message: `resource ${env.resource}: '${path}' expects ${describe(type)}, not ${describeKind(kind)}`,
      },
    ];
  }
  let best: Finding[] | undefined;
  for (const candidate of candidates) {
    const findings = checkLiteral(node, candidate, path, env);
    if (findings.length === 0) return [];
    if (!best || findings.length < best.length) best = findings;
  }
  if (candidates.every((c) => c.node.$type === 'StringLiteralType')) {
    return [
      {
        file: env.file,
        line: line(node),
        rule: 'invalid-value',
        path,
        message: `resource ${env.resource}: '${literalString(node)}' is not one of ${describe(type)}`,
      },
    ];
  }
  return best ?? [];
}

function accepts(type: TypeNode, kind: ValueKind): boolean {
  switch (type.$type) {
    case 'AnyType':
    case 'UnionType':
      return true;
    case 'StringType':
    case 'StringLiteralType':
      return kind === 'string' || kind === 'interpolated';
    case 'IntegerType':
      return kind === 'number';
    case 'BooleanType':
      return kind === 'boolean';
    case 'ArrayType':
      return kind === 'array';
    case 'ObjectType':
    case 'DiscriminatedObjectType':
      return kind === 'object';
    default:
      return false;
  }
}

/** The definitions' patterns are .NET regular expressions; the ones that JavaScript cannot compile are skipped. */
function matchesPattern(value: string, pattern: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return true;
  }
}

function describe(type: ResolvedType): string {
  const t = type.node;
  switch (t.$type) {
    case 'StringType':
      return 'a string';
    case 'StringLiteralType':
      return `'${t.value}'`;
    case 'IntegerType':
      return 'an integer';
    case 'BooleanType':
      return 'a boolean';
    case 'ArrayType':
      return 'an array';
    case 'ObjectType':
    case 'DiscriminatedObjectType':
      return `an object (${t.name})`;
    case 'UnionType':
      return t.elements.map((ref) => describe(type.file.resolve(ref))).join(' | ');
    default:
      return t.$type;
  }
}

function describeKind(kind: ValueKind): string {
  return {
    interpolated: 'a string',
    string: 'a string',
    number: 'a number',
    boolean: 'a boolean',
    object: 'an object',
    array: 'an array',
    null: 'null',
    expression: 'an expression',
  }[kind];
}

function typeLabel(node: TypeNode): string {
  return 'name' in node ? node.name : node.$type;
}

/** ", did you mean 'x'?" for a name within a small edit distance of a known one. */
function suggestion(name: string, known: string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best && bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? `; did you mean '${best}'?` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

/** A `param` of a Bicep file, as a module declaration sees it. */
interface ParamInfo {
  name: string;
  required: boolean;
}

function paramsOf(parsed: ParsedBicep): ParamInfo[] {
  return named(parsed.tree.rootNode)
    .filter((n) => n.type === 'parameter_declaration')
    .map((declaration) => {
      const [identifier, type, defaultValue] = named(declaration);
      const nullable = type ? named(type).some((n) => n.type === 'nullable_type') : false;
      return { name: identifier?.text ?? '', required: !defaultValue && !nullable };
    });
}

/**
 * Checks each `module` of a file: the referenced file exists among the parsed ones, the body has only module
 * keys, and `params` names only that file's parameters and gives every parameter without a default.
 */
export function checkModules(parsed: ParsedBicep, all: Map<string, ParsedBicep>): Finding[] {
  const findings: Finding[] = [];
  for (const declaration of named(parsed.tree.rootNode)) {
    if (declaration.type !== 'module_declaration') continue;
    const [symbol, pathNode] = named(declaration);
    const target = literalString(pathNode);
    const at = (node: Node, rule: string, message: string, p?: string): void => {
      findings.push({
        file: parsed.file,
        line: line(node),
        rule,
        path: p,
        message: `module '${symbol?.text}': ${message}`,
      });
    };
    if (target === undefined) {
      at(declaration, 'module', 'the path must be a plain string');
      continue;
    }
    if (/^(br|ts)[:/]/.test(target)) {
      at(pathNode, 'module', `registry module '${target}' cannot be checked offline; vendor it under infra/`);
      continue;
    }
    const resolved = path.join(path.dirname(parsed.file), target);
    const module = all.get(resolved);
    if (!module) {
      at(pathNode, 'module', `'${target}' is not a Bicep file of infra/ (looked for ${resolved})`);
      continue;
    }
    const { object } = declarationBody(declaration);
    if (!object) continue;
    const params = paramsOf(module);
    const byName = new Map(params.map((p) => [p.name.toLowerCase(), p]));
    const entries = objectEntries(object);
    for (const entry of entries) {
      if (entry.key !== undefined && !MODULE_KEYS.has(entry.key.toLowerCase())) {
        at(
          entry.keyNode,
          'unknown-property',
          `'${entry.key}' is not a module property (name, params, scope, dependsOn)`,
          entry.key,
        );
      }
    }
    const paramsNode = entries.find((e) => e.key === 'params')?.value;
    if (paramsNode && paramsNode.type !== 'object') continue;
    const given = new Set<string>();
    for (const param of paramsNode ? objectEntries(paramsNode) : []) {
      if (param.key === undefined) continue;
      given.add(param.key.toLowerCase());
      if (!byName.has(param.key.toLowerCase())) {
        at(
          param.keyNode,
          'unknown-property',
          `'${param.key}' is not a parameter of ${target}${suggestion(
            param.key,
            params.map((p) => p.name),
          )}`,
          `params.${param.key}`,
        );
      }
    }
    for (const param of params) {
      if (param.required && !given.has(param.name.toLowerCase())) {
        at(
          paramsNode ?? object,
          'missing-property',
          `parameter '${param.name}' of ${target} has no default and is not given`,
          `params.${param.name}`,
        );
      }
    }
  }
  return findings;
}

/**
 * Checks a deployment parameters file (`main.parameters.json`) against its template: it is JSON, and every
 * parameter it gives is a `param` of the template (ARM refuses a deployment that passes an unknown one).
 */
export function checkParametersFile(template: ParsedBicep, file: string, source: string): Finding[] {
  let parsed: { parameters?: Record<string, unknown> };
  try {
    parsed = JSON.parse(source) as typeof parsed;
  } catch (err) {
    return [{ file, line: 1, rule: 'parameters-file', message: `not valid JSON: ${(err as Error).message}` }];
  }
  const known = new Set(paramsOf(template).map((p) => p.name.toLowerCase()));
  const lines = source.split('\n');
  return Object.keys(parsed.parameters ?? {})
    .filter((name) => !known.has(name.toLowerCase()))
    .map((name) => ({
      file,
      line: lines.findIndex((l) => l.includes(`"${name}"`)) + 1,
      rule: 'parameters-file',
      path: `parameters.${name}`,
      message: `'${name}' is not a parameter of ${template.file}${suggestion(
        name,
        paramsOf(template).map((p) => p.name),
      )}`,
    }));
}
