// Supervision and page placement in a real influxd: outages and care tasks written as they open and close, pages tagged with resident, community and building, and the dashboard's task and outage panels read back.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InfluxDB } from 'influx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxConfig } from '../../gateway/config/schema.js';
import { systemClock } from '../../gateway/core/clock.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import { parseRegistryText } from '../../gateway/registry/load.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { TelemetryWriter, type TelemetryEvents } from '../../gateway/telemetry/writer.js';
import { last7Days, readDashboard, runnable } from '../helpers/grafana.js';
import { queryClient, startInfluxd, type InfluxdServer } from '../helpers/influxd.js';
import { TEST_REGISTRY } from '../helpers/gateway.js';
import { incidentOf, lifecycleOf, PERSONAL_VALUES, smsOf } from '../helpers/telemetry-fixtures.js';
import { tempDir } from '../helpers/tmp.js';
import { B5, BQ, W02, startSupervisionGateway } from '../helpers/supervision.js';

type Row = Record<string, unknown>;
const log = silentLogger();
let influxd: InfluxdServer;

beforeAll(async () => {
  influxd = await startInfluxd();
});
afterAll(async () => {
  await influxd?.dispose();
});

const configFor = (database: string): InfluxConfig => ({ url: influxd.url, database, token: null, org: null, bucket: null });
const rows = async (client: InfluxDB, query: string): Promise<Row[]> => [...(await client.query<Row>(query))];

describe('care tasks and outages in InfluxDB', () => {
  it('writes each outage and care task as it opens and closes, with durations and id-only tags, and the dashboard panels read them', async () => {
    const rig = await startSupervisionGateway();
    const writer = new TelemetryWriter({
      config: configFor('supervision'),
      store: rig.store,
      bus: rig.bus,
      log,
      clock: rig.clock,
      flushMs: 50,
    });
    try {
      await writer.start();
      const clients = [];
      for (const id of [...B5, BQ[0]!]) clients.push(await rig.online(id));
      await rig.publish(clients[5]!, 'telemetry', JSON.stringify({ battery: 9 }));
      const openedAt = rig.clock.now();
      for (const c of clients.slice(0, 5)) rig.drop(c);
      await rig.settle();
      await rig.advance(3 * 60_000);
      const [outage] = await rig.store.supervision.listOutages({ state: 'open' });
      expect(outage).toBeDefined();
      await rig.supervision.closeOutage(outage!.id, { name: '站长 刘', community: null }, '停电，供电局抢修中');
      await rig.settle();
      await rig.publish(clients[5]!, 'telemetry', JSON.stringify({ battery: 97 }));
      await rig.settle();
      await writer.flush();
      expect(writer.health()).toMatchObject({ status: 'up', buffered: 0, dropped: 0, rejected: 0 });

      const client = queryClient(influxd, 'supervision');
      const outages = await rows(client, 'SELECT * FROM "outage" ORDER BY time');
      expect(outages.map((r) => [r.action, r.open, r.place, r.community, r.building, r.devices, r.reason ?? null, r.back ?? null])).toEqual(
        [
          ['opened', 1, 'building', 'andali', '安达里5号楼', 5, null, null],
          ['closed', 0, 'building', 'andali', '安达里5号楼', 5, 'closed_by_hand', 0],
        ],
      );
      expect(outages[0]?.outage).toBe(outage!.id);
      expect(outages[1]?.open_s).toBe((rig.clock.now() - openedAt) / 1000);

      const tasks = await rows(client, 'SELECT * FROM "care_task" ORDER BY time');
      const battery = tasks.filter((r) => r.type === 'low_battery');
      expect(battery.map((r) => [r.action, r.open, r.device, r.kind, r.resident, r.community, r.building])).toEqual([
        ['opened', 1, BQ[0], 'sos_button', `r-${BQ[0]}`, 'baiquanli', '拜泉里2号楼'],
        ['closed', 0, BQ[0], 'sos_button', `r-${BQ[0]}`, 'baiquanli', '拜泉里2号楼'],
      ]);
      expect(battery[1]).toMatchObject({ by_hand: 0, open_s: (rig.clock.now() - openedAt) / 1000 });
      // The hand close let the five go: each is a device-offline task of its own now.
      const offline = tasks.filter((r) => r.type === 'device_offline');
      expect(offline.map((r) => r.device).sort()).toEqual([...B5].sort());
      expect(offline.every((r) => r.action === 'opened' && r.open === 1 && r.building === '安达里5号楼')).toBe(true);

      // The outage page (no incident) is tagged with its worker's community.
      const pages = await rows(client, `SELECT * FROM "page" WHERE "purpose" = 'outage'`);
      expect(pages.length).toBeGreaterThan(0);
      expect(pages.every((r) => r.community === 'andali' && r.role === 'worker' && (r.resident ?? null) === null)).toBe(true);
      expect((await rig.smsTo(W02, 'outage')).length).toBe(1);

      // The dashboard's panels over these points: tasks open now by type, no outage open, hours open per close.
      // As a person would see them a minute after the close, on the rig's clock (the instants its points carry).
      const panels = readDashboard().panels;
      const range = last7Days(rig.clock.now() + 60_000);
      const query = (title: string, refId: string) =>
        runnable(panels.find((p) => p.title === title)!.targets!.find((t) => t.refId === refId)!.query, range);
      const openByType = Object.fromEntries(
        (await rows(client, query('Open care tasks and outages', 'A'))).map((r): [string, unknown] => [String(r.type), r.open]),
      );
      expect(openByType).toEqual({ device_offline: 5, low_battery: 0 });
      expect(await rows(client, query('Open care tasks and outages', 'B'))).toMatchObject([{ outages: 0 }]);
      const hours = await rows(client, query('Outages and care tasks closed per day (hours open)', 'A'));
      expect(hours.filter((r) => r.hours !== null)).toMatchObject([
        { reason: 'closed_by_hand', hours: (rig.clock.now() - openedAt) / 3_600_000 },
      ]);
      expect(
        (await rows(client, query('Outages and care tasks closed per day (hours open)', 'B'))).filter((r) => r.hours !== null),
      ).toHaveLength(1);

      const tagValues = (await rows(client, 'SHOW TAG VALUES WITH KEY =~ /.*/')).map((r) => String(r.value));
      for (const personal of [...PERSONAL_VALUES, '站长 刘', '居民5-01', W02])
        expect(tagValues.filter((v) => v.includes(personal))).toEqual([]);
    } finally {
      await writer.stop();
      await rig.close();
    }
  });
});

describe('page points placed through their incident', () => {
  let store: SqliteStore;
  let dir: { path: string; remove: () => void };
  beforeAll(async () => {
    dir = tempDir('care-telemetry-pages-');
    store = openSqliteStore(join(dir.path, 'gateway.db'));
    await importRegistryDocument({ store, log }, parseRegistryText(readFileSync(TEST_REGISTRY, 'utf8'), 'yaml'), { source: 'test' });
  });
  afterAll(async () => {
    await store?.close();
    dir?.remove();
  });

  it("tags a page with its incident's resident, community and building, from the bus or from the store, and keeps an unplaceable one", async () => {
    const bus = new EventBus<TelemetryEvents>(log);
    const writer = new TelemetryWriter({ config: configFor('pages'), store, bus, log, clock: systemClock, flushMs: 50 });
    try {
      await writer.start();
      const t0 = Date.now() - 60_000;
      // Seen on the bus: placed from the cache.
      for (const [incident, entry] of lifecycleOf(t0, 'inc-bus')) bus.emit('incidentChanged', incident, entry);
      bus.emit('smsStatusChanged', smsOf({ status: 'delivered', at: t0 + 10, incidentId: 'inc-bus' }));
      // Never on this writer's bus (opened before a restart): looked up in the store by the flush loop.
      await store.incidents.create({ ...incidentOf({ state: 'open', openedAt: t0, id: 'inc-stored' }), residentId: 'r-002' });
      bus.emit('smsStatusChanged', smsOf({ status: 'sent', at: t0 + 20, incidentId: 'inc-stored' }));
      // An incident nobody knows: the point is kept, without placement.
      bus.emit('smsStatusChanged', smsOf({ status: 'failed', at: t0 + 30, incidentId: 'inc-gone' }));
      await writer.flush();
      const client = queryClient(influxd, 'pages');
      const pages = await rows(client, 'SELECT * FROM "page" ORDER BY time');
      expect(pages.map((r) => [r.incident, r.status, r.resident ?? null, r.community ?? null, r.building ?? null])).toEqual([
        ['inc-bus', 'delivered', 'r-001', 'andali', '安达里3号楼'],
        ['inc-stored', 'sent', 'r-002', 'andali', '安达里5号楼'],
        ['inc-gone', 'failed', null, null, null],
      ]);
    } finally {
      await writer.stop();
    }
  });

  it('re-reads the registry on registryChanged, so a resident who moved is tagged with the new building at once', async () => {
    const resident = { id: 'r-009', name: '刘长顺', community: 'andali', address: '安达里5号楼2门301', family: [] };
    await importRegistryDocument(
      { store, log },
      { residents: [resident], devices: [{ id: 'cord-009', kind: 'pull_cord', resident: 'r-009', secret: 's3cret-cord-009' }] },
    );
    const bus = new EventBus<TelemetryEvents>(log);
    // Periodic reload an hour away: only the event can explain the new placement.
    const writer = new TelemetryWriter({
      config: configFor('reload'),
      store,
      bus,
      log,
      clock: systemClock,
      flushMs: 50,
      registryRefreshMs: 3_600_000,
    });
    try {
      await writer.start();
      const reading = (at: number) =>
        bus.emit('telemetryReceived', { deviceId: 'cord-009', battery: 55, rssi: -70, at, payload: { battery: 55, rssi: -70 } });
      reading(Date.now() - 2000);
      await importRegistryDocument({ store, log }, { residents: [{ ...resident, address: '安达里7号楼1门101' }] });
      bus.emit('registryChanged');
      await new Promise((r) => setTimeout(r, 200));
      reading(Date.now() - 1000);
      await writer.flush();
      const client = queryClient(influxd, 'reload');
      expect((await rows(client, 'SELECT * FROM "telemetry" ORDER BY time')).map((r) => r.building)).toEqual([
        '安达里5号楼',
        '安达里7号楼',
      ]);
    } finally {
      await writer.stop();
    }
  });
});
