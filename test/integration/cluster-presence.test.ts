// Device presence in a reconnect storm against a real Redis: claims of one turn written together, every one of them kept, and a device whose claim Redis refuses never CONNACKed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { BrokerCluster } from '../../gateway/broker/cluster.js';
import { handleReplayedWill } from '../../gateway/broker/cluster-sessions.js';
import type { Device } from '../../gateway/core/types.js';
import type { IngestMeta } from '../../gateway/ingest/ingest.js';
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

  /** Node B's link to Redis, opened (as a gateway node opens it at start). */
  const openCluster = async (opts: { clock?: ManualClock; lookupTimeoutMs?: number } = {}): Promise<BrokerCluster> => {
    const cluster = new BrokerCluster({
      config: { redisUrl: redis.url, nodeId: 'node-b', heartbeatMs: 60_000 },
      clock: opts.clock ?? new ManualClock(1_700_000_000_000),
      log: silentLogger(),
      ...(opts.lookupTimeoutMs !== undefined ? { lookupTimeoutMs: opts.lookupTimeoutMs } : {}),
    });
    await cluster.open({ onWill: () => Promise.resolve(), onReconnect: () => undefined });
    return cluster;
  };

  it('writes the claims made in one turn as one HSET, and every device is held under its own session', async () => {
    const cluster = await openCluster();
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

  it('releases the presence of devices that closed in one turn in one script, each only while its session still holds it', async () => {
    const cluster = await openCluster();
    const evalCalls = async (): Promise<number> => {
      const r = redis.client();
      try {
        return Number(/cmdstat_eval:calls=(\d+)/.exec(await r.info('commandstats'))?.[1] ?? 0);
      } finally {
        await r.quit();
      }
    };
    try {
      await Promise.all(Array.from({ length: DEVICES }, (_, i) => cluster.claim(`dev-${i}`, `session-${i}`)));
      // dev-7 reconnected meanwhile (here or on another node): its newer session must stay.
      await cluster.claim('dev-7', 'newer');
      const before = await evalCalls();
      // A node's devices closing at once (a balancer restarting): each closed session released.
      await Promise.all(Array.from({ length: DEVICES }, (_, i) => cluster.release(`dev-${i}`, `session-${i}`)));
      expect(await evalCalls()).toBe(before + 1);
      expect(await cluster.holderOf('dev-0')).toBeNull();
      expect(await cluster.holderOf(`dev-${DEVICES - 1}`)).toBeNull();
      expect((await cluster.holderOf('dev-7'))?.session).toBe('newer');
    } finally {
      await cluster.close();
    }
  });

  it("takes Redis' answer that came within the bound though the event loop was stalled past it", async () => {
    const cluster = await openCluster({ lookupTimeoutMs: 100 });
    try {
      await cluster.claim('dev-1', 'session-1');
      const asked = cluster.holderOf('dev-1');
      // Once the question is on the wire (its write leaves at the end of this turn), the node is busy for 300 ms: the
      // answer arrives meanwhile and waits unread, while the 100 ms time-out expires.
      process.nextTick(() =>
        process.nextTick(() => {
          const until = Date.now() + 300;
          while (Date.now() < until);
        }),
      );
      expect((await asked)?.session).toBe('session-1');
    } finally {
      await cluster.close();
    }
  });

  it('answers a replayed will of a device back on a live node from presence alone, and reads the registry only for one nobody holds', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const cluster = await openCluster({ clock });
    const devices = new Map<string, Device>();
    for (const id of ['btn-001', 'btn-002']) devices.set(id, { id, kind: 'sos_button', resident: 'r-001', secretHash: 'scrypt$x' });
    const registryReads: string[] = [];
    const handled: { deviceId: string; will: boolean; payload: string }[] = [];
    const deps = {
      cluster,
      registry: {
        getDevice: (id: string) => {
          registryReads.push(id);
          return Promise.resolve(devices.get(id) ?? null);
        },
      },
      ingest: {
        handle: (deviceId: string, _device: Device, _channel: string, payload: Buffer, meta: IngestMeta) => {
          handled.push({ deviceId, will: meta.will === true, payload: payload.toString() });
          return Promise.resolve();
        },
      },
      log: silentLogger(),
    };
    const will = (deviceId: string) => ({
      deviceId,
      brokerId: 'node-dead',
      topic: `care/v1/${deviceId}/status`,
      payload: Buffer.from('offline'),
    });
    try {
      // btn-001 reconnected to this (live) node; btn-002 is held by nobody.
      await cluster.claim('btn-001', 'session-1');
      expect(await handleReplayedWill(deps, will('btn-001'))).toBe('connected_elsewhere');
      expect(registryReads).toEqual([]);
      expect(await handleReplayedWill(deps, will('btn-002'))).toBe('acted');
      expect(registryReads).toEqual(['btn-002']);
      expect(handled).toEqual([{ deviceId: 'btn-002', will: true, payload: 'offline' }]);
      // Not a status topic, or an id the registry does not know: ignored, nothing handled.
      expect(await handleReplayedWill(deps, { ...will('btn-002'), topic: 'care/v1/btn-002/event' })).toBe('not_a_device_status');
      expect(await handleReplayedWill(deps, will('ghost-9'))).toBe('not_a_device_status');
      expect(handled).toHaveLength(1);
    } finally {
      await cluster.close();
    }
  });

  it('does not mark offline a device that comes back while its replayed will is handled (the will read first, the new session after)', async () => {
    const cluster = await openCluster();
    const device: Device = { id: 'pir-06066', kind: 'motion_sensor', resident: 'r-001', secretHash: 'scrypt$x' };
    const handled: string[] = [];
    const deps = {
      cluster,
      registry: {
        // The device reconnects to this live node (its claim, made before its CONNACK) while the will's registry read is
        // under way: the timing of a failover, where the survivors replay wills while devices keep coming back.
        getDevice: async (id: string) => {
          await cluster.claim(id, 'session-back');
          return id === device.id ? device : null;
        },
      },
      ingest: {
        handle: (deviceId: string, _device: Device, _channel: string, payload: Buffer) => {
          handled.push(`${deviceId} ${payload.toString()}`);
          return Promise.resolve();
        },
      },
      log: silentLogger(),
    };
    const r = redis.client();
    try {
      // When the will is replayed, presence still names the dead node's session.
      await r.hset('care:presence', device.id, JSON.stringify({ node: 'node-dead', session: 'session-dead', since: 1 }));
      const outcome = await handleReplayedWill(deps, {
        deviceId: device.id,
        brokerId: 'node-dead',
        topic: `care/v1/${device.id}/status`,
        payload: Buffer.from('offline'),
      });
      expect(handled).toEqual([]);
      expect(outcome).toBe('connected_elsewhere');
      expect(await cluster.holderOf(device.id)).toMatchObject({ node: 'node-b', session: 'session-back' });
    } finally {
      await r.quit();
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
