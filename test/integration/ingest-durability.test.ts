import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import type { MqttClient } from 'mqtt';
import { closed, device, refusedCode, startEdge, type Edge } from '../helpers/edge.js';

interface EventRow {
  id: number;
  device_id: string;
  seq: number;
  type: string;
  payload: string;
  device_ts: string | null;
}

/** Reads the events table through a connection of its own, as a restarted gateway would. */
function eventsInFile(file: string): EventRow[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare<[], EventRow>('SELECT id, device_id, seq, type, payload, device_ts FROM events ORDER BY id').all();
  } finally {
    db.close();
  }
}

function publishQos1(client: MqttClient, topic: string, payload: string): Promise<void> {
  return new Promise((resolve, reject) => client.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
}

function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, _stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stderr });
    });
  });
}

describe('ingest: durable record before PUBACK', () => {
  let edge: Edge | undefined;
  afterEach(async () => {
    await edge?.close();
    edge = undefined;
  });

  it('has an sos event in the events table by the time the PUBACK arrives', async () => {
    edge = await startEdge();
    const client = await edge.connect('btn-001');
    const payload = JSON.stringify({ type: 'sos', seq: 41, ts: '2026-11-26T09:59:58+08:00' });
    const rowsAtPuback = await new Promise<EventRow[]>((resolve, reject) => {
      client.publish('care/v1/btn-001/event', payload, { qos: 1 }, (err) => {
        if (err) reject(err);
        // Inside the PUBACK callback, before anything else can run: the row must already be committed.
        else if (edge) resolve(eventsInFile(edge.dbFile));
      });
    });
    expect(rowsAtPuback).toHaveLength(1);
    expect(rowsAtPuback[0]).toMatchObject({ device_id: 'btn-001', seq: 41, type: 'sos', payload, device_ts: '2026-11-26T09:59:58+08:00' });

    expect(edge.seen.signals).toHaveLength(1);
    expect(edge.seen.signals[0]).toMatchObject({
      eventId: rowsAtPuback[0]?.id,
      deviceId: 'btn-001',
      deviceKind: 'sos_button',
      residentId: 'r-001',
      type: 'sos',
      seq: 41,
      deviceTs: '2026-11-26T09:59:58+08:00',
      receivedAt: edge.clock.now(),
      payload: { type: 'sos', seq: 41, ts: '2026-11-26T09:59:58+08:00' },
    });
    expect(typeof edge.seen.signals[0]?.arrivedHr).toBe('number');
    expect(edge.ingest.healthOf('btn-001')).toMatchObject({ state: 'online', lastSeen: edge.clock.now(), remoteAddress: '127.0.0.1' });
  });

  it('records an event sent with Debian mosquitto_pub before it exits, and refuses its wrong password', async () => {
    edge = await startEdge();
    const base = [
      '-h',
      '127.0.0.1',
      '-p',
      String(edge.port),
      '-V',
      'mqttv311',
      '-i',
      'pull-x',
      '-u',
      'pull-x',
      '-t',
      'care/v1/pull-x/event',
      '-q',
      '1',
    ];
    const d = device('btn-002');
    const ok = await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(edge.port),
      '-V',
      'mqttv311',
      '-i',
      d.id,
      '-u',
      d.id,
      '-P',
      d.secret,
      '-t',
      `care/v1/${d.id}/event`,
      '-q',
      '1',
      '-m',
      '{"type":"sos","seq":9}',
    ]);
    expect(ok.code).toBe(0);
    expect(eventsInFile(edge.dbFile).map((r) => [r.device_id, r.seq, r.type])).toEqual([['btn-002', 9, 'sos']]);

    const refused = await run('mosquitto_pub', [...base, '-P', 'nope', '-m', '{"type":"sos","seq":1}']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.toLowerCase()).toContain('bad user name or password');
  });

  it('stores a redelivery (same seq and payload) once and acts on it once', async () => {
    edge = await startEdge();
    const client = await edge.connect('btn-001');
    const payload = JSON.stringify({ type: 'sos', seq: 5 });
    await publishQos1(client, 'care/v1/btn-001/event', payload);
    await publishQos1(client, 'care/v1/btn-001/event', payload);
    // Same seq with different bytes is a different event (a counter reset after a battery change).
    await publishQos1(client, 'care/v1/btn-001/event', JSON.stringify({ type: 'cancel', seq: 5 }));
    expect(eventsInFile(edge.dbFile).map((r) => [r.seq, r.type])).toEqual([
      [5, 'sos'],
      [5, 'cancel'],
    ]);
    expect(edge.seen.signals.map((s) => s.type)).toEqual(['sos', 'cancel']);
    expect(edge.ingest.stats()).toMatchObject({ accepted: 2, duplicates: 1 });

    // Outside the redelivery window (10 minutes by default) the same bytes count as new.
    edge.clock.advance(25 * 60 * 60 * 1000);
    await publishQos1(client, 'care/v1/btn-001/event', payload);
    expect(eventsInFile(edge.dbFile)).toHaveLength(3);
  });

  it('group-commits many concurrent events from many devices into few transactions', async () => {
    edge = await startEdge({ edge: { groupCommit: { maxBatch: 64, maxDelayMs: 5 } } });
    const ids = ['btn-001', 'btn-002', 'fall-001', 'pir-001'];
    const clients = await Promise.all(ids.map((id) => edge!.connect(id)));
    const typeOf: Record<string, string> = { 'btn-001': 'heartbeat', 'btn-002': 'heartbeat', 'fall-001': 'heartbeat', 'pir-001': 'motion' };
    const perDevice = 50;
    await Promise.all(
      clients.flatMap((c, i) =>
        Array.from({ length: perDevice }, (_, seq) => {
          const id = ids[i] ?? '';
          return publishQos1(c, `care/v1/${id}/event`, JSON.stringify({ type: typeOf[id], seq }));
        }),
      ),
    );
    const total = ids.length * perDevice;
    expect(eventsInFile(edge.dbFile)).toHaveLength(total);
    const stats = edge.ingest.stats();
    expect(stats.accepted).toBe(total);
    expect(stats.batchSizes.sum).toBe(total);
    expect(stats.batches).toBeLessThan(total / 4);
    expect(stats.batchSizes.max).toBeGreaterThan(4);
    expect(stats.batchSizes.max).toBeLessThanOrEqual(64);
    expect(edge.seen.signals).toHaveLength(total);
  });

  it('does not acknowledge an event it could not record: the connection closes and the device resends later', async () => {
    edge = await startEdge();
    const client = await edge.connect('btn-001');
    // A real failure of the real store: its database is closed under the running gateway.
    await edge.store.close();
    let acked = false;
    client.publish('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 }, (err) => {
      if (!err) acked = true;
    });
    await closed(client);
    expect(acked).toBe(false);
    expect(edge.ingest.stats().commitFailures).toBe(1);
    expect(edge.seen.signals).toEqual([]);
    // The broker keeps answering: with its database gone it refuses devices as "server unavailable".
    await waitFor('client gone', () => edge?.broker.connectedCount() === 0, { timeoutMs: 2000 });
    const d = device('btn-002');
    expect(await refusedCode(edge.port, { clientId: d.id, username: d.id, password: d.secret })).toBe(3);
  });

  it('drops an implausible device clock from the signal and notes it in the payload', async () => {
    edge = await startEdge();
    const client = await edge.connect('fall-001');
    const future = new Date(edge.clock.now() + 2 * 24 * 3600 * 1000).toISOString();
    const ancient = '2019-01-01T00:00:00Z';
    await publishQos1(client, 'care/v1/fall-001/event', JSON.stringify({ type: 'fall', seq: 1, ts: future, confidence: 0.9 }));
    await publishQos1(client, 'care/v1/fall-001/event', JSON.stringify({ type: 'fall', seq: 2, ts: ancient }));
    const recent = new Date(edge.clock.now() - 60_000).toISOString();
    await publishQos1(client, 'care/v1/fall-001/event', JSON.stringify({ type: 'fall', seq: 3, ts: recent }));
    const [a, b, c] = edge.seen.signals;
    expect(a?.deviceTs).toBeUndefined();
    expect(a?.payload).toMatchObject({ _clockSkew: true, ts: future, confidence: 0.9 });
    expect(b?.deviceTs).toBeUndefined();
    expect(b?.payload._clockSkew).toBe(true);
    expect(c?.deviceTs).toBe(recent);
    expect(c?.payload._clockSkew).toBeUndefined();
    expect(eventsInFile(edge.dbFile).map((r) => r.device_ts)).toEqual([null, null, recent]);
  });
});
