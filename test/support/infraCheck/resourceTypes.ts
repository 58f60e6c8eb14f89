import fs from 'node:fs';
import path from 'node:path';

/**
 * Azure's resource type definitions in the format Bicep itself validates against (the generated `types.json`
 * files of Azure/bicep-types-az): one JSON array of type nodes per file, `{"$ref": "#/N"}` pointing at
 * element N of the same file.
 */
export type TypeRef = { $ref: string };

/** A property of an object type; `flags` are bits: 1 required, 2 read-only, 4 write-only, 8 deploy-time constant. */
export interface PropertyDef {
  type: TypeRef;
  flags: number;
  description?: string;
}

export type TypeNode =
  | { $type: 'StringType'; minLength?: number; maxLength?: number; pattern?: string; sensitive?: boolean }
  | { $type: 'StringLiteralType'; value: string }
  | { $type: 'IntegerType'; minValue?: number; maxValue?: number }
  | { $type: 'BooleanType' }
  | { $type: 'AnyType' }
  | { $type: 'NullType' }
  | { $type: 'ArrayType'; itemType: TypeRef; minLength?: number; maxLength?: number }
  | { $type: 'UnionType'; elements: TypeRef[] }
  | {
      $type: 'ObjectType';
      name: string;
      properties?: Record<string, PropertyDef>;
      additionalProperties?: TypeRef;
    }
  | {
      $type: 'DiscriminatedObjectType';
      name: string;
      discriminator: string;
      baseProperties?: Record<string, PropertyDef>;
      elements: Record<string, TypeRef>;
    }
  | { $type: 'ResourceType'; name: string; body: TypeRef; readableScopes?: number; writableScopes?: number }
  | { $type: 'ResourceFunctionType'; name: string };

export const FLAG_REQUIRED = 1;
export const FLAG_READ_ONLY = 2;

/** A type node together with the file it came from, so its `$ref`s resolve in the right array. */
export interface ResolvedType {
  file: TypeFile;
  node: TypeNode;
}

/** One definitions file: resolves `#/N` references within it. */
export class TypeFile {
  constructor(
    readonly fileName: string,
    private readonly nodes: TypeNode[],
  ) {}

  resolve(ref: TypeRef): ResolvedType {
    const match = /^#\/(\d+)$/.exec(ref.$ref);
    const node = match ? this.nodes[Number(match[1])] : undefined;
    if (!node) throw new Error(`${this.fileName}: reference ${ref.$ref} points at no type node`);
    return { file: this, node };
  }

  resourceTypes(): Extract<TypeNode, { $type: 'ResourceType' }>[] {
    return this.nodes.filter(
      (n): n is Extract<TypeNode, { $type: 'ResourceType' }> => n.$type === 'ResourceType',
    );
  }
}

/** A resource type definition found by `<Type>@<apiVersion>`. */
export interface ResourceTypeEntry {
  name: string;
  file: TypeFile;
  body: ResolvedType;
  /** 0 when the type can only be read (`existing`), never deployed. */
  writableScopes: number;
}

/** Every resource type definition of a folder of `types.json` copies, looked up case-insensitively. */
export class ResourceTypeIndex {
  private readonly byName = new Map<string, ResourceTypeEntry>();
  private readonly versionsByType = new Map<string, string[]>();

  add(file: TypeFile): void {
    for (const resource of file.resourceTypes()) {
      const key = resource.name.toLowerCase();
      if (this.byName.has(key)) continue;
      this.byName.set(key, {
        name: resource.name,
        file,
        body: file.resolve(resource.body),
        writableScopes: resource.writableScopes ?? 0,
      });
      const [type, version] = splitTypeName(resource.name);
      const versions = this.versionsByType.get(type.toLowerCase()) ?? [];
      versions.push(version);
      this.versionsByType.set(type.toLowerCase(), versions.sort());
    }
  }

  /** The definition of `Microsoft.X/y@version`, or undefined. */
  find(type: string, apiVersion: string): ResourceTypeEntry | undefined {
    return this.byName.get(`${type}@${apiVersion}`.toLowerCase());
  }

  /** API versions defined for a type (empty when the type is unknown). */
  versionsOf(type: string): string[] {
    return this.versionsByType.get(type.toLowerCase()) ?? [];
  }

  /** Whether any type of the namespace (`Microsoft.Web`) is defined. */
  hasNamespace(namespace: string): boolean {
    const prefix = `${namespace.toLowerCase()}/`;
    for (const type of this.versionsByType.keys()) if (type.startsWith(prefix)) return true;
    return false;
  }
}

function splitTypeName(name: string): [string, string] {
  const at = name.lastIndexOf('@');
  return at < 0 ? [name, ''] : [name.slice(0, at), name.slice(at + 1)];
}

/** Loads every `*.json` definitions file of a folder (the folder's other files, such as its licence, are skipped). */
export function loadResourceTypes(dir: string): ResourceTypeIndex {
  const index = new ResourceTypeIndex();
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`No resource type definitions (*.json) found in ${dir}`);
  for (const fileName of files) {
    const nodes = JSON.parse(fs.readFileSync(path.join(dir, fileName), 'utf8')) as unknown;
    if (!Array.isArray(nodes)) throw new Error(`${fileName} is not a bicep-types array of type nodes`);
    index.add(new TypeFile(fileName, nodes as TypeNode[]));
  }
  return index;
}
