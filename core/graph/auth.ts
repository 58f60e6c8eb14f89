import {
  AzureAuthorityHosts,
  ClientAssertionCredential,
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

/** Microsoft's public authority host; national clouds and identity emulators have their own. */
export const DEFAULT_AUTHORITY_HOST: string = AzureAuthorityHosts.AzurePublicCloud;

/** The audience of a managed identity's token when it is a federated credential of an app registration. */
export const FEDERATED_TOKEN_AUDIENCE = 'api://AzureADTokenExchange';

/** An app registration in a tenant, signing in at an authority host. */
interface AppIdentity {
  tenantId: string;
  clientId: string;
  /** `https://login.microsoftonline.com`, a national cloud's host, or any OpenID Connect authority. */
  authorityHost: string;
}

/**
 * How the app signs in to Graph, as the settings chose it (parsed once at the edge, never read from the
 * environment here). Every kind but `static` and `managed-identity` is an app registration's own identity.
 */
export type GraphAuth =
  /** A fixed bearer token, for a loopback sandbox only. */
  | { kind: 'static'; token: string }
  | ({ kind: 'client-secret'; secret: string } & AppIdentity)
  | ({ kind: 'client-certificate'; certificatePath: string; certificatePassword?: string } & AppIdentity)
  /** A user-assigned managed identity's token as the client assertion of the app (a federated identity credential). */
  | ({ kind: 'federated-identity'; identityClientId: string; audience: string } & AppIdentity)
  /** A federated token from a file (Kubernetes workload identity). */
  | ({ kind: 'workload-identity'; tokenFilePath: string } & AppIdentity)
  /** The managed identity itself is the Graph principal (system-assigned, or user-assigned by client id). */
  | { kind: 'managed-identity'; clientId?: string };

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

/**
 * True for Microsoft's own authority hosts. Only for those may the identity library ask Microsoft's instance
 * discovery about the authority; any other host (a sovereign or private authority, a local identity emulator)
 * is trusted as configured and asked for its own OpenID metadata.
 */
export function isMicrosoftAuthority(authorityHost: string): boolean {
  const origin = new URL(authorityHost).origin;
  return (Object.values(AzureAuthorityHosts) as string[]).some((host) => new URL(host).origin === origin);
}

function authorityOptions(identity: AppIdentity): {
  authorityHost: string;
  disableInstanceDiscovery: boolean;
} {
  return {
    authorityHost: identity.authorityHost,
    disableInstanceDiscovery: !isMicrosoftAuthority(identity.authorityHost),
  };
}

/** The TokenCredential for a Graph sign-in choice (not for `static`, which has no credential). */
export function credentialFor(auth: Exclude<GraphAuth, { kind: 'static' }>): TokenCredential {
  switch (auth.kind) {
    case 'client-secret':
      return new ClientSecretCredential(auth.tenantId, auth.clientId, auth.secret, authorityOptions(auth));
    case 'client-certificate':
      return new ClientCertificateCredential(
        auth.tenantId,
        auth.clientId,
        { certificatePath: auth.certificatePath, certificatePassword: auth.certificatePassword },
        authorityOptions(auth),
      );
    case 'federated-identity': {
      const identity = new ManagedIdentityCredential({ clientId: auth.identityClientId });
      const scope = `${auth.audience}/.default`;
      return new ClientAssertionCredential(
        auth.tenantId,
        auth.clientId,
        async () => {
          const token = await identity.getToken(scope);
          if (!token)
            throw new GraphConfigError(
              `Managed identity ${auth.identityClientId} returned no token for ${scope}: check that it is assigned to the Function App.`,
            );
          return token.token;
        },
        authorityOptions(auth),
      );
    }
    case 'workload-identity':
      return new WorkloadIdentityCredential({
        tenantId: auth.tenantId,
        clientId: auth.clientId,
        tokenFilePath: auth.tokenFilePath,
        ...authorityOptions(auth),
      });
    case 'managed-identity':
      return auth.clientId
        ? new ManagedIdentityCredential({ clientId: auth.clientId })
        : new ManagedIdentityCredential();
  }
}

/** A log line naming the sign-in choice (never a secret). */
export function describeGraphAuth(auth: GraphAuth): string {
  switch (auth.kind) {
    case 'static':
      return 'a static token (loopback sandbox)';
    case 'client-secret':
      return `client secret of app ${auth.clientId} in tenant ${auth.tenantId} at ${auth.authorityHost}`;
    case 'client-certificate':
      return `certificate ${auth.certificatePath} of app ${auth.clientId} in tenant ${auth.tenantId} at ${auth.authorityHost}`;
    case 'federated-identity':
      return `app ${auth.clientId} in tenant ${auth.tenantId}, signed in with managed identity ${auth.identityClientId} as its federated credential`;
    case 'workload-identity':
      return `workload identity of app ${auth.clientId} in tenant ${auth.tenantId}`;
    case 'managed-identity':
      return auth.clientId
        ? `user-assigned managed identity ${auth.clientId}`
        : 'system-assigned managed identity';
  }
}

/** The same sign-in for another tenant (multi-tenant app registrations; a managed identity has no tenant choice). */
export function inTenant(auth: GraphAuth, tenantId: string): GraphAuth {
  return 'tenantId' in auth ? { ...auth, tenantId } : auth;
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
 * The token source for a Graph endpoint. A static token goes only to a loopback endpoint: it is a
 * sandbox's, and sending it anywhere else would hand it to a host it does not belong to.
 */
export function tokenProviderFor(auth: GraphAuth, baseUrl: string): TokenProvider {
  if (auth.kind === 'static') {
    if (!isLoopbackUrl(baseUrl))
      throw new GraphConfigError(
        `A static token (TEAMS_IMPORT_TOKEN) is only sent to a loopback sandbox, not to ${new URL(baseUrl).origin}: unset it and configure the app registration's credential.`,
      );
    return staticTokenProvider(auth.token);
  }
  return credentialTokenProvider(credentialFor(auth), [graphScopeFor(baseUrl)]);
}
