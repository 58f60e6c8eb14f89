import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Durable and HTTP settings the host reads from host.json (with the Functions defaults). */
export interface HostJsonSettings {
  taskHubName: string;
  routePrefix: string;
  maxConcurrentActivityFunctions: number;
}

/** Reads host.json from the app root; missing file or fields fall back to the Functions defaults. */
export function readHostJson(appRoot: string): HostJsonSettings {
  const file = path.join(appRoot, 'host.json');
  const json = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as HostJsonShape) : {};
  const durable = json.extensions?.durableTask ?? {};
  return {
    taskHubName: durable.hubName ?? 'TestHubName',
    routePrefix: json.extensions?.http?.routePrefix ?? 'api',
    maxConcurrentActivityFunctions: durable.maxConcurrentActivityFunctions ?? 10,
  };
}

interface HostJsonShape {
  extensions?: {
    durableTask?: { hubName?: string; maxConcurrentActivityFunctions?: number };
    http?: { routePrefix?: string };
  };
}

/**
 * Copies `Values` from local.settings.json into `process.env` as `func` does, never overriding a variable that
 * is already set; returns the names it set so the caller can remove them again.
 */
export function loadLocalSettings(appRoot: string): string[] {
  const file = path.join(appRoot, 'local.settings.json');
  if (!existsSync(file)) return [];
  let values: Record<string, unknown>;
  try {
    values = (JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, unknown> }).Values ?? {};
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}): fix it or remove it.`);
  }
  const set: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (process.env[key] !== undefined || value === undefined || value === null) continue;
    process.env[key] = String(value);
    set.push(key);
  }
  return set;
}
