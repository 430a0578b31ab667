// The duty board names a sudden fall in connected devices (read from /healthz), in real Chromium.
import type { MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait.js';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice } from '../helpers/gateway.js';
import { startDashboardGateway, type DashboardGateway } from '../helpers/dashboard-gateway.js';
import { DESKTOP, launchBrowser, openPage } from '../helpers/browser.js';

describe('duty board: gateway health', () => {
  let dg: DashboardGateway;
  let browser: Browser;
  const devices: MqttClient[] = [];

  beforeAll(async () => {
    dg = await startDashboardGateway({ env: { DEVICE_DROP_MIN: '2', DEVICE_DROP_PERCENT: '50' } });
    await dg.addUser('officer', 'duty_officer');
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const d of devices) await d.endAsync(true);
    await browser?.close();
    await dg?.stop();
  });

  const brokerStatus = async (): Promise<string> => {
    const body = (await (await fetch(`${dg.url}/healthz`)).json()) as { components: { broker: { status: string; clients: number } } };
    return `${body.components.broker.status}/${body.components.broker.clients}`;
  };

  it('shows no health banner while all is well, and a clear one after most devices dropped off at once', async () => {
    const { page } = await openPage(browser, { viewport: DESKTOP });
    const signIn = async (): Promise<void> => {
      await page.goto(`${dg.url}/#/board`);
      await page.waitForSelector('[data-testid=login-form]');
      await page.fill('#username', 'officer');
      await page.fill('#password', 'correct-horse-battery');
      await page.click('[data-testid=login-form] button[type=submit]');
      await page.waitForSelector('[data-testid=empty]');
    };
    await signIn();
    expect(await page.isHidden('[data-testid=gateway-health]')).toBe(true);

    for (const id of ['btn-001', 'btn-002', 'btn-003']) devices.push(await connectDevice(dg.mqttUrl, id, `s3cret-${id}`));
    await waitFor('three devices connected', async () => (await brokerStatus()) === 'up/3');
    for (const d of devices.splice(0, 2)) await d.endAsync();
    await waitFor('the fall reported', async () => (await brokerStatus()) === 'degraded/1');

    await page.reload();
    await page.waitForSelector('[data-testid=gateway-health]:not([hidden])');
    const text = await page.textContent('[data-testid=gateway-health]');
    expect(text).toContain('在线设备骤降：3 台 → 1 台');
    expect(text).toContain('无法报警');
  });
});
