// The external-broker client's acknowledgements against a real aedes broker, which reports every PUBACK it gets: messages recorded concurrently, PUBACKs in arrival order and only after each record, none after a failed one, one topic at a time, and a record failing around a reconnect.
import { createServer, type Server } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Aedes, type Client } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { ExternalBrokerClient, type ExternalMessageMeta } from '../../gateway/bridges/external-broker.js';
import { pubackPacket } from '../../gateway/bridges/in-order-acks.js';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { MqttRelay } from '../helpers/mqtt-relay.js';
import { waitFor } from '../helpers/wait.js';

/** One handler call: the test decides when (and whether) its record succeeds. */
interface Call {
  topic: string;
  payload: string;
  meta: ExternalMessageMeta;
  resolve: () => void;
  reject: (err: Error) => void;
}

let broker: Aedes;
let server: Server;
let url: string;
/** The gateway's client reaches the broker through it; the publisher does not. */
let relay: MqttRelay;
let publisher: MqttClient;
let client: ExternalBrokerClient | null = null;
/** Payloads of the PUBLISHes the gateway's client acknowledged, in the order the broker got the PUBACKs. */
let acked: string[];
let calls: Call[];
/**
 * Every PUBLISH the client took, in arrival order, with the connection it came on: the client asks a message's order
 * key as it takes it, so one that waits behind an earlier message of its key is here before it is in `calls`.
 */
let taken: { topic: string; connection: number }[];
/** The broker's side of each connection, by client id. */
const connections = new Map<string, Client>();

const topic = (device: number): string => `application/app-1/device/24e124538b22330${device}/event/up`;
const payloadsOf = (list: readonly Call[]): string[] => list.map((c) => `${c.payload}${c.meta.dup ? '*' : ''}`);
const call = (payload: string, nth = 0): Call => {
  const found = calls.filter((c) => c.payload === payload)[nth];
  if (!found) throw new Error(`no handler call #${nth + 1} for ${payload}`);
  return found;
};
/** The second copy of `old` recorded, then a later message of another device: both acknowledged, in that order. */
async function oldThenNextAcknowledged(): Promise<void> {
  call('old', 1).resolve();
  await waitFor('old acknowledged', () => acked.includes('old'));
  await publisher.publishAsync(topic(2), 'next', { qos: 1 });
  await waitFor('next handed over', () => calls.some((c) => c.payload === 'next'));
  call('next').resolve();
  await waitFor('next acknowledged', () => acked.includes('next'));
  expect(acked).toEqual(['old', 'next']);
}

beforeEach(async () => {
  acked = [];
  calls = [];
  taken = [];
  broker = await Aedes.createBroker();
  broker.on('client', (c) => connections.set(c.id, c));
  broker.on('ack', (packet) => {
    const payload = packet && 'payload' in packet ? packet.payload.toString() : '';
    if (!payload.startsWith('warm-up')) acked.push(payload);
  });
  server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  url = `mqtt://127.0.0.1:${address.port}`;
  relay = await MqttRelay.start(address.port);
  publisher = await mqtt.connectAsync(url, { clientId: 'chirpstack-sim', protocolVersion: 4, reconnectPeriod: 0 });
  client = new ExternalBrokerClient({
    bridgeId: 'cs-1',
    url: relay.url,
    clientId: 'care-gateway-acks',
    topics: ['application/app-1/device/+/event/+'],
    // Warm-up messages are recorded at once; the others wait for the test.
    onMessage: (t, payload, meta) =>
      payload.toString().startsWith('warm-up')
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => calls.push({ topic: t, payload: payload.toString(), meta, resolve, reject })),
    clock: systemClock,
    log: silentLogger(),
    backoff: { minMs: 20, maxMs: 50 },
    orderKey: (t) => {
      taken.push({ topic: t, connection: client?.state().connections ?? 0 });
      return t;
    },
  });
  client.start();
  await waitFor('connected', () => client?.state().connected);
  let warmUps = 0;
  broker.on('ack', (packet) => {
    if (packet && 'payload' in packet && packet.payload.toString().startsWith('warm-up')) warmUps++;
  });
  await waitFor('subscribed', async () => {
    await publisher.publishAsync(topic(9), 'warm-up', { qos: 1 });
    return warmUps > 0;
  });
});

afterEach(async () => {
  await client?.stop();
  client = null;
  await relay?.stop();
  await publisher?.endAsync(true);
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('external broker acknowledgements', () => {
  it('takes the next PUBLISH while earlier ones are still being recorded, and acknowledges each only after its record, in arrival order', async () => {
    for (const n of [1, 2, 3, 4, 5]) await publisher.publishAsync(topic(n), `m${n}`, { qos: 1 });
    // All five reach the handler although none is recorded yet: no message waits for the previous one's disk sync.
    await waitFor('all five handed over', () => calls.length === 5);
    expect(payloadsOf(calls)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);

    // m3 recorded first: its PUBACK may not overtake m1's and m2's. PUBACKs travel in order on one connection, so
    // once m1's has reached the broker, any PUBACK written before it would have too.
    call('m3').resolve();
    call('m1').resolve();
    await waitFor('m1 acknowledged', () => acked.includes('m1'));
    expect(acked).toEqual(['m1']);
    call('m2').resolve();
    await waitFor('m2 and m3 acknowledged', () => acked.length === 3);
    expect(acked).toEqual(['m1', 'm2', 'm3']);
    call('m5').resolve();
    call('m4').resolve();
    await waitFor('all acknowledged', () => acked.length === 5);
    expect(acked).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(client?.state()).toMatchObject({ connections: 1, recordFailures: 0 });
  });

  it('a failed record gets no PUBACK, nor does any message after it; those before it are acknowledged; the broker sends the rest again on the next connection', async () => {
    for (const n of [1, 2, 3]) await publisher.publishAsync(topic(n), `f${n}`, { qos: 1 });
    await waitFor('three handed over', () => calls.length === 3);
    call('f3').resolve();
    call('f2').reject(new Error('recording guard: disk full'));
    call('f1').resolve();
    await waitFor('f1 acknowledged', () => acked.includes('f1'));
    // f3 was recorded, but its PUBACK would overtake f2's, which never comes: both come back (aedes resends
    // without the DUP flag; mosquitto's DUP is in external-broker.test.ts).
    await waitFor('f2 and f3 sent again', () => calls.length === 5, { timeoutMs: 8000 });
    expect(calls.map((c) => c.payload)).toEqual(['f1', 'f2', 'f3', 'f2', 'f3']);
    expect(acked).toEqual(['f1']);
    call('f2', 1).resolve();
    call('f3', 1).resolve();
    await waitFor('f2 and f3 acknowledged', () => acked.length === 3);
    expect(acked).toEqual(['f1', 'f2', 'f3']);
    expect(client?.state()).toMatchObject({ connections: 2, recordFailures: 1, connected: true });
  });

  it('messages of one order key (by default the topic) are handled one at a time, in arrival order, while other keys go on', async () => {
    await publisher.publishAsync(topic(1), 'a1', { qos: 1 });
    await publisher.publishAsync(topic(1), 'a2', { qos: 1 });
    await publisher.publishAsync(topic(2), 'b1', { qos: 1 });
    // b1 arrived after a2: once b1 is handed over, a2 has arrived too, and waits for a1.
    await waitFor('b1 handed over', () => calls.some((c) => c.payload === 'b1'));
    expect(payloadsOf(calls)).toEqual(['a1', 'b1']);
    call('b1').resolve();
    call('a1').resolve();
    await waitFor('a2 handed over', () => calls.length === 3);
    expect(payloadsOf(calls)).toEqual(['a1', 'b1', 'a2']);
    call('a2').resolve();
    await waitFor('all acknowledged', () => acked.length === 3);
    expect(acked).toEqual(['a1', 'a2', 'b1']);
  });

  it('a record that fails after its connection is gone: the copy the broker sends again waits for it, is not taken past it, and is recorded on the next connection', async () => {
    await publisher.publishAsync(topic(1), 'old', { qos: 1 });
    await waitFor('old handed over', () => calls.length === 1);
    // The broker drops the connection while the record is still running; the client reconnects and gets a copy,
    // which waits behind the first (one device's messages in order).
    connections.get('care-gateway-acks')?.close();
    await waitFor('reconnected', () => client?.state().connections === 2 && client.state().connected, { timeoutMs: 8000 });
    // The broker sends the copy after its CONNACK, once it has read the session's queue: wait until the client has
    // taken it. A record failing before that is the next test's case (the copy then is the first of its key, and is
    // recorded on the current connection).
    await waitFor('the copy taken on the new connection', () => taken.some((m) => m.topic === topic(1) && m.connection === 2));
    expect(calls).toHaveLength(1);
    call('old').reject(new Error('recording guard: disk full'));
    // The copy is refused unrecorded (it would overtake the failed one), so this connection is closed too and the
    // broker sends it once more.
    await waitFor('old handed over again', () => calls.length === 2, { timeoutMs: 8000 });
    await oldThenNextAcknowledged();
    expect(client?.state()).toMatchObject({ connections: 3, connected: true, recordFailures: 1 });
  });

  it('a record that fails after its connection is gone, before the broker sends the copy: the copy is recorded on the current connection, which is not refused for it', async () => {
    await publisher.publishAsync(topic(1), 'old', { qos: 1 });
    await waitFor('old handed over', () => calls.length === 1);
    // The broker drops the connection while the record is still running; on the next one, what it sends after the
    // CONNACK (the copy) is held, so the record fails between the two.
    relay.holdAfterConnack();
    connections.get('care-gateway-acks')?.close();
    await waitFor('reconnected', () => client?.state().connections === 2 && client.state().connected, { timeoutMs: 8000 });
    call('old').reject(new Error('recording guard: disk full'));
    await waitFor('the failure noted', () => client?.state().recordFailures === 1);
    expect(taken.filter((m) => m.topic === topic(1)).map((m) => m.connection)).toEqual([1]);
    relay.release();
    // Nothing of its key is before the copy now: it is handed over at once, on this connection, which a failure on
    // the old one must not have refused (nothing would reconnect it, and the copy would wait unrecorded).
    await waitFor('old handed over again', () => calls.length === 2);
    expect(taken.filter((m) => m.topic === topic(1)).map((m) => m.connection)).toEqual([1, 2]);
    await oldThenNextAcknowledged();
    expect(client?.state()).toMatchObject({ connections: 2, connected: true, recordFailures: 1 });
  });

  it('encodes a PUBACK as MQTT does, and refuses a packet id MQTT has not', () => {
    expect([...pubackPacket(1)]).toEqual([0x40, 0x02, 0x00, 0x01]);
    expect([...pubackPacket(0xabcd)]).toEqual([0x40, 0x02, 0xab, 0xcd]);
    expect(() => pubackPacket(0)).toThrow(/invalid MQTT packet id/);
    expect(() => pubackPacket(0x10000)).toThrow(/invalid MQTT packet id/);
  });
});
