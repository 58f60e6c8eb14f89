import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
} from '@azure/identity';
import {
  createGraphClient,
  credentialFor,
  describeGraphAuth,
  graphScopeFor,
  inTenant,
  isMicrosoftAuthority,
  tokenProviderFor,
} from '../../../core/graph';

const app = {
  tenantId: 'tenant-1',
  clientId: 'client-1',
  authorityHost: 'https://login.microsoftonline.com',
};

describe('credentialFor', () => {
  it('builds the credential each sign-in kind names', () => {
    expect(credentialFor({ kind: 'client-secret', secret: 's', ...app })).toBeInstanceOf(
      ClientSecretCredential,
    );
    expect(credentialFor({ kind: 'client-certificate', certificatePath: '/c.pem', ...app })).toBeInstanceOf(
      ClientCertificateCredential,
    );
    expect(
      credentialFor({
        kind: 'federated-identity',
        identityClientId: 'mi-1',
        audience: 'api://AzureADTokenExchange',
        ...app,
      }),
    ).toBeInstanceOf(ClientAssertionCredential);
    expect(credentialFor({ kind: 'managed-identity' })).toBeInstanceOf(ManagedIdentityCredential);
  });

  it('describes a choice without its secret', () => {
    const text = describeGraphAuth({ kind: 'client-secret', secret: 'very-secret', ...app });
    expect(text).toContain('client-1');
    expect(text).not.toContain('very-secret');
  });

  it('moves an app registration to another tenant, and leaves a managed identity as it is', () => {
    expect(inTenant({ kind: 'client-secret', secret: 's', ...app }, 'tenant-2')).toMatchObject({
      tenantId: 'tenant-2',
    });
    expect(inTenant({ kind: 'managed-identity' }, 'tenant-2')).toEqual({ kind: 'managed-identity' });
  });
});

describe('isMicrosoftAuthority', () => {
  it("knows Microsoft's clouds and nothing else", () => {
    expect(isMicrosoftAuthority('https://login.microsoftonline.com/')).toBe(true);
    expect(isMicrosoftAuthority('https://login.microsoftonline.us')).toBe(true);
    expect(isMicrosoftAuthority('https://login.chinacloudapi.cn')).toBe(true);
    expect(isMicrosoftAuthority('https://127.0.0.1:4443')).toBe(false);
    expect(isMicrosoftAuthority('https://login.microsoftonline.com.evil.test')).toBe(false);
  });
});

describe('tokenProviderFor', () => {
  it('sends a static token to a loopback endpoint only', async () => {
    expect(await tokenProviderFor({ kind: 'static', token: 'x' }, 'http://127.0.0.1:9').getToken()).toBe('x');
    expect(() => tokenProviderFor({ kind: 'static', token: 'x' }, 'https://graph.microsoft.com')).toThrow(
      /only sent to a loopback sandbox, not to https:\/\/graph\.microsoft\.com/,
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
