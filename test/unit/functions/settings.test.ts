import { readSettings } from '../../../functions/settings';

describe('readSettings', () => {
  it('applies the documented defaults and expands UseDevelopmentStorage', () => {
    const s = readSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
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
    expect(readSettings({ AzureWebJobsStorage__accountName: 'stprod' }).storage).toEqual({
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
