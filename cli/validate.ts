import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { PlanManifest } from '../core/model';
import { ExportReadError } from '../core/sources/archive';
import { planExport } from '../core/transform/plan';
import type { CommandRegistrar } from './command';
import { printable, printableJson } from './printable';

/** Options of {@link validateExport}, as the command line gives them. */
export interface ValidateOptions {
  /** Path of a user-map CSV (`slackId|slackEmail,entraIdOrUpn`). */
  userMap?: string;
  channels?: string[];
  /** `YYYY-MM-DD` (start of that day, UTC) or an ISO instant. */
  since?: string;
  /** `YYYY-MM-DD` (end of that day, UTC) or an ISO instant. */
  until?: string;
  includeSystemEvents?: boolean;
  /** The instant nothing may be planned after; defaults to the current time. */
  now?: Date;
}

/** One channel in the validation report. */
export interface ValidateChannel {
  source: string;
  teamsName: string;
  general: boolean;
  posts: number;
  replies: number;
  skipped: Record<string, number>;
  files: number;
  inlineImages: number;
  split: number;
  collisions: number;
}

/** The validation report: what would be imported, users, problems. `--json` prints exactly this. */
export interface ValidateReport {
  source: string;
  importable: boolean;
  team: string;
  channels: ValidateChannel[];
  notImported: Array<{ source: string; kind: string; messages: number; reason: string }>;
  users: { total: number; matched: number; unmatched: number; unmatchedNames: string[] };
  problems: Array<{ severity: 'error' | 'warning' | 'info'; code: string; message: string; where?: string }>;
  totals: PlanManifest['totals'];
}

/** An option value that cannot be used; the message names the option. */
export class OptionError extends Error {}

/** Parses a `--since`/`--until` value: a date (whole day, UTC) or an ISO instant, to epoch ms. */
export function parseDateOption(value: string, option: string, endOfDay: boolean): number {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const ms = Date.parse(dateOnly ? `${value}T00:00:00Z` : value);
  if (!Number.isFinite(ms))
    throw new OptionError(`${option} '${value}' is not a date: use YYYY-MM-DD or an ISO 8601 time.`);
  return dateOnly && endOfDay ? ms + 86_400_000 : ms;
}

/**
 * Reads and plans an export without writing anything and reports what would be imported. Throws
 * {@link ExportReadError} when the export cannot be read at all, {@link OptionError} for bad options.
 */
export async function validateExport(path: string, options: ValidateOptions = {}): Promise<ValidateReport> {
  let userMap: { text: string; source: string } | undefined;
  if (options.userMap) {
    const text = await readFile(options.userMap, 'utf8').catch(() => {
      throw new OptionError(`--user-map '${options.userMap}' cannot be read: check the path.`);
    });
    userMap = { text, source: options.userMap };
  }
  const manifest = await planExport(path, {
    now: options.now ?? new Date(),
    ...(options.channels?.length ? { channels: options.channels } : {}),
    ...(options.since ? { since: parseDateOption(options.since, '--since', false) } : {}),
    ...(options.until ? { until: parseDateOption(options.until, '--until', true) } : {}),
    ...(options.includeSystemEvents ? { includeSystemEvents: true } : {}),
    ...(userMap ? { userMap } : {}),
  });
  return toReport(manifest);
}

/** Turns a plan manifest into the validation report. */
export function toReport(manifest: PlanManifest): ValidateReport {
  const unmatched = manifest.users.filter((u) => u.resolution === 'fallback');
  return {
    source: manifest.source.name,
    importable: manifest.importable,
    team: manifest.team.displayName,
    channels: manifest.channels.map((c) => ({
      source: c.sourceName,
      teamsName: c.teamsName,
      general: c.isGeneral,
      posts: c.posts,
      replies: c.replies,
      skipped: Object.fromEntries(Object.entries(c.skipped).filter(([, n]) => (n ?? 0) > 0)) as Record<
        string,
        number
      >,
      files: c.files,
      inlineImages: c.inlineImages,
      split: c.split,
      collisions: c.timestampBumps,
    })),
    notImported: manifest.notImported.map((n) => ({
      source: n.name,
      kind: n.kind,
      messages: n.messages,
      reason: n.reason,
    })),
    users: {
      total: manifest.users.length,
      matched: manifest.users.length - unmatched.length,
      unmatched: unmatched.length,
      unmatchedNames: unmatched.map((u) => u.displayName),
    },
    problems: manifest.problems.map((p) => ({
      severity: p.severity,
      code: p.code,
      message: p.message,
      ...(p.where ? { where: p.where } : {}),
    })),
    totals: manifest.totals,
  };
}

/**
 * Renders the report for people: one line per channel, users, then problems by severity. Names come from
 * the export, so control and format characters are shown escaped (see {@link printable}).
 */
export function formatReport(r: ValidateReport): string {
  const out: string[] = [`Export ${r.source} -> team "${r.team}"`, ''];
  out.push('Channels to import:');
  for (const c of r.channels) {
    const skipped = Object.entries(c.skipped)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    out.push(
      `  #${c.source} -> ${c.teamsName}${c.general ? ' (General)' : ''}: ${c.posts} posts, ${c.replies} replies, ` +
        `skipped ${skipped || 'none'}, ${c.files} files, ${c.inlineImages} inline images, ${c.split} split, ${c.collisions} collisions resolved`,
    );
  }
  if (r.notImported.length) {
    out.push('', 'Not imported:');
    for (const n of r.notImported) out.push(`  ${n.source} (${n.kind}, ${n.messages} messages): ${n.reason}`);
  }
  out.push(
    '',
    `Users: ${r.users.matched} matched (user map or e-mail), ${r.users.unmatched} to the fallback user` +
      (r.users.unmatchedNames.length
        ? ` (${r.users.unmatchedNames.slice(0, 10).join(', ')}${r.users.unmatchedNames.length > 10 ? ', ...' : ''})`
        : ''),
  );
  out.push(`Totals: ${r.totals.posts} posts, ${r.totals.replies} replies, ${r.totals.skipped} skipped`);
  const order = { error: 0, warning: 1, info: 2 } as const;
  const problems = [...r.problems].sort((a, b) => order[a.severity] - order[b.severity]);
  if (problems.length) {
    out.push('', 'Problems:');
    for (const p of problems) out.push(`  ${p.severity.toUpperCase()} [${p.code}] ${p.message}`);
  }
  out.push(
    '',
    r.importable
      ? 'The export can be imported.'
      : 'The export cannot be imported as it stands: fix the errors above.',
  );
  return out.map(printable).join('\n') + '\n';
}

/** Registers `validate <export> [--json] [--user-map FILE] [--channels a,b] [--since D] [--until D]`. */
export const registerValidate: CommandRegistrar = (program: Command, setExitCode) => {
  program
    .command('validate')
    .description('Read a Slack export (ZIP or folder) and report what would be imported, without importing.')
    .argument('<export>', 'the Slack export ZIP or its extracted folder')
    .option('--json', 'print the report as one JSON document')
    .option('--user-map <file>', 'CSV of slackId|slackEmail,entraIdOrUpn')
    .option('--channels <names>', 'comma-separated channel names or ids to import')
    .option('--since <date>', 'only messages from this date (YYYY-MM-DD, UTC) or ISO time')
    .option('--until <date>', 'only messages up to this date (inclusive, UTC) or before this ISO time')
    .option('--include-system-events', 'show joins, topic changes and pins as small notices')
    .action(async (path: string, opts: Record<string, string | boolean | undefined>) => {
      try {
        const report = await validateExport(path, {
          ...(typeof opts.userMap === 'string' ? { userMap: opts.userMap } : {}),
          ...(typeof opts.channels === 'string'
            ? {
                channels: opts.channels
                  .split(',')
                  .map((s) => s.trim())
                  .filter(Boolean),
              }
            : {}),
          ...(typeof opts.since === 'string' ? { since: opts.since } : {}),
          ...(typeof opts.until === 'string' ? { until: opts.until } : {}),
          ...(opts.includeSystemEvents ? { includeSystemEvents: true } : {}),
        });
        process.stdout.write(
          opts.json ? printableJson(JSON.stringify(report, null, 2)) + '\n' : formatReport(report),
        );
        setExitCode(report.importable ? 0 : 1);
      } catch (err) {
        if (!(err instanceof ExportReadError || err instanceof OptionError)) throw err;
        process.stderr.write(`teams-import validate: ${printable(err.message)}\n`);
        setExitCode(2);
      }
    });
};
