import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startSandbox, type SandboxHandle } from '../../../sandbox';
import { CHROMIUM_ARGS, CHROMIUM_PATH, ensureChromium } from '../../support/chromium';
import {
  USERS,
  call,
  createMigrationChannel,
  createMigrationTeam,
  daysAgo,
  importMessage,
  makePng,
  messagesPath,
} from './client';

const ARTIFACT = join(__dirname, '..', '..', '..', 'test-artifacts', 'sandbox-preview.png');

const installable = existsSync(CHROMIUM_PATH) || (process.platform === 'linux' && process.getuid?.() === 0);
const browserTest = installable ? it : it.skip;
if (!installable)
  console.warn(
    `sandbox preview browser test skipped: Chromium is not at ${CHROMIUM_PATH} and cannot be installed without root`,
  );

async function rehearse(sb: SandboxHandle): Promise<string> {
  const team = await createMigrationTeam(sb, 'Contoso Design', daysAgo(800));
  const general = (await call(sb, 'GET', `/teams/${team}/primaryChannel`)).body.id as string;
  const design = await createMigrationChannel(sb, team, 'design-reviews', daysAgo(700));
  const [ada, grace, alan] = USERS as [(typeof USERS)[0], (typeof USERS)[0], (typeof USERS)[0]];
  const post = async (channel: string, body: Record<string, unknown>, parent?: string): Promise<string> => {
    const res = await call(
      sb,
      'POST',
      `${messagesPath(team, channel)}${parent ? `/${parent}/replies` : ''}`,
      body,
    );
    if (res.status !== 201) throw new Error(`import answered ${res.status}: ${res.text}`);
    return res.body.id as string;
  };
  await post(
    general,
    importMessage(daysAgo(650), '<p>Welcome to <b>Contoso Design</b>! History imported from Slack.</p>', ada),
  );
  const identity = (u: typeof ada): Record<string, unknown> => ({
    id: u.id,
    displayName: u.displayName,
    userIdentityType: 'aadUser',
  });
  const thanked = daysAgo(640);
  await post(general, {
    ...importMessage(thanked, '<p>Thanks <at id="0">Grace Hopper</at>!</p>', ada),
    mentions: [{ id: 0, mentionText: 'Grace Hopper', mentioned: { user: identity(grace) } }],
    reactions: [
      { reactionType: '👍🏽', createdDateTime: thanked, user: { user: identity(grace) } },
      { reactionType: '👍🏽', createdDateTime: thanked, user: { user: identity(alan) } },
      { reactionType: '🎉', createdDateTime: thanked, user: { user: identity(alan) } },
    ],
  });
  const thread = await post(design, {
    ...importMessage(
      daysAgo(600),
      '<p>New <i>dashboard</i> mock-up, <a href="https://contoso.test/spec">spec here</a>:</p><img src="../hostedContents/mock/$value" alt="mock-up" width="240" height="160"><ul><li>colour pass</li><li>spacing</li></ul>',
      ada,
    ),
    hostedContents: [
      {
        '@microsoft.graph.temporaryId': 'mock',
        contentBytes: makePng(240, 160).toString('base64'),
        contentType: 'image/png',
      },
    ],
  });
  await post(
    design,
    importMessage(daysAgo(600, 60_000), 'Love the <span style="color:#c4314b">red</span> accents.', grace),
    thread,
  );
  await post(
    design,
    importMessage(
      daysAgo(600, 120_000),
      '<p>Looks safe<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2"></p>',
      alan,
    ),
    thread,
  );
  await post(
    design,
    importMessage(
      daysAgo(590),
      '<p>Ping &lt;@U024BE7LH&gt; about the <code>grid</code> &lt;!here&gt;</p>',
      grace,
    ),
  );
  await post(
    design,
    importMessage(daysAgo(580), '<p>Old avatar: <img src="https://avatars.slack-edge.com/a.png"></p>', alan),
  );
  const folder = (await call(sb, 'GET', `/teams/${team}/channels/${encodeURIComponent(design)}/filesFolder`))
    .body as { id: string; webUrl: string; parentReference: { driveId: string } };
  const uploaded = await call(
    sb,
    'PUT',
    `/drives/${folder.parentReference.driveId}/items/${folder.id}:/spec.pdf:/content`,
    undefined,
    { raw: '%PDF-1.4 final spec' },
  );
  const guid = /\{(.+)\}/.exec(uploaded.body.eTag as string)![1];
  await post(design, {
    ...importMessage(daysAgo(570), `<p>Final spec <attachment id="${guid}"></attachment></p>`, ada),
    attachments: [
      { id: guid, contentType: 'reference', contentUrl: `${folder.webUrl}/spec.pdf`, name: 'spec.pdf' },
    ],
  });
  return team;
}

describe('sandbox: HTML preview', () => {
  let sb: SandboxHandle;
  let team: string;
  beforeAll(async () => {
    sb = await startSandbox({ users: USERS, ratePerChannel: 0 });
    team = await rehearse(sb);
  });
  afterAll(async () => {
    await sb.stop();
  });

  it('serves the preview as sanitized HTML under a script-free Content-Security-Policy', async () => {
    const res = await fetch(`${sb.url}/_sandbox/teams/${team}/preview`);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await res.text();
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/onerror/i);
    expect(html).not.toContain('javascript:');
    expect(html).toMatch(/<a class="file-card" href="[^"]+\/design-reviews\/spec\.pdf"/);
    expect(html).toContain('Teams strips &lt;script&gt;');
    expect(html).toContain('Slack markup left in the body');
    expect(html).toContain('is not a hosted content');
    expect(html).toContain('<span class="mention" data-id="0">Grace Hopper</span>');
    expect(html).toContain(
      '<span class="reaction" title="👍🏽">👍🏽 2</span><span class="reaction" title="🎉">🎉 1</span>',
    );
    const index = await fetch(`${sb.url}/_sandbox`).then((r) => r.text());
    expect(index).toContain(`/_sandbox/teams/${team}/preview`);
  });

  browserTest(
    'renders in headless Chromium: replies indented, the inline image loaded, no script run',
    async () => {
      const found = await ensureChromium();
      if ('skip' in found) {
        console.warn(`sandbox preview browser test skipped: ${found.skip}`);
        return;
      }
      let browser: Browser | undefined;
      try {
        browser = await chromium.launch({ executablePath: found.path, args: CHROMIUM_ARGS });
        const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
        const errors: string[] = [];
        page.on('pageerror', (err) => errors.push(err.message));
        await page.goto(`${sb.url}/_sandbox/teams/${team}/preview`, { waitUntil: 'load' });

        const channels = await page.locator('section.channel h2').allTextContents();
        expect(channels.map((c) => c.replace(/\s+/g, ' ').trim())).toEqual([
          '# General inProgress',
          '# design-reviews inProgress',
        ]);

        const parentBox = await page.locator('.thread:has(.replies) > .message').first().boundingBox();
        const replyBoxes = await Promise.all(
          (await page.locator('.thread .replies .message').all()).map((r) => r.boundingBox()),
        );
        expect(replyBoxes).toHaveLength(2);
        for (const box of replyBoxes) expect(box!.x).toBeGreaterThan(parentBox!.x + 30);

        const authors = await page.locator('.thread:has(.replies) .author').allTextContents();
        expect(authors).toEqual(['Ada Lovelace', 'Grace Hopper', 'Alan Turing']);
        const time = await page.locator('.thread:has(.replies) > .message time').getAttribute('datetime');
        expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

        const image = page.locator('img[alt="mock-up"]');
        await image.waitFor();
        expect(
          await image.evaluate((img) => {
            const loaded = img as unknown as { complete: boolean; naturalWidth: number };
            return loaded.complete && loaded.naturalWidth;
          }),
        ).toBe(240);

        expect(await page.evaluate('window.__pwned')).toBeUndefined();
        expect(await page.locator('.body script').count()).toBe(0);
        expect(await page.locator('.body b').first().textContent()).toBe('Contoso Design');
        const card = page.locator('a.file-card');
        expect(await card.locator('.file-name').textContent()).toBe('spec.pdf');
        expect(await (await fetch((await card.getAttribute('href'))!)).text()).toBe('%PDF-1.4 final spec');
        expect(await page.locator('.message.warn').count()).toBe(3);
        expect(await page.locator('.body .mention').allTextContents()).toEqual(['Grace Hopper']);
        expect(await page.locator('.reactions .reaction').allTextContents()).toEqual(['👍🏽 2', '🎉 1']);
        expect(errors).toEqual([]);

        await mkdir(join(ARTIFACT, '..'), { recursive: true });
        await page.screenshot({ path: ARTIFACT, fullPage: true });
      } finally {
        await browser?.close();
      }
    },
    20 * 60 * 1000,
  );
});
