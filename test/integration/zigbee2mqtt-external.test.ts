// zigbee2mqtt on its own broker (Debian's mosquitto): the gateway subscribes, ignores the retained replay it gets on subscription, takes live presses, and a lost link is one outage.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import mqtt, { type MqttClient } from 'mqtt';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { addTestBridges } from '../helpers/bridges.js';
import { startMosquitto, type MosquittoServer } from '../helpers/mosquitto.js';
import { z2mPayload } from '../helpers/z2m-payloads.js';

const BUTTON = '0x00158d0001a2b3c4';
const Z2M_USER = { username: 'z2m', password: 'z2m-password' };
const GATEWAY_USER = { username: 'gateway', password: 'gateway-password' };
let broker: MosquittoServer;
let t: TestGateway;
let z2m: MqttClient;

beforeAll(async () => {
  broker = await startMosquitto([Z2M_USER, GATEWAY_USER]);
});
afterAll(async () => {
  await broker.dispose();
});
beforeEach(async () => {
  z2m = await mqtt.connectAsync(broker.url, { clientId: 'zigbee2mqtt', ...Z2M_USER, reconnectPeriod: 0, protocolVersion: 4 });
  t = await startTestGateway({ twilio: false });
});
afterEach(async () => {
  z2m.end(true);
  await t.stop();
});

const events = (deviceId: string) =>
  t.gateway.store.database
    .stmt<[string], { type: string }>('SELECT type FROM events WHERE device_id = ? ORDER BY id')
    .all(deviceId)
    .map((r) => r.type);

async function register(): Promise<void> {
  await addTestBridges(t.gateway, {
    bridges: [{ id: 'z2m-ext', kind: 'zigbee2mqtt', url: broker.url, ...GATEWAY_USER, baseTopic: 'z2m-ext' }],
    devices: [
      { id: 'zx-btn', kind: 'sos_button', resident: 'r-001', bridge: 'z2m-ext', externalId: BUTTON, model: 'TS0215A_sos' },
      { id: 'zx-motion', kind: 'motion_sensor', resident: 'r-002', bridge: 'z2m-ext', externalId: 'hall', model: 'RTCGQ11LM' },
    ],
  });
  await t.gateway.registryChanged();
  await waitFor('the gateway subscribed to the external broker', () => t.gateway.zigbee2mqttExternal.states()[0]?.connected, {
    timeoutMs: 10_000,
  });
}

describe('zigbee2mqtt on an external broker', () => {
  it('ignores the retained press replayed on subscription, then raises the live one', async () => {
    const press = JSON.stringify(await z2mPayload('TS0215A_sos', BUTTON, { cluster: 'ssIasAce', type: 'commandEmergency', data: {} }));
    // A zigbee2mqtt left at retain: true: its last press sits on the broker.
    await z2m.publishAsync(`z2m-ext/${BUTTON}`, press, { qos: 1, retain: true });
    await z2m.publishAsync('z2m-ext/hall', JSON.stringify({ occupancy: true, linkquality: 90 }), { qos: 1, retain: true });
    await register();
    await waitFor('the replay', () => t.gateway.zigbee2mqtt.stats().replaysIgnored >= 2, { timeoutMs: 10_000 });
    expect(events('zx-btn')).toEqual([]);
    expect(events('zx-motion')).toEqual([]);

    await z2m.publishAsync(`z2m-ext/${BUTTON}`, press, { qos: 1 });
    await waitFor('the live press', () => events('zx-btn').length === 1, { timeoutMs: 10_000 });
    expect(events('zx-btn')).toEqual(['sos']);
  });

  it('opens one outage for the bridge when the link to its broker is lost', async () => {
    await register();
    await z2m.publishAsync('z2m-ext/hall', JSON.stringify({ occupancy: true, linkquality: 90 }), { qos: 1 });
    await waitFor('a live message', () => events('zx-motion').length === 1, { timeoutMs: 10_000 });
    await broker.kill();
    try {
      await waitFor('the outage', async () => (await t.gateway.supervision.listOutages({ state: 'open' })).length > 0, {
        timeoutMs: 10_000,
      });
      const [outage] = await t.gateway.supervision.listOutages({ state: 'open' });
      expect(outage?.place.kind).toBe('bridge');
      expect(outage?.devices.map((d) => d.id).sort()).toEqual(['zx-btn', 'zx-motion']);
    } finally {
      await broker.start();
    }
  });
});
