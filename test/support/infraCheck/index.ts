import fs from 'node:fs';
import path from 'node:path';
import {
  checkFlexSettings,
  checkSettingsCoverage,
  readSettingsTable,
  sampleSettings,
  templateSettings,
} from './appSettings';
import { parseBicep, type Finding, type ParsedBicep } from './bicepSyntax';
import { checkModules, checkParametersFile, checkResources } from './resourceCheck';
import { loadResourceTypes, type ResourceTypeIndex } from './resourceTypes';

export type { Finding } from './bicepSyntax';
export { loadResourceTypes } from './resourceTypes';

/** A file's path (as findings name it) and text. */
export interface SourceFile {
  path: string;
  source: string;
}

export interface InfraCheckInput {
  /** Every Bicep file of the deployment; modules are resolved among them by relative path. */
  bicep: SourceFile[];
  /** Parameters files (`x.parameters.json`), each checked against the template `x.bicep` beside it. */
  parameters?: SourceFile[];
  types: ResourceTypeIndex;
  /** local.settings.sample.json: its `Values` are the settings the app reads. */
  settingsSample?: SourceFile;
  /** infra/README.md, with the settings table. */
  readme?: SourceFile;
}

/**
 * The offline infra check: parses each Bicep file (a syntax error is a finding with its line), checks every
 * resource and module against Azure's resource type definitions, the app settings against Flex Consumption's
 * rules, and (given the sample settings and the README) that every setting the app reads reaches it in Azure or
 * is documented as optional. Returns the findings sorted by file and line; none means the check passed.
 */
export async function checkInfraSources(input: InfraCheckInput): Promise<Finding[]> {
  const findings: Finding[] = [];
  const parsed = new Map<string, ParsedBicep>();
  for (const file of input.bicep) {
    const result = await parseBicep(path.normalize(file.path), file.source);
    parsed.set(result.file, result);
    findings.push(...result.syntaxErrors);
  }
  const settings = [];
  for (const file of parsed.values()) {
    if (file.syntaxErrors.length > 0) continue;
    findings.push(...checkResources(file, input.types), ...checkModules(file, parsed));
    settings.push(...templateSettings(file));
  }
  for (const file of input.parameters ?? []) {
    const template = parsed.get(path.normalize(file.path.replace(/\.parameters\.json$/, '.bicep')));
    if (!template) {
      findings.push({
        file: file.path,
        line: 1,
        rule: 'parameters-file',
        message: 'no template of the same name beside it',
      });
    } else if (template.syntaxErrors.length === 0) {
      findings.push(...checkParametersFile(template, file.path, file.source));
    }
  }
  findings.push(...checkFlexSettings(settings));
  if (input.settingsSample && input.readme) {
    const table = readSettingsTable(input.readme.path, input.readme.source);
    findings.push(...table.findings);
    findings.push(
      ...checkSettingsCoverage({
        settings,
        sample: {
          file: input.settingsSample.path,
          entries: sampleSettings(input.settingsSample.path, input.settingsSample.source),
        },
        readme: { file: input.readme.path, rows: table.rows },
      }),
    );
  }
  return findings.sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule),
  );
}

/** Where the project keeps what the check reads, relative to its root. */
export const PROJECT_PATHS = {
  infra: 'infra',
  types: path.join('test', 'fixtures', 'azure-resource-types'),
  settingsSample: 'local.settings.sample.json',
  readme: path.join('infra', 'README.md'),
};

/**
 * Runs the check over a project checkout: `infra/**\/*.bicep` and their `*.parameters.json`, the copied type
 * definitions, the sample settings and infra/README.md.
 */
export async function checkInfra(root: string): Promise<Finding[]> {
  const read = (relative: string): SourceFile => ({
    path: relative,
    source: fs.readFileSync(path.join(root, relative), 'utf8'),
  });
  const infraFiles = (
    fs.readdirSync(path.join(root, PROJECT_PATHS.infra), { recursive: true }) as string[]
  ).sort();
  const bicep = infraFiles
    .filter((f) => f.endsWith('.bicep'))
    .map((f) => read(path.join(PROJECT_PATHS.infra, f)));
  const parameters = infraFiles
    .filter((f) => f.endsWith('.parameters.json'))
    .map((f) => read(path.join(PROJECT_PATHS.infra, f)));
  if (bicep.length === 0) {
    return [
      { file: PROJECT_PATHS.infra, line: 1, rule: 'syntax', message: 'no .bicep file found under infra/' },
    ];
  }
  return checkInfraSources({
    bicep,
    parameters,
    types: loadResourceTypes(path.join(root, PROJECT_PATHS.types)),
    settingsSample: read(PROJECT_PATHS.settingsSample),
    readme: read(PROJECT_PATHS.readme),
  });
}

/** `file:line: rule path: message`, the form editors and CI logs link. */
export function formatFinding(finding: Finding): string {
  return `${finding.file}:${finding.line}: ${finding.rule}${finding.path ? ` ${finding.path}` : ''}: ${finding.message}`;
}
