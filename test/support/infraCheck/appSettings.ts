import type { Node } from 'web-tree-sitter';
import {
  declarationBody,
  line,
  literalString,
  named,
  objectEntries,
  objectProperty,
  type Finding,
  type ParsedBicep,
} from './bicepSyntax';

/** Why Flex Consumption rejects a setting, and where its job is done instead. */
const FLEX_REJECTED: { test: (name: string) => boolean; reason: string }[] = [
  { test: (n) => n === 'FUNCTIONS_WORKER_RUNTIME', reason: 'the runtime is functionAppConfig.runtime.name' },
  { test: (n) => n === 'FUNCTIONS_EXTENSION_VERSION', reason: 'Flex Consumption runs Functions 4.x only' },
  {
    test: (n) => n === 'WEBSITE_RUN_FROM_PACKAGE',
    reason: 'the package comes from functionAppConfig.deployment.storage',
  },
  {
    test: (n) => n.startsWith('WEBSITE_CONTENT'),
    reason: 'Flex Consumption has no Azure Files content share',
  },
  {
    test: (n) => n === 'SCM_DO_BUILD_DURING_DEPLOYMENT',
    reason: 'remote build is a deployment option (azd remoteBuild)',
  },
  {
    test: (n) => n === 'WEBSITE_NODE_DEFAULT_VERSION',
    reason: 'the Node version is functionAppConfig.runtime.version',
  },
];

/** The reason Flex Consumption rejects an app setting, or undefined when it accepts it. */
export function flexRejection(name: string): string | undefined {
  return FLEX_REJECTED.find((r) => r.test(name.toUpperCase()))?.reason;
}

/** An app setting a template sets, where it is set. */
export interface TemplateSetting {
  name: string;
  file: string;
  line: number;
}

/**
 * The app settings a template sets: every object literal of the form `{ name: 'X', value: ... }` (the items of
 * `siteConfig.appSettings`, wherever the template builds them: variables, `concat`, conditional arrays), and the
 * keys of a `Microsoft.Web/sites/config` resource named `appsettings`. A name that is an expression is unknown
 * before deployment and not listed.
 */
export function templateSettings(parsed: ParsedBicep): TemplateSetting[] {
  const settings: TemplateSetting[] = [];
  const visit = (node: Node): void => {
    if (node.type === 'object') {
      const entries = objectEntries(node);
      const keys = entries.map((e) => e.key?.toLowerCase());
      const nameEntry = entries.find((e) => e.key?.toLowerCase() === 'name');
      const isSetting =
        keys.includes('name') &&
        keys.includes('value') &&
        keys.every((k) => k === 'name' || k === 'value' || k === 'slotsetting');
      const name = isSetting ? literalString(nameEntry?.value) : undefined;
      if (name !== undefined && nameEntry?.value)
        settings.push({ name, file: parsed.file, line: line(nameEntry.value) });
    }
    if (node.type === 'resource_declaration') settings.push(...appSettingsResource(node, parsed.file));
    for (const child of named(node)) visit(child);
  };
  visit(parsed.tree.rootNode);
  return settings;
}

function appSettingsResource(declaration: Node, file: string): TemplateSetting[] {
  const type = literalString(named(declaration)[1])?.toLowerCase() ?? '';
  const isConfig =
    type.startsWith('microsoft.web/sites/config@') || type === 'config' || type.startsWith('config@');
  const { object } = declarationBody(declaration);
  if (!isConfig || !object || literalString(objectProperty(object, 'name'))?.toLowerCase() !== 'appsettings')
    return [];
  const properties = objectProperty(object, 'properties');
  if (properties?.type !== 'object') return [];
  return objectEntries(properties)
    .filter((e): e is typeof e & { key: string } => e.key !== undefined)
    .map((e) => ({ name: e.key, file, line: line(e.keyNode) }));
}

/** A finding for each setting Flex Consumption rejects. */
export function checkFlexSettings(settings: TemplateSetting[]): Finding[] {
  return settings.flatMap((s) => {
    const reason = flexRejection(s.name);
    return reason
      ? [
          {
            file: s.file,
            line: s.line,
            rule: 'flex-rejected-setting',
            message: `app setting '${s.name}' is rejected by Flex Consumption (${reason}); remove it`,
          },
        ]
      : [];
  });
}

/** How infra/README.md's settings table says a setting reaches the app in Azure. */
export type SettingStatus = 'template' | 'optional' | 'local only';
const STATUSES: SettingStatus[] = ['template', 'optional', 'local only'];

export interface DocumentedSetting {
  name: string;
  status: SettingStatus;
  line: number;
}

export const TABLE_BEGIN = '<!-- app-settings:begin -->';
export const TABLE_END = '<!-- app-settings:end -->';

/**
 * Reads the settings table of infra/README.md: the Markdown table between the `app-settings:begin` and
 * `app-settings:end` comments, whose first column is a setting name in backticks and second its status
 * (`template`, `optional` or `local only`).
 */
export function readSettingsTable(
  file: string,
  source: string,
): { rows: DocumentedSetting[]; findings: Finding[] } {
  const lines = source.split('\n');
  const begin = lines.findIndex((l) => l.trim() === TABLE_BEGIN);
  const end = lines.findIndex((l, i) => i > begin && l.trim() === TABLE_END);
  if (begin < 0 || end < 0) {
    return {
      rows: [],
      findings: [
        {
          file,
          line: 1,
          rule: 'settings-table',
          message: `no settings table: put it between '${TABLE_BEGIN}' and '${TABLE_END}'`,
        },
      ],
    };
  }
  const rows: DocumentedSetting[] = [];
  const findings: Finding[] = [];
  const seen = new Map<string, number>();
  let header = true;
  for (let i = begin + 1; i < end; i++) {
    const text = lines[i].trim();
    if (!text.startsWith('|') || /^\|[\s:|-]+\|$/.test(text)) continue;
    if (header) {
      header = false;
      continue;
    }
    const cells = text
      .slice(1, text.endsWith('|') ? -1 : undefined)
      .split('|')
      .map((c) => c.trim());
    const name = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (!name) {
      findings.push({
        file,
        line: i + 1,
        rule: 'settings-table',
        message: `the first column must be a setting name in backticks, not '${cells[0]}'`,
      });
      continue;
    }
    const status = (cells[1] ?? '').toLowerCase() as SettingStatus;
    if (!STATUSES.includes(status)) {
      findings.push({
        file,
        line: i + 1,
        rule: 'settings-table',
        message: `'${name}': the status column must be one of ${STATUSES.join(', ')}, not '${cells[1] ?? ''}'`,
      });
      continue;
    }
    if (seen.has(name)) {
      findings.push({
        file,
        line: i + 1,
        rule: 'settings-table',
        message: `'${name}' is listed twice (first on line ${seen.get(name)})`,
      });
      continue;
    }
    seen.set(name, i + 1);
    rows.push({ name, status, line: i + 1 });
  }
  return { rows, findings };
}

/** The keys of `Values` in local.settings.sample.json (every setting the app reads), with their lines. */
export function sampleSettings(file: string, source: string): { name: string; line: number }[] {
  const values = (JSON.parse(source) as { Values?: Record<string, unknown> }).Values ?? {};
  const lines = source.split('\n');
  return Object.keys(values).map((name) => {
    const index = lines.findIndex((l) => l.includes(`"${name}"`));
    return { name, line: index + 1 };
  });
}

/**
 * Every setting the app reads is set by the template or documented as optional or local only; every row of the
 * table tells the truth (a `template` row is set by the template; an `optional` or `local only` row is not, and
 * is a setting the app reads); every setting the template sets has a row.
 */
export function checkSettingsCoverage(input: {
  settings: TemplateSetting[];
  sample: { file: string; entries: { name: string; line: number }[] };
  readme: { file: string; rows: DocumentedSetting[] };
}): Finding[] {
  const findings: Finding[] = [];
  const set = new Map<string, TemplateSetting>();
  for (const s of input.settings) if (!set.has(s.name)) set.set(s.name, s);
  const rows = new Map(input.readme.rows.map((r) => [r.name, r]));
  for (const { name, line: at } of input.sample.entries) {
    if (set.has(name)) continue;
    const row = rows.get(name);
    if (row && row.status !== 'template') continue;
    findings.push({
      file: input.sample.file,
      line: at,
      rule: 'unset-app-setting',
      message: `'${name}' is read by the app but no infra/*.bicep file sets it, and ${input.readme.file}'s settings table does not list it as optional or local only`,
    });
  }
  const read = new Set(input.sample.entries.map((e) => e.name));
  for (const row of input.readme.rows) {
    const setting = set.get(row.name);
    if (row.status !== 'template' && !read.has(row.name)) {
      findings.push({
        file: input.readme.file,
        line: row.line,
        rule: 'settings-table',
        message: `'${row.name}' is listed as ${row.status}, but the app does not read it (it is not in ${input.sample.file}); remove the row`,
      });
      continue;
    }
    if (row.status === 'template' && !setting) {
      findings.push({
        file: input.readme.file,
        line: row.line,
        rule: 'settings-table',
        message: `'${row.name}' is listed as set by the template, but no infra/*.bicep file sets it`,
      });
    } else if (row.status !== 'template' && setting) {
      findings.push({
        file: input.readme.file,
        line: row.line,
        rule: 'settings-table',
        message: `'${row.name}' is listed as ${row.status}, but ${setting.file}:${setting.line} sets it; list it as template`,
      });
    }
  }
  for (const setting of set.values()) {
    if (!rows.has(setting.name)) {
      findings.push({
        file: setting.file,
        line: setting.line,
        rule: 'settings-table',
        message: `app setting '${setting.name}' is set here but not listed in ${input.readme.file}'s settings table`,
      });
    }
  }
  return findings;
}
