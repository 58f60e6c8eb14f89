import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalFolderStore } from '../../../core/state/localStore';
import { planExport } from '../../../core/transform/plan';
import { LINK_TOKEN, writeTokenLinks } from '../../fixtures/hostile/build';
import { tempDir } from '../../support/fixtures';

describe('tokens in links', () => {
  it("leave the plan without Slack's ?t= token, in message, attachment and block links and file permalinks", async () => {
    const root = tempDir();
    const store = new LocalFolderStore(root);
    const manifest = await planExport(writeTokenLinks(tempDir()), { now: Date.parse('2026-06-01') }, store);
    const plan = (await store.list('')).map((name) => readFileSync(join(root, name), 'utf8')).join('\n');
    expect(manifest.channels[0].posts).toBe(5);
    expect(plan).not.toContain(LINK_TOKEN);
    expect(plan).not.toMatch(/[?&](t|token)=/);
    expect(plan).toContain('<a href=\\"https://acme.slack.com/archives/C1/p1577836800000100\\">');
    expect(plan).toContain('https://acme.slack.com/archives/C1/p1577836800000100</a>');
    expect(plan).toContain('<a href=\\"https://acme.slack.com/files/U1/F1/a.pdf?v=2\\">the file</a>');
    expect(plan).toContain('<a href=\\"https://example.com/doc\\">card</a>');
    expect(plan).toContain('<a href=\\"https://acme.slack.com/archives/C1/p1\\">');
    expect(plan).toContain('"permalink":"https://acme.slack.com/files/U1/F1/report.pdf"');
  });
});
