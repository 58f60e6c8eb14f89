import path from 'node:path';
import { checkInfra, formatFinding } from './index';

/**
 * `npm run check:infra [project folder]`: prints every finding of the offline infra check of the project (this
 * checkout by default) and exits 1 when there is any.
 */
async function main(): Promise<void> {
  const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..', '..'));
  const findings = await checkInfra(root);
  for (const finding of findings) console.log(formatFinding(finding));
  console.log(
    findings.length === 0
      ? 'infra check: no findings (syntax, resource types, Flex Consumption settings, app settings coverage)'
      : `infra check: ${findings.length} finding(s)`,
  );
  process.exitCode = findings.length === 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 2;
});
