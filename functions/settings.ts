import { devStorageConnectionString } from '../core/state/devStorage';
import { z } from 'zod';

/** The app's settings, read once from the environment (Function App settings, or local.settings.json). */
export interface AppSettings {
  /** Storage for the ledger and staged files: a connection string, or an account reached with the managed identity. */
  storage: { connectionString: string } | { accountName: string };
  /** Prefix of the ledger's table names. */
  tablePrefix: string;
  /** Blob container of staged plans, uploads and reports. */
  container: string;
  /** Microsoft Graph base URL (national clouds and the local sandbox differ). */
  graphUrl: string;
  ratePerChannel: number;
  rateGlobal: number;
  /** Slack added to each one-second pacing window for latency jitter between the app and Graph, in ms. */
  pacingMarginMs: number;
  /** The longest Retry-After waited inside a request; a longer one is waited on a durable timer, in s. */
  maxRetryAfterSeconds: number;
  /** Whether POST /api/migrations may name a path on the host (local runs only). */
  allowLocalPaths: boolean;
  /** Default fallback user for unmatched authors, when a migration names none. */
  fallbackUser?: string;
  /** A Slack token that lets file links and inline images be downloaded from Slack (a secret). */
  slackToken?: string;
}

const positive = (name: string, fallback: number) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .positive({ error: `${name} must be greater than 0` })
    .default(fallback);

const schema = z.object({
  AzureWebJobsStorage: z.string().optional(),
  AzureWebJobsStorage__accountName: z.string().optional(),
  TEAMS_IMPORT_STORAGE: z.string().optional(),
  TEAMS_IMPORT_STORAGE_ACCOUNT: z.string().optional(),
  TEAMS_IMPORT_TABLE_PREFIX: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{0,19}$/, {
      error: 'TEAMS_IMPORT_TABLE_PREFIX must be a letter followed by up to 19 letters or digits',
    })
    .default('ti'),
  TEAMS_IMPORT_CONTAINER: z
    .string()
    .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, {
      error:
        'TEAMS_IMPORT_CONTAINER must be a valid blob container name (3-63 lowercase letters, digits, hyphens)',
    })
    .default('teams-import'),
  GRAPH_URL: z
    .url({ error: 'GRAPH_URL must be an absolute URL such as https://graph.microsoft.com' })
    .default('https://graph.microsoft.com'),
  SLACK_TOKEN: z.string().optional(),
  TEAMS_IMPORT_RATE_PER_CHANNEL: positive('TEAMS_IMPORT_RATE_PER_CHANNEL', 5),
  TEAMS_IMPORT_RATE_GLOBAL: positive('TEAMS_IMPORT_RATE_GLOBAL', 50),
  TEAMS_IMPORT_PACING_MARGIN_MS: z.coerce
    .number({ error: 'TEAMS_IMPORT_PACING_MARGIN_MS must be a number of milliseconds' })
    .min(0, { error: 'TEAMS_IMPORT_PACING_MARGIN_MS must be 0 or more' })
    .max(1000, { error: 'TEAMS_IMPORT_PACING_MARGIN_MS must be at most 1000' })
    .default(10),
  TEAMS_IMPORT_MAX_RETRY_AFTER_SECONDS: positive('TEAMS_IMPORT_MAX_RETRY_AFTER_SECONDS', 60),
  TEAMS_IMPORT_ALLOW_LOCAL_PATHS: z.enum(['true', 'false', '1', '0', '']).optional(),
  TEAMS_IMPORT_FALLBACK_USER: z.string().optional(),
});

/** Reads and validates the settings; the error names each wrong or missing setting and what to set. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): AppSettings {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `- ${issue.message}`);
    throw new Error(`Invalid app settings:\n${lines.join('\n')}`);
  }
  const s = parsed.data;
  const connectionString = s.TEAMS_IMPORT_STORAGE ?? s.AzureWebJobsStorage;
  const accountName = s.TEAMS_IMPORT_STORAGE_ACCOUNT ?? s.AzureWebJobsStorage__accountName;
  let storage: AppSettings['storage'];
  if (connectionString) storage = { connectionString: normalizeConnectionString(connectionString) };
  else if (accountName) storage = { accountName };
  else {
    throw new Error(
      'Invalid app settings:\n- no storage configured: set AzureWebJobsStorage (a connection string, ' +
        '"UseDevelopmentStorage=true" locally) or TEAMS_IMPORT_STORAGE_ACCOUNT (an account reached with the managed identity)',
    );
  }
  const graphUrl = s.GRAPH_URL.replace(/\/+$/, '');
  return {
    storage,
    tablePrefix: s.TEAMS_IMPORT_TABLE_PREFIX,
    container: s.TEAMS_IMPORT_CONTAINER,
    graphUrl,
    ratePerChannel: s.TEAMS_IMPORT_RATE_PER_CHANNEL,
    rateGlobal: s.TEAMS_IMPORT_RATE_GLOBAL,
    pacingMarginMs: s.TEAMS_IMPORT_PACING_MARGIN_MS,
    maxRetryAfterSeconds: s.TEAMS_IMPORT_MAX_RETRY_AFTER_SECONDS,
    allowLocalPaths: ['true', '1'].includes(s.TEAMS_IMPORT_ALLOW_LOCAL_PATHS ?? ''),
    fallbackUser: s.TEAMS_IMPORT_FALLBACK_USER || undefined,
    slackToken: s.SLACK_TOKEN || undefined,
  };
}

/** `UseDevelopmentStorage=true` means Azurite on its default ports, as in the Azure SDKs and `func`. */
function normalizeConnectionString(value: string): string {
  return value.trim() === 'UseDevelopmentStorage=true' ? devStorageConnectionString() : value;
}
