// The ChirpStack bridge end to end: a real mosquitto as ChirpStack's broker, a real mqtt.js publisher in ChirpStack's JSON format, a whole gateway subscribing to it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { randomUUID } from 'node:crypto';
import { API_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startMosquitto, type MosquittoServer } from '../helpers/mosquitto.js';
import { ChirpstackPublisher, ws101Bytes, type QueuedDownlink, type SimDevice } from '../../simulators/bridges/chirpstack.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { ChirpstackHealth } from '../../gateway/bridges/chirpstack/service.js';

const APP = '7d4a0c1e-9f55-4b8e-a0f4-5b9f1c6e2a11';
const GW_LOGIN = { username: 'care-gateway', password: 'gw-broker-pass-0123' };
const CS_LOGIN = { username: 'chirpstack', password: 'cs-broker-pass-0123' };
const CODEC_BTN: SimDevice = { devEui: '0102030405060708', name: 'codec button', profile: 'care codec' };
const WS101: SimDevice = { devEui: '24e124538b223312', name: 'WS101 SOS', profile: 'WS101 SOS' };
const UNKNOWN: SimDevice = { devEui: 'ffffffffffff0001' };

let mosquitto: MosquittoServer;
let t: TestGateway;
let cs: ChirpstackPublisher;
const downlinks: QueuedDownlink[] = [];

function registryDoc(url: string): Record<string, unknown> {
  return {
    bridges: [{ id: 'cs-1', kind: 'chirpstack', url, ...GW_LOGIN, applicationId: APP }],
    devices: [
      { id: 'lora-btn-101', kind: 'sos_button', resident: 'r-001', bridge: 'cs-1', externalId: CODEC_BTN.devEui },
      {
        id: 'lora-ws-102',
        kind: 'sos_button',
        resident: 'r-002',
        bridge: 'cs-1',
        externalId: WS101.devEui.toUpperCase(),
        model: 'milesight_ws101_sos',
      },
    ],
  };
}

interface EventRow {
  seq: number;
  type: string;
  payload: string;
  device_ts: string | null;
}

const events = (deviceId: string): EventRow[] =>
  t.gateway.store.database.db
    .prepare<[string], EventRow>('SELECT seq, type, payload, device_ts FROM events WHERE device_id = ? ORDER BY id')
    .all(deviceId);
const withDedup = (deviceId: string, dedup: unknown): EventRow[] =>
  events(deviceId).filter((e) => (JSON.parse(e.payload) as { deduplicationId?: string }).deduplicationId === dedup);
const rejections = (deviceId: string): { reason: string; detail: string }[] =>
  t.gateway.store.database.db
    .prepare<[string], { reason: string; detail: string }>('SELECT reason, detail FROM rejections WHERE device_id = ? ORDER BY id')
    .all(deviceId);
const link = (): ChirpstackHealth => t.gateway.chirpstack.health();

async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${t.httpUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json', ...init.headers },
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** The bridge is subscribed once a join it receives marks the device online (the SUBACK follows the CONNACK). */
async function bridgeListening(): Promise<void> {
  await waitFor('bridge connected', () => link().bridges[0]?.connected, { timeoutMs: 10_000 });
  const before = t.gateway.ingest.healthOf('lora-ws-102')?.lastSeen ?? 0;
  await waitFor(
    'bridge subscribed',
    async () => {
      await cs.join(WS101);
      return (t.gateway.ingest.healthOf('lora-ws-102')?.lastSeen ?? 0) > before;
    },
    { timeoutMs: 10_000 },
  );
}

async function startGateway(dataDir?: string): Promise<void> {
  t = await startTestGateway(dataDir ? { dataDir, sms: t.sms } : {});
}

beforeAll(async () => {
  mosquitto = await startMosquitto([GW_LOGIN, CS_LOGIN]);
  await startGateway();
  await importRegistryDocument({ store: t.gateway.store, log: silentLogger() }, registryDoc(mosquitto.url), { source: 'test' });
  await t.gateway.registryChanged();
  cs = new ChirpstackPublisher({ url: mosquitto.url, ...CS_LOGIN, applicationId: APP });
  await cs.connect();
  cs.onDownlink((d) => downlinks.push(d));
  await bridgeListening();
});

afterAll(async () => {
  await cs?.close();
  await t?.stop();
  await mosquitto?.dispose();
});

describe('ChirpStack bridge', () => {
  it('an uplink with the codec object raises the alarm: incident for the resident, seq from deduplicationId, device time from `time`', async () => {
    const body = await cs.uplink(CODEC_BTN, {
      fPort: 10,
      object: { event: 'sos', battery: 71 },
      rx: [
        { gatewayId: 'g1', rssi: -112, snr: -3 },
        { gatewayId: 'g2', rssi: -97, snr: 4.5 },
      ],
    });
    await waitFor('sos recorded', () => withDedup('lora-btn-101', body.deduplicationId).length === 1);
    const [row] = withDedup('lora-btn-101', body.deduplicationId);
    expect(row?.type).toBe('sos');
    expect(row?.device_ts).toBe(body.time);
    expect(JSON.parse(row?.payload ?? '{}')).toMatchObject({ type: 'sos', bridge: 'cs-1', battery: 71, fCnt: 0 });
    const incident = await waitFor('incident', async () =>
      (await t.gateway.store.incidents.listActive()).find((i) => i.residentId === 'r-001'),
    );
    expect(incident.type).toBe('sos');
    const health = t.gateway.ingest.healthOf('lora-btn-101');
    expect(health).toMatchObject({ state: 'online', battery: 71, rssi: -97 });
  });

  it('an uplink without a codec is decoded from its bytes by the model (Milesight WS101: battery, then a press)', async () => {
    const body = await cs.uplink(WS101, { fPort: 85, bytes: ws101Bytes({ battery: 64, press: 1 }) });
    await waitFor('ws101 sos', () => withDedup('lora-ws-102', body.deduplicationId).length === 1);
    expect(withDedup('lora-ws-102', body.deduplicationId)[0]?.type).toBe('sos');
    await waitFor('incident r-002', async () => (await t.gateway.store.incidents.listActive()).find((i) => i.residentId === 'r-002'));
  });

  it('a rejoin restarts fCnt: the next press, with an fCnt already seen and the same bytes, is a new alarm', async () => {
    const bytes = ws101Bytes({ battery: 63, press: 1 });
    const first = await cs.uplink(WS101, { fPort: 85, bytes, fCnt: 1 });
    await cs.join(WS101);
    const second = await cs.uplink(WS101, { fPort: 85, bytes, fCnt: 1 });
    await waitFor('second press', () => withDedup('lora-ws-102', second.deduplicationId).length === 1);
    expect(withDedup('lora-ws-102', first.deduplicationId)).toHaveLength(1);
    const [a, b] = [withDedup('lora-ws-102', first.deduplicationId)[0], withDedup('lora-ws-102', second.deduplicationId)[0]];
    expect(a?.seq).not.toBe(b?.seq);
  });

  it('a redelivered uplink (the same deduplicationId again) is recorded once', async () => {
    const redelivered = t.gateway.ingest.stats().duplicates;
    const body = await cs.uplink(CODEC_BTN, { fPort: 10, object: { event: 'sos' } });
    await cs.raw(CODEC_BTN.devEui, 'up', JSON.stringify(body));
    await waitFor('redelivery absorbed', () => t.gateway.ingest.stats().duplicates > redelivered);
    expect(withDedup('lora-btn-101', body.deduplicationId)).toHaveLength(1);
  });

  it('a status event gives the battery (a heartbeat, for the low-battery task); a mains-powered one only a sign of life', async () => {
    const status = await cs.status(WS101, { batteryLevel: 12.6 });
    await waitFor('status heartbeat', () => withDedup('lora-ws-102', status.deduplicationId).length === 1);
    expect(withDedup('lora-ws-102', status.deduplicationId)[0]?.type).toBe('heartbeat');
    expect(t.gateway.ingest.healthOf('lora-ws-102')?.battery).toBe(13);
    await waitFor('low battery task', async () =>
      (await t.gateway.supervision.listTasks({ state: 'open' })).find((k) => k.kind === 'low_battery' && k.device === 'lora-ws-102'),
    );
    const before = events('lora-btn-101').length;
    const mains = await cs.status(CODEC_BTN, { externalPowerSource: true });
    await waitFor('seen', () => (t.gateway.ingest.healthOf('lora-btn-101')?.lastSeen ?? 0) >= Date.parse(String(mains.time)) - 1000);
    expect(events('lora-btn-101')).toHaveLength(before);
  });

  it('acknowledging the incident sends responder_assigned down as a ChirpStack queue item (codec model); the WS101 gets none', async () => {
    const incident = await waitFor('incident', async () =>
      (await t.gateway.store.incidents.listActive()).find((i) => i.residentId === 'r-001'),
    );
    const ack = await api<{ state: string }>(`/api/incidents/${incident.id}/ack`, {
      method: 'POST',
      body: JSON.stringify({ note: 'on my way' }),
    });
    expect(ack.status).toBe(200);
    const down = await waitFor('downlink', () =>
      downlinks.find((d) => d.object?.command === 'responder_assigned' && d.object.incident === incident.id),
    );
    expect(down).toMatchObject({
      topic: `application/${APP}/device/${CODEC_BTN.devEui}/command/down`,
      devEui: CODEC_BTN.devEui,
      confirmed: true,
      fPort: 10,
    });
    expect(downlinks.filter((d) => d.devEui.toLowerCase() === WS101.devEui)).toEqual([]);
  });

  it("malformed JSON, a body that is not ChirpStack's and bytes the model does not know are recorded on the device; an unknown DevEUI under the bridge", async () => {
    await cs.raw(WS101.devEui, 'up', '{"deduplicationId": "x", ');
    await cs.raw(WS101.devEui, 'up', JSON.stringify({ deviceInfo: { applicationId: APP, devEui: WS101.devEui } }));
    await cs.uplink(WS101, { fPort: 85, bytes: Buffer.from('0367e100', 'hex') });
    await cs.uplink(UNKNOWN, { fPort: 10, object: { event: 'sos' } });
    await t.gateway.ingest.flush();
    await waitFor('rejections', () => rejections('lora-ws-102').length >= 3 && rejections('cs-1').length >= 1);
    const reasons = rejections('lora-ws-102').map((r) => `${r.reason}: ${r.detail}`);
    expect(reasons[0]).toMatch(/^malformed_json: /);
    expect(reasons[1]).toMatch(/^invalid_payload: up: deduplicationId: /);
    expect(reasons[2]).toMatch(/^invalid_payload: milesight_ws101_sos: unknown channel 03 67/);
    expect(rejections('cs-1')[0]).toMatchObject({ reason: 'unknown_device' });
    expect(rejections('cs-1')[0]?.detail).toContain(UNKNOWN.devEui);
    const device = await api<{ lastRejection: { reason: string; detail: string }; rejectedCount: number }>('/api/devices/lora-ws-102');
    expect(device.body.lastRejection).toMatchObject({
      reason: 'invalid_payload',
      detail: expect.stringContaining('unknown channel 03 67') as unknown,
    });
    expect(device.body.rejectedCount).toBeGreaterThanOrEqual(3);
  });

  it('mosquitto killed (SIGKILL) mid-run: /healthz names the lost link, the bridge reconnects, and every uplink the broker took is recorded once, also those that arrived while the gateway was down', async () => {
    const before = await cs.uplink(WS101, { fPort: 85, bytes: ws101Bytes({ battery: 60 }) });
    await waitFor('before', () => withDedup('lora-ws-102', before.deduplicationId).length === 1);

    await mosquitto.kill();
    await waitFor('link lost', () => link().status === 'degraded', { timeoutMs: 10_000 });
    const healthz = await fetch(`${t.httpUrl}/healthz`);
    expect(healthz.status).toBe(200);
    const body = (await healthz.json()) as { components: { chirpstack: ChirpstackHealth } };
    expect(body.components.chirpstack.status).toBe('degraded');
    expect(body.components.chirpstack.detail).toContain('cs-1');
    // One outage for the bridge, not a task per device; its devices are offline while it lasts.
    const outage = await waitFor('bridge outage', async () =>
      (await t.gateway.supervision.listOutages({ state: 'open' })).find((o) => o.place.kind === 'bridge'),
    );
    expect(outage.devices.map((d) => d.id).sort()).toEqual(['lora-btn-101', 'lora-ws-102']);
    expect(t.gateway.ingest.healthOf('lora-ws-102')?.state).toBe('offline');
    await mosquitto.start();
    await waitFor('link back', () => link().status === 'up', { timeoutMs: 15_000 });
    await waitFor('bridge outage closed', async () =>
      (await t.gateway.supervision.listOutages({ state: 'open' })).every((o) => o.place.kind !== 'bridge'),
    );
    expect(t.gateway.ingest.healthOf('lora-ws-102')?.state).toBe('online');
    await cs.close();
    await cs.connect();
    const after = await waitFor(
      'after reconnect',
      async () => {
        const b = await cs.uplink(WS101, { fPort: 85, bytes: ws101Bytes({ battery: 59 }) });
        await new Promise((r) => setTimeout(r, 50));
        return withDedup('lora-ws-102', b.deduplicationId).length === 1 ? b : null;
      },
      { timeoutMs: 10_000 },
    );
    expect(withDedup('lora-ws-102', after.deduplicationId)).toHaveLength(1);

    // Someone leaves a retained event on the broker. Live subscribers get it as a normal message (MQTT clears the
    // flag), so it is recorded once; every later subscribe replays it flagged retained, and that copy is ignored.
    const stale = {
      deduplicationId: randomUUID(),
      time: new Date().toISOString(),
      deviceInfo: { applicationId: APP, devEui: WS101.devEui },
      fPort: 85,
      data: ws101Bytes({ press: 1 }).toString('base64'),
    };
    await cs.raw(WS101.devEui, 'up', JSON.stringify(stale), { retain: true });
    await waitFor('live copy', () => withDedup('lora-ws-102', stale.deduplicationId).length === 1);

    // The gateway goes away; ChirpStack goes on publishing and the broker queues for the gateway's session.
    const dataDir = t.dataDir;
    await t.stop({ keep: true });
    const away = [];
    for (let i = 0; i < 3; i++) away.push(await cs.uplink(WS101, { fPort: 85, bytes: ws101Bytes({ battery: 58, press: 2 }) }));
    // The broker dies too before the gateway is back: what it had saved survives (its saves trail its PUBACKs).
    await mosquitto.save();
    await mosquitto.kill();
    await mosquitto.start();
    await cs.close();
    await cs.connect();
    await startGateway(dataDir);
    for (const b of away)
      await waitFor(`queued uplink ${String(b.deduplicationId)}`, () => withDedup('lora-ws-102', b.deduplicationId).length === 1, {
        timeoutMs: 15_000,
      });
    for (const b of [before, after, stale, ...away]) expect(withDedup('lora-ws-102', b.deduplicationId)).toHaveLength(1);
    await waitFor('retained replay ignored', () => rejections('lora-ws-102').some((r) => r.detail.startsWith('retained message ignored')));
    await cs.raw(WS101.devEui, 'up', '', { retain: true });
    expect(link().bridges[0]).toMatchObject({ connected: true, recordFailures: 0 });
  });
});
