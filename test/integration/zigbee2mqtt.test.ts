// zigbee2mqtt on our broker, end to end: a real mqtt.js client plays zigbee2mqtt with payloads from the real converters; edges, availability, coordinator outage, confinement and rejections.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import mqtt, { type MqttClient } from 'mqtt';
import type { Signal } from '../../gateway/core/types.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { addTestBridges, Z2M_BRIDGE } from '../helpers/bridges.js';
import { z2mPayload } from '../helpers/z2m-payloads.js';

const BUTTON = '0x00158d0001a2b3c4';
let t: TestGateway;
let signals: Signal[];
let z2m: MqttClient;

async function connectZ2m(password: string = Z2M_BRIDGE.secret): Promise<MqttClient> {
  return mqtt.connectAsync(t.mqttUrl, {
    clientId: Z2M_BRIDGE.id,
    username: Z2M_BRIDGE.id,
    password,
    reconnectPeriod: 0,
    protocolVersion: 4,
    // What zigbee2mqtt sets: its bridge state goes offline when its connection is lost.
    will: { topic: 'zigbee2mqtt/bridge/state', payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true },
  });
}

async function start(dataDir?: string): Promise<void> {
  t = await startTestGateway({ twilio: false, ...(dataDir ? { dataDir } : {}) });
  if (!dataDir) await addTestBridges(t.gateway);
  signals = [];
  t.gateway.bus.on(signals, 'signalReceived', (s) => void signals.push(s));
  z2m = await connectZ2m();
  await z2m.publishAsync('zigbee2mqtt/bridge/state', '{"state":"online"}', { qos: 1, retain: true });
}

beforeEach(async () => {
  await start();
});
afterEach(async () => {
  z2m.end(true);
  t.gateway.bus.removeAll(signals);
  await t.stop();
});

const publish = (topic: string, payload: Record<string, unknown> | string, retain = false) =>
  z2m.publishAsync(`zigbee2mqtt/${topic}`, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1, retain });
const events = (deviceId: string) =>
  t.gateway.store.database
    .stmt<[string], { type: string }>('SELECT type FROM events WHERE device_id = ? ORDER BY id')
    .all(deviceId)
    .map((r) => r.type);

describe('zigbee2mqtt on our broker', () => {
  it('turns a Tuya SOS press into an alarm recorded before its PUBACK, and a retained live press too', async () => {
    const press = await z2mPayload('TS0215A_sos', BUTTON, { cluster: 'ssIasAce', type: 'commandEmergency', data: {} });
    expect(press).toMatchObject({ action: 'emergency' });
    await publish(BUTTON, press);
    // PUBACK received: the alarm is already on disk.
    expect(events('zb-btn-101')).toEqual(['sos']);
    expect(signals[0]).toMatchObject({ deviceId: 'zb-btn-101', residentId: 'r-001', type: 'sos' });
    await waitFor('incident', async () => (await t.gateway.store.incidents.findActiveForResident('r-001')) ?? false);
    // A battery report from the same button carries no action: no alarm.
    await publish(
      BUTTON,
      await z2mPayload('TS0215A_sos', BUTTON, {
        cluster: 'genPowerCfg',
        type: 'attributeReport',
        data: { batteryPercentageRemaining: 170 },
      }),
    );
    expect(events('zb-btn-101')).toEqual(['sos']);
    expect(t.gateway.ingest.healthOf('zb-btn-101')?.battery).toBe(85);
    // zigbee2mqtt set to `retain: true` still publishes live presses: on our broker the flag is no replay.
    await publish(BUTTON, press, true);
    expect(events('zb-btn-101')).toEqual(['sos', 'sos']);
  });

  it('raises motion on the false-to-true edge of occupancy only, and remembers the level across a restart', async () => {
    // The sensor only ever reports occupancy; zigbee2mqtt itself publishes `occupancy: false` when its occupancy_timeout ends.
    const occupancy = async (on: boolean) =>
      publish(
        'hall-motion',
        on
          ? await z2mPayload('RTCGQ11LM', '0x00158d0001a2b3c7', {
              cluster: 'msOccupancySensing',
              type: 'attributeReport',
              data: { occupancy: 1 },
            })
          : { occupancy: false, linkquality: 120 },
      );
    await occupancy(true);
    await occupancy(true);
    expect(events('zb-motion-101')).toEqual(['motion']);
    await occupancy(false);
    await occupancy(true);
    expect(events('zb-motion-101')).toEqual(['motion', 'motion']);

    // Restart with the level true: the same level again is no new sign of life, a new edge is.
    z2m.end(true);
    t.gateway.bus.removeAll(signals);
    const dataDir = t.dataDir;
    await t.stop({ keep: true });
    await start(dataDir);
    await occupancy(true);
    expect(events('zb-motion-101')).toEqual(['motion', 'motion']);
    await occupancy(false);
    await occupancy(true);
    expect(events('zb-motion-101')).toEqual(['motion', 'motion', 'motion']);
  });

  it('raises an IAS zone SOS (Feibit) on its edge, and a radar fall with its confidence', async () => {
    await addTestBridges(t.gateway, {
      devices: [
        { id: 'zb-sos-103', kind: 'sos_button', resident: 'r-002', bridge: 'z2m-andali', externalId: 'ias-sos', model: 'SEB01ZB' },
        { id: 'zb-radar-103', kind: 'fall_sensor', resident: 'r-002', bridge: 'z2m-andali', externalId: 'radar', model: 'MIR-HE200-TY' },
      ],
    });
    const zone = async (status: number) =>
      publish(
        'ias-sos',
        await z2mPayload('SEB01ZB', '0x00158d0001a2b3c6', {
          cluster: 'ssIasZone',
          type: 'commandStatusChangeNotification',
          data: { zonestatus: status },
        }),
      );
    await zone(2);
    await zone(2);
    expect(events('zb-sos-103')).toEqual(['sos']);
    await zone(0);
    await zone(2);
    expect(events('zb-sos-103')).toEqual(['sos', 'sos']);
    // The case opened: a security event naming the device.
    await zone(4);
    expect((await t.gateway.store.security.list(10)).some((e) => e.kind === 'device_tamper' && e.deviceId === 'zb-sos-103')).toBe(true);

    const fall = async (code: number) =>
      publish(
        'radar',
        await z2mPayload('MIR-HE200-TY', '0x00158d0001a2b3c9', {
          cluster: 'manuSpecificTuya',
          type: 'commandDataReport',
          data: { seq: 1, dpValues: [{ dp: 116, datatype: 4, data: Buffer.from([code]) }] },
        }),
      );
    await fall(0);
    await fall(2);
    await fall(2);
    expect(events('zb-radar-103')).toEqual(['fall']);
    expect(signals.find((s) => s.deviceId === 'zb-radar-103')?.payload).toMatchObject({ fall_down_status: 'fall', confidence: 1 });
  });

  it('ignores a retained replay (as an external broker delivers on subscription): no alarm, no level learnt', async () => {
    const bridge = await t.gateway.store.registry.getBridge('z2m-andali');
    if (bridge?.kind !== 'zigbee2mqtt') throw new Error('no bridge');
    const replay = async (topic: string, payload: Record<string, unknown>) =>
      t.gateway.zigbee2mqtt.handle({
        bridge,
        topic: `zigbee2mqtt/${topic}`,
        payload: Buffer.from(JSON.stringify(payload)),
        replay: true,
        delivery: { kind: 'mqtt', session: 'ext', packetId: 1, dup: false },
        remoteAddress: null,
        arrivedHr: 0,
      });
    await replay(BUTTON, await z2mPayload('TS0215A_sos', BUTTON, { cluster: 'ssIasAce', type: 'commandEmergency', data: {} }));
    await replay(
      'hall-motion',
      await z2mPayload('RTCGQ11LM', '0x00158d0001a2b3c7', {
        cluster: 'msOccupancySensing',
        type: 'attributeReport',
        data: { occupancy: 1 },
      }),
    );
    expect(events('zb-btn-101')).toEqual([]);
    expect(events('zb-motion-101')).toEqual([]);
    expect(t.gateway.zigbee2mqtt.stats().replaysIgnored).toBe(2);
    // The replayed level was not learnt: the next live report of it is an edge.
    await publish('hall-motion', { occupancy: true, linkquality: 100 });
    expect(events('zb-motion-101')).toEqual(['motion']);
  });

  it('drives online and offline from availability, in both forms zigbee2mqtt publishes', async () => {
    await publish('hall-motion/availability', '{"state":"online"}', true);
    expect(t.gateway.ingest.healthOf('zb-motion-101')?.state).toBe('online');
    await publish('hall-motion/availability', 'offline', true);
    expect(t.gateway.ingest.healthOf('zb-motion-101')?.state).toBe('offline');
    await publish('hall-motion/availability', 'online', true);
    expect(t.gateway.ingest.healthOf('zb-motion-101')?.state).toBe('online');
  });

  it('groups a coordinator outage into one outage for the bridge, with no task per device', async () => {
    for (const name of [BUTTON, 'hall-motion', 'btn-wang']) await publish(`${name}/availability`, '{"state":"online"}', true);
    await publish('bridge/state', '{"state":"offline"}', true);
    await t.gateway.supervision.idle();
    const outages = await t.gateway.supervision.listOutages({ state: 'open' });
    expect(outages).toHaveLength(1);
    expect(outages[0]?.place).toMatchObject({ kind: 'bridge' });
    expect(outages[0]?.devices.map((d) => d.id).sort()).toEqual(['zb-btn-101', 'zb-btn-102', 'zb-motion-101']);
    for (const id of ['zb-btn-101', 'zb-btn-102', 'zb-motion-101']) expect(t.gateway.ingest.healthOf(id)?.state).toBe('offline');
    // Held by the outage: none of them waits for a device-offline task of its own.
    for (const id of ['zb-btn-101', 'zb-btn-102', 'zb-motion-101']) expect(t.gateway.supervision.outages.isAbsorbed(id)).toBe(true);

    // The connection lost too (its will): still that one outage.
    z2m.stream.destroy();
    await waitFor('disconnect', () => t.gateway.broker.connectedCount() === 0);
    await t.gateway.supervision.idle();
    expect(await t.gateway.supervision.listOutages({ state: 'open' })).toHaveLength(1);
  });

  it('confines the bridge to its base topic: a spoofed device topic closes it and is recorded; a foreign subscription is refused', async () => {
    // SUBACK 0x80: mqtt.js reports the refusal as an error.
    await expect(z2m.subscribeAsync('care/v1/btn-001/command', { qos: 1 })).rejects.toThrow();
    expect(await z2m.subscribeAsync('zigbee2mqtt/#', { qos: 1 })).toMatchObject([{ qos: 1 }]);
    const closed = new Promise<void>((resolve) => z2m.once('close', () => resolve()));
    z2m.publish('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await closed;
    expect(events('btn-001')).toEqual([]);
    const security = await t.gateway.store.security.list(10);
    expect(security.map((e) => [e.kind, e.clientId])).toEqual(
      expect.arrayContaining([
        ['publish_denied', 'z2m-andali'],
        ['subscribe_denied', 'z2m-andali'],
      ]),
    );
    // A wrong secret is refused at CONNECT.
    await expect(connectZ2m('not-the-secret')).rejects.toThrow(/Bad username or password/i);
  });

  it('records an unknown device and malformed JSON as rejections, and keeps the connection', async () => {
    await publish('0xdeadbeefdeadbeef', { action: 'emergency' });
    await publish('hall-motion', '{"occupancy": tru');
    await publish('hall-motion', '[1,2]');
    await t.gateway.ingest.flush();
    const rows = t.gateway.store.database
      .stmt<[], { device_id: string; reason: string }>('SELECT device_id, reason FROM rejections ORDER BY id')
      .all();
    expect(rows).toEqual([
      { device_id: 'z2m-andali', reason: 'unknown_device' },
      { device_id: 'zb-motion-101', reason: 'malformed_json' },
      { device_id: 'zb-motion-101', reason: 'invalid_payload' },
    ]);
    expect(t.gateway.ingest.healthOf('zb-motion-101')).toMatchObject({ rejectedCount: 2, lastRejection: { reason: 'invalid_payload' } });
    expect(z2m.connected).toBe(true);
  });
});
