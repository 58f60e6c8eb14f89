// Assembles the Function App's deployment package in .azure-package/: the compiled app (dist/), host.json,
// package.json, package-lock.json and the production dependencies only, installed from the lock file with no
// install scripts, less the ones only the local host uses (LOCAL_ONLY). azd zips that folder as it is
// (azure.yaml: dist .azure-package, remoteBuild false); the az CLI route zips it by hand (infra/README.md).
// Run it after `npm ci && npm run build`.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

// Production dependencies that only the local host (devhost/, cli/) loads, never dist/functions: Azurite alone
// is half of the production tree.
const LOCAL_ONLY = ['azurite'];

const root = path.resolve(__dirname, '..');
const target = path.join(root, '.azure-package');
const entry = path.join(root, require(path.join(root, 'package.json')).main);

if (!fs.existsSync(entry)) {
  console.error(
    `stage-package: ${path.relative(root, entry)} is missing; run "npm ci && npm run build" first.`,
  );
  process.exit(1);
}

fs.rmSync(target, { recursive: true, force: true });
fs.mkdirSync(target);
fs.cpSync(path.join(root, 'dist'), path.join(target, 'dist'), { recursive: true });
for (const file of ['host.json', 'package.json', 'package-lock.json']) {
  fs.copyFileSync(path.join(root, file), path.join(target, file));
}

const npm = (args) =>
  execFileSync(
    process.platform === 'win32' ? 'npm.cmd' : 'npm',
    [...args, '--ignore-scripts', '--no-audit', '--no-fund'],
    {
      cwd: target,
      stdio: 'inherit',
      shell: process.platform === 'win32',
    },
  );
npm(['ci', '--omit=dev']);
npm(['uninstall', '--no-save', '--omit=dev', ...LOCAL_ONLY]);

const files = fs.readdirSync(target, { recursive: true }).length;
console.log(
  `stage-package: ${path.relative(root, target)}/ holds dist/, host.json, package.json and production node_modules (${files} entries)`,
);
