import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import type { RejectionReason } from '../../gateway/core/types.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { Ingest } from '../../gateway/ingest/ingest.js';
import type { IngestEvents } from '../../gateway/ingest/events.js';
import { startEdge, type Edge } from '../helpers/edge.js';

function publishQos1(client: MqttClient, topic: string, payload: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => client.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
}

function rejectionsInFile(file: string): { device_id: string; reason: string; topic: string }[] {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare<[], { device_id: string; reason: string; topic: string }>('SELECT device_id, reason, topic FROM rejections ORDER BY id')
      .all();
  } finally {
    db.close();
  }
}

describe('ingest: bad messages are acknowledged, recorded and not acted on', () => {
  let edge: Edge | undefined;
  afterEach(async () => {
    await edge?.close();
    edge = undefined;
  });

  it('acks malformed, unknown, oversized and unsupported events, keeps serving, and notes each as the last rejection', async () => {
    edge = await startEdge();
    const client = await edge.connect('btn-001');
    const cases: { payload: string | Buffer; reason: RejectionReason }[] = [
      { payload: '{"type":"sos","seq":', reason: 'malformed_json' },
      { payload: JSON.stringify({ type: 'panic', seq: 1 }), reason: 'unknown_type' },
      { payload: JSON.stringify({ type: 'sos', seq: 2, pad: 'x'.repeat(17 * 1024) }), reason: 'payload_too_large' },
      { payload: JSON.stringify({ type: 'fall', seq: 3 }), reason: 'type_not_supported_by_kind' },
      { payload: JSON.stringify({ type: 'low_battery', seq: 4, battery: 250 }), reason: 'impossible_value' },
      { payload: JSON.stringify({ type: 'sos', seq: -4 }), reason: 'invalid_payload' },
    ];
    for (const c of cases) {
      // Resolves only on PUBACK: a rejected message is still acknowledged, so the device stops resending it.
      await publishQos1(client, 'care/v1/btn-001/event', c.payload);
      expect(edge.ingest.healthOf('btn-001')?.lastRejection?.reason).toBe(c.reason);
    }
    expect(client.connected).toBe(true);
    expect(edge.seen.signals).toEqual([]);
    expect(edge.seen.rejections.map((r) => r.reason)).toEqual(cases.map((c) => c.reason));
    expect(edge.seen.rejections[2]?.payloadExcerpt.length).toBeLessThanOrEqual(200);
    expect(rejectionsInFile(edge.dbFile)).toEqual([]);
    await edge.ingest.flush();
    expect(rejectionsInFile(edge.dbFile)).toEqual(
      cases.map((c) => ({ device_id: 'btn-001', reason: c.reason, topic: 'care/v1/btn-001/event' })),
    );
    const stats = edge.ingest.stats();
    expect(stats.accepted).toBe(0);
    expect(stats.rejected.malformed_json).toBe(1);
    expect(stats.rejected.payload_too_large).toBe(1);

    // The same connection still carries a real alarm.
    await publishQos1(client, 'care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 10 }));
    expect(edge.seen.signals.map((s) => s.type)).toEqual(['sos']);
    const health = edge.ingest.healthOf('btn-001');
    expect(health).toMatchObject({
      state: 'online',
      rejectedCount: cases.length,
      lastRejection: { reason: 'invalid_payload', at: edge.clock.now() },
    });
  });

  it('acks a message on an unknown channel under the own prefix as unknown_channel', async () => {
    edge = await startEdge();
    const client = await edge.connect('pir-001');
    await publishQos1(client, 'care/v1/pir-001/debug', 'hello');
    expect(client.connected).toBe(true);
    expect(edge.ingest.healthOf('pir-001')?.lastRejection?.reason).toBe('unknown_channel');
    expect(await edge.store.security.list(10)).toEqual([]);
  });

  it('keeps telemetry in the health view, rejects impossible readings, and follows status messages', async () => {
    edge = await startEdge();
    const client = await edge.connect('pir-001');
    await publishQos1(client, 'care/v1/pir-001/telemetry', JSON.stringify({ battery: 64, rssi: -77, lux: 120 }));
    expect(edge.seen.telemetry).toEqual([
      { deviceId: 'pir-001', battery: 64, rssi: -77, at: edge.clock.now(), payload: { battery: 64, rssi: -77, lux: 120 } },
    ]);
    expect(edge.ingest.healthOf('pir-001')).toMatchObject({ state: 'online', battery: 64, rssi: -77, lastSeen: edge.clock.now() });

    edge.clock.advance(1000);
    await publishQos1(client, 'care/v1/pir-001/telemetry', JSON.stringify({ battery: 250 }));
    await publishQos1(client, 'care/v1/pir-001/telemetry', JSON.stringify({ rssi: 40 }));
    expect(edge.seen.telemetry).toHaveLength(1);
    expect(edge.ingest.healthOf('pir-001')).toMatchObject({
      battery: 64,
      rssi: -77,
      lastSeen: edge.clock.now(),
      lastRejection: { reason: 'impossible_value' },
    });

    // Telemetry with only rssi keeps the last known battery.
    await publishQos1(client, 'care/v1/pir-001/telemetry', JSON.stringify({ rssi: -60 }));
    expect(edge.seen.telemetry[1]).toMatchObject({ battery: 64, rssi: -60 });

    await publishQos1(client, 'care/v1/pir-001/status', 'offline');
    expect(edge.ingest.healthOf('pir-001')).toMatchObject({ state: 'offline', lastStatusAt: edge.clock.now() });
    await publishQos1(client, 'care/v1/pir-001/status', 'online');
    await publishQos1(client, 'care/v1/pir-001/status', 'online');
    await publishQos1(client, 'care/v1/pir-001/status', 'maybe');
    expect(edge.seen.status.map((s) => s.state)).toEqual(['online', 'offline', 'online']);
    expect(edge.ingest.healthOf('pir-001')?.lastRejection?.reason).toBe('invalid_payload');
  });

  it('writes health in batches and on stop, and a new ingest starts from what was written', async () => {
    edge = await startEdge();
    const client = await edge.connect('btn-002');
    await publishQos1(client, 'care/v1/btn-002/event', JSON.stringify({ type: 'heartbeat', seq: 1, battery: 42 }));
    await publishQos1(client, 'care/v1/btn-002/event', '{oops');
    // Nothing durable per message: the health row appears with the periodic flush or on stop.
    expect(await edge.store.health.get('btn-002')).toBeNull();
    await edge.broker.stop();
    await edge.ingest.stop();
    const saved = await edge.store.health.get('btn-002');
    expect(saved).toMatchObject({ state: 'online', battery: 42, rejectedCount: 1, lastRejection: { reason: 'malformed_json' } });

    const log = silentLogger();
    const next = new Ingest({ store: edge.store, bus: new EventBus<IngestEvents>(log), clock: edge.clock, log });
    await next.start();
    expect(next.healthOf('btn-002')).toEqual(saved);
    expect(next.listHealth().map((h) => h.deviceId)).toEqual(['btn-002']);
    await next.stop();
    await expect(
      next.handle('btn-002', { id: 'btn-002', kind: 'sos_button', resident: 'r', secretHash: 'x' }, 'event', Buffer.from('{}'), {
        remoteAddress: null,
        arrivedHr: 0,
      }),
    ).rejects.toThrow('not running');
  });
});

describe('broker: packets too large to buffer', () => {
  let edge: Edge | undefined;
  afterEach(async () => {
    await edge?.close();
    edge = undefined;
  });

  it('closes a connection whose packet announces more than the frame limit, before buffering it, and keeps serving', async () => {
    edge = await startEdge({ edge: { maxFrameBytes: 64 * 1024 } });
    const big = await edge.connect('btn-001');
    const gone = new Promise<void>((resolve) => big.once('close', () => resolve()));
    big.publish('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1, pad: 'x'.repeat(2 * 1024 * 1024) }), { qos: 1 });
    await gone;
    expect(edge.seen.signals).toEqual([]);
    // 17 KiB is below the frame limit: acknowledged and rejected as payload_too_large.
    const next = await edge.connect('btn-002');
    await publishQos1(next, 'care/v1/btn-002/event', JSON.stringify({ type: 'sos', seq: 1, pad: 'x'.repeat(17 * 1024) }));
    await publishQos1(next, 'care/v1/btn-002/event', JSON.stringify({ type: 'sos', seq: 2 }));
    expect(edge.ingest.healthOf('btn-002')?.lastRejection?.reason).toBe('payload_too_large');
    expect(edge.seen.signals.map((s) => [s.deviceId, s.seq])).toEqual([['btn-002', 2]]);
  });
});
