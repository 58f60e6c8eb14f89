/**
 * The delegated consent of the chat export: OAuth 2.0 authorization code with PKCE (RFC 6749, RFC 7636)
 * against `{authorityHost}/{tenant}/oauth2/v2.0/{authorize,token}`.
 *
 * Implemented directly over `fetch` rather than `@azure/msal-node`: the export must hold the refresh token
 * itself (encrypted, in its own storage, used later from stateless activities), which MSAL keeps hidden in
 * its token cache; and any OIDC-compliant authority works as is, with no instance discovery or
 * `knownAuthorities` configuration, including a loopback https authority trusted through
 * NODE_EXTRA_CA_CERTS. Tokens and the client secret never appear in errors.
 */
import { z } from 'zod';
import { DEFAULT_AUTHORITY_HOST } from '../graph/auth';

/** The delegated scopes the export asks for: read chats, read the profile, and a refresh token. */
export const DEFAULT_CHAT_SCOPES: readonly string[] = ['Chat.Read', 'User.Read', 'offline_access'];

/** The default authority host (the `AZURE_AUTHORITY_HOST` setting overrides it, e.g. for national clouds). */
export { DEFAULT_AUTHORITY_HOST };

/** The user's consent no longer works (revoked, expired, password reset, ...): ask the user to consent again. */
export class ConsentGoneError extends Error {
  override readonly name = 'ConsentGoneError';
  constructor(
    readonly reason: string,
    readonly errorCode?: string,
  ) {
    super(`The user's consent is gone (${reason}): send the user a new consent link`);
  }
}

/** The token endpoint refused a request for another reason than a lost consent, or could not be reached. */
export class TokenEndpointError extends Error {
  override readonly name = 'TokenEndpointError';
  constructor(
    message: string,
    readonly status?: number,
    readonly errorCode?: string,
  ) {
    super(message);
  }
}

/** Where the authority lives and which tenant's endpoints to use ('organizations', 'common' or a tenant id). */
export interface AuthorityOptions {
  authorityHost?: string;
  tenant: string;
}

/** Tokens from a successful redemption or refresh; `expiresAt` is epoch milliseconds. */
export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  scopes: string[];
  idToken?: string;
}

/** What the token endpoint needs besides the grant: the app's identity, and a clock for `expiresAt`. */
export interface TokenClientOptions extends AuthorityOptions {
  clientId: string;
  clientSecret?: string;
  scopes?: readonly string[];
  now?: () => number;
  timeoutMs?: number;
}

function authorityBase({ authorityHost = DEFAULT_AUTHORITY_HOST, tenant }: AuthorityOptions): string {
  let url: URL;
  try {
    url = new URL(authorityHost);
  } catch {
    throw new Error(
      `AZURE_AUTHORITY_HOST '${authorityHost}' is not a URL: use e.g. ${DEFAULT_AUTHORITY_HOST}`,
    );
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error(
      `AZURE_AUTHORITY_HOST '${authorityHost}' must use https (plain http is accepted only on loopback for local testing)`,
    );
  }
  if (!/^[A-Za-z0-9.-]+$/.test(tenant)) {
    throw new Error(`Tenant '${tenant}' is not a tenant id or domain: check AZURE_TENANT_ID`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}/${tenant}`;
}

/** The authorize endpoint: `{host}/{tenant}/oauth2/v2.0/authorize`. */
export function authorizeEndpoint(options: AuthorityOptions): string {
  return `${authorityBase(options)}/oauth2/v2.0/authorize`;
}

/** The token endpoint: `{host}/{tenant}/oauth2/v2.0/token`. */
export function tokenEndpoint(options: AuthorityOptions): string {
  return `${authorityBase(options)}/oauth2/v2.0/token`;
}

/** The OpenID configuration document: `{host}/{tenant}/v2.0/.well-known/openid-configuration`. */
export function openIdConfigurationUrl(options: AuthorityOptions): string {
  return `${authorityBase(options)}/v2.0/.well-known/openid-configuration`;
}

/** Inputs of the authorization request a consent link redirects to. */
export interface AuthorizeRequest extends AuthorityOptions {
  clientId: string;
  redirectUri: string;
  scopes?: readonly string[];
  state: string;
  codeChallenge: string;
  loginHint?: string;
  prompt?: 'consent' | 'select_account' | 'login';
}

/** The URL that starts the consent: code flow, PKCE S256, response in the query string. */
export function authorizeUrl(request: AuthorizeRequest): string {
  const params = new URLSearchParams({
    client_id: request.clientId,
    response_type: 'code',
    redirect_uri: request.redirectUri,
    response_mode: 'query',
    scope: (request.scopes ?? DEFAULT_CHAT_SCOPES).join(' '),
    state: request.state,
    code_challenge: request.codeChallenge,
    code_challenge_method: 'S256',
  });
  if (request.loginHint) params.set('login_hint', request.loginHint);
  if (request.prompt) params.set('prompt', request.prompt);
  return `${authorizeEndpoint(request)}?${params.toString()}`;
}

const tokenResponse = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.union([z.number(), z.string().regex(/^\d+$/)]),
  scope: z.string().optional(),
  id_token: z.string().optional(),
});

const errorResponse = z.object({
  error: z.string(),
  error_description: z.string().optional(),
  error_codes: z.array(z.number()).optional(),
});

const CONSENT_GONE_ERRORS = new Set(['invalid_grant', 'interaction_required', 'consent_required']);

function firstLine(text: string | undefined): string | undefined {
  const line = text?.split(/\r?\n/)[0].trim();
  return line ? line.slice(0, 300) : undefined;
}

async function postToken(
  options: TokenClientOptions,
  grant: Record<string, string>,
  previousRefreshToken?: string,
): Promise<TokenSet> {
  const endpoint = tokenEndpoint(options);
  const scopes = options.scopes ?? DEFAULT_CHAT_SCOPES;
  const form = new URLSearchParams({ client_id: options.clientId, scope: scopes.join(' '), ...grant });
  if (options.clientSecret) form.set('client_secret', options.clientSecret);
  const now = options.now ?? Date.now;
  const started = now();
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    throw new TokenEndpointError(
      `Token endpoint ${endpoint} could not be reached (${cause}): check AZURE_AUTHORITY_HOST and, for a private CA, NODE_EXTRA_CA_CERTS`,
    );
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const parsed = errorResponse.safeParse(json);
    const code = parsed.success ? parsed.data.error : undefined;
    const description = parsed.success ? firstLine(parsed.data.error_description) : undefined;
    if (code && CONSENT_GONE_ERRORS.has(code)) {
      throw new ConsentGoneError(description ?? code, code);
    }
    throw new TokenEndpointError(
      `Token endpoint ${endpoint} answered ${response.status}${code ? ` ${code}` : ''}${description ? `: ${description}` : ''}; check the app registration (client id, secret, redirect URI, scopes)`,
      response.status,
      code,
    );
  }
  const parsed = tokenResponse.safeParse(json);
  if (!parsed.success) {
    throw new TokenEndpointError(
      `Token endpoint ${endpoint} answered ${response.status} without a usable access_token/expires_in: is AZURE_AUTHORITY_HOST an OAuth 2.0 authority?`,
      response.status,
    );
  }
  const refreshToken = parsed.data.refresh_token ?? previousRefreshToken;
  if (!refreshToken) {
    throw new TokenEndpointError(
      `Token endpoint ${endpoint} returned no refresh token: request the offline_access scope`,
      response.status,
    );
  }
  return {
    accessToken: parsed.data.access_token,
    refreshToken,
    expiresAt: started + Number(parsed.data.expires_in) * 1000,
    scopes: (parsed.data.scope ?? scopes.join(' ')).split(' ').filter(Boolean),
    ...(parsed.data.id_token ? { idToken: parsed.data.id_token } : {}),
  };
}

/** Redeems the authorization code from the consent callback, proving possession with the PKCE verifier. */
export function redeemCode(
  options: TokenClientOptions & { code: string; codeVerifier: string; redirectUri: string },
): Promise<TokenSet> {
  return postToken(options, {
    grant_type: 'authorization_code',
    code: options.code,
    code_verifier: options.codeVerifier,
    redirect_uri: options.redirectUri,
  });
}

/** Refreshes the user's tokens; `invalid_grant` (revoked, expired) throws ConsentGoneError with the reason. */
export function refresh(options: TokenClientOptions & { refreshToken: string }): Promise<TokenSet> {
  return postToken(
    options,
    { grant_type: 'refresh_token', refresh_token: options.refreshToken },
    options.refreshToken,
  );
}
