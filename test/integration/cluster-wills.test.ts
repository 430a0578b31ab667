// The replay of a silent node's wills against a real Redis: every stored will, well past the 10,000 aedes-persistence-redis reads, each taken once.
import { Aedes } from 'aedes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerCluster, type ReplayedWill } from '../../gateway/broker/cluster.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { RedisServer } from '../helpers/redis.js';

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
        expect(await r.llen('will')).toBe(0);
      } finally {
        await r.quit();
      }
    } finally {
      await survivor.close();
    }
  }, 120_000);
});
