// Debian's Chromium driven by playwright-core for the dashboard tests: headless, no sandbox (root in CI), loopback only.
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = 'docs/screenshots';

/** A phone the size the issue names (360 px wide), and a station desktop. */
export const PHONE = { width: 360, height: 740 } as const;
export const DESKTOP = { width: 1366, height: 860 } as const;

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run', '--mute-audio'],
  });
}

export interface OpenedPage {
  context: BrowserContext;
  page: Page;
  /** Console errors and failed requests seen so far: a page that logs errors is a failing page. */
  errors: string[];
}

export async function openPage(
  browser: Browser,
  opts: { viewport?: { width: number; height: number }; locale?: string } = {},
): Promise<OpenedPage> {
  const context = await browser.newContext({
    viewport: opts.viewport ?? DESKTOP,
    locale: opts.locale ?? 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return { context, page, errors };
}

/** Saves a screenshot for the README (docs/screenshots/<name>.png). */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}/${name}.png`, fullPage });
}

/** Opens the duty board at `url` and submits its sign-in form (the caller waits for what it expects next). */
export async function signInToBoard(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(`${url}/#/board`);
  await page.waitForSelector('[data-testid=login-form]');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('[data-testid=login-form] button[type=submit]');
}
