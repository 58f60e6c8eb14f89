import {
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
  type TokenCredential,
} from '@azure/identity';

/** Supplies the bearer token for each Graph request. */
export interface TokenProvider {
  getToken(): Promise<string>;
}

/** A configuration mistake, naming the setting to fix. */
export class GraphConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphConfigError';
  }
}

/** A fixed token (loopback sandboxes): the sandbox only checks that one is present. */
export function staticTokenProvider(token: string): TokenProvider {
  if (!token)
    throw new GraphConfigError('TEAMS_IMPORT_TOKEN is empty: set a token or unset it to use "local".');
  return { getToken: () => Promise.resolve(token) };
}

/**
 * Wraps a TokenCredential: one token is shared by all requests and refreshed `refreshMarginMs` before it
 * expires; concurrent callers wait on the same refresh.
 */
export function credentialTokenProvider(
  credential: TokenCredential,
  scopes: string[],
  options: { now?: () => number; refreshMarginMs?: number } = {},
): TokenProvider {
  const now = options.now ?? Date.now;
  const margin = options.refreshMarginMs ?? 5 * 60_000;
  let cached: { token: string; expiresOn: number } | undefined;
  let pending: Promise<string> | undefined;
  const refresh = async (): Promise<string> => {
    const token = await credential.getToken(scopes);
    if (!token) throw new GraphConfigError(`The credential returned no token for ${scopes.join(' ')}.`);
    cached = { token: token.token, expiresOn: token.expiresOnTimestamp };
    return token.token;
  };
  return {
    getToken(): Promise<string> {
      if (cached && now() < cached.expiresOn - margin) return Promise.resolve(cached.token);
      pending ??= refresh().finally(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}

/** Which credential `credentialFromEnv` chose, for a log line (never includes a secret). */
export interface CredentialChoice {
  credential: TokenCredential;
  kind: 'client-secret' | 'client-certificate' | 'workload-identity' | 'managed-identity';
  description: string;
}

type Env = Record<string, string | undefined>;

/**
 * Picks an app-only credential from the usual Azure variables, in the order DefaultAzureCredential uses
 * for services: client secret, client certificate, workload identity, managed identity. Throws a
 * GraphConfigError naming the missing setting when the variables are half set or absent.
 */
export function credentialFromEnv(env: Env = process.env): CredentialChoice {
  const tenantId = env.AZURE_TENANT_ID;
  const clientId = env.AZURE_CLIENT_ID;
  const secret = env.AZURE_CLIENT_SECRET;
  const certPath = env.AZURE_CLIENT_CERTIFICATE_PATH;
  if (secret || certPath) {
    const missing = [!tenantId && 'AZURE_TENANT_ID', !clientId && 'AZURE_CLIENT_ID'].filter(Boolean);
    if (missing.length > 0)
      throw new GraphConfigError(
        `${secret ? 'AZURE_CLIENT_SECRET' : 'AZURE_CLIENT_CERTIFICATE_PATH'} is set but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not: set the app registration's tenant and client id.`,
      );
    if (secret)
      return {
        credential: new ClientSecretCredential(tenantId!, clientId!, secret),
        kind: 'client-secret',
        description: `client secret of app ${clientId} in tenant ${tenantId}`,
      };
    return {
      credential: new ClientCertificateCredential(tenantId!, clientId!, {
        certificatePath: certPath!,
        certificatePassword: env.AZURE_CLIENT_CERTIFICATE_PASSWORD,
      }),
      kind: 'client-certificate',
      description: `certificate ${certPath} of app ${clientId} in tenant ${tenantId}`,
    };
  }
  if (env.AZURE_FEDERATED_TOKEN_FILE && tenantId && clientId)
    return {
      credential: new WorkloadIdentityCredential({
        tenantId,
        clientId,
        tokenFilePath: env.AZURE_FEDERATED_TOKEN_FILE,
      }),
      kind: 'workload-identity',
      description: `workload identity of app ${clientId} in tenant ${tenantId}`,
    };
  if (env.IDENTITY_ENDPOINT || env.MSI_ENDPOINT)
    return {
      credential: clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential(),
      kind: 'managed-identity',
      description: clientId
        ? `user-assigned managed identity ${clientId}`
        : 'system-assigned managed identity',
    };
  if (tenantId && clientId)
    throw new GraphConfigError(
      'AZURE_TENANT_ID and AZURE_CLIENT_ID are set but no secret: set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH.',
    );
  throw new GraphConfigError(
    'No Graph credential configured: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH), ' +
      'or run with a managed identity; for a loopback sandbox set TEAMS_IMPORT_TOKEN or leave the credential unset.',
  );
}

/** True for http(s) URLs whose host is the local machine. */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The app-only scope for a Graph endpoint (`https://graph.microsoft.com/.default` for the public cloud). */
export function graphScopeFor(baseUrl: string): string {
  const url = new URL(baseUrl);
  return url.protocol === 'https:' && !isLoopbackUrl(baseUrl)
    ? `${url.origin}/.default`
    : 'https://graph.microsoft.com/.default';
}

/**
 * The token source for a Graph endpoint from the environment: TEAMS_IMPORT_TOKEN when set; a loopback
 * endpoint with no Azure credential variables gets the static token `local`; anything else needs a
 * credential (see credentialFromEnv).
 */
export function tokenProviderFromEnv(
  baseUrl: string,
  env: Env = process.env,
): { provider: TokenProvider; description: string } {
  if (env.TEAMS_IMPORT_TOKEN !== undefined)
    return {
      provider: staticTokenProvider(env.TEAMS_IMPORT_TOKEN),
      description: 'static token (TEAMS_IMPORT_TOKEN)',
    };
  const anyAzure = [
    'AZURE_CLIENT_ID',
    'AZURE_CLIENT_SECRET',
    'AZURE_CLIENT_CERTIFICATE_PATH',
    'IDENTITY_ENDPOINT',
    'MSI_ENDPOINT',
  ].some((name) => env[name]);
  if (!anyAzure && isLoopbackUrl(baseUrl))
    return {
      provider: staticTokenProvider('local'),
      description: 'static token "local" (loopback endpoint)',
    };
  const choice = credentialFromEnv(env);
  return {
    provider: credentialTokenProvider(choice.credential, [graphScopeFor(baseUrl)]),
    description: choice.description,
  };
}
