// Telemetry writer against a real influxd 1.x: points and schema arrive, outages are buffered (bounded, oldest dropped) and backfilled.
import { readFileSync } from 'node:fs';
import { waitFor } from '../helpers/wait.js';
import { join } from 'node:path';
import type { InfluxDB } from 'influx';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxConfig } from '../../gateway/config/schema.js';
import { systemClock } from '../../gateway/core/clock.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import { parseRegistryText } from '../../gateway/registry/load.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { downsamples } from '../../gateway/telemetry/downsampling.js';
import { TelemetryWriter, type TelemetryEvents, type TelemetryWriterDeps } from '../../gateway/telemetry/writer.js';
import { queryClient, startInfluxd, type InfluxdServer } from '../helpers/influxd.js';
import { lifecycleOf, PERSONAL_VALUES, signalOf, smsOf } from '../helpers/telemetry-fixtures.js';
import { TEST_REGISTRY } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

type Row = Record<string, unknown>;

let influxd: InfluxdServer;
let store: SqliteStore;
let dir: { path: string; remove: () => void };
const writers: TelemetryWriter[] = [];
const log = silentLogger();

beforeAll(async () => {
  dir = tempDir('care-telemetry-');
  store = openSqliteStore(join(dir.path, 'gateway.db'));
  await importRegistryDocument({ store, log }, parseRegistryText(readFileSync(TEST_REGISTRY, 'utf8'), 'yaml'), { source: 'test' });
  influxd = await startInfluxd();
});

afterEach(async () => {
  for (const w of writers.splice(0)) await w.stop();
});

afterAll(async () => {
  await influxd?.dispose();
  await store?.close();
  dir?.remove();
});

function configFor(database: string): InfluxConfig {
  return { url: influxd.url, database, token: null, org: null, bucket: null };
}

function newWriter(bus: EventBus<TelemetryEvents>, database: string, extra: Partial<TelemetryWriterDeps> = {}): TelemetryWriter {
  const writer = new TelemetryWriter({
    config: configFor(database),
    store,
    bus,
    log,
    clock: systemClock,
    flushMs: 50,
    requestTimeoutMs: 2000,
    ...extra,
  });
  writers.push(writer);
  return writer;
}

async function rows(client: InfluxDB, query: string): Promise<Row[]> {
  return [...(await client.query<Row>(query))];
}

describe('telemetry writer with a real influxd', () => {
  it('stays disabled and listens to nothing without INFLUX_URL', async () => {
    const bus = new EventBus<TelemetryEvents>(log);
    const writer = new TelemetryWriter({ config: null, store, bus, log, clock: systemClock });
    await writer.start();
    expect(bus.listenerCount('signalReceived') + bus.listenerCount('incidentChanged')).toBe(0);
    expect(writer.health()).toMatchObject({ status: 'disabled', buffered: 0, dropped: 0, backend: null });
    await writer.stop();
  });

  it('sets up the database, retention policies and continuous queries, and writes every kind of point without personal data', async () => {
    const bus = new EventBus<TelemetryEvents>(log);
    const writer = newWriter(bus, 'eldercare');
    await writer.start();
    expect(writer.health()).toMatchObject({ status: 'up', buffered: 0, dropped: 0, backend: 'influxdb-1' });

    // An hour back, so the whole incident (resolved 25 min after it opened) lies in the past, where GROUP BY time() looks.
    const t0 = Date.now() - 3_600_000;
    bus.emit('signalReceived', signalOf({ type: 'heartbeat', seq: 41, at: t0, battery: 87 }));
    bus.emit('signalReceived', signalOf({ type: 'sos', seq: 42, at: t0 + 1 }));
    // Same device, type and millisecond: both must survive (InfluxDB keeps one point per series and time).
    bus.emit('signalReceived', signalOf({ type: 'sos', seq: 43, at: t0 + 1 }));
    bus.emit('signalReceived', signalOf({ type: 'fall', seq: 7, at: t0 + 2, deviceId: 'fall-001' }));
    bus.emit('telemetryReceived', { deviceId: 'btn-002', battery: 64, rssi: -77, at: t0 + 3, payload: { battery: 64, rssi: -77 } });
    bus.emit('deviceStatusChanged', { deviceId: 'btn-002', state: 'offline', at: t0 + 4 });
    for (const [incident, entry] of lifecycleOf(t0 + 5)) bus.emit('incidentChanged', incident, entry);
    for (const [i, status] of (['queued', 'sent', 'delivered'] as const).entries())
      bus.emit('smsStatusChanged', smsOf({ status, at: t0 + 10 + i }));
    await writer.flush();
    expect(writer.health()).toMatchObject({ status: 'up', buffered: 0, written: 13, dropped: 0 });

    const client = queryClient(influxd, 'eldercare');
    expect(await client.getDatabaseNames()).toContain('eldercare');
    const policies = [...(await client.showRetentionPolicies('eldercare'))].map((p) => [p.name, p.duration, p.default]);
    expect(policies).toEqual(
      expect.arrayContaining([
        ['raw', '2160h0m0s', true],
        ['hourly', '17472h0m0s', false],
      ]),
    );
    const cqs = (await rows(client, 'SHOW CONTINUOUS QUERIES')).filter((r) => r.name !== undefined).map((r) => r.name);
    expect(cqs).toEqual(expect.arrayContaining(['event_count_hourly', 'telemetry_mean_hourly', 'incident_times_hourly']));

    const events = await rows(client, 'SELECT * FROM "raw"."event" ORDER BY time');
    expect(events.map((r) => r.seq)).toEqual([41, 42, 43, 7]);
    expect(events[0]).toMatchObject({
      device: 'btn-001',
      kind: 'sos_button',
      resident: 'r-001',
      community: 'andali',
      building: '安达里3号楼',
      type: 'heartbeat',
      battery: 87,
      value: 1,
    });
    expect(events[3]).toMatchObject({ device: 'fall-001', kind: 'fall_sensor', type: 'fall' });
    expect(await rows(client, 'SELECT battery, rssi, building FROM telemetry')).toMatchObject([
      { battery: 64, rssi: -77, building: '安达里5号楼' },
    ]);
    expect(await rows(client, 'SELECT online, device FROM device_status')).toMatchObject([{ online: 0, device: 'btn-002' }]);
    const incidents = await rows(client, 'SELECT * FROM incident ORDER BY time');
    expect(incidents.map((r) => [r.state, r.time_to_first_page_s, r.time_to_ack_s, r.time_to_resolve_s])).toEqual([
      ['open', null, null, null],
      ['open', 2, null, null],
      ['acknowledged', null, 95, null],
      ['resolved', null, null, 1500],
    ]);
    expect((await rows(client, 'SELECT * FROM page ORDER BY time')).map((r) => [r.role, r.status, r.purpose, r.attempts])).toEqual([
      ['worker', 'queued', 'page', 1],
      ['worker', 'sent', 'page', 1],
      ['worker', 'delivered', 'page', 1],
    ]);

    // Every tag value InfluxDB indexed, across all measurements: ids and enumerations only.
    const tagValues = (await rows(client, 'SHOW TAG VALUES WITH KEY =~ /.*/')).map((r) => String(r.value));
    expect(tagValues).toEqual(expect.arrayContaining(['btn-001', 'r-001', 'andali', '安达里3号楼', 'worker', 'delivered']));
    for (const personal of PERSONAL_VALUES) expect(tagValues.filter((v) => v.includes(personal))).toEqual([]);

    // The continuous queries' own SELECT … INTO, run by hand over the last hours, fills `hourly`.
    for (const cq of downsamples('eldercare')) await client.query(cq.select('WHERE time >= now() - 3h'));
    const hourly = await rows(client, 'SELECT sum("count") AS n FROM "hourly"."event"');
    expect(hourly[0]?.n).toBe(4);
    expect(await rows(client, 'SELECT time_to_ack_s FROM "hourly"."incident" WHERE time_to_ack_s > 0')).toMatchObject([
      { time_to_ack_s: 95 },
    ]);

    // stop() writes what is still buffered and removes the listeners.
    bus.emit('signalReceived', signalOf({ type: 'heartbeat', seq: 44, at: t0 + 20 }));
    await writer.stop();
    expect(bus.listenerCount('signalReceived')).toBe(0);
    expect((await rows(client, 'SELECT seq FROM event WHERE seq = 44')).length).toBe(1);
  });

  it('places a device added to the registry after start', async () => {
    const bus = new EventBus<TelemetryEvents>(log);
    const writer = newWriter(bus, 'placement');
    await writer.start();
    await importRegistryDocument(
      { store, log },
      { devices: [{ id: 'cord-002', kind: 'pull_cord', resident: 'r-002', secret: 's3cret-cord-002' }] },
    );
    bus.emit('signalReceived', {
      ...signalOf({ type: 'sos', seq: 1, at: Date.now(), residentId: 'r-002' }),
      deviceId: 'cord-002',
      deviceKind: 'pull_cord',
    });
    await writer.flush();
    const client = queryClient(influxd, 'placement');
    expect(await rows(client, 'SELECT * FROM event')).toMatchObject([
      { device: 'cord-002', kind: 'pull_cord', resident: 'r-002', building: '安达里5号楼' },
    ]);
  });

  it('buffers while influxd is down, drops the oldest beyond maxBuffer, and backfills after a restart', async () => {
    const bus = new EventBus<TelemetryEvents>(log);
    const dropped: number[] = [];
    const writer = newWriter(bus, 'outage', { maxBuffer: 50, batchSize: 20, onDropped: (n) => dropped.push(n) });
    await writer.start();
    const t0 = Date.now() - 10_000;
    for (let seq = 1; seq <= 5; seq++) bus.emit('signalReceived', signalOf({ type: 'heartbeat', seq, at: t0 + seq }));
    await writer.flush();
    expect(writer.health()).toMatchObject({ status: 'up', written: 5 });

    await influxd.stop();
    for (let seq = 100; seq < 180; seq++) bus.emit('signalReceived', signalOf({ type: 'heartbeat', seq, at: t0 + seq }));
    await writer.flush();
    const down = writer.health();
    expect(down).toMatchObject({ status: 'down', buffered: 50, dropped: 30, written: 5 });
    // Refused, or a kept-alive connection that influxd closed as it stopped: either way the reason is named.
    expect(down.lastError).toMatch(/ECONNREFUSED|socket hang up|ECONNRESET/);
    expect(writer.droppedTotal()).toBe(30);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(30);

    await influxd.start();
    await waitFor(
      'the writer up with nothing buffered',
      async () => {
        const h = writer.health();
        return h.status === 'up' && h.buffered === 0;
      },
      { timeoutMs: 10_000, retryErrors: true, intervalMs: 50 },
    );
    const client = queryClient(influxd, 'outage');
    const seqs = (await rows(client, 'SELECT seq FROM event ORDER BY time')).map((r) => r.seq);
    // The 5 written before the outage are still there; of the 80 buffered, the oldest 30 were dropped.
    expect(seqs).toEqual([1, 2, 3, 4, 5, ...Array.from({ length: 50 }, (_, i) => 130 + i)]);
    expect(writer.health()).toMatchObject({ written: 55, dropped: 30 });
  });

  it('starts while influxd is down, reports down, and sets up and writes once it comes up', async () => {
    await influxd.stop();
    const bus = new EventBus<TelemetryEvents>(log);
    const writer = newWriter(bus, 'late');
    const started = Date.now();
    await writer.start();
    expect(writer.health()).toMatchObject({ status: 'down', lastWriteAt: null });
    bus.emit('telemetryReceived', { deviceId: 'btn-001', battery: 80, rssi: -60, at: Date.now(), payload: { battery: 80, rssi: -60 } });
    expect(writer.health().buffered).toBe(1);

    await influxd.start();
    await waitFor(
      'the writer up with nothing buffered',
      async () => {
        const h = writer.health();
        return h.status === 'up' && h.buffered === 0;
      },
      { timeoutMs: 10_000, retryErrors: true, intervalMs: 50 },
    );
    const client = queryClient(influxd, 'late');
    expect((await client.showRetentionPolicies('late')).map((p) => p.name)).toEqual(expect.arrayContaining(['raw', 'hourly']));
    expect(await rows(client, 'SELECT battery, rssi, device FROM telemetry')).toMatchObject([
      { battery: 80, rssi: -60, device: 'btn-001' },
    ]);
    expect(writer.health().lastWriteAt).toBeGreaterThanOrEqual(started);
  });

  it('does not hold up start-up for an influxd that accepts and never answers, and sets up once it does', async () => {
    if (!influxd.running) await influxd.start();
    const bus = new EventBus<TelemetryEvents>(log);
    // A request timeout longer than any test: start() can only return before the setup is answered or given up.
    const writer = newWriter(bus, 'hung', { requestTimeoutMs: 120_000 });
    influxd.freeze();
    try {
      await writer.start();
      expect(writer.health()).toMatchObject({ status: 'down', lastError: null, lastWriteAt: null });
      bus.emit('telemetryReceived', { deviceId: 'btn-001', battery: 70, rssi: -61, at: Date.now(), payload: { battery: 70, rssi: -61 } });
    } finally {
      influxd.thaw();
    }
    await waitFor('the writer up with nothing buffered', () => writer.health().status === 'up' && writer.health().buffered === 0, {
      timeoutMs: 10_000,
    });
    expect(await rows(queryClient(influxd, 'hung'), 'SELECT battery FROM telemetry')).toMatchObject([{ battery: 70 }]);
  });
});
