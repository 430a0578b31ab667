// The duty board in real Chromium: sign in, a button pressed over MQTT appears live, the SMS link on a phone acknowledges it.
import { pageLinkFor } from '../helpers/page-link.js';
import { performance } from 'node:perf_hooks';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice } from '../helpers/gateway.js';
import { fileURLToPath } from 'node:url';
import { startDashboardGateway, type DashboardGateway } from '../helpers/dashboard-gateway.js';

const QUIET_REGISTRY = fileURLToPath(new URL('../fixtures/dashboard-registry-quiet.yaml', import.meta.url));
import { DESKTOP, launchBrowser, openPage, PHONE, screenshot, signInToBoard as signIn, type OpenedPage } from '../helpers/browser.js';

const W1 = '+8613900000001';

/** Network refusals the app expects (401 before sign-in, a refused link) are logged by Chromium; they are not page errors. */
function realErrors(errors: string[]): string[] {
  // 404: the board asks for /api/outages and does without it when device supervision is absent.
  return errors.filter((e) => !/Failed to load resource: the server responded with a status of (401|403|404|409)/.test(e));
}

describe('duty board in a real browser', () => {
  let dg: DashboardGateway;
  let browser: Browser;
  let desk: OpenedPage;
  let phone: OpenedPage;
  const devices: MqttClient[] = [];
  let incidentId = '';
  let phoneLink = '';

  beforeAll(async () => {
    dg = await startDashboardGateway();
    await dg.addUser('officer', 'duty_officer');
    browser = await launchBrowser();
    desk = await openPage(browser, { viewport: DESKTOP });
    phone = await openPage(browser, { viewport: PHONE });
  });

  afterAll(async () => {
    for (const d of devices) await d.endAsync();
    await browser?.close();
    await dg?.stop();
  });

  it('refuses a wrong password with a clear message, then signs in to an empty board', async () => {
    const { page } = desk;
    await signIn(page, dg.url, 'officer', 'not-the-password');
    await expect.poll(() => page.textContent('[data-testid=login-error]')).toBe('用户名或密码错误。');
    await page.fill('#password', 'correct-horse-battery');
    await page.click('[data-testid=login-form] button[type=submit]');
    await page.waitForSelector('[data-testid=empty]');
    expect(page.url()).toContain('#/board');
    expect(await page.textContent('.topbar .who')).toBe('officer');
    expect(await page.isHidden('[data-testid=outbox-warning]')).toBe(true);
  });

  it('shows a pressed button on the board without a reload, with a sound, a running timer and the resident card', async () => {
    const { page } = desk;
    await page.evaluate(() => {
      document.body.dataset.sameDocument = 'yes';
    });
    const button = await connectDevice(dg.mqttUrl, 'btn-001', 's3cret-btn-001');
    devices.push(button);
    // The board's EventSource is open before the press: the measurement is the live path, not a reconnect.
    await expect.poll(() => dg.live.clientCount(), { timeout: 5000 }).toBeGreaterThanOrEqual(1);
    // The SMS provider answers nothing until the card is shown: the board must not wait for paging.
    dg.sms.holdAnswers();
    const pressedAt = performance.now();
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await page.waitForSelector('[data-incident][data-state=open]', { timeout: 5000 });
    console.info(`[dashboard-board] MQTT press -> card on the board: ${(performance.now() - pressedAt).toFixed(0)} ms`);
    expect(dg.sms.messages()).toEqual([]);
    dg.sms.releaseAnswers();
    // The same document: pushed over the open event stream, not found by a reload (the board does not poll incidents).
    expect(await page.evaluate(() => document.body.dataset.sameDocument)).toBe('yes');

    const card = page.locator('[data-incident][data-state=open]');
    incidentId = (await card.getAttribute('data-incident')) ?? '';
    const text = (await card.textContent()) ?? '';
    for (const expected of [
      '紧急求助',
      '张桂兰',
      '安达里3号楼2门401',
      '安达里3号楼',
      '安达里社区',
      '张伟（儿子）',
      '刘阿姨 +8613600000001',
      '李明',
      '第 1 步',
    ]) {
      expect(text, expected).toContain(expected);
    }
    // The note holds a script tag: it is shown as text and never runs.
    expect(await card.locator('[data-testid=resident-notes]').textContent()).toBe('糖尿病，<script>window.__pwned=1</script> 钥匙在门垫下');
    expect(await page.evaluate(() => 'pwned' in window || '__pwned' in window)).toBe(false);
    expect(Number(await page.getAttribute('.board', 'data-beeps'))).toBeGreaterThanOrEqual(1);

    // Delivery receipts arrive over the same stream.
    await page.waitForSelector(`[data-incident="${incidentId}"] tr[data-status=delivered]`, { timeout: 5000 });
    // The timer runs on its own (one interval for the board), with no event needed.
    const t1 = await card.locator('.timer').textContent();
    await page.waitForFunction(
      ([id, before]) => document.querySelector(`[data-incident="${id}"] .timer`)?.textContent !== before,
      [incidentId, t1] as const,
      { timeout: 4000 },
    );
    expect(await card.locator('.countdown').textContent()).toMatch(/^0?[0-2]:\d\d$/);
    await screenshot(page, 'board');
  });

  it('opens the SMS link on a 360 px phone, acknowledges, and the board follows live', async () => {
    // The SMS names the fixed /i and a code; the code typed there leads to the signed link.
    phoneLink = (await pageLinkFor(dg.sms, dg.url, W1)).href;
    const { page } = phone;
    await page.goto(phoneLink);
    expect(await page.textContent('h1')).toBe('张桂兰');
    // Nothing wider than the phone: no sideways scrolling in the street.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    expect(await page.locator('svg.sitemap').count()).toBe(1);
    await screenshot(page, 'incident-phone', true);

    await page.click('button.ack');
    await page.waitForSelector('text=已由李明接单');
    await desk.page.waitForSelector(`[data-incident="${incidentId}"][data-state=acknowledged]`, { timeout: 5000 });
    expect(await desk.page.textContent(`[data-incident="${incidentId}"] .taken`)).toContain('李明 已接单');

    await page.click('button.onsite');
    await page.waitForSelector('text=李明已到达');
    await desk.page.waitForSelector(`[data-incident="${incidentId}"] .onsite-at`, { timeout: 5000 });
    expect(await desk.page.evaluate(() => document.body.dataset.sameDocument)).toBe('yes');
  });

  it('resolves from the board with a script-bearing note that the phone page shows as text', async () => {
    const { page } = desk;
    const card = page.locator(`[data-incident="${incidentId}"]`);
    await card.locator('textarea[data-field=note]').fill('<script>alert("x")</script>已送医');
    await card.locator('button[data-action=resolve]').click();
    await page.waitForSelector(`[data-incident="${incidentId}"]`, { state: 'detached', timeout: 5000 });
    await page.waitForSelector('[data-testid=empty]');

    let dialogs = 0;
    phone.page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await phone.page.goto(phoneLink);
    await phone.page.waitForSelector('text=备注：<script>alert("x")</script>已送医');
    expect(dialogs).toBe(0);
  });

  it('refuses forged and expired links on the phone', async () => {
    const { page } = phone;
    const forged = new URL(phoneLink);
    forged.searchParams.set('p', 'w-02');
    const refused = await page.goto(forged.toString());
    expect(refused?.status()).toBe(403);
    expect(await page.textContent('h1')).toBe('链接无效');
    expect(await page.content()).not.toContain('张桂兰');

    const code = new URL(phoneLink).pathname.split('/')[2] ?? '';
    const expired = await page.goto(`${dg.url}/i/${code}?${dg.gateway.links.sign(code, 'w-01', 'worker', Date.now() - 60_000)}`);
    expect(expired?.status()).toBe(403);
    expect(await page.textContent('h1')).toBe('链接已过期');
  });

  it('draws the offline map: outlines and markers, no tiles fetched', async () => {
    const { page } = desk;
    const outside: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(dg.url)) outside.push(r.url());
    });
    const button = await connectDevice(dg.mqttUrl, 'btn-003', 's3cret-btn-003');
    devices.push(button);
    await button.publishAsync('care/v1/btn-003/status', 'online', { qos: 1, retain: true });
    const pressedAt = performance.now();
    await button.publishAsync('care/v1/btn-003/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await page.waitForSelector('[data-incident][data-state=open]');
    console.info(`[dashboard-board] warm MQTT press -> card on the board: ${(performance.now() - pressedAt).toFixed(0)} ms`);
    await page.goto(`${dg.url}/#/map`);
    await page.waitForSelector('.resident-marker');
    expect(await page.locator('path.resident-marker').count()).toBe(5);
    expect(await page.locator('path.community-outline').count()).toBe(3);
    expect(await page.locator('path.building-outline').count()).toBe(4);
    expect(await page.locator('.leaflet-tile').count()).toBe(0);
    // r-003 has an open alarm (red); r-001's was resolved above; its button is online (green).
    expect(await page.locator('path.marker-alarm').count()).toBe(1);
    expect(await page.locator('path.marker-ok').count()).toBe(1);
    await page.hover('path.marker-alarm');
    await page.waitForSelector('.leaflet-tooltip:has-text("李秀英")');
    await page.waitForTimeout(300);
    await screenshot(page, 'map');
    expect(outside).toEqual([]);
    expect(realErrors(desk.errors)).toEqual([]);
    expect(realErrors(phone.errors)).toEqual([]);
  });

  it('signs a grid worker in with an SMS code on a phone; the board shows only their community', async () => {
    const { context, page } = await openPage(browser, { viewport: PHONE });
    await page.goto(`${dg.url}/#/login`);
    await page.fill('#phone', W1);
    await page.click('[data-testid=send-code]');
    await page.waitForSelector('[data-testid=otp-sent]:not([hidden])');
    await page.fill('#code', '000000');
    await page.click('[data-testid=otp-form] button[type=submit]');
    await expect.poll(() => page.textContent('[data-testid=otp-error]')).toBe('验证码错误或已过期，请重新获取。');
    const sms = await dg.sms.waitForMessage((m) => m.to === W1 && m.body.includes('验证码'));
    await page.fill('#code', /(\d{6})/.exec(sms.body)?.[1] ?? '');
    await page.click('[data-testid=otp-form] button[type=submit]');
    await page.waitForSelector('[data-testid=incidents]');
    // r-003's open alarm is in their community; the xinhua one raised here is not.
    const other = await connectDevice(dg.mqttUrl, 'btn-101', 's3cret-btn-101');
    devices.push(other);
    await other.publishAsync('care/v1/btn-101/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await page.waitForSelector('[data-incident]', { timeout: 8000 });
    await page.waitForTimeout(800);
    expect(await page.locator('[data-incident]').count()).toBe(1);
    expect(await page.textContent('[data-incident]')).toContain('李秀英');
    expect(await page.textContent('.topbar .who')).toBe('李明');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await context.close();
  });
});

describe('first start, outbox mode and an unassigned alarm in a real browser', () => {
  let dg: DashboardGateway;
  let browser: Browser;
  let pageForBanner: Page | null = null;
  const devices: MqttClient[] = [];

  beforeAll(async () => {
    dg = await startDashboardGateway({ twilio: false, admin: false, env: { REGISTRY_FILE: QUIET_REGISTRY } });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const d of devices) await d.endAsync();
    await browser?.close();
    await dg?.stop();
  });

  it('creates the first admin from the one-time link, then warns permanently that SMS are not sent', async () => {
    const link = dg.accounts.setupLink();
    expect(link).toMatch(/#\/setup\?token=/);
    const { page, errors } = await openPage(browser, { viewport: DESKTOP });
    await page.goto(`${dg.url}/#/login`);
    await page.waitForSelector('[data-testid=setup-needed]:not([hidden])');
    await page.goto(`${dg.url}/${new URL(link ?? '').hash}`);
    await page.waitForSelector('[data-testid=setup-form]');
    await page.fill('#name', '站长');
    await page.fill('#username', 'chief');
    await page.fill('#password', 'first-admin-pass');
    await page.fill('#repeat', 'first-admin-pass-typo');
    await page.click('[data-testid=setup-form] button[type=submit]');
    expect(await page.textContent('[data-testid=setup-error]')).toBe('两次输入的密码不一致。');
    await page.fill('#repeat', 'first-admin-pass');
    await page.click('[data-testid=setup-form] button[type=submit]');
    await page.waitForSelector('[data-testid=outbox-warning]:not([hidden])');
    expect(await page.textContent('[data-testid=outbox-warning]')).toContain('短信未真正发出');
    expect(await page.textContent('.topbar .who')).toBe('站长');
    // The link is spent.
    await page.goto(`${dg.url}/${new URL(link ?? '').hash}`);
    await page.waitForSelector('[data-testid=setup-done]');
    expect(realErrors(errors)).toEqual([]);
    page.setDefaultTimeout(10_000);
    await page.goto(`${dg.url}/#/board`);
    await page.waitForSelector('[data-testid=empty]');
    pageForBanner = page;
  });

  it('puts an unassigned alarm in a red banner that stays until someone takes it', async () => {
    const page = pageForBanner;
    if (!page) throw new Error('the setup test did not sign in');
    const button = await connectDevice(dg.mqttUrl, 'btn-201', 's3cret-btn-201');
    devices.push(button);
    await button.publishAsync('care/v1/btn-201/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await page.waitForSelector('[data-testid=unassigned-banner]:not([hidden])', { timeout: 5000 });
    expect(await page.textContent('[data-testid=unassigned-banner]')).toContain('孙大爷');
    const first = page.locator('[data-incident]').first();
    expect(await first.getAttribute('class')).toContain('incident-unassigned');
    await page.waitForTimeout(500);
    expect(await page.isVisible('[data-testid=unassigned-banner]')).toBe(true);
    await screenshot(page, 'board-unassigned');
    await first.locator('button[data-action=ack]').click();
    await page.waitForSelector('[data-testid=unassigned-banner]', { state: 'hidden', timeout: 5000 });
  });
});

describe('a family member the page did not reach, in a real browser', () => {
  let dg: DashboardGateway;
  let browser: Browser;
  let button: MqttClient | null = null;

  beforeAll(async () => {
    dg = await startDashboardGateway();
    await dg.addUser('officer', 'duty_officer');
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await button?.endAsync();
    await browser?.close();
    await dg?.stop();
  });

  it('names them at the top of the card, with the number to call, and marks their page', async () => {
    const { page, errors } = await openPage(browser, { viewport: DESKTOP });
    page.setDefaultTimeout(15_000);
    await signIn(page, dg.url, 'officer', 'correct-horse-battery');
    await page.waitForSelector('[data-testid=empty]');
    dg.sms.setDeliveryOutcome('+8613800000001', 'undelivered');
    button = await connectDevice(dg.mqttUrl, 'btn-001', 's3cret-btn-001');
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    const alert = page.locator('[data-incident] [data-page-trouble]');
    await alert.waitFor();
    expect(await alert.textContent()).toBe('家属 张伟 没有收到通知，请电话联系 +8613800000001');
    expect(await page.locator('[data-incident]').textContent()).toContain('张桂兰');
    expect(await page.locator('[data-incident] td[data-trouble=failed]').textContent()).toBe('未送达');
    expect(realErrors(errors)).toEqual([]);
  });
});
