// The external-broker client against a real mosquitto: persistent QoS 1 session, PUBACK only after the handler's record, redelivery of what was not acknowledged, reconnect after the broker is killed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import mqtt, { type MqttClient } from 'mqtt';
import {
  ExternalBrokerClient,
  redactUrl,
  type ExternalBrokerState,
  type ExternalMessageMeta,
} from '../../gateway/bridges/external-broker.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { systemClock } from '../../gateway/core/clock.js';
import { startMosquitto, type MosquittoServer } from '../helpers/mosquitto.js';

const GW = { username: 'care-gateway', password: 'gw-pass-0123456789' };
const CS = { username: 'chirpstack', password: 'cs-pass-0123456789' };

let broker: MosquittoServer;
let publisher: MqttClient;
let client: ExternalBrokerClient | null = null;
let clientSeq = 0;

interface Seen {
  payload: string;
  meta: ExternalMessageMeta;
}

function bridgeClient(
  handler: (topic: string, payload: Buffer, meta: ExternalMessageMeta) => Promise<void>,
  states: ExternalBrokerState[] = [],
): ExternalBrokerClient {
  clientSeq++;
  return new ExternalBrokerClient({
    bridgeId: 'cs-1',
    url: broker.url,
    ...GW,
    clientId: `care-gateway-test-${clientSeq}`,
    topics: ['application/app-1/device/+/event/+'],
    onMessage: handler,
    onStateChange: (s) => states.push(s),
    clock: systemClock,
    log: silentLogger(),
    backoff: { minMs: 50, maxMs: 200 },
  });
}

async function connectPublisher(): Promise<MqttClient> {
  return mqtt.connectAsync(broker.url, { ...CS, clientId: 'chirpstack-sim', reconnectPeriod: 100, protocolVersion: 4 });
}

const topic = (n: number): string => `application/app-1/device/24e124538b22331${n}/event/up`;

beforeAll(async () => {
  broker = await startMosquitto([GW, CS]);
  publisher = await connectPublisher();
});

afterEach(async () => {
  await client?.stop();
  client = null;
});

afterAll(async () => {
  await publisher?.endAsync(true);
  await broker?.dispose();
});

describe('external broker client', () => {
  it('connects in the background, subscribes at QoS 1 and reports its state without credentials', async () => {
    const seen: Seen[] = [];
    const states: ExternalBrokerState[] = [];
    client = bridgeClient(async (_t, payload, meta) => {
      seen.push({ payload: payload.toString(), meta });
    }, states);
    client.start();
    await waitFor('connected', () => client?.state().connected);
    // The SUBSCRIBE follows the CONNACK: a message published now may race it, so wait for the first to arrive.
    await waitFor('first message', async () => {
      await publisher.publishAsync(topic(1), 'hello', { qos: 1 });
      return seen.length > 0;
    });
    expect(seen[0]?.payload).toBe('hello');
    expect(client.state()).toMatchObject({
      bridgeId: 'cs-1',
      connected: true,
      connections: 1,
      lastError: null,
      url: `mqtt://127.0.0.1:${broker.port}`,
    });
    expect(states.map((s) => s.connected)).toEqual([true]);
    expect(redactUrl('mqtt://user:secret@host:1884')).toBe('mqtt://host:1884');
  });

  it('refused credentials are named in the state, and retried', async () => {
    client = new ExternalBrokerClient({
      bridgeId: 'cs-bad',
      url: broker.url,
      username: GW.username,
      password: 'wrong-password',
      clientId: 'care-gateway-bad',
      topics: ['application/app-1/device/+/event/+'],
      onMessage: async () => undefined,
      clock: systemClock,
      log: silentLogger(),
      backoff: { minMs: 50, maxMs: 100 },
    });
    client.start();
    const state = await waitFor('an error', () => (client?.state().lastError ? client.state() : null));
    expect(state.connected).toBe(false);
    expect(state.lastError).toMatch(/Not authorized|Bad username or password/i);
  });

  it('a message whose record fails is not acknowledged: the broker sends it again (DUP) on the next connection, and nothing acknowledged comes back', async () => {
    const seen: Seen[] = [];
    let failNext = false;
    client = bridgeClient(async (_t, payload, meta) => {
      seen.push({ payload: payload.toString(), meta });
      if (payload.toString() === 'b' && failNext) {
        failNext = false;
        throw new Error('recording guard: disk full');
      }
    });
    client.start();
    await waitFor('connected', () => client?.state().connected);
    await waitFor('warm-up', async () => {
      await publisher.publishAsync(topic(2), 'warm-up', { qos: 1 });
      return seen.length > 0;
    });
    seen.length = 0;
    failNext = true;
    await publisher.publishAsync(topic(2), 'a', { qos: 1 });
    await publisher.publishAsync(topic(2), 'b', { qos: 1 });
    await waitFor('b redelivered', () => seen.filter((s) => s.payload === 'b').length >= 2, { timeoutMs: 8000 });
    await publisher.publishAsync(topic(2), 'c', { qos: 1 });
    await waitFor('c', () => seen.some((s) => s.payload === 'c'));
    const order = seen.map((s) => `${s.payload}${s.meta.dup ? '*' : ''}`);
    // `a` was recorded and acknowledged: never seen again. `b` failed: sent again, flagged DUP, then recorded.
    expect(order).toEqual(['a', 'b', 'b*', 'c']);
    expect(client.state()).toMatchObject({ recordFailures: 1, connections: 2, connected: true });
    expect(client.state().lastError).toContain('disk full');
  });

  it('the broker killed (SIGKILL) and restarted: the client comes back, and messages queued for its session while it was away are delivered', async () => {
    const seen: Seen[] = [];
    const states: ExternalBrokerState[] = [];
    const clientId = 'care-gateway-persistent';
    const make = (): ExternalBrokerClient =>
      new ExternalBrokerClient({
        bridgeId: 'cs-1',
        url: broker.url,
        ...GW,
        clientId,
        topics: ['application/app-1/device/+/event/+'],
        onMessage: async (_t, payload, meta) => {
          seen.push({ payload: payload.toString(), meta });
        },
        onStateChange: (s) => states.push(s),
        clock: systemClock,
        log: silentLogger(),
        backoff: { minMs: 50, maxMs: 200 },
      });
    client = make();
    client.start();
    await waitFor('connected', () => client?.state().connected);
    await waitFor('before', async () => {
      await publisher.publishAsync(topic(3), 'before', { qos: 1 });
      return seen.length > 0;
    });
    // Away: the session stays on the broker, which queues QoS 1 messages for it (and saves them).
    await client.stop();
    client = null;
    for (const p of ['queued-1', 'queued-2']) await publisher.publishAsync(topic(3), p, { qos: 1 });
    // mosquitto's saves trail its PUBACKs: save first, so what is tested is the client, not that gap.
    await broker.save();
    await broker.kill();
    await broker.start();
    await publisher.endAsync(true);
    publisher = await connectPublisher();
    client = make();
    client.start();
    await waitFor('queued messages', () => seen.some((s) => s.payload === 'queued-2'), { timeoutMs: 8000 });
    expect(seen.map((s) => s.payload).filter((p) => p.startsWith('queued'))).toEqual(['queued-1', 'queued-2']);

    // Killed while connected: the link is reported down, then up again after the restart.
    const before = states.length;
    await broker.kill();
    await waitFor('link down', () => client?.state().connected === false, { timeoutMs: 8000 });
    await broker.start();
    await publisher.endAsync(true);
    publisher = await connectPublisher();
    await waitFor('link back', () => client?.state().connected, { timeoutMs: 8000 });
    expect(states.slice(before).map((s) => s.connected)).toEqual([false, true]);
    await waitFor(
      'after',
      async () => {
        await publisher.publishAsync(topic(3), 'after', { qos: 1 });
        return seen.some((s) => s.payload === 'after');
      },
      { timeoutMs: 8000 },
    );
  });
});
