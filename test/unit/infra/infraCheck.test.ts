import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  checkInfra,
  checkInfraSources,
  formatFinding,
  loadResourceTypes,
  PROJECT_PATHS,
  type Finding,
  type SourceFile,
} from '../../support/infraCheck';

const root = path.resolve(__dirname, '..', '..', '..');
const types = loadResourceTypes(path.join(root, PROJECT_PATHS.types));
const mainPath = path.join('infra', 'main.bicep');
const main = fs.readFileSync(path.join(root, mainPath), 'utf8');
const sample = fs.readFileSync(path.join(root, PROJECT_PATHS.settingsSample), 'utf8');
const readme = fs.readFileSync(path.join(root, PROJECT_PATHS.readme), 'utf8');

/** The template with `from` replaced by `to` (exactly once), and the 1-based line where `marker` then stands. */
function mutate(from: string, to: string, marker = to): { source: string; line: number } {
  expect(main.split(from)).toHaveLength(2);
  const source = main.replace(from, to);
  const index = source.split('\n').findIndex((l) => l.includes(marker));
  expect(index).toBeGreaterThanOrEqual(0);
  return { source, line: index + 1 };
}

const check = (source: string, file = mainPath): Promise<Finding[]> =>
  checkInfraSources({ bicep: [{ path: file, source }], types });

/** A minimal Flex Consumption site whose app settings are the given items. */
const siteWithSettings = (items: string[]): string =>
  [
    "resource site 'Microsoft.Web/sites@2024-11-01' = {",
    "  name: 'func-x'",
    "  location: 'westeurope'",
    '  properties: {',
    '    siteConfig: {',
    '      appSettings: [',
    ...items.map((item) => `        ${item}`),
    '      ]',
    '    }',
    "    functionAppConfig: { runtime: { name: 'node', version: '22' } }",
    '  }',
    '}',
    '',
  ].join('\n');

describe('the offline infra check', () => {
  it('passes the project as it is: infra/, the settings table, the sample settings', async () => {
    const findings = await checkInfra(root);
    expect(findings.map(formatFinding)).toEqual([]);
  });

  it('fails a misspelled property with its line and path, and suggests the right name', async () => {
    const { source, line } = mutate(
      'keyVaultReferenceIdentity: identity.id',
      'keyVaultReferenceIdentiy: identity.id',
    );
    const findings = await check(source);
    expect(findings).toEqual([
      expect.objectContaining({
        file: mainPath,
        line,
        rule: 'unknown-property',
        path: 'properties.keyVaultReferenceIdentiy',
        message: expect.stringContaining("did you mean 'keyVaultReferenceIdentity'"),
      }),
    ]);
  });

  it('fails a misspelled property deep in an array of objects', async () => {
    const { source, line } = mutate("name: 'durable'", "nmae: 'durable'");
    const findings = await check(source);
    expect(findings).toEqual([
      expect.objectContaining({
        line,
        rule: 'unknown-property',
        path: 'properties.functionAppConfig.scaleAndConcurrency.alwaysReady[0].nmae',
      }),
    ]);
  });

  it('fails an API version Azure does not define, naming the versions it does', async () => {
    const { source, line } = mutate("'Microsoft.Web/sites@2024-11-01'", "'Microsoft.Web/sites@2024-13-01'");
    const findings = await check(source);
    expect(findings).toEqual([
      expect.objectContaining({
        line,
        rule: 'unknown-api-version',
        message: expect.stringContaining('2024-11-01'),
      }),
    ]);
  });

  it('fails a resource type that does not exist', async () => {
    const { source, line } = mutate(
      "'Microsoft.DurableTask/schedulers/taskHubs@2026-02-01'",
      "'Microsoft.DurableTask/schedulers/taskhub@2026-02-01'",
    );
    const findings = await check(source);
    expect(findings).toEqual([expect.objectContaining({ line, rule: 'unknown-type' })]);
  });

  it('fails a setting Flex Consumption rejects, even when it is set through a variable', async () => {
    const { source, line } = mutate(
      "  { name: 'TEAMS_IMPORT_CONTAINER', value: appContainer }\n",
      "  { name: 'TEAMS_IMPORT_CONTAINER', value: appContainer }\n  { name: 'WEBSITE_RUN_FROM_PACKAGE', value: '1' }\n",
      'WEBSITE_RUN_FROM_PACKAGE',
    );
    const findings = await check(source);
    expect(findings).toEqual([
      expect.objectContaining({
        line,
        rule: 'flex-rejected-setting',
        message: expect.stringContaining("'WEBSITE_RUN_FROM_PACKAGE'"),
      }),
    ]);
  });

  it.each([
    'FUNCTIONS_WORKER_RUNTIME',
    'FUNCTIONS_EXTENSION_VERSION',
    'WEBSITE_RUN_FROM_PACKAGE',
    'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
    'WEBSITE_CONTENTSHARE',
    'SCM_DO_BUILD_DURING_DEPLOYMENT',
    'WEBSITE_NODE_DEFAULT_VERSION',
  ])('fails %s in siteConfig.appSettings, with its line', async (name) => {
    const source = siteWithSettings([
      "{ name: 'GRAPH_URL', value: 'https://graph.microsoft.com' }",
      `{ name: '${name}', value: 'x' }`,
    ]);
    const line = source.split('\n').findIndex((l) => l.includes(name)) + 1;
    const file = path.join('infra', 'site.bicep');
    const findings = await check(source, file);
    expect(findings).toEqual([expect.objectContaining({ file, line, rule: 'flex-rejected-setting' })]);
  });

  it('fails a rejected setting in a sites/config appsettings resource, and checks that resource too', async () => {
    const source = [
      "resource site 'Microsoft.Web/sites@2024-11-01' existing = {",
      "  name: 'func-x'",
      "  resource settings 'config' = {",
      "    name: 'appsettings'",
      '    properties: {',
      "      FUNCTIONS_EXTENSION_VERSION: '~4'",
      '    }',
      '  }',
      "  resource web 'config' = {",
      "    name: 'appsetings'",
      '  }',
      '}',
    ].join('\n');
    const findings = await check(source, 'infra/config.bicep');
    expect(findings).toEqual([
      expect.objectContaining({ line: 6, rule: 'flex-rejected-setting' }),
      expect.objectContaining({
        line: 10,
        rule: 'invalid-value',
        message: expect.stringContaining("'appsettings'"),
      }),
    ]);
  });

  it('fails a syntax error with its line', async () => {
    const { source, line } = mutate(
      "  name: 'id-teams-import-${resourceToken}'",
      "  name 'id-teams-import-${resourceToken}'",
    );
    const findings = await check(source);
    expect(findings).toEqual([expect.objectContaining({ line, rule: 'syntax' })]);
  });

  it('fails a missing required property at the object that lacks it', async () => {
    const { source } = mutate(
      "  name: 'kv-${resourceToken}'\n  location: location\n",
      "  name: 'kv-${resourceToken}'\n",
      "name: 'kv-",
    );
    const line = source.split('\n').findIndex((l) => l.startsWith('resource vault ')) + 1;
    const findings = await check(source);
    expect(findings).toEqual([expect.objectContaining({ line, rule: 'missing-property', path: 'location' })]);
  });

  it('fails a read-only property', async () => {
    const { source, line } = mutate(
      "      '0.0.0.0/0'\n    ]\n",
      "      '0.0.0.0/0'\n    ]\n    endpoint: 'x'\n",
      "endpoint: 'x'",
    );
    const findings = await check(source);
    expect(findings).toEqual([
      expect.objectContaining({ line, rule: 'read-only-property', path: 'properties.endpoint' }),
    ]);
  });

  it('fails literals outside their allowed set or of the wrong kind, in both branches of a condition', async () => {
    const identityType = mutate("type: 'UserAssigned'\n", "type: 'UserAsigned'\n", "type: 'UserAsigned'");
    expect(await check(identityType.source)).toEqual([
      expect.objectContaining({
        line: identityType.line,
        rule: 'invalid-value',
        path: 'identity.type',
        message: expect.stringContaining("'SystemAssigned' | 'UserAssigned'"),
      }),
    ]);
    const version = mutate("version: '22'", 'version: 22');
    expect(await check(version.source)).toEqual([
      expect.objectContaining({
        line: version.line,
        rule: 'invalid-value',
        path: 'properties.functionAppConfig.runtime.version',
      }),
    ]);
    const branch = mutate("{ name: 'Dedicated', capacity: 1 }", "{ name: 'Dedicated', capacity: '1' }");
    expect(await check(branch.source)).toEqual([
      expect.objectContaining({ line: branch.line, rule: 'invalid-value', path: 'properties.sku.capacity' }),
    ]);
    const tooLong = mutate("groupShortName: 'teamsimport'", "groupShortName: 'teams-import-alerts'");
    expect(await check(tooLong.source)).toEqual([
      expect.objectContaining({
        line: tooLong.line,
        rule: 'invalid-value',
        message: expect.stringContaining('12'),
      }),
    ]);
  });

  it('checks a module against the parameters of its file', async () => {
    const module = {
      path: 'infra/modules/box.bicep',
      source: "param size int\nparam label string = 'x'\noutput ok bool = true\n",
    };
    const caller = {
      path: 'infra/main.bicep',
      source: "module box 'modules/box.bicep' = {\n  name: 'box'\n  params: {\n    lable: 'y'\n  }\n}\n",
    };
    const findings = await checkInfraSources({ bicep: [caller, module], types });
    expect(findings).toEqual([
      expect.objectContaining({ line: 3, rule: 'missing-property', path: 'params.size' }),
      expect.objectContaining({
        line: 4,
        rule: 'unknown-property',
        message: expect.stringContaining("did you mean 'label'"),
      }),
    ]);
  });

  it('fails a parameters file that passes a parameter the template does not declare', async () => {
    const parameters = fs
      .readFileSync(path.join(root, 'infra', 'main.parameters.json'), 'utf8')
      .replace('"graphClientId"', '"graphClientID2"');
    const line = parameters.split('\n').findIndex((l) => l.includes('graphClientID2')) + 1;
    const findings = await checkInfraSources({
      bicep: [{ path: mainPath, source: main }],
      parameters: [{ path: path.join('infra', 'main.parameters.json'), source: parameters }],
      types,
    });
    expect(findings).toEqual([
      expect.objectContaining({ line, rule: 'parameters-file', path: 'parameters.graphClientID2' }),
    ]);
  });
});

describe('app settings coverage', () => {
  const run = (overrides: { main?: string; sample?: string; readme?: string }): Promise<Finding[]> => {
    const file = (p: string, source: string): SourceFile => ({ path: p, source });
    return checkInfraSources({
      bicep: [file(mainPath, overrides.main ?? main)],
      types,
      settingsSample: file(PROJECT_PATHS.settingsSample, overrides.sample ?? sample),
      readme: file(PROJECT_PATHS.readme, overrides.readme ?? readme),
    });
  };

  it('fails a setting the app reads that the template neither sets nor the README lists', async () => {
    const inValues = sample.replace('"Values": {', '"Values": {\n    "TEAMS_IMPORT_NEW_KNOB": "",');
    const valuesLine = inValues.split('\n').findIndex((l) => l.includes('TEAMS_IMPORT_NEW_KNOB')) + 1;
    expect(await run({ sample: inValues })).toEqual([
      expect.objectContaining({
        file: PROJECT_PATHS.settingsSample,
        line: valuesLine,
        rule: 'unset-app-setting',
        message: expect.stringContaining('TEAMS_IMPORT_NEW_KNOB'),
      }),
    ]);
    const documented = readme.replace(
      '<!-- app-settings:end -->',
      '| `TEAMS_IMPORT_NEW_KNOB` | optional | default off |\n<!-- app-settings:end -->',
    );
    expect(await run({ sample: inValues, readme: documented })).toEqual([]);
  });

  it('fails a README row that contradicts the template', async () => {
    const wrong = readme.replace(
      '| `TEAMS_IMPORT_TABLE_PREFIX` | optional |',
      '| `TEAMS_IMPORT_TABLE_PREFIX` | template |',
    );
    const wrongLine =
      wrong.split('\n').findIndex((l) => l.includes('`TEAMS_IMPORT_TABLE_PREFIX` | template')) + 1;
    const sampleLine = sample.split('\n').findIndex((l) => l.includes('"TEAMS_IMPORT_TABLE_PREFIX"')) + 1;
    // The row is wrong, and with it gone the setting is no longer documented as optional.
    expect(await run({ readme: wrong })).toEqual([
      expect.objectContaining({ file: PROJECT_PATHS.readme, line: wrongLine, rule: 'settings-table' }),
      expect.objectContaining({
        file: PROJECT_PATHS.settingsSample,
        line: sampleLine,
        rule: 'unset-app-setting',
      }),
    ]);
    const claimsOptional = readme.replace('| `GRAPH_URL` | template |', '| `GRAPH_URL` | optional |');
    const optionalLine =
      claimsOptional.split('\n').findIndex((l) => l.includes('`GRAPH_URL` | optional')) + 1;
    expect(await run({ readme: claimsOptional })).toEqual([
      expect.objectContaining({
        line: optionalLine,
        rule: 'settings-table',
        message: expect.stringContaining('sets it'),
      }),
    ]);
  });

  it('fails an optional row for a setting the app no longer reads', async () => {
    const without = sample.replace(/\n\s*"TEAMS_IMPORT_PACING_MARGIN_MS": "10",/, '');
    expect(without).not.toContain('TEAMS_IMPORT_PACING_MARGIN_MS');
    const line = readme.split('\n').findIndex((l) => l.includes('`TEAMS_IMPORT_PACING_MARGIN_MS`')) + 1;
    expect(await run({ sample: without })).toEqual([
      expect.objectContaining({
        file: PROJECT_PATHS.readme,
        line,
        rule: 'settings-table',
        message: expect.stringContaining('does not read it'),
      }),
    ]);
  });

  it('fails a setting the template sets that the README does not list', async () => {
    const { source, line } = mutate(
      "  { name: 'TEAMS_IMPORT_CONTAINER', value: appContainer }\n",
      "  { name: 'TEAMS_IMPORT_CONTAINER', value: appContainer }\n  { name: 'TEAMS_IMPORT_EXTRA', value: 'x' }\n",
      'TEAMS_IMPORT_EXTRA',
    );
    expect(await run({ main: source })).toEqual([
      expect.objectContaining({
        file: mainPath,
        line,
        rule: 'settings-table',
        message: expect.stringContaining('TEAMS_IMPORT_EXTRA'),
      }),
    ]);
  });
});

describe('npm run check:infra', () => {
  it('prints each finding as file:line and exits 1, or says there are none and exits 0', () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'infra-check-'));
    try {
      for (const entry of ['infra', PROJECT_PATHS.types, PROJECT_PATHS.settingsSample]) {
        fs.cpSync(path.join(root, entry), path.join(copy, entry), { recursive: true });
      }
      const cli = (): ReturnType<typeof spawnSync> =>
        spawnSync(
          process.execPath,
          [
            '-r',
            path.join(root, 'test', 'support', 'swc-register.js'),
            path.join(root, 'test', 'support', 'infraCheck', 'cli.ts'),
            copy,
          ],
          { encoding: 'utf8' },
        );
      const clean = cli();
      expect(clean.status).toBe(0);
      expect(clean.stdout).toContain('no findings');

      const broken = main.replace("version: '22'", "verison: '22'");
      fs.writeFileSync(path.join(copy, mainPath), broken);
      const line = broken.split('\n').findIndex((l) => l.includes('verison')) + 1;
      const failed = cli();
      expect(failed.status).toBe(1);
      expect(failed.stdout).toContain(
        `${mainPath}:${line}: unknown-property properties.functionAppConfig.runtime.verison`,
      );
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});
