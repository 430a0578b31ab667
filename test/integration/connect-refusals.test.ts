// Every refused CONNECT is counted by reason in /metrics (mqtt_connects_refused_total), so an operator tells a device's
// own fault (bad secret, wrong id) from the gateway's (CONNACK 3: a Redis that does not take the presence claim, a
// PostgreSQL past its bound), with real parts: SQLite, PostgreSQL and Redis, the last two behind a cuttable proxy.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { errorMessage } from '../../gateway/core/errors.js';
import { readCounterByLabel } from '../../bench/lib/prometheus.js';
import { CuttableProxy } from '../helpers/cuttable-proxy.js';
import { connectDevice, startPostgresTestGateway, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { RedisServer } from '../helpers/redis.js';

/** The node's bound on one PostgreSQL round trip in this test (the default is 5 s). */
const BOUND_MS = 2000;
/** What a loaded two-core host may add to a bound before the node acts on it. */
const SLACK_MS = 4000;

/** The CONNACK return code of a refused CONNECT, or 'CONNACKed' (the client is closed again). */
async function connackOf(mqttUrl: string, id: string, username: string, secret: string): Promise<number | string> {
  return connectDevice(mqttUrl, id, secret, { username, connectTimeout: 30_000 }).then(
    async (c) => {
      await c.endAsync(true);
      return 'CONNACKed';
    },
    (err: unknown) => (err instanceof Error && 'code' in err && typeof err.code === 'number' ? err.code : errorMessage(err)),
  );
}

async function refusals(node: Pick<TestGateway<Gateway>, 'httpUrl'>): Promise<Record<string, number>> {
  const text = await (await fetch(`${node.httpUrl}/metrics`, { headers: { connection: 'close' } })).text();
  return readCounterByLabel(text, 'mqtt_connects_refused_total', 'reason');
}

describe('CONNECT refusals by reason', () => {
  const nodes: TestGateway<Gateway>[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
  });

  it("counts a device's own faults: a wrong secret (CONNACK 4) and a client id that is not its username (5)", async () => {
    const node = await startTestGateway();
    nodes.push(node);
    expect(await connackOf(node.mqttUrl, 'btn-001', 'btn-001', 'not-the-secret')).toBe(4);
    expect(await connackOf(node.mqttUrl, 'btn-001', 'btn-002', 's3cret-btn-002')).toBe(5);
    expect(await connackOf(node.mqttUrl, 'btn-001', 'btn-001', 's3cret-btn-001')).toBe('CONNACKed');
    expect(await refusals(node)).toEqual({ bad_credentials: 1, not_authorized: 1 });
  });

  describe('on PostgreSQL and Redis behind a cuttable proxy', () => {
    let pgFixture: PostgresFixture;
    let redis: RedisServer;
    let pgProxy: CuttableProxy;
    let redisProxy: CuttableProxy;

    beforeAll(async () => {
      [pgFixture, redis] = await Promise.all([PostgresFixture.start(), RedisServer.start()]);
      [pgProxy, redisProxy] = await Promise.all([CuttableProxy.start(pgFixture.server.port), CuttableProxy.start(redis.port)]);
    });
    afterAll(async () => {
      await Promise.all([pgProxy.stop(), redisProxy.stop()]);
      await Promise.all([pgFixture.stop(), redis.stop()]);
    });
    afterEach(async () => {
      pgProxy.mend();
      redisProxy.mend();
      for (const n of nodes.splice(0)) await n.stop();
      const r = redis.client();
      await r.flushall();
      await r.quit();
    });

    const startNode = async (): Promise<TestGateway<Gateway>> => {
      const node = await startPostgresTestGateway(pgProxy.urlFor(await pgFixture.freshUrl()), {
        sharedWork: { queryTimeoutMs: BOUND_MS },
        env: { REDIS_URL: redisProxy.urlFor(redis.url), GATEWAY_NODE_ID: 'node-a', CLUSTER_HEARTBEAT_MS: '200' },
      });
      nodes.push(node);
      return node;
    };

    it('counts presence_unclaimed when Redis stops answering, and lets the device in once it answers again', async () => {
      const node = await startNode();
      redisProxy.cutOff();
      const asked = Date.now();
      expect(await connackOf(node.mqttUrl, 'btn-001', 'btn-001', 's3cret-btn-001')).toBe(3);
      // Refused at the claim's 2 s bound, not at the client's 30 s connect time-out.
      expect(Date.now() - asked).toBeLessThan(2000 + SLACK_MS);
      expect(node.gateway.broker.deviceCount()).toBe(0);
      expect(await refusals(node)).toEqual({ presence_unclaimed: 1 });

      redisProxy.mend();
      expect(await connackOf(node.mqttUrl, 'btn-001', 'btn-001', 's3cret-btn-001')).toBe('CONNACKed');
      expect(await refusals(node)).toEqual({ presence_unclaimed: 1 });
    }, 60_000);

    it('counts internal_error when the registry read of a CONNECT passes its PostgreSQL bound', async () => {
      const node = await startNode();
      pgProxy.cutOff();
      const asked = Date.now();
      // btn-002 was never read since start, so its CONNECT reads PostgreSQL, which no longer answers.
      expect(await connackOf(node.mqttUrl, 'btn-002', 'btn-002', 's3cret-btn-002')).toBe(3);
      expect(Date.now() - asked).toBeLessThan(BOUND_MS + SLACK_MS);
      expect(await refusals(node)).toEqual({ internal_error: 1 });

      pgProxy.mend();
      expect(await connackOf(node.mqttUrl, 'btn-002', 'btn-002', 's3cret-btn-002')).toBe('CONNACKed');
      expect(await refusals(node)).toEqual({ internal_error: 1 });
    }, 60_000);
  });
});
