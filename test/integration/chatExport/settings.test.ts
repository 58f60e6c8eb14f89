import { randomBytes } from 'node:crypto';
import { readChatExportSettings } from '../../../functions/chatExportSettings';

const KEY = randomBytes(32).toString('base64');
const graph = { AZURE_TENANT_ID: 'tenant', AZURE_CLIENT_ID: 'app-id', AZURE_CLIENT_SECRET: 'secret' };
const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true', CHAT_EXPORT_ENCRYPTION_KEY: KEY, ...graph };

describe('chat export settings', () => {
  it('reads defaults, derives the link URL from WEBSITE_HOSTNAME and ignores empty values from the sample file', () => {
    const s = readChatExportSettings({
      ...base,
      WEBSITE_HOSTNAME: '127.0.0.1:7071',
      CHAT_EXPORT_PUBLIC_URL: '',
      CHAT_EXPORT_CONCURRENCY: '',
      AZURE_CLIENT_ID: 'app-id',
    });
    expect(s).toMatchObject({
      authorityHost: 'https://login.microsoftonline.com',
      tenant: 'tenant',
      clientId: 'app-id',
      publicUrl: 'http://127.0.0.1:7071',
      concurrency: 4,
      linkTtlMs: 7 * 24 * 3600 * 1000,
      timeZone: 'UTC',
      targetGraphUrl: 'https://graph.microsoft.com',
    });
    expect(readChatExportSettings({ ...base, WEBSITE_HOSTNAME: 'app.azurewebsites.net' }).publicUrl).toBe(
      'https://app.azurewebsites.net',
    );
    expect(
      readChatExportSettings({ ...base, CHAT_EXPORT_CLIENT_ID: 'export-app', AZURE_CLIENT_ID: 'x' }).clientId,
    ).toBe('export-app');
  });

  it('names the wrong setting and never echoes a key', () => {
    expect(() =>
      readChatExportSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...graph }),
    ).toThrow(/CHAT_EXPORT_ENCRYPTION_KEY is not set/);
    const short = randomBytes(16).toString('base64');
    let message = '';
    try {
      readChatExportSettings({ ...base, CHAT_EXPORT_ENCRYPTION_KEY: short });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('CHAT_EXPORT_ENCRYPTION_KEY decodes to 16 bytes');
    expect(message).not.toContain(short);
    expect(() => readChatExportSettings({ ...base, CHAT_EXPORT_CONCURRENCY: '50' })).toThrow(
      /CHAT_EXPORT_CONCURRENCY must be at most 20/,
    );
    expect(() => readChatExportSettings({ ...base, CHAT_EXPORT_TIME_ZONE: 'Mars/Base' })).toThrow(
      /CHAT_EXPORT_TIME_ZONE 'Mars\/Base' is not an IANA time zone/,
    );
    expect(() => readChatExportSettings({ ...base, AZURE_AUTHORITY_HOST: 'login' })).toThrow(
      /AZURE_AUTHORITY_HOST must be an absolute URL/,
    );
  });
});
