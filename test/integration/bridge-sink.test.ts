// The bridge sink on a real gateway: durable before it resolves, redeliveries absorbed by key or by DUP, rejections recorded, and a flooding bridge limited without losing an alarm.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../../gateway/core/logger.js';
import type { Device, Signal } from '../../gateway/core/types.js';
import { BridgeSink, type BridgeMessage } from '../../gateway/bridges/sink.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { addTestBridges } from '../helpers/bridges.js';
import { shanghaiDay } from '../helpers/calendar.js';

let t: TestGateway;
let signals: Signal[];

beforeEach(async () => {
  t = await startTestGateway({ twilio: false });
  await addTestBridges(t.gateway);
  signals = [];
  t.gateway.bus.on(signals, 'signalReceived', (s) => void signals.push(s));
});
afterEach(async () => {
  t.gateway.bus.removeAll(signals);
  await t.stop();
});

async function device(id: string): Promise<Device> {
  const d = await t.gateway.store.registry.getDevice(id);
  if (!d) throw new Error(`no device ${id}`);
  return d;
}

const sos = (over: Partial<BridgeMessage> = {}): BridgeMessage => ({
  bridgeId: 'z2m-andali',
  source: 'zigbee2mqtt/0x00158d0001a2b3c4',
  delivery: { kind: 'mqtt', session: 's-1', packetId: 7, dup: false },
  events: [{ type: 'sos' }],
  telemetry: { battery: 87, linkquality: 120 },
  bytes: 60,
  arrivedHr: performance.now(),
  ...over,
});

async function eventRows(deviceId: string): Promise<number> {
  const row = t.gateway.store.database.stmt<[string], { n: number }>('SELECT count(*) AS n FROM events WHERE device_id = ?').get(deviceId);
  return row?.n ?? 0;
}

describe('BridgeSink', () => {
  it('resolves only once the alarm is recorded, and the alarm opens an incident like a direct device', async () => {
    const btn = await device('zb-btn-101');
    await t.gateway.bridgeSink.accept(btn, sos());
    // Recorded (and committed) before accept resolved: the event row is there without waiting.
    expect(await eventRows('zb-btn-101')).toBe(1);
    expect(signals.map((s) => [s.deviceId, s.type, s.residentId])).toEqual([['zb-btn-101', 'sos', 'r-001']]);
    expect(signals[0]?.payload).toMatchObject({ bridge: 'z2m-andali', seq: 7 });
    await waitFor('incident', async () => (await t.gateway.store.incidents.findActiveForResident('r-001')) ?? false);
    const health = t.gateway.ingest.healthOf('zb-btn-101');
    expect(health).toMatchObject({ state: 'online', battery: 87 });
  });

  it('absorbs an MQTT redelivery (DUP, same packet id and content) yet records two real presses that look alike', async () => {
    const btn = await device('zb-btn-101');
    await t.gateway.bridgeSink.accept(btn, sos());
    await t.gateway.bridgeSink.accept(btn, sos({ delivery: { kind: 'mqtt', session: 's-2', packetId: 7, dup: true } }));
    expect(await eventRows('zb-btn-101')).toBe(1);
    // The same packet id again without DUP is a new PUBLISH (ids are reused once acknowledged): a second press.
    await t.gateway.bridgeSink.accept(btn, sos());
    // QoS 0 has no packet id: every copy is new.
    await t.gateway.bridgeSink.accept(btn, sos({ delivery: { kind: 'mqtt', session: 's-1', packetId: undefined, dup: false } }));
    expect(await eventRows('zb-btn-101')).toBe(3);
    expect(signals).toHaveLength(3);
  });

  it('absorbs a redelivery by its stable key, whatever its flags, and records a new key', async () => {
    const lora = await device('lora-btn-101');
    // Yesterday 16:00 in Tianjin: the gateway's real clock keeps a device time only within 30 days of it.
    const deviceTime = new Date(shanghaiDay(-1, 16)).toISOString().replace('.000Z', 'Z');
    const msg = sos({
      bridgeId: 'cs-1',
      source: 'application/x/device/0102030405060708/event/up',
      delivery: { kind: 'key', key: 'dedup-1' },
      deviceTime,
    });
    await t.gateway.bridgeSink.accept(lora, msg);
    await t.gateway.bridgeSink.accept(lora, msg);
    expect(await eventRows('lora-btn-101')).toBe(1);
    await t.gateway.bridgeSink.accept(lora, { ...msg, delivery: { kind: 'key', key: 'dedup-2' } });
    expect(await eventRows('lora-btn-101')).toBe(2);
    expect(signals[0]?.deviceTs).toBe(deviceTime);
  });

  it('records an unknown external id as a rejection under the bridge, and bad readings on the device like a direct one', async () => {
    expect(
      await t.gateway.bridgeSink.device('z2m-andali', '0xdeadbeefdeadbeef', 'zigbee2mqtt/0xdeadbeefdeadbeef', '{"action":"emergency"}'),
    ).toBeNull();
    // The same IEEE address in capitals is the registered device.
    expect((await t.gateway.bridgeSink.device('z2m-andali', '0x00158D0001A2B3C4', 'zigbee2mqtt/x'))?.id).toBe('zb-btn-101');
    const rows = t.gateway.store.database
      .stmt<[], { device_id: string; reason: string; detail: string; topic: string }>(
        'SELECT device_id, reason, detail, topic FROM rejections',
      )
      .all();
    expect(rows).toEqual([
      {
        device_id: 'z2m-andali',
        reason: 'unknown_device',
        topic: 'zigbee2mqtt/0xdeadbeefdeadbeef',
        detail: 'no device registered on bridge "z2m-andali" as "0xdeadbeefdeadbeef": add it to the registry (bridge, externalId)',
      },
    ]);

    const motion = await device('zb-motion-101');
    // A motion sensor cannot raise an SOS, and a battery of 300 % is broken hardware: both on its health record.
    await t.gateway.bridgeSink.accept(motion, sos({ events: [{ type: 'sos' }], telemetry: { battery: 300 } }));
    expect(await eventRows('zb-motion-101')).toBe(0);
    const health = t.gateway.ingest.healthOf('zb-motion-101');
    expect(health?.rejectedCount).toBe(2);
    expect(health?.lastRejection?.reason).toBe('impossible_value');
    // A device of one bridge handed in for another is a wiring mistake, refused loudly.
    await expect(t.gateway.bridgeSink.accept(motion, sos({ bridgeId: 'cs-1' }))).rejects.toThrow('is not on bridge cs-1');
  });

  it('limits a flooding bridge without dropping its alarms, and leaves other bridges alone', async () => {
    const flooded = new BridgeSink({
      ingest: t.gateway.ingest,
      registry: t.gateway.store.registry,
      store: t.gateway.store,
      bus: t.gateway.bus,
      clock: t.gateway.clock,
      log: silentLogger(),
      limits: { ratePerMinute: 60, burst: 5, dailyMessages: 0, dailyBytes: 0, disconnectAfter: 10 },
    });
    const motion = await device('zb-motion-101');
    const lora = await device('lora-btn-101');
    const btn = await device('zb-btn-101');
    for (let i = 0; i < 30; i++) {
      await flooded.accept(
        motion,
        sos({ delivery: { kind: 'mqtt', session: 's', packetId: i + 1, dup: false }, events: [{ type: 'motion' }], telemetry: {} }),
      );
    }
    expect(await eventRows('zb-motion-101')).toBe(5);
    expect(flooded.stats().dropped).toBe(25);
    // The flood is reported once per run as a security event naming the bridge.
    const floods = (await t.gateway.store.security.list(10)).filter((e) => e.kind === 'flooding');
    expect(floods.map((e) => e.clientId)).toEqual(['z2m-andali', 'z2m-andali']);
    // An alarm from the flooding bridge still gets through, and so does another bridge's motion.
    await flooded.accept(btn, sos({ delivery: { kind: 'mqtt', session: 's', packetId: 999, dup: false } }));
    await flooded.accept(lora, sos({ bridgeId: 'cs-1', delivery: { kind: 'key', key: 'k' }, events: [{ type: 'heartbeat' }] }));
    expect(await eventRows('zb-btn-101')).toBe(1);
    expect(await eventRows('lora-btn-101')).toBe(1);
  });
});
