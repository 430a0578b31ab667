// The replay of a silent node's wills against a real Redis: every stored will, well past the 10,000 aedes-persistence-redis reads, each taken once; a CONNECT's will stored without scanning every will; an earlier release's wills still replayed.
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import redisPersistence from 'aedes-persistence-redis';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerCluster, type ReplayedWill } from '../../gateway/broker/cluster.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { LEGACY_WILLS_KEY, WILL_NODES_KEY, willSetKey } from '../../gateway/broker/will-store.js';
import { RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const WILLS = 10_050;

describe('replaying a silent node’s wills', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  const cluster = (nodeId: string) =>
    new BrokerCluster({ config: { redisUrl: redis.url, nodeId, heartbeatMs: 60_000 }, clock: new ManualClock(0), log: silentLogger() });

  it('hands every will of the dead node to the survivor, past the first 10,000, and leaves none behind', async () => {
    // A node that stored its clients' wills and then went silent: a real aedes on the cluster packages.
    const ghost = cluster('node-ghost');
    const options = await ghost.open({ onWill: () => Promise.resolve(), onReconnect: () => undefined });
    const broker = await Aedes.createBroker(options);
    for (let i = 0; i <= WILLS; i++) {
      const id = i === WILLS ? 'btn-last' : `dev-${i}`;
      await options.persistence.putWill({ id }, { topic: `care/v1/${id}/status`, payload: Buffer.from('offline'), qos: 1, retain: true });
    }
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await ghost.close();

    const survivor = cluster('node-b');
    const replayed: ReplayedWill[] = [];
    await survivor.open({ onWill: (w) => Promise.resolve(void replayed.push(w)), onReconnect: () => undefined });
    try {
      // aedes passes the nodes it still hears from; node-ghost is not among them.
      for await (const will of survivor.replayWills({ 'node-b': Date.now() }))
        throw new Error(`nothing is left for aedes: ${will.clientId}`);
      expect(replayed).toHaveLength(WILLS + 1);
      expect(new Set(replayed.map((w) => w.deviceId)).size).toBe(WILLS + 1);
      expect(replayed.find((w) => w.deviceId === 'btn-last')).toMatchObject({ brokerId: 'node-ghost', topic: 'care/v1/btn-last/status' });
      expect(replayed[0]?.payload.toString()).toBe('offline');
      const r = redis.client();
      try {
        expect(await r.scard(willSetKey('node-ghost'))).toBe(0);
        expect(await r.keys('care:will:*')).toEqual([]);
      } finally {
        await r.quit();
      }
    } finally {
      await survivor.close();
    }
  }, 120_000);

  it('stores each CONNECT’s will with one command (a script: SET and SADD), scanning no list of every will', async () => {
    const node = cluster('node-busy');
    const options = await node.open({ onWill: () => Promise.resolve(), onReconnect: () => undefined });
    const broker = await Aedes.createBroker(options);
    const server = createServer((socket) => broker.handle(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const r = redis.client();
    const devices = 50;
    const clients: mqtt.MqttClient[] = [];
    try {
      const before = await commandCalls(r);
      const connected = await Promise.all(
        Array.from({ length: devices }, (_, i) =>
          mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
            clientId: `pir-${i}`,
            reconnectPeriod: 0,
            will: { topic: `care/v1/pir-${i}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
          }),
        ),
      );
      clients.push(...connected);
      const after = await commandCalls(r);
      // aedes-persistence-redis ran LREM over its list of every will twice per CONNECT (O(devices) each on the one
      // Redis thread), and three more commands for a will key that never exists.
      expect(delta(before, after, 'lrem')).toBe(0);
      expect(delta(before, after, 'rpush')).toBe(0);
      expect(delta(before, after, 'set')).toBe(devices);
      // One command per will for ioredis to build and answer; a MULTI of the same was five.
      expect(delta(before, after, 'eval')).toBe(devices);
      expect(delta(before, after, 'multi')).toBe(0);
      expect(await r.scard(willSetKey('node-busy'))).toBe(devices);
      // A clean disconnect removes the will.
      await Promise.all(clients.splice(0).map((c) => c.endAsync()));
      await waitFor('the wills removed', async () => (await r.scard(willSetKey('node-busy'))) === 0);
      expect(await r.keys('care:will:node-busy:*')).toEqual([]);
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await r.quit();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await node.close();
    }
  }, 60_000);

  it('lists the node again with its next will after Redis lost everything, so its wills can still be replayed', async () => {
    const node = cluster('node-keep');
    const options = await node.open({ onWill: () => Promise.resolve(), onReconnect: () => undefined });
    const r = redis.client();
    const will = { topic: 'care/v1/btn-1/status', payload: Buffer.from('offline'), qos: 1, retain: true };
    try {
      await options.persistence.putWill({ id: 'btn-1' }, will);
      expect(await r.smembers(WILL_NODES_KEY)).toContain('node-keep');
      await r.flushall(); // a Redis restarted without persistence
      await options.persistence.putWill({ id: 'btn-2' }, { ...will, topic: 'care/v1/btn-2/status' });
      expect(await r.smembers(WILL_NODES_KEY)).toContain('node-keep');
      expect(await r.smembers(willSetKey('node-keep'))).toEqual(['care:will:node-keep:btn-2']);
    } finally {
      await r.flushall();
      await r.quit();
      await node.close();
    }
  });

  it('replays the wills an earlier release stored in aedes-persistence-redis’ own list', async () => {
    // A node of the earlier release: aedes on the persistence as shipped, its wills in the list `will`, msgpack-encoded.
    const ghostConn = redis.client();
    const persistence = redisPersistence({ conn: ghostConn });
    const ghost = await Aedes.createBroker({ id: 'node-old', persistence });
    await persistence.putWill(
      { id: 'btn-old' },
      { topic: 'care/v1/btn-old/status', payload: Buffer.from('offline'), qos: 1, retain: true },
    );
    await new Promise<void>((resolve) => ghost.close(() => resolve()));
    ghostConn.disconnect();
    const r = redis.client();
    expect(await r.lrange(LEGACY_WILLS_KEY, 0, -1)).toEqual(['will:node-old:btn-old']);

    const survivor = cluster('node-new');
    const replayed: ReplayedWill[] = [];
    await survivor.open({ onWill: (w) => Promise.resolve(void replayed.push(w)), onReconnect: () => undefined });
    try {
      for await (const will of survivor.replayWills({ 'node-new': Date.now() })) throw new Error(`nothing for aedes: ${will.clientId}`);
      expect(replayed).toHaveLength(1);
      expect(replayed[0]).toMatchObject({ deviceId: 'btn-old', brokerId: 'node-old', topic: 'care/v1/btn-old/status' });
      expect(replayed[0]?.payload.toString()).toBe('offline');
      expect(await r.llen(LEGACY_WILLS_KEY)).toBe(0);
    } finally {
      await r.quit();
      await survivor.close();
    }
  }, 60_000);
});

async function commandCalls(r: ReturnType<RedisServer['client']>): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const line of (await r.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m?.[1] && m[2]) calls.set(m[1], Number(m[2]));
  }
  return calls;
}

function delta(before: Map<string, number>, after: Map<string, number>, cmd: string): number {
  return (after.get(cmd) ?? 0) - (before.get(cmd) ?? 0);
}
