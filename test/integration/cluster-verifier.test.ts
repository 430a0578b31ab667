// Two gateway nodes on one PostgreSQL and one Redis: the secret a device proved to one node is found by the other when it moves there.
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { VERIFIED_KEY_PREFIX } from '../../gateway/broker/shared-verifier.js';
import { inProcessCluster } from '../helpers/cluster-nodes.js';
import { connectOnlineDevice } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

describe('the secret cache of a cluster (REDIS_URL)', () => {
  const cluster = inProcessCluster();
  const clients: MqttClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });

  it('stores what node A verified under the device id, and node B admits the moved device on that entry (a hit in its metrics), refreshing it', async () => {
    const { a, b } = await cluster.twoNodes();
    const r = cluster.redis.client();
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
