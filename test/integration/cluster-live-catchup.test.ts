// A node whose notices connection is cut: /healthz names it (degraded, still 200), and its dashboards are told to reload once it listens again, so another node's alarm in the gap is not lost to them.
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { PostgresStore } from '../../gateway/storage/postgres/store.js';
import { API_TOKEN, connectDevice, nodeHealth, type TestGateway } from '../helpers/gateway.js';
import { postgresNodes } from '../helpers/cluster-nodes.js';
import { SseReader } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

/** One gauge's value from /metrics. */
async function gauge(node: TestGateway<Gateway>, name: string): Promise<number | null> {
  const text = await (await fetch(`${node.httpUrl}/metrics`, { headers: { connection: 'close' } })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? null : Number(line.slice(name.length + 1));
}

function pgStoreOf(node: TestGateway<Gateway>): PostgresStore {
  const { store } = node.gateway;
  if (!(store instanceof PostgresStore)) throw new Error('the node does not run on PostgreSQL');
  return store;
}

describe('a node whose PostgreSQL notices connection is cut', () => {
  const cluster = postgresNodes();
  const { clients, readers } = cluster;

  it('names it in /healthz (degraded, 200), then tells its dashboards to reload, which shows the SOS node A took in the gap', async () => {
    const url = await cluster.postgres.freshUrl();
    const a = await cluster.start(url, 'node-a');
    // Node B waits 4 s before it tries again: the SOS below falls inside that gap.
    const b = await cluster.start(url, 'node-b', { sharedWork: { noticesRetryMs: { first: 4000, max: 4000 } } });

    const first = await nodeHealth(b);
    expect(first.status).toBe(200);
    expect(first.components.database).toMatchObject({ status: 'up', notices: { state: 'listening', reconnects: 0 } });

    const dashboard = await SseReader.open(`${b.httpUrl}/api/stream`, { authorization: `Bearer ${API_TOKEN}` });
    readers.push(dashboard);
    await waitFor('the stream subscribed', () => b.gateway.live.clientCount() >= 1);

    // The server ends node B's listening session (a restart of a proxy, a network cut, an administrator).
    const notices = pgStoreOf(b).database.notices;
    const pid = notices.backendPid();
    expect(pid).not.toBeNull();
    await pgStoreOf(a).database.query('SELECT pg_terminate_backend($1)', [pid]);
    const cut = await waitFor('node B to name its notices connection down', async () => {
      const h = await nodeHealth(b);
      return h.components.database.notices?.state === 'down' ? h : null;
    });
    // Alarms are still recorded through the pool: the line degrades the component and never makes /healthz 503.
    expect(cut.status).toBe(200);
    expect(cut.components.database.status).toBe('degraded');
    expect(cut.components.database.detail).toMatch(/^notices connection reconnecting since \d{4}-\d\d-\d\dT.*Z \(.+\)/);
    expect(cut.components.database.notices?.lastError).toBeTruthy();
    expect(await gauge(b, 'postgres_notices_listening')).toBe(0);

    const button = await connectDevice(a.mqttUrl, 'btn-001', 's3cret-btn-001');
    clients.push(button);
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    const incidentsOn = async (node: TestGateway<Gateway>): Promise<IncidentView[]> => {
      const res = await fetch(`${node.httpUrl}/api/incidents`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
      return (await res.json()) as IncidentView[];
    };
    const opened = await waitFor('the incident on node A', async () => (await incidentsOn(a)).find((i) => i.resident === 'r-001'));
    // The notice went out while node B did not listen: it never reaches node B.
    expect(notices.status().state).toBe('down');

    const resync = await dashboard.waitFor<{ reason: string }>('resync', () => true, 15_000);
    expect(resync.reason).toBe('cluster');
    // The stream itself never carried the incident; the reload through the API (what the board does on `resync`) has it.
    expect(dashboard.data<IncidentView>('incident').some((v) => v.id === opened.id)).toBe(false);
    expect((await incidentsOn(b)).some((i) => i.id === opened.id && i.state === 'open')).toBe(true);

    const back = await nodeHealth(b);
    expect(back.status).toBe(200);
    expect(back.components.database).toMatchObject({ status: 'up', notices: { state: 'listening', reconnects: 1 } });
    expect(back.components.database.notices?.lastError).toBe(cut.components.database.notices?.lastError);
    expect(await gauge(b, 'postgres_notices_listening')).toBe(1);
    expect(await gauge(b, 'postgres_notices_reconnects')).toBe(1);
  });
});
