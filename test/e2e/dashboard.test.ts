import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { sandboxUsersFromExport, SANDBOX_FALLBACK } from '../../cli/run';
import { startHost, type LocalHost } from '../../devhost/host';
import { startSandbox, type SandboxHandle } from '../../sandbox';
import { ensureChromium } from '../support/chromium';
import { refusals } from '../support/migration';
import { threadedChannelExport } from '../support/slackExport';

/** The live status page, opened in Chromium while a migration runs and after it has ended. */
describe('the live status page in Chromium', () => {
  const dirs: string[] = [];
  let browser: Browser | undefined;
  let sandbox: SandboxHandle;
  let host: LocalHost;
  let skip: string | undefined;
  const spec = 'refuse:0.2';
  const seed = 3;
  const exported = threadedChannelExport(60);
  dirs.push(exported.dir);
  const { refused } = refusals(exported.known, spec, seed);

  beforeAll(
    async () => {
      const found = await ensureChromium();
      if ('skip' in found) {
        skip = found.skip;
        return;
      }
      browser = await chromium.launch({ executablePath: found.path, args: ['--no-sandbox'] });
      sandbox = await startSandbox({ users: await sandboxUsersFromExport(exported.dir), faults: spec, seed });
      const stateDir = mkdtempSync(path.join(tmpdir(), 'e2e-dashboard-'));
      dirs.push(stateDir);
      host = await startHost({
        port: 0,
        stateDir,
        values: { GRAPH_URL: sandbox.url, TEAMS_IMPORT_ALLOW_LOCAL_PATHS: 'true' },
      });
    },
    20 * 60 * 1000,
  );
  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    await sandbox?.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  /** Opens a page, recording navigations and Content-Security-Policy violations. */
  async function open(url: string): Promise<{ page: Page; navigations: string[]; violations: string[] }> {
    const page = await browser!.newPage();
    const navigations: string[] = [];
    const violations: string[] = [];
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations.push(frame.url());
    });
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    page.on('pageerror', (e) => violations.push(e.message));
    await page.goto(url);
    return { page, navigations, violations };
  }

  /** Reads an element's text until it satisfies `ok` (the page's own script updates it; no reload). */
  async function waitForText(
    page: Page,
    selector: string,
    ok: (text: string) => boolean,
    ms: number,
  ): Promise<void> {
    const deadline = Date.now() + ms;
    let text = '';
    while (!ok((text = (await page.locator(selector).textContent()) ?? ''))) {
      if (Date.now() > deadline) throw new Error(`${selector} still reads ${JSON.stringify(text)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('shows a running migration, updates its counts in place while it runs, then shows it ended with a failed message and its reason', async () => {
    if (skip) return console.warn(`browser test skipped: ${skip}`);
    expect(refused.length).toBeGreaterThan(0);
    const started = await fetch(`${host.url}/api/migrations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        migrationId: 'live',
        source: { path: exported.dir },
        fallbackUser: SANDBOX_FALLBACK.userPrincipalName,
        options: { batchSeconds: 1, operationPollSeconds: 1 },
      }),
    });
    expect(started.status).toBe(202);
    for (;;) {
      const s = (await (await fetch(`${host.url}/api/migrations/live`)).json()) as {
        channels: { posted: number }[];
      };
      if ((s.channels[0]?.posted ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const { page, navigations, violations } = await open(
      `${host.url}/api/migrations/live/dashboard?interval=0.5`,
    );
    expect(await page.locator('h1').textContent()).toMatch(/: importing$/);
    expect(await page.getByRole('main').count()).toBe(1);
    expect(await page.getByRole('table', { name: /Progress per channel/ }).count()).toBe(1);
    expect(await page.getByRole('progressbar', { name: /^General: \d+ of 60 tried$/ }).count()).toBe(1);
    const first = Number(await page.locator('#posted-count').textContent());
    expect(first).toBeLessThan(60);
    await waitForText(page, '#posted-count', (t) => Number(t) > first, 60_000);
    await waitForText(page, '#poll-status', (t) => /has ended/.test(t), 90_000);
    expect(navigations).toHaveLength(1);
    expect(await page.locator('#phase').textContent()).toBe('needs-attention');
    const failures = (await page.locator('#failures').textContent()) ?? '';
    const quoted = refused.filter((k) => failures.includes(`${k.key}: 400 BadRequest`));
    expect(quoted.length).toBeGreaterThan(0);
    expect(failures).toMatch(/refused/);
    expect(await page.locator('#chart svg[role="img"]').getAttribute('aria-labelledby')).toBe(
      'chart-title chart-desc',
    );
    expect(violations).toEqual([]);
    await page.close();
  }, 180_000);

  it('renders the finished migration as ended from the first load, and lists it on the list page', async () => {
    if (skip) return console.warn(`browser test skipped: ${skip}`);
    const { page, violations } = await open(`${host.url}/api/migrations/migration-live/dashboard`);
    expect(await page.locator('h1').textContent()).toMatch(/: needs-attention$/);
    expect(await page.locator('#poll-status').textContent()).toMatch(/has ended/);
    expect(await page.locator('#eta').textContent()).toMatch(/the migration has ended/);
    expect(await page.locator('#passes').textContent()).toMatch(/initial from .*· needs-attention ·/s);
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('nav').isVisible()).toBe(false);
    await page.goto(`${host.url}/api/dashboard`);
    await page.getByRole('link', { name: 'live' }).click();
    await page.waitForURL(/\/api\/migrations\/live\/dashboard/);
    expect(violations).toEqual([]);
    await page.close();
  }, 60_000);
});
