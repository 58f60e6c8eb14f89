import { readSettings } from '../../../functions/settings';

describe('readSettings', () => {
  it('applies the documented defaults and expands UseDevelopmentStorage', () => {
    const s = readSettings({
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      AZURE_TENANT_ID: 't',
      AZURE_CLIENT_ID: 'c',
      AZURE_CLIENT_SECRET: 's',
    });
    expect(s.storage).toEqual({
      connectionString: expect.stringContaining('TableEndpoint=http://127.0.0.1:10002/devstoreaccount1'),
    });
    expect(s).toMatchObject({
      graphUrl: 'https://graph.microsoft.com',
      tablePrefix: 'ti',
      container: 'teams-import',
      ratePerChannel: 5,
      pacingMarginMs: 10,
      rateGlobal: 50,
      maxRetryAfterSeconds: 60,
      allowLocalPaths: false,
    });
  });

  it('trims a trailing slash from the Graph URL', () => {
    expect(readSettings({ AzureWebJobsStorage: 'x', GRAPH_URL: 'http://127.0.0.1:4000/' }).graphUrl).toBe(
      'http://127.0.0.1:4000',
    );
  });

  it('prefers a managed-identity account when no connection string is set', () => {
    expect(
      readSettings({ AzureWebJobsStorage__accountName: 'stprod', GRAPH_URL: 'http://127.0.0.1:4000' })
        .storage,
    ).toEqual({
      accountName: 'stprod',
    });
  });

  it('names every wrong or missing setting', () => {
    expect(() => readSettings({})).toThrow(/AzureWebJobsStorage.*TEAMS_IMPORT_STORAGE_ACCOUNT/s);
    const bad = () =>
      readSettings({
        AzureWebJobsStorage: 'x',
        TEAMS_IMPORT_RATE_PER_CHANNEL: '-1',
        TEAMS_IMPORT_CONTAINER: 'Bad_Name',
        GRAPH_URL: 'nope',
        TEAMS_IMPORT_MAX_RETRY_AFTER_SECONDS: '0',
      });
    expect(bad).toThrow(/TEAMS_IMPORT_RATE_PER_CHANNEL must be greater than 0/);
    expect(bad).toThrow(/TEAMS_IMPORT_CONTAINER must be a valid blob container name/);
    expect(bad).toThrow(/GRAPH_URL must be an absolute URL/);
    expect(bad).toThrow(/TEAMS_IMPORT_MAX_RETRY_AFTER_SECONDS must be greater than 0/);
  });
});

describe('readSettings: the tenant budget', () => {
  const app = { AzureWebJobsStorage: 'x', AZURE_CLIENT_ID: 'c', AZURE_CLIENT_SECRET: 's' };

  it('has as many posting slots as channel budgets fit in the app budget, and the service limits by default', () => {
    expect(readSettings({ ...app, AZURE_TENANT_ID: 't' }).budget).toMatchObject({
      slots: 10,
      leaseSeconds: 15,
      retrySeconds: 2,
      teamCreationsPerSecond: 10,
      channelCreationsPer10Seconds: 20,
    });
    const uneven = readSettings({
      ...app,
      AZURE_TENANT_ID: 't',
      TEAMS_IMPORT_RATE_GLOBAL: '48',
      TEAMS_IMPORT_RATE_PER_CHANNEL: '5',
    });
    expect(uneven.budget.slots).toBe(9);
  });

  it('keeps one budget per tenant and Graph endpoint, the same for every instance of the app', () => {
    const key = (values: Record<string, string>) => readSettings({ ...app, ...values }).budget.key;
    const contoso = key({ AZURE_TENANT_ID: 'contoso' });
    expect(key({ AZURE_TENANT_ID: 'contoso' })).toBe(contoso);
    expect(key({ AZURE_TENANT_ID: 'fabrikam' })).not.toBe(contoso);
    expect(key({ AZURE_TENANT_ID: 'contoso', GRAPH_URL: 'https://graph.microsoft.us' })).not.toBe(contoso);
    expect(contoso).not.toContain('contoso');
  });

  it('refuses a slot lease the storage service cannot grant, naming the setting', () => {
    const lease = (value: string) => () =>
      readSettings({ ...app, AZURE_TENANT_ID: 't', TEAMS_IMPORT_BUDGET_LEASE_SECONDS: value });
    expect(lease('10')).toThrow(/TEAMS_IMPORT_BUDGET_LEASE_SECONDS must be at least 15/);
    expect(lease('90')).toThrow(/TEAMS_IMPORT_BUDGET_LEASE_SECONDS must be at most 60/);
    expect(lease('20')).not.toThrow();
  });

  it('plans 8 items of a staging at once unless TEAMS_IMPORT_STAGE_CONCURRENCY says otherwise, and names it when wrong', () => {
    const stage = (value?: string) =>
      readSettings({
        ...app,
        AZURE_TENANT_ID: 't',
        ...(value !== undefined ? { TEAMS_IMPORT_STAGE_CONCURRENCY: value } : {}),
      }).stageConcurrency;
    expect(stage()).toBe(8);
    expect(stage('3')).toBe(3);
    expect(() => stage('0')).toThrow(/TEAMS_IMPORT_STAGE_CONCURRENCY must be at least 1/);
    expect(() => stage('2.5')).toThrow(/TEAMS_IMPORT_STAGE_CONCURRENCY must be a whole number/);
    expect(() => stage('many')).toThrow(/TEAMS_IMPORT_STAGE_CONCURRENCY must be a whole number/);
  });
});

describe('readSettings: the two identities', () => {
  const storage = { AzureWebJobsStorage__accountName: 'stprod' };
  const sandbox = { GRAPH_URL: 'http://127.0.0.1:4000' };
  const graphApp = { AZURE_TENANT_ID: 'teams-tenant', AZURE_CLIENT_ID: 'graph-app' };

  it("reaches storage through the Function App's own identity, named by its client id", () => {
    expect(
      readSettings({
        ...storage,
        ...sandbox,
        AzureWebJobsStorage__clientId: 'uami-1',
        AzureWebJobsStorage__credential: 'managedidentity',
      }).storage,
    ).toEqual({ accountName: 'stprod', identityClientId: 'uami-1' });
    expect(() =>
      readSettings({ ...storage, ...sandbox, AzureWebJobsStorage__credential: 'connectionstring' }),
    ).toThrow(/AzureWebJobsStorage__credential must be "managedidentity"/);
  });

  it('signs in to Graph as the app registration, with a managed identity as its federated credential', () => {
    const s = readSettings({
      ...storage,
      ...graphApp,
      AzureWebJobsStorage__clientId: 'uami-1',
      GRAPH_FEDERATED_IDENTITY_CLIENT_ID: 'uami-1',
      IDENTITY_ENDPOINT: 'http://169.254.169.254/x',
    });
    expect(s.graphAuth).toEqual({
      kind: 'federated-identity',
      tenantId: 'teams-tenant',
      clientId: 'graph-app',
      identityClientId: 'uami-1',
      audience: 'api://AzureADTokenExchange',
      authorityHost: 'https://login.microsoftonline.com',
    });
    expect(s.storage).toEqual({ accountName: 'stprod', identityClientId: 'uami-1' });
  });

  it('prefers a client secret, then a certificate, and honours AZURE_AUTHORITY_HOST', () => {
    expect(
      readSettings({
        ...storage,
        ...graphApp,
        AZURE_CLIENT_SECRET: 's',
        AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.us/',
      }).graphAuth,
    ).toMatchObject({ kind: 'client-secret', authorityHost: 'https://login.microsoftonline.us' });
    expect(
      readSettings({ ...storage, ...graphApp, AZURE_CLIENT_CERTIFICATE_PATH: '/c.pem' }).graphAuth,
    ).toMatchObject({
      kind: 'client-certificate',
      certificatePath: '/c.pem',
    });
  });

  it('uses the static token "local" for a loopback Graph only, and TEAMS_IMPORT_TOKEN never for a tenant', () => {
    expect(readSettings({ AzureWebJobsStorage: 'x', GRAPH_URL: 'http://127.0.0.1:4000' }).graphAuth).toEqual({
      kind: 'static',
      token: 'local',
    });
    expect(() => readSettings({ AzureWebJobsStorage: 'x', TEAMS_IMPORT_TOKEN: 'local' })).toThrow(
      /TEAMS_IMPORT_TOKEN is only for a loopback sandbox, and GRAPH_URL is https:\/\/graph\.microsoft\.com/,
    );
  });

  it('names what is missing when the Graph credential is half set or absent', () => {
    expect(() => readSettings({ ...storage, AZURE_CLIENT_SECRET: 's' })).toThrow(
      'AZURE_CLIENT_SECRET is set but AZURE_TENANT_ID and AZURE_CLIENT_ID are not',
    );
    expect(() => readSettings({ ...storage, ...graphApp })).toThrow(
      /AZURE_CLIENT_ID is set but no credential of the app registration: set GRAPH_FEDERATED_IDENTITY_CLIENT_ID/,
    );
    expect(() => readSettings(storage)).toThrow(
      /No Graph credential configured for https:\/\/graph\.microsoft\.com/,
    );
    expect(readSettings({ ...storage, IDENTITY_ENDPOINT: 'http://169.254.169.254/x' }).graphAuth).toEqual({
      kind: 'managed-identity',
    });
  });

  it("sends SLACK_TOKEN to Slack's Web API by default, elsewhere only over https or to a stand-in on this machine", () => {
    expect(readSettings({ AzureWebJobsStorage: 'x', GRAPH_URL: 'http://127.0.0.1:4000' }).slackApiUrl).toBe(
      'https://slack.com/api/',
    );
    expect(
      readSettings({
        AzureWebJobsStorage: 'x',
        GRAPH_URL: 'http://127.0.0.1:4000',
        SLACK_API_URL: 'http://127.0.0.1:4000/slack-api',
      }).slackApiUrl,
    ).toBe('http://127.0.0.1:4000/slack-api/');
    expect(() =>
      readSettings({
        AzureWebJobsStorage: 'x',
        GRAPH_URL: 'http://127.0.0.1:4000',
        SLACK_API_URL: 'http://slack.example.test/api/',
      }),
    ).toThrow(/SLACK_API_URL must be an https URL \(the token travels to it\)/);
  });
});
