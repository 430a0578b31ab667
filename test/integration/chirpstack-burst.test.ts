// A burst of LoRaWAN alarms queued on ChirpStack's broker (a real mosquitto) while the gateway was away: delivered together on reconnect, recorded in shared group commits instead of one disk sync after another.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startMosquitto, type MosquittoServer } from '../helpers/mosquitto.js';
import { ChirpstackPublisher, type SimDevice } from '../../simulators/bridges/chirpstack.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import { silentLogger } from '../../gateway/core/logger.js';

const APP = '3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const GW_LOGIN = { username: 'care-gateway', password: 'gw-broker-pass-burst' };
const CS_LOGIN = { username: 'chirpstack', password: 'cs-broker-pass-burst' };
const BUTTONS: SimDevice[] = Array.from({ length: 8 }, (_, i) => ({ devEui: `a84041000000000${i}` }));

let mosquitto: MosquittoServer;
let t: TestGateway;
let cs: ChirpstackPublisher;

const sosCount = (deviceId: string): number =>
  t.gateway.store.database.db
    .prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM events WHERE device_id = ? AND type = 'sos'")
    .get(deviceId)?.n ?? 0;

beforeAll(async () => {
  mosquitto = await startMosquitto([GW_LOGIN, CS_LOGIN]);
  t = await startTestGateway();
  await importRegistryDocument(
    { store: t.gateway.store, log: silentLogger() },
    {
      bridges: [{ id: 'cs-burst', kind: 'chirpstack', url: mosquitto.url, ...GW_LOGIN, applicationId: APP }],
      devices: BUTTONS.map((b, i) => ({
        id: `lora-burst-${i}`,
        kind: 'sos_button',
        resident: i % 2 === 0 ? 'r-001' : 'r-002',
        bridge: 'cs-burst',
        externalId: b.devEui,
      })),
    },
    { source: 'test' },
  );
  await t.gateway.registryChanged();
  cs = new ChirpstackPublisher({ url: mosquitto.url, ...CS_LOGIN, applicationId: APP });
  await cs.connect();
  const first = BUTTONS[0];
  if (!first) throw new Error('no buttons');
  // Listening once a join reaches the gateway (its SUBSCRIBE follows the CONNACK).
  await waitFor(
    'bridge subscribed',
    async () => {
      await cs.join(first);
      return t.gateway.ingest.healthOf('lora-burst-0')?.state === 'online';
    },
    { timeoutMs: 10_000 },
  );
}, 60_000);

afterAll(async () => {
  await cs?.close();
  await t?.stop();
  await mosquitto?.dispose();
});

describe('ChirpStack burst', () => {
  it('alarms queued on the broker while the gateway was away share group commits when they arrive together', async () => {
    const batchesBefore = t.gateway.ingest.stats().batches;
    expect(t.gateway.ingest.stats().batchSizes.max).toBeLessThanOrEqual(1);
    // Away: the broker keeps the session and queues what ChirpStack publishes meanwhile.
    await t.gateway.chirpstack.stop();
    for (const b of BUTTONS) await cs.uplink(b, { fPort: 10, object: { event: 'sos' } });
    // Back: mosquitto sends the queued PUBLISHes right after the CONNACK, back to back.
    await t.gateway.chirpstack.start();
    await waitFor('all alarms recorded', () => BUTTONS.every((_, i) => sosCount(`lora-burst-${i}`) === 1), { timeoutMs: 10_000 });
    // One message at a time (each read only after the previous one's disk sync and PUBACK) would make eight groups of
    // one; taken together, they share commits.
    const stats = t.gateway.ingest.stats();
    expect(stats.batches - batchesBefore).toBeLessThan(BUTTONS.length);
    expect(stats.batchSizes.max).toBeGreaterThan(1);
    expect(stats.commitFailures).toBe(0);
  });
});
