import { Cron } from 'croner';
import { z } from 'zod';
import {
  DEFAULT_AUTHORITY_HOST,
  FEDERATED_TOKEN_AUDIENCE,
  GraphConfigError,
  isLoopbackUrl,
  type GraphAuth,
} from '../core/graph/auth';
import { DEFAULT_SLACK_API_URL, isSafeSlackApiUrl } from '../core/sources/slack/webApi';
import { slotCount, tenantBudgetKey } from '../core/graph/budget';
import { DEFAULT_STAGE_CONCURRENCY } from '../core/pipeline/deps';
import { devStorageConnectionString } from '../core/state/devStorage';
import type { StorageSettings } from '../core/state/storageAccount';

/** The app's settings, read once from the environment (Function App settings, or local.settings.json). */
export interface AppSettings {
  /** Storage for the ledger and staged files: a connection string, or an account reached with the managed identity. */
  storage: StorageSettings;
  /** Prefix of the ledger's table names. */
  tablePrefix: string;
  /** Blob container of staged plans, uploads and reports. */
  container: string;
  /** Microsoft Graph base URL (national clouds and the local sandbox differ). */
  graphUrl: string;
  /** How the app signs in to Graph (app-only). */
  graphAuth: GraphAuth;
  /** The identity authority (AZURE_AUTHORITY_HOST): Microsoft's, a national cloud's, or any OpenID Connect authority. */
  authorityHost: string;
  ratePerChannel: number;
  rateGlobal: number;
  /** Slack added to each one-second pacing window for latency jitter between the app and Graph, in ms. */
  pacingMarginMs: number;
  /** The longest Retry-After waited inside a request; a longer one is waited on a durable timer, in s. */
  maxRetryAfterSeconds: number;
  /** Channels and conversations a migration's staging plans at once, one activity each (`TEAMS_IMPORT_STAGE_CONCURRENCY`). */
  stageConcurrency: number;
  /** The tenant budget every migration and process of the app shares, held in its storage. */
  budget: BudgetSettings;
  /** Whether POST /api/migrations may name a path on the host (local runs only). */
  allowLocalPaths: boolean;
  /** Default fallback user for unmatched authors, when a migration names none. */
  fallbackUser?: string;
  /** A Slack bot token, sent as Bearer to Slack's file hosts only, for file URLs without the export's token (a secret). */
  slackToken?: string;
  /** Slack's Web API base (`SLACK_API_URL`), where a Slack API source sends `SLACK_TOKEN`; https, or a loopback stand-in. */
  slackApiUrl: string;
  /** Where `files.slack.com` URLs are downloaded from (`SLACK_FILES_URL`); a rehearsal serves the files locally. */
  slackFilesUrl: string;
  /** Largest source file moved, in bytes (`TEAMS_IMPORT_MAX_FILE_MB`, in MiB); larger ones become a notice. */
  maxFileBytes: number;
  /** When the delta-sync timer runs (`MIGRATION_DELTA_SCHEDULE`, NCRONTAB); absent: no timer. */
  deltaSchedule?: string;
  /** A local folder used as the snapshot inbox instead of blob storage (`TEAMS_IMPORT_INBOX_DIR`, local hosts only). */
  inboxDir?: string;
}

/** The tenant budget: posting slots as blob leases, and the creation limits as records, in the app's storage. */
export interface BudgetSettings {
  /** The budget's storage key: from the Graph endpoint, the tenant and the app registration. */
  key: string;
  /** Posting slots: TEAMS_IMPORT_RATE_GLOBAL over TEAMS_IMPORT_RATE_PER_CHANNEL, rounded down. */
  slots: number;
  /** Chat posting slots: TEAMS_IMPORT_CHAT_RATE_GLOBAL (chat message imports a second, 20) over the per-chat pace. */
  chatSlots: number;
  /** How long a slot's lease lasts unless renewed (15-60 s): a dead process's slots come back within it. */
  leaseSeconds: number;
  /** How long a channel that found every slot taken waits (on a durable timer) before it asks again, in s. */
  retrySeconds: number;
  /** POST /teams admitted per second, and channel creations per 10 seconds, for the app in the tenant. */
  teamCreationsPerSecond: number;
  channelCreationsPer10Seconds: number;
}

const positive = (name: string, fallback: number) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .positive({ error: `${name} must be greater than 0` })
    .default(fallback);

const optionalUrl = (name: string) =>
  z.url({ error: `${name} must be an absolute URL such as https://login.microsoftonline.com` }).optional();

const schema = z.object({
  AzureWebJobsStorage: z.string().optional(),
  AzureWebJobsStorage__accountName: z.string().optional(),
  AzureWebJobsStorage__clientId: z.string().optional(),
  AzureWebJobsStorage__credential: z
    .enum(['managedidentity'], {
      error:
        'AzureWebJobsStorage__credential must be "managedidentity" (or unset for the system-assigned identity)',
    })
    .optional(),
  AzureWebJobsStorage__blobServiceUri: optionalUrl('AzureWebJobsStorage__blobServiceUri'),
  AzureWebJobsStorage__tableServiceUri: optionalUrl('AzureWebJobsStorage__tableServiceUri'),
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
  TEAMS_IMPORT_TOKEN: z.string().optional(),
  AZURE_AUTHORITY_HOST: optionalUrl('AZURE_AUTHORITY_HOST'),
  AZURE_TENANT_ID: z.string().optional(),
  AZURE_CLIENT_ID: z.string().optional(),
  AZURE_CLIENT_SECRET: z.string().optional(),
  AZURE_CLIENT_CERTIFICATE_PATH: z.string().optional(),
  AZURE_CLIENT_CERTIFICATE_PASSWORD: z.string().optional(),
  AZURE_FEDERATED_TOKEN_FILE: z.string().optional(),
  GRAPH_FEDERATED_IDENTITY_CLIENT_ID: z.string().optional(),
  GRAPH_FEDERATED_IDENTITY_AUDIENCE: z.string().optional(),
  IDENTITY_ENDPOINT: z.string().optional(),
  MSI_ENDPOINT: z.string().optional(),
  SLACK_FILES_URL: z
    .url({
      protocol: /^https?$/,
      error: 'SLACK_FILES_URL must be an http(s) URL such as https://files.slack.com',
    })
    .default('https://files.slack.com'),
  SLACK_API_URL: z
    .url({
      protocol: /^https?$/,
      error: 'SLACK_API_URL must be an http(s) URL such as https://slack.com/api/',
    })
    .refine(isSafeSlackApiUrl, {
      error:
        'SLACK_API_URL must be an https URL (the token travels to it); plain http is only for a stand-in on this machine (127.0.0.1)',
    })
    .default(DEFAULT_SLACK_API_URL),
  TEAMS_IMPORT_MAX_FILE_MB: positive('TEAMS_IMPORT_MAX_FILE_MB', 250),
  TEAMS_IMPORT_RATE_PER_CHANNEL: positive('TEAMS_IMPORT_RATE_PER_CHANNEL', 5),
  TEAMS_IMPORT_RATE_GLOBAL: positive('TEAMS_IMPORT_RATE_GLOBAL', 50),
  TEAMS_IMPORT_CHAT_RATE_GLOBAL: positive('TEAMS_IMPORT_CHAT_RATE_GLOBAL', 20),
  TEAMS_IMPORT_PACING_MARGIN_MS: z.coerce
    .number({ error: 'TEAMS_IMPORT_PACING_MARGIN_MS must be a number of milliseconds' })
    .min(0, { error: 'TEAMS_IMPORT_PACING_MARGIN_MS must be 0 or more' })
    .max(1000, { error: 'TEAMS_IMPORT_PACING_MARGIN_MS must be at most 1000' })
    .default(10),
  TEAMS_IMPORT_MAX_RETRY_AFTER_SECONDS: positive('TEAMS_IMPORT_MAX_RETRY_AFTER_SECONDS', 60),
  TEAMS_IMPORT_BUDGET_LEASE_SECONDS: z.coerce
    .number({ error: 'TEAMS_IMPORT_BUDGET_LEASE_SECONDS must be a number of seconds from 15 to 60' })
    .int({ error: 'TEAMS_IMPORT_BUDGET_LEASE_SECONDS must be a whole number of seconds from 15 to 60' })
    .min(15, { error: 'TEAMS_IMPORT_BUDGET_LEASE_SECONDS must be at least 15 (the shortest blob lease)' })
    .max(60, {
      error: 'TEAMS_IMPORT_BUDGET_LEASE_SECONDS must be at most 60 (the longest finite blob lease)',
    })
    .default(15),
  TEAMS_IMPORT_BUDGET_RETRY_SECONDS: positive('TEAMS_IMPORT_BUDGET_RETRY_SECONDS', 2),
  TEAMS_IMPORT_TEAM_CREATIONS_PER_SECOND: positive('TEAMS_IMPORT_TEAM_CREATIONS_PER_SECOND', 10),
  TEAMS_IMPORT_CHANNEL_CREATIONS_PER_10S: positive('TEAMS_IMPORT_CHANNEL_CREATIONS_PER_10S', 20),
  TEAMS_IMPORT_STAGE_CONCURRENCY: z.coerce
    .number({ error: 'TEAMS_IMPORT_STAGE_CONCURRENCY must be a whole number from 1 to 100' })
    .int({ error: 'TEAMS_IMPORT_STAGE_CONCURRENCY must be a whole number from 1 to 100' })
    .min(1, { error: 'TEAMS_IMPORT_STAGE_CONCURRENCY must be at least 1' })
    .max(100, { error: 'TEAMS_IMPORT_STAGE_CONCURRENCY must be at most 100' })
    .default(DEFAULT_STAGE_CONCURRENCY),
  TEAMS_IMPORT_ALLOW_LOCAL_PATHS: z.enum(['true', 'false', '1', '0', '']).optional(),
  TEAMS_IMPORT_FALLBACK_USER: z.string().optional(),
  MIGRATION_DELTA_SCHEDULE: z.string().optional(),
  TEAMS_IMPORT_INBOX_DIR: z.string().optional(),
});

type Values = z.infer<typeof schema>;

/** Reads and validates the settings; the error names each wrong or missing setting and what to set, never a value. */
export function readSettings(env: NodeJS.ProcessEnv): AppSettings {
  const parsed = schema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== '')),
  );
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `- ${issue.message}`);
    throw new Error(`Invalid app settings:\n${lines.join('\n')}`);
  }
  const s = parsed.data;
  const connectionString = s.TEAMS_IMPORT_STORAGE ?? s.AzureWebJobsStorage;
  const accountName = s.TEAMS_IMPORT_STORAGE_ACCOUNT ?? s.AzureWebJobsStorage__accountName;
  let storage: StorageSettings;
  if (connectionString) storage = { connectionString: normalizeConnectionString(connectionString) };
  else if (accountName)
    storage = {
      accountName,
      ...(s.AzureWebJobsStorage__clientId ? { identityClientId: s.AzureWebJobsStorage__clientId } : {}),
      ...(s.AzureWebJobsStorage__blobServiceUri
        ? { blobServiceUri: s.AzureWebJobsStorage__blobServiceUri }
        : {}),
      ...(s.AzureWebJobsStorage__tableServiceUri
        ? { tableServiceUri: s.AzureWebJobsStorage__tableServiceUri }
        : {}),
    };
  else {
    throw new Error(
      'Invalid app settings:\n- no storage configured: set AzureWebJobsStorage (a connection string, ' +
        '"UseDevelopmentStorage=true" locally) or TEAMS_IMPORT_STORAGE_ACCOUNT (an account reached with the managed identity)',
    );
  }
  const deltaSchedule = s.MIGRATION_DELTA_SCHEDULE?.trim() || undefined;
  if (deltaSchedule) {
    const problem = scheduleProblem(deltaSchedule);
    if (problem)
      throw new Error(
        `Invalid app settings:\n- MIGRATION_DELTA_SCHEDULE '${deltaSchedule}' is not an NCRONTAB schedule ({second} {minute} {hour} {day} {month} {day-of-week}, e.g. "0 0 * * * *" for hourly): ${problem}`,
      );
  }
  const allowLocalPaths = ['true', '1'].includes(s.TEAMS_IMPORT_ALLOW_LOCAL_PATHS ?? '');
  if (s.TEAMS_IMPORT_INBOX_DIR && !allowLocalPaths)
    throw new Error(
      'Invalid app settings:\n- TEAMS_IMPORT_INBOX_DIR names a local folder, which only a local host reads: set TEAMS_IMPORT_ALLOW_LOCAL_PATHS=true, or unset it to use the blob inbox (inbox/<migrationId>/ in the container)',
    );
  const graphUrl = s.GRAPH_URL.replace(/\/+$/, '');
  const authorityHost = (s.AZURE_AUTHORITY_HOST ?? DEFAULT_AUTHORITY_HOST).replace(/\/+$/, '');
  let graphAuth: GraphAuth;
  try {
    graphAuth = graphAuthFrom(s, graphUrl, authorityHost);
  } catch (err) {
    if (err instanceof GraphConfigError) throw new Error(`Invalid app settings:\n- ${err.message}`);
    throw err;
  }
  return {
    storage,
    tablePrefix: s.TEAMS_IMPORT_TABLE_PREFIX,
    container: s.TEAMS_IMPORT_CONTAINER,
    graphUrl,
    graphAuth,
    authorityHost,
    ratePerChannel: s.TEAMS_IMPORT_RATE_PER_CHANNEL,
    rateGlobal: s.TEAMS_IMPORT_RATE_GLOBAL,
    pacingMarginMs: s.TEAMS_IMPORT_PACING_MARGIN_MS,
    maxRetryAfterSeconds: s.TEAMS_IMPORT_MAX_RETRY_AFTER_SECONDS,
    stageConcurrency: s.TEAMS_IMPORT_STAGE_CONCURRENCY,
    budget: {
      key: tenantBudgetKey(graphUrl, appTenant(s, graphAuth), appClient(graphAuth)),
      slots: slotCount(s.TEAMS_IMPORT_RATE_GLOBAL, s.TEAMS_IMPORT_RATE_PER_CHANNEL),
      chatSlots: slotCount(s.TEAMS_IMPORT_CHAT_RATE_GLOBAL, s.TEAMS_IMPORT_RATE_PER_CHANNEL),
      leaseSeconds: s.TEAMS_IMPORT_BUDGET_LEASE_SECONDS,
      retrySeconds: s.TEAMS_IMPORT_BUDGET_RETRY_SECONDS,
      teamCreationsPerSecond: Math.max(1, Math.floor(s.TEAMS_IMPORT_TEAM_CREATIONS_PER_SECOND)),
      channelCreationsPer10Seconds: Math.max(1, Math.floor(s.TEAMS_IMPORT_CHANNEL_CREATIONS_PER_10S)),
    },
    allowLocalPaths,
    fallbackUser: s.TEAMS_IMPORT_FALLBACK_USER || undefined,
    slackToken: s.SLACK_TOKEN || undefined,
    slackApiUrl: s.SLACK_API_URL.endsWith('/') ? s.SLACK_API_URL : `${s.SLACK_API_URL}/`,
    slackFilesUrl: s.SLACK_FILES_URL.replace(/\/+$/, ''),
    maxFileBytes: Math.floor(s.TEAMS_IMPORT_MAX_FILE_MB * 1024 * 1024),
    ...(deltaSchedule ? { deltaSchedule } : {}),
    ...(s.TEAMS_IMPORT_INBOX_DIR ? { inboxDir: s.TEAMS_IMPORT_INBOX_DIR } : {}),
  };
}

/**
 * Chooses the Graph sign-in from the settings: TEAMS_IMPORT_TOKEN (a loopback sandbox only); the app
 * registration's client secret or certificate; a user-assigned managed identity as the app's federated
 * credential (GRAPH_FEDERATED_IDENTITY_CLIENT_ID: no secret at all); a workload identity token file; the
 * Function App's own managed identity; else, for a loopback endpoint, the static token `local`.
 */
function graphAuthFrom(s: Values, graphUrl: string, authorityHost: string): GraphAuth {
  const loopback = isLoopbackUrl(graphUrl);
  if (s.TEAMS_IMPORT_TOKEN !== undefined) {
    if (!loopback)
      throw new GraphConfigError(
        `TEAMS_IMPORT_TOKEN is only for a loopback sandbox, and GRAPH_URL is ${new URL(graphUrl).origin}: unset TEAMS_IMPORT_TOKEN and set the app registration's credential (AZURE_TENANT_ID, AZURE_CLIENT_ID and GRAPH_FEDERATED_IDENTITY_CLIENT_ID or AZURE_CLIENT_SECRET).`,
      );
    return { kind: 'static', token: s.TEAMS_IMPORT_TOKEN };
  }
  const tenantId = s.AZURE_TENANT_ID;
  const clientId = s.AZURE_CLIENT_ID;
  const app = (what: string): { tenantId: string; clientId: string; authorityHost: string } => {
    const missing = [!tenantId && 'AZURE_TENANT_ID', !clientId && 'AZURE_CLIENT_ID'].filter(Boolean);
    if (missing.length > 0)
      throw new GraphConfigError(
        `${what} is set but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not: set the Graph app registration's tenant and client id.`,
      );
    return { tenantId: tenantId!, clientId: clientId!, authorityHost };
  };
  if (s.AZURE_CLIENT_SECRET)
    return { kind: 'client-secret', secret: s.AZURE_CLIENT_SECRET, ...app('AZURE_CLIENT_SECRET') };
  if (s.AZURE_CLIENT_CERTIFICATE_PATH)
    return {
      kind: 'client-certificate',
      certificatePath: s.AZURE_CLIENT_CERTIFICATE_PATH,
      ...(s.AZURE_CLIENT_CERTIFICATE_PASSWORD
        ? { certificatePassword: s.AZURE_CLIENT_CERTIFICATE_PASSWORD }
        : {}),
      ...app('AZURE_CLIENT_CERTIFICATE_PATH'),
    };
  if (s.GRAPH_FEDERATED_IDENTITY_CLIENT_ID)
    return {
      kind: 'federated-identity',
      identityClientId: s.GRAPH_FEDERATED_IDENTITY_CLIENT_ID,
      audience: s.GRAPH_FEDERATED_IDENTITY_AUDIENCE ?? FEDERATED_TOKEN_AUDIENCE,
      ...app('GRAPH_FEDERATED_IDENTITY_CLIENT_ID'),
    };
  if (s.AZURE_FEDERATED_TOKEN_FILE)
    return {
      kind: 'workload-identity',
      tokenFilePath: s.AZURE_FEDERATED_TOKEN_FILE,
      ...app('AZURE_FEDERATED_TOKEN_FILE'),
    };
  if (clientId || tenantId)
    throw new GraphConfigError(
      `${clientId ? 'AZURE_CLIENT_ID' : 'AZURE_TENANT_ID'} is set but no credential of the app registration: set GRAPH_FEDERATED_IDENTITY_CLIENT_ID (a user-assigned managed identity that is a federated credential of the app), AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH.`,
    );
  if (s.IDENTITY_ENDPOINT || s.MSI_ENDPOINT) return { kind: 'managed-identity' };
  if (loopback) return { kind: 'static', token: 'local' };
  throw new GraphConfigError(
    `No Graph credential configured for ${new URL(graphUrl).origin}: set AZURE_TENANT_ID, AZURE_CLIENT_ID and GRAPH_FEDERATED_IDENTITY_CLIENT_ID or AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH).`,
  );
}

/**
 * What is wrong with a timer schedule as the Functions host takes it (six NCRONTAB fields, UTC), or undefined
 * when it is valid; `croner` parses the fields.
 */
export function scheduleProblem(schedule: string): string | undefined {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 6)
    return `it has ${fields.length} field(s), NCRONTAB has 6 (the first is the second)`;
  try {
    new Cron(schedule, { paused: true });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** The Graph tenant the app signs in to, when the settings name one. */
function appTenant(s: Values, auth: GraphAuth): string {
  return 'tenantId' in auth ? auth.tenantId : (s.AZURE_TENANT_ID ?? '');
}

/** The Graph principal's client id (the app registration, or the managed identity), when there is one. */
function appClient(auth: GraphAuth): string {
  return 'clientId' in auth ? (auth.clientId ?? '') : '';
}

/** `UseDevelopmentStorage=true` means Azurite on its default ports, as in the Azure SDKs and `func`. */
function normalizeConnectionString(value: string): string {
  return value.trim() === 'UseDevelopmentStorage=true' ? devStorageConnectionString() : value;
}
