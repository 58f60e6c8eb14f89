import { z } from 'zod';
import { parseEncryptionKey, deriveKey } from '../core/chatexport/crypto';
import { readSettings, type AppSettings } from './settings';

/** The chat export's settings, read once from the environment on top of the app's settings. */
export interface ChatExportSettings {
  app: AppSettings;
  /** Protects refresh tokens and PKCE verifiers at rest (CHAT_EXPORT_ENCRYPTION_KEY). */
  encryptionKey: Buffer;
  /** Signs consent-link states (CHAT_EXPORT_STATE_KEY, else derived from the encryption key). */
  stateKey: Buffer;
  sender?: string;
  authorityHost: string;
  /** The tenant whose users consent (AZURE_TENANT_ID, else `organizations`). */
  tenant: string;
  clientId?: string;
  clientSecret?: string;
  /** The app's public origin for consent links and the callback (CHAT_EXPORT_PUBLIC_URL, else WEBSITE_HOSTNAME). */
  publicUrl?: string;
  /** Graph of the tenant files land in (CHAT_EXPORT_TARGET_GRAPH_URL, else GRAPH_URL). */
  targetGraphUrl: string;
  targetTenantId?: string;
  linkTtlMs: number;
  /** How long users' staged conversations are kept after a pass (CHAT_EXPORT_STAGING_RETENTION_HOURS; 0: deleted at its end). */
  stagingRetentionMs: number;
  concurrency: number;
  timeZone: string;
}

const url = (name: string) => z.url({ error: `${name} must be an absolute URL` }).optional();

const schema = z.object({
  CHAT_EXPORT_ENCRYPTION_KEY: z.string().optional(),
  CHAT_EXPORT_STATE_KEY: z.string().optional(),
  CHAT_EXPORT_SENDER: z.string().optional(),
  AZURE_TENANT_ID: z.string().optional(),
  CHAT_EXPORT_CLIENT_ID: z.string().optional(),
  CHAT_EXPORT_CLIENT_SECRET: z.string().optional(),
  AZURE_CLIENT_ID: z.string().optional(),
  AZURE_CLIENT_SECRET: z.string().optional(),
  CHAT_EXPORT_PUBLIC_URL: url('CHAT_EXPORT_PUBLIC_URL'),
  WEBSITE_HOSTNAME: z.string().optional(),
  CHAT_EXPORT_TARGET_GRAPH_URL: url('CHAT_EXPORT_TARGET_GRAPH_URL'),
  CHAT_EXPORT_TARGET_TENANT_ID: z.string().optional(),
  CHAT_EXPORT_LINK_TTL_HOURS: z.coerce
    .number({ error: 'CHAT_EXPORT_LINK_TTL_HOURS must be a number of hours' })
    .positive({ error: 'CHAT_EXPORT_LINK_TTL_HOURS must be greater than 0' })
    .max(24 * 90, { error: 'CHAT_EXPORT_LINK_TTL_HOURS must be at most 2160 (90 days)' })
    .default(168),
  CHAT_EXPORT_STAGING_RETENTION_HOURS: z.coerce
    .number({ error: 'CHAT_EXPORT_STAGING_RETENTION_HOURS must be a number of hours' })
    .min(0, {
      error: 'CHAT_EXPORT_STAGING_RETENTION_HOURS must be 0 (delete at the end of each pass) or more',
    })
    .max(24 * 90, { error: 'CHAT_EXPORT_STAGING_RETENTION_HOURS must be at most 2160 (90 days)' })
    .default(0),
  CHAT_EXPORT_CONCURRENCY: z.coerce
    .number({ error: 'CHAT_EXPORT_CONCURRENCY must be a number' })
    .int({ error: 'CHAT_EXPORT_CONCURRENCY must be a whole number' })
    .min(1, { error: 'CHAT_EXPORT_CONCURRENCY must be at least 1' })
    .max(20, {
      error: 'CHAT_EXPORT_CONCURRENCY must be at most 20 (Graph allows 20 chat-message reads/s per tenant)',
    })
    .default(4),
  CHAT_EXPORT_TIME_ZONE: z.string().default('UTC'),
});

function isLoopbackHost(host: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(host);
}

/**
 * Reads and validates the chat export's settings on top of the app's (read from the same environment when
 * not given); errors name the setting and what to set, never a value.
 */
export function readChatExportSettings(
  env: NodeJS.ProcessEnv,
  app: AppSettings = readSettings(env),
): ChatExportSettings {
  const parsed = schema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== '')),
  );
  if (!parsed.success) {
    throw new Error(
      `Invalid chat-export settings:\n${parsed.error.issues.map((i) => `- ${i.message}`).join('\n')}`,
    );
  }
  const s = parsed.data;
  const encryptionKey = parseEncryptionKey(s.CHAT_EXPORT_ENCRYPTION_KEY);
  const stateKey = s.CHAT_EXPORT_STATE_KEY
    ? deriveKey(parseEncryptionKey(s.CHAT_EXPORT_STATE_KEY), 'state')
    : deriveKey(encryptionKey, 'state');
  try {
    new Intl.DateTimeFormat('en', { timeZone: s.CHAT_EXPORT_TIME_ZONE });
  } catch {
    throw new Error(
      `CHAT_EXPORT_TIME_ZONE '${s.CHAT_EXPORT_TIME_ZONE}' is not an IANA time zone such as Europe/Berlin`,
    );
  }
  const host = s.WEBSITE_HOSTNAME;
  const publicUrl =
    s.CHAT_EXPORT_PUBLIC_URL?.replace(/\/+$/, '') ??
    (host ? `${isLoopbackHost(host) ? 'http' : 'https'}://${host}` : undefined);
  return {
    app,
    encryptionKey,
    stateKey,
    sender: s.CHAT_EXPORT_SENDER || undefined,
    authorityHost: app.authorityHost,
    tenant: s.AZURE_TENANT_ID || 'organizations',
    clientId: s.CHAT_EXPORT_CLIENT_ID || s.AZURE_CLIENT_ID || undefined,
    clientSecret: s.CHAT_EXPORT_CLIENT_SECRET || s.AZURE_CLIENT_SECRET || undefined,
    publicUrl,
    targetGraphUrl: (s.CHAT_EXPORT_TARGET_GRAPH_URL ?? app.graphUrl).replace(/\/+$/, ''),
    targetTenantId: s.CHAT_EXPORT_TARGET_TENANT_ID || undefined,
    linkTtlMs: s.CHAT_EXPORT_LINK_TTL_HOURS * 3600 * 1000,
    stagingRetentionMs: s.CHAT_EXPORT_STAGING_RETENTION_HOURS * 3600 * 1000,
    concurrency: s.CHAT_EXPORT_CONCURRENCY,
    timeZone: s.CHAT_EXPORT_TIME_ZONE,
  };
}
