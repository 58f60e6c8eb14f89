import { readSettings } from '../../../functions/settings';

describe('file settings', () => {
  const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true', GRAPH_URL: 'http://127.0.0.1:4000' };

  it('default to Slack itself and 250 MiB', () => {
    const s = readSettings(base);
    expect(s.slackFilesUrl).toBe('https://files.slack.com');
    expect(s.maxFileBytes).toBe(250 * 1024 * 1024);
  });

  it('take a rehearsal base and a limit in MiB', () => {
    const s = readSettings({
      ...base,
      SLACK_FILES_URL: 'http://127.0.0.1:4000/slack-files/',
      TEAMS_IMPORT_MAX_FILE_MB: '1.5',
    });
    expect(s.slackFilesUrl).toBe('http://127.0.0.1:4000/slack-files');
    expect(s.maxFileBytes).toBe(1.5 * 1024 * 1024);
  });

  it('name each wrong value', () => {
    expect(() => readSettings({ ...base, SLACK_FILES_URL: 'ftp://files.example' })).toThrow(
      /SLACK_FILES_URL must be an http\(s\) URL/,
    );
    expect(() => readSettings({ ...base, TEAMS_IMPORT_MAX_FILE_MB: '0' })).toThrow(
      /TEAMS_IMPORT_MAX_FILE_MB must be greater than 0/,
    );
  });
});
