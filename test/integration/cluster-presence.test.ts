// Device presence in a reconnect storm against a real Redis: claims of one turn written together, every one of them kept, and a device whose claim Redis refuses never CONNACKed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { BrokerCluster } from '../../gateway/broker/cluster.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { errorMessage } from '../../gateway/core/errors.js';
import { connectDevice, connectOnlineDevice, startPostgresTestGateway, type TestGateway } from '../helpers/gateway.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { RedisServer } from '../helpers/redis.js';

const DEVICES = 500;

describe('device presence under a reconnect storm', () => {
  let redis: RedisServer;
  let pgFixture: PostgresFixture;
  const nodes: TestGateway<Gateway>[] = [];

  beforeAll(async () => {
    [pgFixture, redis] = await Promise.all([PostgresFixture.start(), RedisServer.start()]);
  });
  afterAll(async () => {
    await Promise.all([pgFixture.stop(), redis.stop()]);
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
    const r = redis.client();
    await r.flushall();
    await r.quit();
  });

  const hsetCalls = async (): Promise<number> => {
    const r = redis.client();
    try {
      const m = /cmdstat_hset:calls=(\d+)/.exec(await r.info('commandstats'));
      return Number(m?.[1] ?? 0);
    } finally {
      await r.quit();
    }
  };

  it('writes the claims made in one turn as one HSET, and every device is held under its own session', async () => {
    const cluster = new BrokerCluster({
      config: { redisUrl: redis.url, nodeId: 'node-b', heartbeatMs: 60_000 },
      clock: new ManualClock(1_700_000_000_000),
      log: silentLogger(),
    });
    await cluster.open({ onWill: () => Promise.resolve(), onReconnect: () => undefined });
    try {
      const before = await hsetCalls();
      // As many CONNECTs finishing authentication in one turn of the event loop as a failover brings at once.
      await Promise.all(Array.from({ length: DEVICES }, (_, i) => cluster.claim(`dev-${i}`, `session-${i}`)));
      expect(await hsetCalls()).toBe(before + 1);
      for (const i of [0, 1, DEVICES / 2, DEVICES - 1]) {
        expect(await cluster.holderOf(`dev-${i}`)).toEqual({ node: 'node-b', session: `session-${i}`, since: 1_700_000_000_000 });
      }
      const r = redis.client();
      try {
        expect(await r.hlen('care:presence')).toBe(DEVICES);
      } finally {
        await r.quit();
      }
      // The same device claimed twice in one turn: the later claim holds it, as it would one after the other.
      await Promise.all([cluster.claim('dev-0', 'older'), cluster.claim('dev-0', 'newer')]);
      expect((await cluster.holderOf('dev-0'))?.session).toBe('newer');
    } finally {
      await cluster.close();
    }
  });

  it('refuses the CONNECT (server unavailable) of a device whose presence Redis will not take, and lets it in once it can', async () => {
    const url = await pgFixture.freshUrl();
    const node = await startPostgresTestGateway(url, {
      env: { REDIS_URL: redis.url, GATEWAY_NODE_ID: 'node-a', CLUSTER_HEARTBEAT_MS: '200' },
    });
    nodes.push(node);
    // The presence hash replaced by a string: every HSET on it fails (WRONGTYPE) while the rest of Redis works.
    const r = redis.client();
    try {
      await r.del('care:presence');
      await r.set('care:presence', 'not a hash');
      const refused = await connectDevice(node.mqttUrl, 'btn-001', 's3cret-btn-001').then(
        async (c) => {
          await c.endAsync(true);
          return 'CONNACKed';
        },
        (err: unknown) => (err instanceof Error && 'code' in err && typeof err.code === 'number' ? err.code : errorMessage(err)),
      );
      expect(refused).toBe(3);
      expect(node.gateway.broker.deviceCount()).toBe(0);
      expect(node.gateway.broker.connectionOf('btn-001')?.connected ?? false).toBe(false);

      await r.del('care:presence');
      const client = await connectOnlineDevice(node.mqttUrl, 'btn-001', 's3cret-btn-001');
      try {
        expect(JSON.parse((await r.hget('care:presence', 'btn-001')) ?? 'null')).toMatchObject({ node: 'node-a' });
        expect(node.gateway.broker.deviceCount()).toBe(1);
      } finally {
        await client.endAsync(true);
      }
    } finally {
      await r.quit();
    }
  });
});
