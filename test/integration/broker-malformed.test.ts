// Malformed MQTT at the broker, written as raw bytes where mqtt.js would refuse to: oversized packets, bad topic strings, a protocol name that contradicts its level.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { connect, type Socket } from 'node:net';
import Database from 'better-sqlite3';
import { closed, device, startEdge, type Edge } from '../helpers/edge.js';

/** A raw TCP client that keeps every byte the broker sent. */
interface Raw {
  socket: Socket;
  bytes(): Buffer;
  closed: Promise<void>;
}

function rawClient(port: number): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => void chunks.push(c));
    const done = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve({ socket, bytes: () => Buffer.concat(chunks), closed: done });
    });
  });
}

function str(v: string | Buffer): Buffer {
  const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

function packet(typeAndFlags: number, body: Buffer): Buffer {
  // Remaining length as MQTT's variable-length integer.
  const len: number[] = [];
  let n = body.length;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    len.push(b);
  } while (n > 0);
  return Buffer.concat([Buffer.from([typeAndFlags, ...len]), body]);
}

/** CONNECT with clean session, user name and password, under the given protocol name and level. */
function connectPacket(id: string, secret: string, protocolName = 'MQTT', level = 4): Buffer {
  return packet(0x10, Buffer.concat([str(protocolName), Buffer.from([level, 0xc2, 0, 60]), str(id), str(id), str(secret)]));
}

/** PUBLISH at QoS 1 (packet id 1) with the topic as raw bytes. */
function publishPacket(topic: Buffer, payload: string): Buffer {
  return packet(0x32, Buffer.concat([str(topic), Buffer.from([0, 1]), Buffer.from(payload, 'utf8')]));
}

const CONNACK_ACCEPTED = Buffer.from([0x20, 2, 0, 0]);
const CONNACK_UNACCEPTABLE_VERSION = Buffer.from([0x20, 2, 0, 1]);

async function connectedRaw(edge: Edge, id: string): Promise<Raw> {
  const raw = await rawClient(edge.port);
  raw.socket.write(connectPacket(id, device(id).secret));
  await waitFor('CONNACK', () => raw.bytes().length >= 4, { timeoutMs: 3000 });
  expect(raw.bytes()).toEqual(CONNACK_ACCEPTED);
  return raw;
}

describe('broker: malformed MQTT', () => {
  let edge: Edge | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await edge?.close();
    edge = undefined;
  });

  it('records a 10 MB PUBLISH on the device health record, with its reason and topic, before the connection is closed', async () => {
    edge = await startEdge();
    const client = await edge.connect('btn-001');
    client.publish('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1, pad: 'x'.repeat(10 * 1024 * 1024) }), { qos: 1 });
    await closed(client);
    expect(edge.seen.signals).toEqual([]);
    expect(edge.ingest.healthOf('btn-001')).toMatchObject({ lastRejection: { reason: 'payload_too_large' }, rejectedCount: 1 });
    expect(edge.ingest.healthOf('btn-001')?.lastRejection?.detail).toContain('connection closed');
    expect(edge.seen.rejections).toMatchObject([{ deviceId: 'btn-001', topic: 'care/v1/btn-001/event', reason: 'payload_too_large' }]);
    await edge.ingest.flush();
    const db = new Database(edge.dbFile, { readonly: true });
    try {
      expect(db.prepare('SELECT device_id, reason FROM rejections').all()).toEqual([{ device_id: 'btn-001', reason: 'payload_too_large' }]);
    } finally {
      db.close();
    }
  });

  it.each([
    ['invalid UTF-8', Buffer.concat([Buffer.from('care/v1/btn-001/'), Buffer.from([0xff, 0xfe]), Buffer.from('event')])],
    ['U+0000', Buffer.from('care/v1/btn-001/event\u0000', 'utf8')],
  ])('closes the connection without PUBACK on a topic with %s, and records a security event', async (_what, topic) => {
    edge = await startEdge();
    const raw = await connectedRaw(edge, 'btn-001');
    sockets.push(raw.socket);
    raw.socket.write(publishPacket(topic, JSON.stringify({ type: 'sos', seq: 1 })));
    await raw.closed;
    // Nothing after the CONNACK: no PUBACK (0x40).
    expect(raw.bytes()).toEqual(CONNACK_ACCEPTED);
    expect(edge.seen.signals).toEqual([]);
    expect(edge.seen.rejections).toEqual([]);
    expect(edge.seen.security).toMatchObject([{ kind: 'malformed_topic', deviceId: 'btn-001' }]);
    await waitFor('the stored security event', async () => (await edge?.store.security.list(10))?.length === 1, { timeoutMs: 3000 });
  });

  it('refuses protocol name "MQTT" at level 3 with CONNACK 1, and takes MQTT 3.1 ("MQIsdp", level 3)', async () => {
    edge = await startEdge();
    const wrong = await rawClient(edge.port);
    sockets.push(wrong.socket);
    wrong.socket.write(connectPacket('btn-001', device('btn-001').secret, 'MQTT', 3));
    await wrong.closed;
    expect(wrong.bytes()).toEqual(CONNACK_UNACCEPTABLE_VERSION);

    const v31 = await rawClient(edge.port);
    sockets.push(v31.socket);
    v31.socket.write(connectPacket('btn-001', device('btn-001').secret, 'MQIsdp', 3));
    await waitFor('CONNACK', () => v31.bytes().length >= 4, { timeoutMs: 3000 });
    expect(v31.bytes()).toEqual(CONNACK_ACCEPTED);
    v31.socket.write(publishPacket(Buffer.from('care/v1/btn-001/event'), JSON.stringify({ type: 'sos', seq: 1 })));
    await waitFor('the sos', () => edge?.seen.signals.length === 1, { timeoutMs: 3000 });
    await waitFor('PUBACK', () => v31.bytes().length >= 8, { timeoutMs: 3000 });
    expect(v31.bytes().subarray(4)).toEqual(Buffer.from([0x40, 2, 0, 1]));
  });
});
