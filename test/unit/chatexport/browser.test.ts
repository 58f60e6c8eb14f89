import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { renderConversation } from '../../../core/chatexport/render';
import { chat, message, staged } from './builders';
import { HOSTILE } from './hostile';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const HOSTED = 'https://graph.microsoft.com/v1.0/chats/c/messages/1/hostedContents/h1/$value';

/** Fires the events inline handlers listen to on every element of the conversation (links are not clicked). */
const TRIGGER_EVERY_HANDLER = `
  for (const element of Array.from(document.querySelectorAll('main *'))) {
    for (const type of ['mouseover', 'focus', 'error', 'load', 'animationstart']) {
      element.dispatchEvent(new Event(type, { bubbles: true }));
    }
    if (element.tagName !== 'A') element.dispatchEvent(new MouseEvent('click', { bubbles: true }));
  }
`;

interface PageFacts {
  scripts: number;
  handlers: string[];
  images: { ok: boolean; data: boolean }[];
  frames: number;
}

/** What the page holds once loaded: scripts, on* attributes, decoded images, frames. */
const PAGE_FACTS = `({
  scripts: document.scripts.length,
  handlers: Array.from(document.querySelectorAll('*')).flatMap((el) =>
    Array.from(el.attributes).map((attribute) => attribute.name).filter((name) => name.startsWith('on')),
  ),
  images: Array.from(document.images).map((img) => ({
    ok: img.complete && img.naturalWidth > 0,
    data: img.src.startsWith('data:'),
  })),
  frames: window.frames.length,
})`;

const describeWithBrowser = existsSync(CHROMIUM) ? describe : describe.skip;

describeWithBrowser('a rendered export opened in Chromium', () => {
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    dir = mkdtempSync(join(tmpdir(), 'chatexport-browser-'));
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs no script, loads nothing, and shows the embedded image, whatever the messages contain', async () => {
    const messages = Object.values(HOSTILE).map((content, i) =>
      message(String(i + 1), new Date(Date.UTC(2025, 0, 15, 9, i)).toISOString(), content),
    );
    messages.push(message('999', '2025-01-15T10:00:00.000Z', `<p><img src="${HOSTED}" alt="chart"></p>`));
    const html = renderConversation(
      staged(chat('19:hostile@thread.v2'), messages, {
        [HOSTED]: { kind: 'embedded', contentType: 'image/png', base64: PNG.toString('base64') },
      }),
    );
    const file = join(dir, 'hostile.html');
    writeFileSync(file, html);

    const page = await browser.newPage();
    const requests: string[] = [];
    const incidents: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('dialog', (dialog) => {
      incidents.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => incidents.push(`error: ${error.message}`));
    page.on('popup', () => incidents.push('popup'));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

    await page.evaluate(TRIGGER_EVERY_HANDLER);
    await page.waitForTimeout(200);
    const facts = await page.evaluate<PageFacts>(PAGE_FACTS);

    expect(incidents).toEqual([]);
    expect(requests).toEqual([pathToFileURL(file).href]);
    expect(facts).toEqual({ scripts: 0, handlers: [], images: [{ ok: true, data: true }], frames: 0 });
    await page.close();
  });
});
