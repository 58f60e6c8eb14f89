import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  authorizeUrl,
  ConsentGoneError,
  openIdConfigurationUrl,
  redeemCode,
  refresh,
  tokenEndpoint,
  TokenEndpointError,
} from '../../../core/chatexport/consent';

const CLIENT_SECRET = 'client-secret-value-never-shown';
const REFRESH_TOKEN = 'refresh-token-value-never-shown';

interface Seen {
  path: string;
  contentType?: string;
  form: URLSearchParams;
}

type Reply = { status: number; body: unknown };

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('consent endpoints and URL', () => {
  it('derives authorize, token and discovery endpoints from a custom authority host', () => {
    const authority = {
      authorityHost: 'https://login.sandbox.test:8443/',
      tenant: 'contoso.onmicrosoft.com',
    };
    expect(tokenEndpoint(authority)).toBe(
      'https://login.sandbox.test:8443/contoso.onmicrosoft.com/oauth2/v2.0/token',
    );
    expect(openIdConfigurationUrl(authority)).toBe(
      'https://login.sandbox.test:8443/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration',
    );
    const url = new URL(
      authorizeUrl({
        ...authority,
        clientId: 'app-id',
        redirectUri: 'https://app.test/api/chat-export/consent/callback',
        state: 'signed.state',
        codeChallenge: 'challenge',
        loginHint: 'alice@contoso.com',
      }),
    );
    expect(url.origin + url.pathname).toBe(
      'https://login.sandbox.test:8443/contoso.onmicrosoft.com/oauth2/v2.0/authorize',
    );
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: 'app-id',
      response_type: 'code',
      redirect_uri: 'https://app.test/api/chat-export/consent/callback',
      response_mode: 'query',
      scope: 'Chat.Read User.Read offline_access',
      state: 'signed.state',
      code_challenge: 'challenge',
      code_challenge_method: 'S256',
      login_hint: 'alice@contoso.com',
    });
  });

  it('keeps a path prefix of the authority host and defaults to the public cloud', () => {
    expect(tokenEndpoint({ authorityHost: 'https://idp.test/base/', tenant: 'organizations' })).toBe(
      'https://idp.test/base/organizations/oauth2/v2.0/token',
    );
    expect(tokenEndpoint({ tenant: 'common' })).toBe(
      'https://login.microsoftonline.com/common/oauth2/v2.0/token',
    );
  });

  it('refuses plain http except on loopback, and tenants that are not ids or domains', () => {
    expect(() => tokenEndpoint({ authorityHost: 'http://login.example.com', tenant: 't' })).toThrow(/https/);
    expect(tokenEndpoint({ authorityHost: 'http://127.0.0.1:5000', tenant: 't' })).toBe(
      'http://127.0.0.1:5000/t/oauth2/v2.0/token',
    );
    expect(() => tokenEndpoint({ authorityHost: 'https://idp.test', tenant: '../evil' })).toThrow(
      /AZURE_TENANT_ID/,
    );
    expect(() => tokenEndpoint({ authorityHost: 'not a url', tenant: 't' })).toThrow(/AZURE_AUTHORITY_HOST/);
  });
});

describe('token endpoint calls', () => {
  let server: Server;
  let host: string;
  const seen: Seen[] = [];
  let reply: Reply;

  beforeAll(async () => {
    server = createServer((request, response) => {
      void readBody(request).then((body) => {
        seen.push({
          path: request.url ?? '',
          contentType: request.headers['content-type'],
          form: new URLSearchParams(body),
        });
        response.writeHead(reply.status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  beforeEach(() => {
    seen.length = 0;
  });

  const client = () => ({
    authorityHost: host,
    tenant: 'tenant-1',
    clientId: 'app-id',
    clientSecret: CLIENT_SECRET,
    now: () => 1_000_000,
  });

  it('redeems a code with the PKCE verifier, form-encoded, and returns the tokens', async () => {
    reply = {
      status: 200,
      body: {
        token_type: 'Bearer',
        access_token: 'access-1',
        refresh_token: 'refresh-1',
        expires_in: 3599,
        scope: 'Chat.Read User.Read profile openid',
      },
    };
    const tokens = await redeemCode({
      ...client(),
      code: 'code-1',
      codeVerifier: 'verifier-1',
      redirectUri: 'https://app.test/callback',
    });
    expect(tokens).toEqual({
      accessToken: 'access-1',
      refreshToken: 'refresh-1',
      expiresAt: 1_000_000 + 3_599_000,
      scopes: ['Chat.Read', 'User.Read', 'profile', 'openid'],
    });
    expect(seen).toHaveLength(1);
    expect(seen[0].path).toBe('/tenant-1/oauth2/v2.0/token');
    expect(seen[0].contentType).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(seen[0].form)).toEqual({
      client_id: 'app-id',
      client_secret: CLIENT_SECRET,
      scope: 'Chat.Read User.Read offline_access',
      grant_type: 'authorization_code',
      code: 'code-1',
      code_verifier: 'verifier-1',
      redirect_uri: 'https://app.test/callback',
    });
  });

  it('refreshes, keeping the old refresh token when none is returned', async () => {
    reply = { status: 200, body: { access_token: 'access-2', expires_in: '60' } };
    const tokens = await refresh({ ...client(), refreshToken: REFRESH_TOKEN });
    expect(tokens).toMatchObject({
      accessToken: 'access-2',
      refreshToken: REFRESH_TOKEN,
      expiresAt: 1_060_000,
    });
    expect(Object.fromEntries(seen[0].form)).toMatchObject({
      grant_type: 'refresh_token',
      refresh_token: REFRESH_TOKEN,
    });
  });

  it('turns invalid_grant into ConsentGoneError with the reason, and no secret in the message', async () => {
    reply = {
      status: 400,
      body: {
        error: 'invalid_grant',
        error_description:
          'AADSTS50173: The provided grant has expired due to it being revoked.\r\nTrace ID: 1\r\nTimestamp: 2',
        error_codes: [50173],
      },
    };
    const failure = await refresh({ ...client(), refreshToken: REFRESH_TOKEN }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ConsentGoneError);
    expect((failure as ConsentGoneError).reason).toBe(
      'AADSTS50173: The provided grant has expired due to it being revoked.',
    );
    expect((failure as ConsentGoneError).errorCode).toBe('invalid_grant');
    expect((failure as Error).message).not.toContain(REFRESH_TOKEN);
    expect((failure as Error).message).not.toContain(CLIENT_SECRET);
  });

  it('reports other refusals as TokenEndpointError naming the endpoint and the error, not the secret', async () => {
    reply = {
      status: 401,
      body: { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret.' },
    };
    const failure = await refresh({ ...client(), refreshToken: REFRESH_TOKEN }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TokenEndpointError);
    expect((failure as TokenEndpointError).status).toBe(401);
    expect((failure as Error).message).toMatch(
      /oauth2\/v2\.0\/token answered 401 invalid_client: AADSTS7000215/,
    );
    expect((failure as Error).message).not.toContain(CLIENT_SECRET);
    expect((failure as Error).message).not.toContain(REFRESH_TOKEN);
  });

  it('refuses a success response without an access token', async () => {
    reply = { status: 200, body: { hello: 'world' } };
    await expect(refresh({ ...client(), refreshToken: REFRESH_TOKEN })).rejects.toThrow(TokenEndpointError);
  });

  it('names the endpoint when it cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const failure = await refresh({
      ...client(),
      authorityHost: `http://127.0.0.1:${port}`,
      refreshToken: REFRESH_TOKEN,
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TokenEndpointError);
    expect((failure as Error).message).toMatch(/could not be reached.*AZURE_AUTHORITY_HOST/);
    expect((failure as Error).message).not.toContain(REFRESH_TOKEN);
  });
});
