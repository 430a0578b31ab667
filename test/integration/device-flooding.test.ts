// One device flooding the gateway: non-alarm messages over its rate or daily quota are acknowledged but not written, a flood that goes on is disconnected with a security event and a care task, and its alarms always get through.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import type { MqttClient } from 'mqtt';
import { ManualClock } from '../../gateway/core/clock.js';
import { connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { shanghaiLast } from '../helpers/calendar.js';

/** A Thursday 10:00 in Shanghai (a weekday, inside the day shifts), the latest before today: recent, never in the future. */
const LAST_THURSDAY_10 = shanghaiLast(4, 10);

const W1 = '+8613900000001';
const TOPIC = 'care/v1/btn-001/event';

describe('per-device limits', () => {
  let t: TestGateway | null = null;
  let device: MqttClient | null = null;
  let clock: ManualClock;

  afterEach(async () => {
    await device?.endAsync(true);
    device = null;
    await t?.stop();
    t = null;
  });

  const start = async (env: Record<string, string>): Promise<TestGateway> => {
    // Thursday 10:00 in Shanghai: the fixture's worker is on duty.
    clock = new ManualClock(LAST_THURSDAY_10);
    t = await startTestGateway({ clock, env });
    device = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
    return t;
  };
  const heartbeat = (seq: number): Promise<unknown> =>
    (device as MqttClient).publishAsync(TOPIC, JSON.stringify({ type: 'heartbeat', seq }), { qos: 1 });
  const count = (g: TestGateway, type: string): number =>
    g.gateway.store.database.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM events WHERE type = ?').get(type)?.n ?? -1;

  it('throttles a flooding device, then disconnects it with a security event and a care task, while its alarm is recorded and paged', async () => {
    const g = await start({ DEVICE_RATE_PER_MINUTE: '6', DEVICE_BURST: '5', DEVICE_FLOOD_DISCONNECT: '10' });
    let seq = 0;
    for (let i = 0; i < 5; i++) await heartbeat(++seq);
    expect(count(g, 'heartbeat')).toBe(5);

    // Over the burst: each is acknowledged (publishAsync resolves on its PUBACK) and not written.
    for (let i = 0; i < 9; i++) await heartbeat(++seq);
    expect(count(g, 'heartbeat')).toBe(5);
    expect(g.gateway.ingest.stats().dropped.rate).toBe(9);

    // An alarm is never limited.
    await (device as MqttClient).publishAsync(TOPIC, JSON.stringify({ type: 'sos', seq: ++seq }), { qos: 1 });
    expect(count(g, 'sos')).toBe(1);
    await g.sms.waitForMessage((m) => m.to === W1);

    // The tenth message dropped in a row: the flood goes on, so the device is disconnected.
    const closed = new Promise<void>((resolve) => device?.once('close', () => resolve()));
    void heartbeat(++seq).catch(() => undefined);
    await closed;
    const [security] = await waitFor('a security event', async () => {
      const list = await g.gateway.store.security.list(10);
      return list.length > 0 ? list : null;
    });
    expect(security).toMatchObject({ kind: 'flooding', deviceId: 'btn-001', clientId: 'btn-001' });
    expect(security?.detail).toMatch(/^disconnected: over 6 messages a minute/);
    const task = await waitFor('a device_flooding care task', async () =>
      (await g.gateway.supervision.tasks.listOpen()).find((x) => x.kind === 'device_flooding'),
    );
    expect(task).toMatchObject({ residentId: 'r-001', deviceId: 'btn-001', workerId: 'w-01' });
    const metrics = await (await fetch(`${g.httpUrl}/metrics`)).text();
    expect(metrics).toContain('device_messages_dropped_total{reason="rate"} 10');
    expect(metrics).toContain('security_events_total{kind="flooding"} 1');

    // It may come back at once; after a quiet minute its bucket has refilled and heartbeats are written again.
    device = await connectDevice(g.mqttUrl, 'btn-001', 's3cret-btn-001');
    clock.advance(60_000);
    await heartbeat(++seq);
    expect(count(g, 'heartbeat')).toBe(6);
  });

  it('drops non-alarm messages over the daily quota until the next day, reported once, and still takes alarms', async () => {
    const g = await start({ DEVICE_RATE_PER_MINUTE: '0', DEVICE_DAILY_MESSAGES: '3' });
    let seq = 0;
    for (let i = 0; i < 6; i++) await heartbeat(++seq);
    expect(count(g, 'heartbeat')).toBe(3);
    expect(g.gateway.ingest.stats().dropped.quota).toBe(3);
    const security = await waitFor('a security event', async () => {
      const list = await g.gateway.store.security.list(10);
      return list.length > 0 ? list : null;
    });
    expect(security).toHaveLength(1);
    expect(security[0]).toMatchObject({ kind: 'flooding', deviceId: 'btn-001' });
    expect(security[0]?.detail).toMatch(/^throttled: daily quota spent/);
    expect(device?.connected).toBe(true);
    await waitFor('a device_flooding care task for btn-001', async () =>
      (await g.gateway.supervision.tasks.listOpen()).some((x) => x.kind === 'device_flooding' && x.deviceId === 'btn-001'),
    );

    await (device as MqttClient).publishAsync(TOPIC, JSON.stringify({ type: 'sos', seq: ++seq }), { qos: 1 });
    expect(count(g, 'sos')).toBe(1);

    clock.advance(24 * 60 * 60 * 1000);
    await heartbeat(++seq);
    expect(count(g, 'heartbeat')).toBe(4);
  });
});
