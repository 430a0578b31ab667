// The dashboard is Chinese by default and English on request: every navigation label and the sign-in form switch, and the choice is kept.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboardGateway, type DashboardGateway } from '../helpers/dashboard-gateway.js';
import { DESKTOP, launchBrowser, openPage } from '../helpers/browser.js';

const HAN = /\p{Script=Han}/u;

describe('dashboard language', () => {
  let dg: DashboardGateway;
  let browser: Browser;

  beforeAll(async () => {
    dg = await startDashboardGateway();
    await dg.addUser('officer', 'duty_officer');
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await dg?.stop();
  });

  it('starts in Chinese, switches every navigation label to English, and remembers it after a reload', async () => {
    const { page, errors } = await openPage(browser, { viewport: DESKTOP });
    await page.goto(`${dg.url}/#/login`);
    await page.waitForSelector('[data-testid=login-form]');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
    expect(await page.textContent('.topbar .brand')).toBe('社区养老呼叫平台');

    await page.click('.topbar button.link:has-text("English")');
    await expect.poll(() => page.textContent('.topbar .brand')).toBe('Community care alarms');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');

    await page.fill('#username', 'officer');
    await page.fill('#password', 'correct-horse-battery');
    await page.click('[data-testid=login-form] button[type=submit]');
    await page.waitForSelector('[data-testid=empty]');
    const nav = await page.$$eval('.nav a', (links) => links.map((a) => a.textContent ?? ''));
    expect(nav).toContain('Duty board');
    expect(nav.length).toBeGreaterThan(5);
    expect(nav.filter((label) => HAN.test(label))).toEqual([]);

    await page.reload();
    await page.waitForSelector('[data-testid=empty]');
    expect(await page.textContent('.topbar .brand')).toBe('Community care alarms');
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    await page.context().close();
  });
});
