import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import Database from 'better-sqlite3';
import { ErrorWithSubackPacket, type MqttClient } from 'mqtt';
import { closed, startEdge, type Edge } from '../helpers/edge.js';

function eventCount(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM events').get()?.n ?? -1;
  } finally {
    db.close();
  }
}

/** Publishes at QoS 1 and reports whether a PUBACK came back before the connection closed. */
function publishOutcome(client: MqttClient, topic: string, payload: string): Promise<'acked' | 'closed'> {
  return new Promise((resolve) => {
    client.once('close', () => resolve('closed'));
    client.publish(topic, payload, { qos: 1 }, (err) => {
      if (!err) resolve('acked');
    });
  });
}

/** The SUBACK return codes, one per topic (mqtt.js rejects when any is 0x80, so read them from the error). */
async function subackCodes(client: MqttClient, topics: string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(topics, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    if (err instanceof ErrorWithSubackPacket) return err.packet.granted.map((g) => (typeof g === 'number' ? g : -1));
    throw err;
  }
}

describe('device broker: topic ACL, commands and wills', () => {
  let edge: Edge | undefined;
  afterEach(async () => {
    await edge?.close();
    edge = undefined;
  });

  it("closes the connection of a device publishing to another device's topic, records it, and stores nothing", async () => {
    edge = await startEdge();
    const client = await edge.connect('btn-001');
    const outcome = await publishOutcome(client, 'care/v1/btn-002/event', JSON.stringify({ type: 'sos', seq: 1 }));
    expect(outcome).toBe('closed');
    const [event] = await edge.store.security.list(10);
    expect(event).toMatchObject({ kind: 'publish_denied', deviceId: 'btn-001', clientId: 'btn-001', remoteAddress: '127.0.0.1' });
    expect(event?.detail).toContain('care/v1/btn-002/event');
    expect(eventCount(edge.dbFile)).toBe(0);
    expect(edge.seen.signals).toEqual([]);
  });

  it('refuses publishing outside the own prefix or to the own command topic', async () => {
    edge = await startEdge();
    for (const topic of ['$SYS/broker/x', 'care/v2/btn-001/event', 'care/v1/btn-001/command', 'elsewhere']) {
      const client = await edge.connect('btn-001');
      expect(await publishOutcome(client, topic, '{}'), topic).toBe('closed');
    }
    const kinds = (await edge.store.security.list(10)).map((e) => e.kind);
    expect(kinds).toEqual(['publish_denied', 'publish_denied', 'publish_denied', 'publish_denied']);
    expect(eventCount(edge.dbFile)).toBe(0);
  });

  it("negates a subscription to another device's command topic (SUBACK 128) and grants the own one", async () => {
    edge = await startEdge();
    const client = await edge.connect('btn-001');
    expect(await subackCodes(client, ['care/v1/btn-002/command', 'care/v1/#', 'care/v1/btn-001/command'])).toEqual([128, 128, 1]);
    expect(client.connected).toBe(true);
    const events = await edge.store.security.list(10);
    expect(events.map((e) => e.kind)).toEqual(['subscribe_denied', 'subscribe_denied']);
    expect(events.map((e) => e.detail).join(' ')).toContain('care/v1/btn-002/command');
    expect(events[0]).toMatchObject({ deviceId: 'btn-001', remoteAddress: '127.0.0.1' });
  });

  it('delivers publishCommand to the device subscribed to its command topic, and only to it', async () => {
    edge = await startEdge();
    const target = await edge.connect('btn-001');
    const other = await edge.connect('btn-002');
    await target.subscribeAsync('care/v1/btn-001/command', { qos: 1 });
    await other.subscribeAsync('care/v1/btn-002/command', { qos: 1 });
    const received: { topic: string; body: unknown; qos: number }[] = [];
    target.on('message', (topic, payload, packet) => received.push({ topic, body: JSON.parse(payload.toString()), qos: packet.qos }));
    let otherGot = 0;
    other.on('message', () => otherGot++);

    await edge.broker.publishCommand('btn-001', { type: 'responder_assigned', incident: 'inc-1', responder: '李明' });
    await waitFor('command delivered', () => received.length === 1, { timeoutMs: 2000 });
    expect(received[0]).toEqual({
      topic: 'care/v1/btn-001/command',
      body: { type: 'responder_assigned', incident: 'inc-1', responder: '李明' },
      qos: 1,
    });
    expect(otherGot).toBe(0);
  });

  it('marks the device offline through its will when the socket dies', async () => {
    edge = await startEdge();
    const will = { topic: 'care/v1/fall-001/status', payload: Buffer.from('offline'), qos: 1 as const, retain: true };
    const client = await edge.connect('fall-001', { will });
    await client.publishAsync('care/v1/fall-001/status', 'online', { qos: 1, retain: true });
    expect(edge.ingest.healthOf('fall-001')?.state).toBe('online');

    edge.clock.advance(5_000);
    client.stream.destroy();
    await waitFor('offline via will', () => edge?.ingest.healthOf('fall-001')?.state === 'offline', { timeoutMs: 3000 });
    const h = edge.ingest.healthOf('fall-001');
    expect(h?.lastStatusAt).toBe(edge.clock.now());
    // The will is the broker speaking: the device was last heard before that.
    expect(h?.lastSeen).toBe(edge.clock.now() - 5_000);
    expect(edge.seen.status.map((s) => s.state)).toEqual(['online', 'offline']);
  });

  it('ignores the will of a session replaced by a newer connection of the same device', async () => {
    edge = await startEdge();
    const will = { topic: 'care/v1/btn-001/status', payload: Buffer.from('offline'), qos: 1 as const, retain: true };
    const first = await edge.connect('btn-001', { will });
    await first.publishAsync('care/v1/btn-001/status', 'online', { qos: 1 });
    const second = await edge.connect('btn-001', { will });
    await closed(first);
    await second.publishAsync('care/v1/btn-001/telemetry', JSON.stringify({ battery: 80 }), { qos: 1 });
    expect(edge.ingest.healthOf('btn-001')?.state).toBe('online');
    expect(edge.seen.status.map((s) => s.state)).toEqual(['online']);
  });

  it('ends client connections on stop without marking devices offline', async () => {
    edge = await startEdge();
    const will = { topic: 'care/v1/btn-001/status', payload: Buffer.from('offline'), qos: 1 as const, retain: false };
    const client = await edge.connect('btn-001', { will });
    await client.publishAsync('care/v1/btn-001/status', 'online', { qos: 1 });
    const gone = closed(client);
    await edge.broker.stop();
    await gone;
    expect(edge.broker.connectedCount()).toBe(0);
    expect(edge.ingest.healthOf('btn-001')?.state).toBe('online');
  });
});
