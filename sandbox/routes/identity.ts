import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { GraphError } from '../errors';
import type { Route, RouteContext, RouteResponse } from '../router';
import type { SandboxStore, SandboxUser } from '../state';
import { SANDBOX_TENANT_ID } from './common';
import { escapeHtml } from '../../core/transform/html';

/** The app registration the sandbox's authority accepts; without a client id any is accepted, without a secret none is checked. */
export interface IdentityOptions {
  clientId?: string;
  clientSecret?: string;
  /** Lifetime of access tokens in seconds (default 3600). */
  accessTokenSeconds?: number;
}

interface CodeGrant {
  clientId: string;
  redirectUri: string;
  userId: string;
  scopes: string[];
  challenge: string;
  expires: number;
  used: boolean;
}

interface RefreshGrant {
  clientId: string;
  userId: string;
  scopes: string[];
  expires: number;
  revoked: boolean;
}

interface IdentityState {
  options: IdentityOptions;
  signingKey: Buffer;
  codes: Map<string, CodeGrant>;
  refreshTokens: Map<string, RefreshGrant>;
  accessTokens: Map<string, { userId: string; expires: number }>;
}

const states = new WeakMap<object, IdentityState>();

function stateOf(store: SandboxStore): IdentityState {
  let state = states.get(store);
  if (!state) {
    state = {
      options: {},
      signingKey: randomBytes(32),
      codes: new Map(),
      refreshTokens: new Map(),
      accessTokens: new Map(),
    };
    states.set(store, state);
  }
  return state;
}

/** Sets the app registration the sandbox's authorization server accepts. */
export function configureIdentity(store: SandboxStore, options: IdentityOptions): void {
  stateOf(store).options = { ...options };
}

/** Whether an access token carries this authority's signature and has not expired (app-only or delegated). */
export function issuedTokenValid(store: SandboxStore, token: string, now: number): boolean {
  const [header, payload, signature] = token.split('.');
  if (!header || !payload || signature === undefined) return false;
  const expected = createHmac('sha256', stateOf(store).signingKey).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' && claims.exp * 1000 > now;
  } catch {
    return false;
  }
}

/** Whether a delegated access token (by its `jti`) was issued here for that user and has not expired. */
export function accessTokenValid(store: SandboxStore, tokenId: string, userId: string, now: number): boolean {
  const token = stateOf(store).accessTokens.get(tokenId);
  return token !== undefined && token.userId === userId && token.expires > now;
}

/** The live refresh tokens of a user (for tests that prove a token is stored nowhere in plain text). */
export function liveRefreshTokens(store: SandboxStore, userId: string, now: number): string[] {
  return [...stateOf(store).refreshTokens.entries()]
    .filter(([, grant]) => grant.userId === userId && !grant.revoked && grant.expires > now)
    .map(([token]) => token);
}

/** Revokes every refresh token of a user (as "revoke sessions" does); answers how many were live. */
export function revokeRefreshTokens(store: SandboxStore, userId: string): number {
  let count = 0;
  for (const grant of stateOf(store).refreshTokens.values()) {
    if (grant.userId === userId && !grant.revoked) {
      grant.revoked = true;
      count += 1;
    }
  }
  return count;
}

const SCOPE_TEXT: Record<string, string> = {
  'Chat.Read': 'Read your chat messages',
  'Chat.ReadBasic': 'Read names and members of your chats',
  'User.Read': 'Sign you in and read your profile',
  offline_access: 'Maintain access to data you have given it access to',
  openid: 'Sign you in',
  profile: 'View your basic profile',
  email: 'View your email address',
};

const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

function page(status: number, title: string, body: string): RouteResponse {
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action *",
      'cache-control': 'no-store',
    },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>body{font-family:sans-serif;max-width:36em;margin:3em auto;color:#222}li{margin:.4em 0}button{font-size:1em;padding:.5em 1.5em;margin-right:1em}.muted{color:#666}</style></head><body>${body}</body></html>`,
  };
}

function errorPage(message: string): RouteResponse {
  return page(
    400,
    'Sign-in error',
    `<h1>Sign-in error</h1><p id="error">${escapeHtml(message)}</p><p class="muted">Sandbox authorization server</p>`,
  );
}

function oauthError(status: number, error: string, description: string): RouteResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: {
      error,
      error_description: description,
      error_codes: [],
      timestamp: new Date().toISOString(),
      trace_id: randomUUID(),
    },
  };
}

function form(ctx: RouteContext): URLSearchParams {
  const raw = Buffer.isBuffer(ctx.body) ? ctx.body.toString('utf8') : '';
  return new URLSearchParams(raw);
}

interface AuthorizeParams {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  state: string;
  challenge: string;
  loginHint: string | null;
}

function authorizeParams(ctx: RouteContext, params: URLSearchParams): AuthorizeParams | string {
  const options = stateOf(ctx.store).options;
  const clientId = params.get('client_id') ?? '';
  if (!clientId) return 'client_id is missing';
  if (options.clientId && clientId !== options.clientId)
    return `Application '${clientId}' was not found in the directory (the sandbox knows '${options.clientId}')`;
  if (params.get('response_type') !== 'code') return "response_type must be 'code'";
  const redirectUri = params.get('redirect_uri') ?? '';
  try {
    const url = new URL(redirectUri);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'redirect_uri must be an http(s) URL';
  } catch {
    return 'redirect_uri is missing or not a URL';
  }
  const challenge = params.get('code_challenge') ?? '';
  if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) return 'code_challenge is missing: PKCE is required';
  if (params.get('code_challenge_method') !== 'S256') return "code_challenge_method must be 'S256'";
  const scopes = (params.get('scope') ?? '').split(' ').filter(Boolean);
  if (scopes.length === 0) return 'scope is missing';
  return {
    clientId,
    redirectUri,
    scopes,
    state: params.get('state') ?? '',
    challenge,
    loginHint: params.get('login_hint'),
  };
}

function findUser(ctx: RouteContext, hint: string | null): SandboxUser | undefined {
  if (!hint) return undefined;
  return (
    ctx.store.user(hint) ?? ctx.store.data.users.find((u) => u.mail.toLowerCase() === hint.toLowerCase())
  );
}

function consentPage(ctx: RouteContext, request: AuthorizeParams): RouteResponse {
  const user = findUser(ctx, request.loginHint);
  const hidden = Object.entries({
    client_id: request.clientId,
    response_type: 'code',
    redirect_uri: request.redirectUri,
    scope: request.scopes.join(' '),
    state: request.state,
    code_challenge: request.challenge,
    code_challenge_method: 'S256',
  })
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`)
    .join('');
  const who = user
    ? `<p>Signed in as <strong id="account">${escapeHtml(user.displayName)}</strong> (${escapeHtml(user.userPrincipalName)})</p><input type="hidden" name="user" value="${escapeHtml(user.id)}">`
    : `<p><label>Account <select name="user" id="account">${ctx.store.data.users
        .map((u) => `<option value="${escapeHtml(u.id)}">${escapeHtml(u.userPrincipalName)}</option>`)
        .join('')}</select></label></p>`;
  const scopes = request.scopes
    .map(
      (s) =>
        `<li><strong>${escapeHtml(SCOPE_TEXT[s] ?? s)}</strong> <span class="muted">(${escapeHtml(s)})</span></li>`,
    )
    .join('');
  const host = new URL(request.redirectUri).host;
  return page(
    200,
    'Permissions requested',
    `<h1>Permissions requested</h1><p>The application <strong>${escapeHtml(request.clientId)}</strong> (answering at ${escapeHtml(host)}) asks to:</p><ul id="scopes">${scopes}</ul>${''}<form method="post">${hidden}${who}<button type="submit" name="decision" value="accept" id="accept">Accept</button><button type="submit" name="decision" value="cancel" id="cancel">Cancel</button></form><p class="muted">Sandbox authorization server, tenant ${escapeHtml(ctx.params.tenant ?? '')}</p>`,
  );
}

function redirect(to: string, params: Record<string, string>): RouteResponse {
  const url = new URL(to);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return { status: 302, headers: { location: url.toString(), 'cache-control': 'no-store' }, body: '' };
}

function jwt(claims: Record<string, unknown>, key: Buffer): string {
  const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'HS256' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/** An app-only access token (client credentials): the app's id and application roles, no user, no scopes. */
function issueAppToken(ctx: RouteContext, clientId: string): RouteResponse {
  const state = stateOf(ctx.store);
  const lifetime = state.options.accessTokenSeconds ?? 3600;
  const now = Math.floor(ctx.now / 1000);
  const tenant = ctx.params.tenant ?? SANDBOX_TENANT_ID;
  const accessToken = jwt(
    {
      aud: 'https://graph.microsoft.com',
      iss: `${ctx.baseUrl}/${tenant}/v2.0`,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      appid: clientId,
      idtyp: 'app',
      roles: ['Teamwork.Migrate.All', 'User.Read.All', 'TeamMember.ReadWrite.All', 'Files.ReadWrite.All'],
      tid: SANDBOX_TENANT_ID,
      jti: randomUUID(),
    },
    state.signingKey,
  );
  return {
    status: 200,
    headers: { 'cache-control': 'no-store' },
    body: { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken },
  };
}

function issueTokens(
  ctx: RouteContext,
  grant: { clientId: string; userId: string; scopes: string[] },
): RouteResponse {
  const state = stateOf(ctx.store);
  const user = ctx.store.user(grant.userId);
  if (!user) return oauthError(400, 'invalid_grant', 'AADSTS50034: The user account does not exist.');
  const lifetime = state.options.accessTokenSeconds ?? 3600;
  const now = Math.floor(ctx.now / 1000);
  const tenant = ctx.params.tenant ?? SANDBOX_TENANT_ID;
  const apiScopes = grant.scopes.filter((s) => !OIDC_SCOPES.has(s));
  const jti = randomUUID();
  const accessToken = jwt(
    {
      aud: 'https://graph.microsoft.com',
      iss: `${ctx.baseUrl}/${tenant}/v2.0`,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      appid: grant.clientId,
      oid: user.id,
      upn: user.userPrincipalName,
      name: user.displayName,
      tid: SANDBOX_TENANT_ID,
      scp: apiScopes.join(' '),
      jti,
    },
    state.signingKey,
  );
  state.accessTokens.set(jti, { userId: user.id, expires: ctx.now + lifetime * 1000 });
  const body: Record<string, unknown> = {
    token_type: 'Bearer',
    scope: apiScopes.join(' '),
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: accessToken,
    id_token: jwt(
      {
        aud: grant.clientId,
        iss: `${ctx.baseUrl}/${tenant}/v2.0`,
        iat: now,
        exp: now + lifetime,
        oid: user.id,
        tid: SANDBOX_TENANT_ID,
        name: user.displayName,
        preferred_username: user.userPrincipalName,
      },
      state.signingKey,
    ),
  };
  if (grant.scopes.includes('offline_access')) {
    const refreshToken = randomBytes(48).toString('base64url');
    state.refreshTokens.set(refreshToken, {
      clientId: grant.clientId,
      userId: user.id,
      scopes: grant.scopes,
      expires: ctx.now + 90 * 24 * 3600 * 1000,
      revoked: false,
    });
    body.refresh_token = refreshToken;
  }
  return { status: 200, headers: { 'cache-control': 'no-store' }, body };
}

function token(ctx: RouteContext): RouteResponse {
  const state = stateOf(ctx.store);
  const params = form(ctx);
  const clientId = params.get('client_id') ?? '';
  if (!clientId)
    return oauthError(400, 'invalid_request', "AADSTS900144: The request body must contain 'client_id'.");
  if (state.options.clientId && clientId !== state.options.clientId)
    return oauthError(400, 'unauthorized_client', `AADSTS700016: Application '${clientId}' was not found.`);
  if (state.options.clientSecret && params.get('client_secret') !== state.options.clientSecret)
    return oauthError(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
  const grantType = params.get('grant_type');
  if (grantType === 'authorization_code') {
    const code = state.codes.get(params.get('code') ?? '');
    if (!code || code.used || code.expires <= ctx.now || code.clientId !== clientId)
      return oauthError(
        400,
        'invalid_grant',
        'AADSTS70008: The provided authorization code is invalid, was already redeemed or has expired.',
      );
    if (params.get('redirect_uri') !== code.redirectUri)
      return oauthError(
        400,
        'invalid_grant',
        'AADSTS50148: The redirect_uri does not match the one of the authorization request.',
      );
    const verifier = params.get('code_verifier') ?? '';
    if (createHash('sha256').update(verifier, 'ascii').digest('base64url') !== code.challenge)
      return oauthError(
        400,
        'invalid_grant',
        'AADSTS501481: The code_verifier does not match the code_challenge.',
      );
    code.used = true;
    return issueTokens(ctx, code);
  }
  if (grantType === 'client_credentials') {
    if (!state.options.clientSecret)
      return oauthError(
        401,
        'invalid_client',
        "AADSTS7000218: The request body must contain 'client_assertion' or 'client_secret'.",
      );
    const scope = params.get('scope') ?? '';
    if (!/^\S+\/\.default$/.test(scope.split(' ').find((s) => !OIDC_SCOPES.has(s)) ?? ''))
      return oauthError(
        400,
        'invalid_scope',
        `AADSTS1002012: The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`,
      );
    return issueAppToken(ctx, clientId);
  }
  if (grantType === 'refresh_token') {
    const grant = state.refreshTokens.get(params.get('refresh_token') ?? '');
    if (!grant || grant.clientId !== clientId)
      return oauthError(
        400,
        'invalid_grant',
        'AADSTS9002313: Invalid request. The refresh token is malformed or unknown.',
      );
    if (grant.revoked)
      return oauthError(
        400,
        'invalid_grant',
        'AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed.',
      );
    if (grant.expires <= ctx.now)
      return oauthError(
        400,
        'invalid_grant',
        'AADSTS700082: The refresh token has expired due to inactivity.',
      );
    return issueTokens(ctx, grant);
  }
  return oauthError(
    400,
    'unsupported_grant_type',
    `AADSTS70003: grant_type '${grantType ?? ''}' is not supported.`,
  );
}

/**
 * A local OAuth 2.0 / OIDC authority at the sandbox's origin: `/{tenant}/oauth2/v2.0/authorize` (a consent page
 * with Accept/Cancel, PKCE S256 required), `/{tenant}/oauth2/v2.0/token` (authorization_code with PKCE check,
 * refresh_token issuing a new refresh token each time, `invalid_grant` for unknown, revoked or expired ones),
 * the OpenID configuration, `POST /_sandbox/identity/revoke/{userId}` and `GET /_sandbox/identity/refresh-tokens/{userId}`. Access tokens name the user (`oid`).
 */
export const identityRoutes: Route[] = [
  {
    method: 'GET',
    path: '/{tenant}/v2.0/.well-known/openid-configuration',
    kind: 'inspection',
    handler: (ctx) => {
      const base = `${ctx.baseUrl}/${ctx.params.tenant ?? ''}`;
      return {
        status: 200,
        body: {
          issuer: `${base}/v2.0`,
          authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          token_endpoint: `${base}/oauth2/v2.0/token`,
          response_types_supported: ['code'],
          response_modes_supported: ['query'],
          jwks_uri: `${base}/discovery/v2.0/keys`,
          grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
          code_challenge_methods_supported: ['S256'],
          scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
          subject_types_supported: ['pairwise'],
          id_token_signing_alg_values_supported: ['HS256'],
          token_endpoint_auth_methods_supported: ['client_secret_post'],
          tenant_region_scope: 'sandbox',
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/{tenant}/discovery/v2.0/keys',
    kind: 'inspection',
    // Tokens are HMAC-signed with a key only this sandbox holds, so there is no public key to publish.
    handler: () => ({ status: 200, body: { keys: [] } }),
  },
  {
    method: 'GET',
    path: '/{tenant}/oauth2/v2.0/authorize',
    kind: 'inspection',
    handler: (ctx) => {
      const request = authorizeParams(ctx, ctx.query);
      return typeof request === 'string' ? errorPage(request) : consentPage(ctx, request);
    },
  },
  {
    method: 'POST',
    path: '/{tenant}/oauth2/v2.0/authorize',
    kind: 'inspection',
    body: 'raw',
    handler: (ctx) => {
      const params = form(ctx);
      const request = authorizeParams(ctx, params);
      if (typeof request === 'string') return errorPage(request);
      if (params.get('decision') !== 'accept')
        return redirect(request.redirectUri, {
          error: 'access_denied',
          error_description: 'The user declined to consent.',
          state: request.state,
        });
      const user = findUser(ctx, params.get('user'));
      if (!user) return errorPage('Choose an account to sign in with');
      const code = randomBytes(32).toString('base64url');
      stateOf(ctx.store).codes.set(code, {
        clientId: request.clientId,
        redirectUri: request.redirectUri,
        userId: user.id,
        scopes: request.scopes,
        challenge: request.challenge,
        expires: ctx.now + 10 * 60 * 1000,
        used: false,
      });
      return redirect(request.redirectUri, { code, state: request.state });
    },
  },
  { method: 'POST', path: '/{tenant}/oauth2/v2.0/token', kind: 'inspection', body: 'raw', handler: token },
  {
    method: 'GET',
    path: '/_sandbox/identity/refresh-tokens/{userId}',
    kind: 'inspection',
    handler: (ctx) => ({
      status: 200,
      body: { value: liveRefreshTokens(ctx.store, ctx.params.userId ?? '', ctx.now) },
    }),
  },
  {
    method: 'POST',
    path: '/_sandbox/identity/revoke/{userId}',
    kind: 'inspection',
    body: 'none',
    handler: (ctx) => {
      const user = ctx.store.user(ctx.params.userId ?? '');
      if (!user)
        throw new GraphError(404, 'Request_ResourceNotFound', `User '${ctx.params.userId}' does not exist`);
      return { status: 200, body: { userId: user.id, revoked: revokeRefreshTokens(ctx.store, user.id) } };
    },
  },
];
