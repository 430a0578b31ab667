// The demo neighbourhood starts green: with no REGISTRY_FILE the gateway serves a stand-in for ChirpStack's broker, the demo ChirpStack bridge connects to it over MQTT 3.1.1 and an uplink through it raises an incident; a registry file never gets one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parse, stringify } from 'yaml';
import { startTestGateway, freePort, TEST_REGISTRY, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';
import { tempDir } from '../helpers/tmp.js';
import { ensureDemoRegistryFile, DEMO_REGISTRY_FILE } from '../../gateway/registry/demo.js';
import { DemoChirpstackBroker } from '../../gateway/bridges/chirpstack/demo-stand-in.js';
import { ExternalBrokerClient, type ExternalMessageMeta } from '../../gateway/bridges/external-broker.js';
import type { ChirpstackBridge } from '../../gateway/core/bridges.js';
import type { ChirpstackHealth } from '../../gateway/bridges/chirpstack/service.js';
import { ChirpstackPublisher } from '../../simulators/bridges/chirpstack.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { systemClock } from '../../gateway/core/clock.js';

const LORA_BUTTON = { devEui: '70b3d57ed0000001' };

interface Healthz {
  status: string;
  components: { chirpstack: ChirpstackHealth };
}

/**
 * The generated demo registry, as `npm start` writes it, with one change: its ChirpStack bridge's port 1884 becomes a
 * free one, so this test never collides with a demo (or another test) running on the same host.
 */
async function demoDataDir(port: number): Promise<string> {
  const dir = tempDir('care-gw-demo-');
  dirs.push(dir);
  const demo = await ensureDemoRegistryFile(dir.path);
  expect(demo.text).toContain('mqtt://127.0.0.1:1884');
  writeFileSync(join(dir.path, DEMO_REGISTRY_FILE), demo.text.replace('mqtt://127.0.0.1:1884', `mqtt://127.0.0.1:${port}`));
  return dir.path;
}

const dirs: { remove(): void }[] = [];
let t: TestGateway;
let port: number;
let bridge: ChirpstackBridge;

beforeAll(async () => {
  port = await freePort();
  t = await startTestGateway({ dataDir: await demoDataDir(port), env: { REGISTRY_FILE: '' } });
  const found = (await t.gateway.store.registry.listBridges()).find((b): b is ChirpstackBridge => b.kind === 'chirpstack');
  if (!found) throw new Error('the demo registry has no ChirpStack bridge');
  bridge = found;
});

afterAll(async () => {
  await t?.stop();
  for (const d of dirs) d.remove();
});

describe('the demo ChirpStack stand-in', () => {
  it('the demo registry with embedded defaults: /healthz is ok with the ChirpStack bridge connected (MQTT 3.1.1 to the stand-in)', async () => {
    expect(readFileSync(join(t.dataDir, DEMO_REGISTRY_FILE), 'utf8')).toContain(`mqtt://127.0.0.1:${port}`);
    await waitFor('demo bridge connected', () => t.gateway.chirpstack.health().status === 'up', { timeoutMs: 10_000 });
    const res = await fetch(`${t.httpUrl}/healthz`);
    const body = (await res.json()) as Healthz;
    expect(res.status).toBe(200);
    expect(body.components.chirpstack.status).toBe('up');
    expect(body.components.chirpstack.bridges).toEqual([
      expect.objectContaining({ bridgeId: 'cs-andali', connected: true, protocol: '3.1.1', recordFailures: 0 }),
    ]);
    expect(body.status).toBe('ok');
    // The refused MQTT 5 attempt before the 3.1.1 one is no lost link: no outage was ever opened for the bridge.
    expect(t.gateway.store.database.db.prepare<[], { place_key: string }>('SELECT place_key FROM outages').all()).toEqual([]);
  });

  it("an uplink published on the stand-in with the bridge's account (as npm run sim:chirpstack does) reaches an incident", async () => {
    const cs = new ChirpstackPublisher({
      url: `mqtt://127.0.0.1:${port}`,
      username: bridge.username,
      password: bridge.password,
      applicationId: bridge.applicationId,
    });
    await cs.connect();
    try {
      // The SUBSCRIBE follows the CONNACK: a join that marks the device seen shows the bridge is listening.
      await waitFor(
        'bridge subscribed',
        async () => {
          await cs.join(LORA_BUTTON);
          return t.gateway.ingest.healthOf('lora-btn-001')?.state === 'online';
        },
        { timeoutMs: 10_000 },
      );
      const device = await t.gateway.store.registry.getDevice('lora-btn-001');
      await cs.uplink(LORA_BUTTON, { fPort: 10, object: { event: 'sos', battery: 80 } });
      const incident = await waitFor(
        'incident',
        async () => (await t.gateway.store.incidents.listActive()).find((i) => i.residentId === device?.resident),
        { timeoutMs: 10_000 },
      );
      expect(incident.type).toBe('sos');
    } finally {
      await cs.close();
    }
  });

  it('refuses anonymous clients, wrong passwords, and the bridge account outside its application', async () => {
    const url = `mqtt://127.0.0.1:${port}`;
    const opts = { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4 as const };
    await expect(mqtt.connectAsync(url, { ...opts, clientId: 'anon' })).rejects.toThrow(/Bad username or password|Not authorized/i);
    await expect(
      mqtt.connectAsync(url, { ...opts, clientId: 'wrong', username: bridge.username, password: 'not-the-password' }),
    ).rejects.toThrow(/Bad username or password/i);
    const c = await mqtt.connectAsync(url, { ...opts, clientId: 'nosy', username: bridge.username, password: bridge.password });
    try {
      // SUBACK 0x80: mqtt.js rejects the subscribe.
      await expect(c.subscribeAsync('application/someone-else/#', { qos: 1 })).rejects.toThrow(/Subscribe error/);
      // A PUBLISH outside its application closes the connection: it is never delivered or acknowledged.
      const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
      let acknowledged = false;
      c.publish('application/someone-else/device/70b3d57ed0000001/event/up', '{}', { qos: 1 }, (err) => (acknowledged = !err));
      await closed;
      expect(acknowledged).toBe(false);
    } finally {
      await c.endAsync(true);
    }
  });

  it('a registry file never gets a stand-in: its unreachable ChirpStack bridge is degraded, as in a real deployment', async () => {
    const standIn = await DemoChirpstackBroker.startFor({ source: 'file', bridges: [bridge], log: silentLogger() });
    expect(standIn).toBeNull();
    const idle = await freePort();
    const dir = tempDir('care-gw-file-');
    dirs.push(dir);
    // The small test registry with the demo's ChirpStack bridge added, on a loopback port nothing serves.
    const registry = join(dir.path, 'registry.yaml');
    const doc = parse(readFileSync(TEST_REGISTRY, 'utf8')) as Record<string, unknown>;
    const cs = {
      id: bridge.id,
      kind: 'chirpstack',
      url: `mqtt://127.0.0.1:${idle}`,
      username: bridge.username,
      password: bridge.password,
      applicationId: bridge.applicationId,
    };
    writeFileSync(registry, stringify({ ...doc, bridges: [cs] }));
    const real = await startTestGateway({ dataDir: join(dir.path, 'data'), env: { REGISTRY_FILE: registry } });
    try {
      const health = await waitFor(
        'connection refused',
        () => {
          const h = real.gateway.chirpstack.health();
          return h.bridges[0]?.lastError ? h : null;
        },
        { timeoutMs: 10_000 },
      );
      expect(health.status).toBe('degraded');
      expect(health.detail).toContain('cs-andali');
      expect(health.bridges[0]?.lastError).toMatch(/ECONNREFUSED/);
    } finally {
      await real.stop();
    }
  });

  it('on MQTT 3.1.1 too, a message whose record failed is not acknowledged and comes again after the reconnect', async () => {
    const own = await freePort();
    const cs: ChirpstackBridge = { ...bridge, id: 'cs-own', url: `mqtt://127.0.0.1:${own}` };
    const standIn = await DemoChirpstackBroker.startFor({ source: 'demo', bridges: [cs], log: silentLogger() });
    if (!standIn) throw new Error('stand-in did not start');
    const seen: { payload: string; meta: ExternalMessageMeta }[] = [];
    let failNext = true;
    const topic = `application/${cs.applicationId}/device/${LORA_BUTTON.devEui}/event/up`;
    const client = new ExternalBrokerClient({
      bridgeId: cs.id,
      url: cs.url,
      username: cs.username,
      password: cs.password,
      clientId: 'care-gateway-cs-own',
      topics: [`application/${cs.applicationId}/device/+/event/+`],
      onMessage: async (_topic, payload, meta) => {
        seen.push({ payload: payload.toString(), meta });
        if (payload.toString() === 'b' && failNext) {
          failNext = false;
          throw new Error('recording guard: disk full');
        }
      },
      clock: systemClock,
      log: silentLogger(),
      backoff: { minMs: 50, maxMs: 200 },
    });
    const publisher = await mqtt.connectAsync(cs.url, {
      clientId: 'cs-sim',
      username: cs.username,
      password: cs.password,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    try {
      client.start();
      await waitFor(
        'warm-up',
        async () => {
          await publisher.publishAsync(topic, 'warm-up', { qos: 1 });
          return seen.length > 0;
        },
        { timeoutMs: 5000 },
      );
      expect(client.state().protocol).toBe('3.1.1');
      seen.length = 0;
      await publisher.publishAsync(topic, 'a', { qos: 1 });
      await publisher.publishAsync(topic, 'b', { qos: 1 });
      await waitFor('b redelivered', () => seen.filter((s) => s.payload === 'b').length >= 2, { timeoutMs: 8000 });
      // `a` was recorded and acknowledged: never seen again; `b` was not, and came again (aedes does not flag it DUP).
      expect(seen.map((s) => s.payload).filter((p) => p !== 'warm-up')).toEqual(['a', 'b', 'b']);
      expect(client.state()).toMatchObject({ recordFailures: 1, connected: true });
    } finally {
      await client.stop();
      await publisher.endAsync(true);
      await standIn.stop();
    }
  });
});
