// A node's death in a cluster: `npm start` as node-dead beside an in-process survivor (one PostgreSQL, one Redis); SIGKILL leaves its wills in Redis for the survivor to replay.
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { willSetKey } from '../../gateway/broker/will-store.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { e2eFixture, gatewayAddresses, gatewayEnv, GatewayProcess } from '../helpers/e2e-process.js';
import { connectOnlineDevice, sharedLinkSecretFile, startPostgresTestGateway } from '../helpers/gateway.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const HEARTBEAT_MS = 200;

describe('a cluster node killed (SIGKILL)', () => {
  let pgFixture: PostgresFixture;
  let redis: RedisServer;

  beforeAll(async () => {
    [pgFixture, redis] = await Promise.all([PostgresFixture.start(), RedisServer.start()]);
  });
  afterAll(async () => {
    await Promise.all([pgFixture.stop(), redis.stop()]);
  });

  const device = (mqttUrl: string, id: string, secret: string): Promise<MqttClient> => connectOnlineDevice(mqttUrl, id, secret);

  it('its device reconnects to the survivor and stays online; its replayed wills mark only the device that did not come back offline', async ({
    onTestFinished,
  }) => {
    const { children, sim, dir } = await e2eFixture('care-gw-e2e-cluster-', onTestFinished);
    const url = await pgFixture.freshUrl();
    const cluster = { REDIS_URL: redis.url, CLUSTER_HEARTBEAT_MS: String(HEARTBEAT_MS) };
    const survivor = await startPostgresTestGateway(url, {
      clock: new ManualClock(shanghaiLast(4, 10)),
      env: { ...cluster, GATEWAY_NODE_ID: 'node-b' },
    });
    onTestFinished(() => survivor.stop());
    const addresses = await gatewayAddresses();
    const doomed = children.add(
      new GatewayProcess({
        ...gatewayEnv({ dataDir: dir.path, addresses, twilioApiUrl: sim.url }),
        ...cluster,
        DATABASE_URL: url,
        LINK_SECRET_FILE: sharedLinkSecretFile(),
        GATEWAY_NODE_ID: 'node-dead',
      }).spawn(),
    );
    await doomed.waitForBanner(60_000);

    const clients: MqttClient[] = [];
    onTestFinished(() => Promise.all(clients.map((c) => c.endAsync(true))).then(() => undefined));
    clients.push(await device(addresses.mqttUrl, 'btn-001', 's3cret-btn-001'));
    clients.push(await device(addresses.mqttUrl, 'btn-002', 's3cret-btn-002'));
    const r = redis.client();
    onTestFinished(() => r.quit().then(() => undefined));
    const deadWills = async () => (await r.smembers(willSetKey('node-dead'))).sort();
    expect(await deadWills()).toEqual(['care:will:node-dead:btn-001', 'care:will:node-dead:btn-002']);

    doomed.signalGroup('SIGKILL');
    expect((await doomed.waitForExit()).signal).toBe('SIGKILL');
    // btn-001 comes back through the load balancer, to the survivor; btn-002 does not come back.
    const back = await device(survivor.mqttUrl, 'btn-001', 's3cret-btn-001');
    clients.push(back);
    expect(JSON.parse((await r.hget('care:presence', 'btn-001')) ?? '{}')).toMatchObject({ node: 'node-b' });

    // Three silent heartbeats make node-dead dead to the survivor, which then replays (and removes) its wills.
    await waitFor('the dead node’s wills replayed', async () => (await deadWills()).length === 0, { timeoutMs: 20_000 });
    await waitFor('btn-002 marked offline by its replayed will', () => survivor.gateway.ingest.healthOf('btn-002')?.state === 'offline');
    expect(survivor.gateway.ingest.healthOf('btn-001')?.state).toBe('online');
    expect(survivor.gateway.broker.connectionOf('btn-001')?.connected).toBe(true);

    // The survivor keeps running and taking alarms.
    await back.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    const res = await fetch(`${survivor.httpUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { components: { cluster: unknown } }).components.cluster).toMatchObject({
      status: 'up',
      node: 'node-b',
      devices: 1,
    });
  }, 120_000);
});
