// Two gateway nodes in this process sharing one PostgreSQL and one Redis: downlinks across nodes, /healthz per node, a Redis restart mid-run, a device flapping between nodes.
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { inProcessCluster, type ClusterNode } from '../helpers/cluster-nodes.js';
import { API_TOKEN, connectOnlineDevice } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

const W1 = '+8613900000001';
const HEARTBEAT_MS = 200;

interface Health {
  status: number;
  components: { cluster?: { status: string; node: string; devices: number; detail?: string }; database: { status: string } };
}

describe('the cluster broker (REDIS_URL)', () => {
  const cluster = inProcessCluster({ heartbeatMs: HEARTBEAT_MS, emptyRedisEachTest: true });
  const clients: MqttClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });

  /** A device as the fixtures behave: its will is a retained `offline`, and it says `online` once connected. */
  const device = async (node: ClusterNode, id = 'btn-001', secret = 's3cret-btn-001', extra: IClientOptions = {}) => {
    const client = await connectOnlineDevice(node.mqttUrl, id, secret, extra);
    clients.push(client);
    return client;
  };

  const health = async (node: ClusterNode): Promise<Health> => {
    const res = await fetch(`${node.httpUrl}/healthz`);
    const body = (await res.json()) as Omit<Health, 'status'>;
    return { status: res.status, components: body.components };
  };

  const presenceOf = async (deviceId: string): Promise<{ node: string; session: string } | null> => {
    const r = cluster.redis.client();
    try {
      const raw = await r.hget('care:presence', deviceId);
      return raw === null ? null : (JSON.parse(raw) as { node: string; session: string });
    } finally {
      await r.quit();
    }
  };

  it('carries a downlink from node A to a device on node B, and each node names itself, Redis and its devices in /healthz', async () => {
    const { a, b } = await cluster.twoNodes();
    const button = await device(b);
    await button.subscribeAsync('care/v1/btn-001/command', { qos: 1 });
    const received = new Promise<string>((resolve) => button.on('message', (_topic, payload) => resolve(payload.toString())));

    await a.gateway.broker.publishCommand('btn-001', { type: 'alarm_received', incident: 'inc-1' });
    expect(JSON.parse(await received)).toMatchObject({ type: 'alarm_received', incident: 'inc-1' });

    const [ha, hb] = [await health(a), await health(b)];
    expect(ha.status).toBe(200);
    expect(ha.components.cluster).toMatchObject({ status: 'up', node: 'node-a', devices: 0 });
    expect(hb.components.cluster).toMatchObject({ status: 'up', node: 'node-b', devices: 1 });
    expect(hb.components.database).toMatchObject({ status: 'up' });
    expect(await presenceOf('btn-001')).toMatchObject({ node: 'node-b' });
  });

  it('survives a Redis restart: /healthz names Redis down (200: alarms are still recorded and paged), then up again', async () => {
    const { a, b } = await cluster.twoNodes();
    const button = await device(a);

    await cluster.redis.kill();
    const down = await waitFor('node A to see Redis down', async () => {
      const h = await health(a);
      return h.components.cluster?.status === 'down' ? h : null;
    });
    expect(down.status).toBe(200);
    expect(down.components.cluster?.detail).toMatch(/Redis unreachable/);

    // The alarm is recorded and paged while Redis is away; its PUBACK may wait for Redis (the message is routed there).
    const puback = button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await cluster.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
    const res = await fetch(`${a.httpUrl}/api/incidents`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(((await res.json()) as IncidentView[]).some((i) => i.resident === 'r-001' && i.state === 'open')).toBe(true);

    await cluster.redis.restart();
    for (const node of [a, b]) {
      await waitFor(
        `${node === a ? 'node A' : 'node B'} to see Redis back`,
        async () => (await health(node)).components.cluster?.status === 'up',
        {
          timeoutMs: 15_000,
        },
      );
    }
    await puback;
    // Redis came back empty: node A claimed its device again.
    await waitFor('btn-001 claimed again by node A', async () => (await presenceOf('btn-001'))?.node === 'node-a');
    // Both nodes still take devices after the restart.
    const other = await device(b, 'btn-002', 's3cret-btn-002');
    await other.publishAsync('care/v1/btn-002/event', JSON.stringify({ type: 'heartbeat', seq: 1 }), { qos: 1 });
    expect((await health(b)).components.cluster).toMatchObject({ status: 'up', devices: 1 });
  });

  it('ends a device that flaps between two nodes online, with exactly one session, on the node it reached last', async () => {
    const { a, b } = await cluster.twoNodes();
    let last: MqttClient | null = null;
    for (const node of [a, b, a, b, a, b]) {
      const before = last;
      last = await device(node);
      // The other node closes its older session (aedes' takeover, carried through Redis), and its will is not acted on.
      if (before) await waitFor('the older session to be closed', () => before.disconnected || !before.connected);
    }
    await waitFor('node A to hold no device', () => a.gateway.broker.deviceCount() === 0);
    expect(b.gateway.broker.deviceCount()).toBe(1);
    expect(last?.connected).toBe(true);
    expect(a.gateway.broker.connectionOf('btn-001')?.connected).toBe(false);
    expect(b.gateway.broker.connectionOf('btn-001')?.connected).toBe(true);
    expect(a.gateway.broker.connectedCount() + b.gateway.broker.connectedCount()).toBe(1);
    expect(await presenceOf('btn-001')).toMatchObject({ node: 'node-b' });
    for (const node of [a, b]) expect(node.gateway.ingest.healthOf('btn-001')?.state).toBe('online');
  });
});
