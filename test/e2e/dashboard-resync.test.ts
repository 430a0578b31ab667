// The board in real Chromium told to `resync` (its node's channel to the other nodes was down): it reads the board again and sounds for an alarm it had missed.
import type { MqttClient } from 'mqtt';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice } from '../helpers/gateway.js';
import { startDashboardGateway, type DashboardGateway } from '../helpers/dashboard-gateway.js';
import { DESKTOP, launchBrowser, openPage, signInToBoard as signIn, type OpenedPage } from '../helpers/browser.js';

describe('the duty board after a resync event', () => {
  let dg: DashboardGateway;
  let browser: Browser;
  let desk: OpenedPage;
  const devices: MqttClient[] = [];

  beforeAll(async () => {
    dg = await startDashboardGateway();
    await dg.addUser('officer', 'duty_officer');
    browser = await launchBrowser();
    desk = await openPage(browser, { viewport: DESKTOP });
  });

  afterAll(async () => {
    for (const d of devices) await d.endAsync();
    await browser?.close();
    await dg?.stop();
  });

  it('shows an incident it never got an event for once the stream says resync, without a page reload, and sounds once for it', async () => {
    const { page } = desk;
    await signIn(page, dg.url, 'officer', 'correct-horse-battery');
    await page.waitForSelector('[data-testid=empty]');
    await page.evaluate(() => {
      document.body.dataset.sameDocument = 'yes';
    });
    await expect.poll(() => dg.live.clientCount(), { timeout: 5000 }).toBeGreaterThanOrEqual(1);

    // A live alarm first: the card the board already shows must not sound again on the resync.
    const button = await connectDevice(dg.mqttUrl, 'btn-001', 's3cret-btn-001');
    devices.push(button);
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await page.waitForSelector('[data-incident][data-state=open]', { timeout: 5000 });
    const liveId = (await page.getAttribute('[data-incident][data-state=open]', 'data-incident')) ?? '';
    const stored = await dg.gateway.store.incidents.get(liveId);
    if (!stored) throw new Error('the live incident is not stored');
    await expect.poll(async () => Number(await page.getAttribute('.board', 'data-beeps')), { timeout: 5000 }).toBe(1);

    // Another node's alarm, stored while this node heard nothing of it: no event reaches the board.
    await dg.gateway.store.incidents.create({ ...stored, id: 'inc-gap-0001', code: 'GAP00001', residentId: 'r-002' });
    expect(await page.locator('[data-incident="inc-gap-0001"]').count()).toBe(0);

    dg.live.resync('cluster');
    await page.waitForSelector('[data-incident="inc-gap-0001"][data-state=open]', { timeout: 5000 });
    expect(await page.evaluate(() => document.body.dataset.sameDocument)).toBe('yes');
    expect(await page.locator(`[data-incident="${liveId}"]`).count()).toBe(1);
    await expect.poll(async () => Number(await page.getAttribute('.board', 'data-beeps')), { timeout: 5000 }).toBe(2);
  });
});
