import {
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
} from '@azure/identity';
import {
  createGraphClient,
  credentialFromEnv,
  graphScopeFor,
  tokenProviderFromEnv,
} from '../../../core/graph';

const app = { AZURE_TENANT_ID: 'tenant-1', AZURE_CLIENT_ID: 'client-1' };

describe('credentialFromEnv', () => {
  it('picks a client secret, then a certificate, then a managed identity', () => {
    const secret = credentialFromEnv({ ...app, AZURE_CLIENT_SECRET: 'very-secret' });
    expect(secret.credential).toBeInstanceOf(ClientSecretCredential);
    expect(secret.description).not.toContain('very-secret');
    expect(credentialFromEnv({ ...app, AZURE_CLIENT_CERTIFICATE_PATH: '/c.pem' }).credential).toBeInstanceOf(
      ClientCertificateCredential,
    );
    const mi = credentialFromEnv({ IDENTITY_ENDPOINT: 'http://169.254.169.254/x' });
    expect(mi.credential).toBeInstanceOf(ManagedIdentityCredential);
    expect(mi.kind).toBe('managed-identity');
  });

  it('names the missing setting when the variables are half set or absent', () => {
    expect(() => credentialFromEnv({ AZURE_CLIENT_SECRET: 's' })).toThrow(
      'AZURE_CLIENT_SECRET is set but AZURE_TENANT_ID and AZURE_CLIENT_ID are not',
    );
    expect(() => credentialFromEnv({ ...app, AZURE_TENANT_ID: undefined, AZURE_CLIENT_SECRET: 's' })).toThrow(
      /AZURE_TENANT_ID is not/,
    );
    expect(() => credentialFromEnv(app)).toThrow(/set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH/);
    expect(() => credentialFromEnv({})).toThrow(/No Graph credential configured: set AZURE_TENANT_ID/);
  });
});

describe('tokenProviderFromEnv', () => {
  it('uses TEAMS_IMPORT_TOKEN, else "local" for loopback endpoints with no Azure settings', async () => {
    expect(
      await tokenProviderFromEnv('http://127.0.0.1:9', { TEAMS_IMPORT_TOKEN: 'x' }).provider.getToken(),
    ).toBe('x');
    expect(await tokenProviderFromEnv('http://localhost:9', {}).provider.getToken()).toBe('local');
    expect(() => tokenProviderFromEnv('https://graph.microsoft.com', {})).toThrow(
      /No Graph credential configured/,
    );
  });

  it('asks for the endpoint cloud scope', () => {
    expect(graphScopeFor('https://graph.microsoft.us')).toBe('https://graph.microsoft.us/.default');
    expect(graphScopeFor('http://127.0.0.1:1')).toBe('https://graph.microsoft.com/.default');
  });
});

describe('createGraphClient', () => {
  it('refuses a non-loopback endpoint without a credential', () => {
    expect(() => createGraphClient({ baseUrl: 'https://graph.microsoft.com' })).toThrow(
      /No credential for https:\/\/graph\.microsoft\.com/,
    );
  });
});
