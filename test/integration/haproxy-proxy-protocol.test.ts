// Devices behind Debian's HAProxy (the shipped deploy/haproxy/haproxy.cfg, send-proxy-v2): the nodes see each device's own address, lockouts count per real address, forged headers are refused, a 503 node leaves the rotation.
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import type { SecurityEvent } from '../../gateway/core/types.js';
import { startPostgresTestGateway, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { connectFrom, proxyV2Header, signInFrom, startHaproxy, type HaproxyServer } from '../helpers/haproxy.js';
import { PostgresServer } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

/** What the nodes are told: the balancer (haproxy connects to them from 127.0.0.1) may send PROXY headers and X-Forwarded-For. */
const BEHIND_HAPROXY = { MQTT_PROXY_PROTOCOL: 'on', MQTT_PROXY_FROM: '127.0.0.1', TRUST_PROXY: '127.0.0.1' };
/** Two free wrong secrets per (address, device id), then a minute's wait: long enough to see, never reached by a test. */
const AUTH_LIMITS = { freeFailures: 2, windowMs: 10 * 60_000, baseDelayMs: 60_000, maxDelayMs: 60_000, addressFailures: 50 };
const ADMIN = { ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: 'correct-horse-battery' };

describe('devices and browsers behind HAProxy', () => {
  let nodes: TestGateway<Gateway>[] = [];
  let pg: PostgresServer;
  let lb: HaproxyServer;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    pg = await PostgresServer.start();
    const env = { ...BEHIND_HAPROXY, ...ADMIN };
    const edge = { authLimits: AUTH_LIMITS };
    // Nodes 1 and 2 on SQLite, node 3 on a PostgreSQL of its own, so its database can be stopped (its /healthz then 503).
    nodes = [
      await startTestGateway({ env, edge }),
      await startTestGateway({ env, edge }),
      await startPostgresTestGateway(await pg.createDatabase('node3'), { env, edge }),
    ];
    const ports = nodes.map((n) => ({ mqttPort: Number(new URL(n.mqttUrl).port), httpPort: Number(new URL(n.httpUrl).port) }));
    lb = await startHaproxy([ports[0]!, ports[1]!, ports[2]!]);
    await waitFor('haproxy sees all three nodes up', async () => {
      for (const n of [1, 2, 3] as const) if ((await lb.status('gateway_mqtt', n)) !== 'UP') return false;
      return true;
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await lb?.stop();
    for (const n of nodes) await n.stop();
    await pg?.stop().catch(() => undefined);
  }, 60_000);

  const device = async (id: string, from: string, secret = `s3cret-${id}`): Promise<MqttClient> => {
    const client = await connectFrom(lb.mqttUrl, from, { clientId: id, username: id, password: secret });
    clients.push(client);
    return client;
  };
  const holder = (id: string): TestGateway<Gateway> | undefined => nodes.find((n) => n.gateway.broker.connectionOf(id)?.connected);
  const securityEvents = async (): Promise<SecurityEvent[]> =>
    (await Promise.all(nodes.map((n) => n.gateway.store.security.list(1000)))).flat();

  it('records an SOS sent through HAProxy, pages for it, and names the device’s own address', async () => {
    const button = await device('btn-001', '127.0.0.2');
    const node = await waitFor('a node holds btn-001', () => holder('btn-001'));
    expect(node.gateway.broker.connectionOf('btn-001')?.remoteAddress).toBe('127.0.0.2');

    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    const incident = await waitFor('an incident for r-001', async () =>
      (await node.gateway.store.incidents.listActive()).find((i) => i.residentId === 'r-001'),
    );
    expect(incident.type).toBe('sos');
    await waitFor('a page sent to the SMS provider', () => node.sms.messages().length > 0, { timeoutMs: 10_000 });
    await waitFor('the health record names 127.0.0.2', () => node.gateway.ingest.healthOf('btn-001')?.remoteAddress === '127.0.0.2');
  });

  it('locks out the address that guesses, through HAProxy, and not another address signing in as the same device', async () => {
    // One node in rotation, so every guess meets the same counters (several nodes share them only on PostgreSQL).
    await lb.setMaintenance(2, true);
    await lb.setMaintenance(3, true);
    try {
      for (let i = 0; i < 3; i++) {
        await expect(device('btn-002', '127.0.0.3', 'wrong-secret')).rejects.toThrow();
      }
      const node = nodes[0]!;
      await waitFor('127.0.0.3 slowed for btn-002', () => node.gateway.broker.authDelayOf('127.0.0.3', 'btn-002') > 0);
      // The balancer's own address carries no failures: the counters are keyed on the device's address.
      expect(node.gateway.broker.authDelayOf('127.0.0.1', 'btn-002')).toBe(0);
      expect(node.gateway.broker.authDelayOf('127.0.0.4', 'btn-002')).toBe(0);
      const refused = (await securityEvents()).filter((e) => e.kind === 'auth_failed' && e.deviceId === 'btn-002');
      expect(refused.map((e) => e.remoteAddress)).toEqual(['127.0.0.3', '127.0.0.3', '127.0.0.3']);

      // The right secret from another address is let in at once.
      const real = await device('btn-002', '127.0.0.4');
      expect(real.connected).toBe(true);
      expect(node.gateway.broker.connectionOf('btn-002')?.remoteAddress).toBe('127.0.0.4');
    } finally {
      await lb.setMaintenance(2, false);
      await lb.setMaintenance(3, false);
    }
  });

  it('refuses a direct connection that forges a PROXY header, and records who sent it', async () => {
    const node = nodes[1]!;
    const forged = proxyV2Header('10.66.0.7', 40000);
    await expect(
      connectFrom(node.mqttUrl, '127.0.0.5', { clientId: 'btn-003', username: 'btn-003', password: 's3cret-btn-003', preface: forged }),
    ).rejects.toThrow();
    const event = await waitFor('a proxy_header_untrusted event', async () =>
      (await node.gateway.store.security.list(100)).find((e) => e.kind === 'proxy_header_untrusted'),
    );
    expect(event.remoteAddress).toBe('127.0.0.5');
    expect(event.detail).toContain('MQTT_PROXY_FROM');
    expect(node.gateway.broker.connectionOf('btn-003')).toBeNull();
  });

  it('refuses a connection from the balancer’s address that carries no PROXY header', async () => {
    const node = nodes[1]!;
    await expect(
      connectFrom(node.mqttUrl, '127.0.0.1', { clientId: 'btn-003', username: 'btn-003', password: 's3cret-btn-003' }),
    ).rejects.toThrow();
    const event = await waitFor('a proxy_header_missing event', async () =>
      (await node.gateway.store.security.list(100)).find((e) => e.kind === 'proxy_header_missing'),
    );
    expect(event.remoteAddress).toBe('127.0.0.1');
  });

  it('counts HTTP sign-in failures per real address behind HAProxy, whatever X-Forwarded-For the client writes itself', async () => {
    await lb.setMaintenance(2, true);
    await lb.setMaintenance(3, true);
    try {
      // Wrong passwords through HAProxy from 127.0.0.6, each claiming another address in its own X-Forwarded-For.
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push(await signInFrom(lb.httpUrl, '127.0.0.6', 'wrong-password', `10.0.0.${i}`));
      // Five free failures per (address, account), then a wait: the forged addresses did not buy fresh counters.
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(statuses.slice(5)).toEqual([429, 429]);
      // The audit log names the real address, not the one the client wrote.
      const logins = (await nodes[0]!.gateway.store.accounts.listAudit(100)).filter((e) => e.action === 'login');
      expect(logins.filter((e) => e.ip === '127.0.0.6')).toHaveLength(7);
      expect(logins.filter((e) => e.ip?.startsWith('10.'))).toEqual([]);
      // Another address is not held back by them.
      expect(await signInFrom(lb.httpUrl, '127.0.0.7', ADMIN.ADMIN_PASSWORD)).toBe(200);
    } finally {
      await lb.setMaintenance(2, false);
      await lb.setMaintenance(3, false);
    }
  });

  it('takes a node whose /healthz answers 503 out of rotation, and devices then connect to the others', async () => {
    await waitFor('haproxy sees node 3 up again', async () => (await lb.status('gateway_mqtt', 3)) === 'UP');
    await pg.stop();
    const down = await fetch(`${nodes[2]!.httpUrl}/healthz`);
    expect(down.status).toBe(503);
    await waitFor('haproxy marks node 3 down', async () => (await lb.status('gateway_mqtt', 3)) === 'DOWN', { timeoutMs: 10_000 });
    expect(await lb.status('gateway_http', 3)).toBe('DOWN');
    // Node 3 alone would take every new device (it holds none, leastconn); down, it takes none.
    for (const [i, id] of ['btn-001', 'fall-001', 'btn-002'].entries()) {
      for (const c of clients) if (c.options.clientId === id) c.end(true);
      await waitFor(`${id} disconnected`, () => !holder(id));
      await device(id, `127.0.0.${10 + i}`);
      const node = await waitFor(`a node holds ${id}`, () => holder(id));
      expect(node).not.toBe(nodes[2]);
    }
    expect(nodes[2]!.gateway.broker.connectedCount()).toBe(0);
  });
});
