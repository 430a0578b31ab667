// Two gateway nodes on PostgreSQL and Redis: a Redis restarted empty loses a queued downlink, and the device's state comes back from PostgreSQL.
import { afterEach, describe, expect, it } from 'vitest';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { inProcessCluster, type ClusterNode } from '../helpers/cluster-nodes.js';
import { API_TOKEN } from '../helpers/gateway.js';
import { connectPendant, type Pendant } from '../helpers/pendant.js';
import { waitFor } from '../helpers/wait.js';

const BTN1 = { id: 'btn-001', secret: 's3cret-btn-001' };

describe('device state after Redis restarted empty (cluster)', () => {
  const cluster = inProcessCluster();
  const pendants: Pendant[] = [];

  afterEach(async () => {
    await Promise.all(pendants.splice(0).map((p) => p.client.endAsync(true)));
  });

  const api = async <T>(node: ClusterNode, path: string, method = 'GET'): Promise<T> => {
    const res = await fetch(`${node.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      ...(method === 'POST' ? { body: '{}' } : {}),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };
  const clusterUp = (node: ClusterNode) =>
    waitFor('the node to see Redis up', async () => (await node.gateway.health()).components.cluster?.status === 'up', {
      timeoutMs: 15_000,
    });
  const queuedFor = async (deviceId: string): Promise<number> => {
    const r = cluster.redis.client();
    try {
      return await r.llen(`outgoing:${deviceId}`);
    } finally {
      await r.quit();
    }
  };

  it('sends responder_assigned to a device that reconnects to the other node after the queued one was lost', async () => {
    const { a, b, clock } = await cluster.twoNodes();

    // A pendant with a persistent session on node A raises an alarm, then goes away (a 4G gap).
    const p = await connectPendant(a.mqttUrl, BTN1.id, BTN1.secret, { clean: false });
    pendants.push(p);
    await p.press();
    await p.received(1, 'alarm_received');
    const incident = await waitFor('the open incident', async () =>
      (await api<IncidentView[]>(a, '/api/incidents')).find((i) => i.resident === 'r-001' && i.state === 'open'),
    );
    pendants.splice(0);
    await p.end();
    clock.advance(60_000);

    // Acknowledged meanwhile: "help is coming" waits in the pendant's session in Redis…
    await api(a, `/api/incidents/${incident.id}/ack`, 'POST');
    await waitFor('the command queued in Redis for the pendant', async () => (await queuedFor(BTN1.id)) > 0);
    // …which restarts empty.
    await cluster.redis.restart();
    expect(await queuedFor(BTN1.id)).toBe(0);
    await Promise.all([clusterUp(a), clusterUp(b)]);

    const back = await connectPendant(b.mqttUrl, BTN1.id, BTN1.secret, { clean: false });
    pendants.push(back);
    const [first] = await back.received(1, 'responder_assigned on node B');
    expect(first).toMatchObject({ type: 'responder_assigned', incident: incident.id, resync: true });
    expect(first).toHaveProperty('responder');
  });
});
