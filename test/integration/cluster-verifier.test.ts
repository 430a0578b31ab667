// Two gateway nodes on one PostgreSQL and one Redis: the secret a device proved to one node is found by the other when it moves there.
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { VERIFIED_KEY_PREFIX } from '../../gateway/broker/shared-verifier.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { connectOnlineDevice, SIM_SID, SIM_TOKEN, startPostgresTestGateway, type TestGateway } from '../helpers/gateway.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

describe('the secret cache of a cluster (REDIS_URL)', () => {
  let pgFixture: PostgresFixture;
  let redis: RedisServer;
  let sms: TwilioSimServer;
  const nodes: TestGateway<Gateway>[] = [];
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    [pgFixture, redis] = await Promise.all([PostgresFixture.start(), RedisServer.start()]);
    sms = new TwilioSimServer({ accountSid: SIM_SID, authToken: SIM_TOKEN });
    await sms.start({ port: 0 });
  });
  afterAll(async () => {
    await sms.stop();
    await Promise.all([pgFixture.stop(), redis.stop()]);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    for (const n of nodes.splice(0)) await n.stop();
  });

  it('stores what node A verified under the device id, and node B admits the moved device on that entry (a hit in its metrics), refreshing it', async () => {
    const url = await pgFixture.freshUrl();
    const clock = new ManualClock(shanghaiLast(4, 10));
    for (const id of ['node-a', 'node-b']) {
      const env = { REDIS_URL: redis.url, GATEWAY_NODE_ID: id, CLUSTER_HEARTBEAT_MS: '200' };
      nodes.push(await startPostgresTestGateway(url, { clock, sms, env }));
    }
    const [a, b] = nodes;
    if (!a || !b) throw new Error('nodes did not start');
    const r = redis.client();
    try {
      const key = VERIFIED_KEY_PREFIX + 'btn-001';
      expect(await r.get(key)).toBeNull();
      const first = await connectOnlineDevice(a.mqttUrl, 'btn-001', 's3cret-btn-001');
      clients.push(first);
      const entry = await waitFor('node A to share the verified secret', () => r.get(key));
      expect(entry).not.toContain('s3cret');
      await first.endAsync(true);

      // Node B reads the entry (GETEX starts its time again) and admits on it: a hit, so no scrypt on B.
      await r.pexpire(key, 60_000);
      const moved = await connectOnlineDevice(b.mqttUrl, 'btn-001', 's3cret-btn-001');
      clients.push(moved);
      expect(moved.connected).toBe(true);
      expect(await r.pttl(key)).toBeGreaterThan(24 * 3600_000);
      expect(await r.get(key)).toBe(entry);
      const metrics = await (await fetch(`${b.httpUrl}/metrics`)).text();
      expect(metrics).toContain('device_secret_cache_lookups_total{outcome="hit"} 1');
    } finally {
      await r.quit();
    }
  });
});
