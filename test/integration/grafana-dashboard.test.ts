// The whole telemetry path into a real influxd: an alarm's lifecycle and its pages' delivery land with their timings, and every Grafana panel query runs and finds data.
import type { InfluxDB } from 'influx';
import { waitFor } from '../helpers/wait.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { dashboardQueries, last7Days, readDashboard, runnable } from '../helpers/grafana.js';
import { queryClient, startInfluxd, type InfluxdServer } from '../helpers/influxd.js';

type Row = Record<string, unknown>;
const W01 = '+8613900000001';

let influxd: InfluxdServer;
let gw: TestGateway;
let client: InfluxDB;

beforeAll(async () => {
  influxd = await startInfluxd();
  gw = await startTestGateway({ env: { INFLUX_URL: influxd.url, INFLUX_DATABASE: 'eldercare' } });
  client = queryClient(influxd, 'eldercare');
}, 30_000);

afterAll(async () => {
  await gw?.stop();
  await influxd?.dispose();
});

async function rows(query: string): Promise<Row[]> {
  return [...(await client.query<Row>(query))];
}

describe('telemetry of a real alarm, read back as Grafana reads it', () => {
  it('writes the incident lifecycle with time to first page, to ack and to resolution, and each page delivery status', async () => {
    const button = await connectDevice(gw.mqttUrl, 'btn-001', 's3cret-btn-001');
    try {
      await button.publishAsync('care/v1/btn-001/status', 'online', { qos: 1, retain: true });
      // A weak battery opens a low-battery care task, and a fresh one closes it: care_task points for the task panels.
      await button.publishAsync('care/v1/btn-001/telemetry', JSON.stringify({ battery: 12, rssi: -61 }), { qos: 1 });
      await button.publishAsync('care/v1/btn-001/telemetry', JSON.stringify({ battery: 77, rssi: -61 }), { qos: 1 });
      await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    } finally {
      await button.endAsync();
    }
    await gw.sms.waitForMessage((m) => m.to === W01);
    const incident = await waitFor('incident', async () => (await gw.gateway.store.incidents.list({ residentId: 'r-001' }))[0]);
    const by = { role: 'worker' as const, id: 'w-01', name: '李明', phone: W01 };
    await gw.gateway.incidents.acknowledge(incident.id, by, 'api');
    await gw.gateway.incidents.resolve(incident.id, by, 'api', '已上门');
    const final = (await gw.gateway.store.incidents.get(incident.id))!;

    const lifecycle = await waitFor(
      'the incident points up to time_to_resolve_s',
      async () => {
        const r = await rows(`SELECT * FROM "incident" WHERE "incident" = '${incident.id}' ORDER BY time`);
        return r.some((p) => p.time_to_resolve_s !== null && p.time_to_resolve_s !== undefined) ? r : null;
      },
      { timeoutMs: 8000, retryErrors: true, intervalMs: 50 },
    );
    const only = (field: string) => lifecycle.filter((p) => p[field] !== null && p[field] !== undefined);
    // Each duration once, on the change that reached it, equal to what the incident itself records.
    expect(only('time_to_first_page_s')).toHaveLength(1);
    expect(only('time_to_ack_s')).toHaveLength(1);
    expect(only('time_to_resolve_s')).toHaveLength(1);
    expect(only('time_to_first_page_s')[0]!.time_to_first_page_s).toBeCloseTo((final.firstPagedAt! - final.openedAt) / 1000, 3);
    expect(only('time_to_ack_s')[0]!.time_to_ack_s).toBeCloseTo((final.acknowledgedAt! - final.openedAt) / 1000, 3);
    expect(only('time_to_resolve_s')[0]!.time_to_resolve_s).toBeCloseTo((final.resolvedAt! - final.openedAt) / 1000, 3);
    expect(lifecycle.map((p) => p.action)).toEqual(expect.arrayContaining(['created', 'opened', 'paged', 'acknowledged', 'resolved']));
    expect(lifecycle.at(-1)).toMatchObject({ state: 'resolved', community: 'andali', type: 'sos' });

    // Each page's delivery status, as the Twilio-compatible server reported it back.
    const pages = await waitFor(
      'a delivered page point',
      async () => {
        const r = await rows(`SELECT * FROM "page" WHERE "incident" = '${incident.id}' AND "purpose" = 'page'`);
        return r.some((p) => p.status === 'delivered') ? r : null;
      },
      { timeoutMs: 8000, retryErrors: true, intervalMs: 50 },
    );
    expect(pages.map((p) => p.status)).toEqual(expect.arrayContaining(['queued', 'delivered']));
    expect(pages.every((p) => p.role === 'worker' || p.role === 'family')).toBe(true);
  });

  it('runs every panel and variable query of the provisioned dashboard without error, each finding data', async () => {
    // The points of the first test, and a device status and battery written by the gateway for btn-001.
    await waitFor('device_status points', async () => (await rows('SELECT count("online") FROM "device_status"')).length > 0, {
      timeoutMs: 8000,
      retryErrors: true,
      intervalMs: 50,
    });
    await waitFor(
      'a closed care_task point',
      async () => (await rows(`SELECT "open" FROM "care_task" WHERE "action" = 'closed'`)).length > 0,
      { timeoutMs: 8000, retryErrors: true, intervalMs: 50 },
    );
    // Every page got through, so "failed or undelivered" finds nothing, and no outage happened; they still have to run.
    const empty = [
      'panel "Pages failed or undelivered"',
      'panel "Open care tasks and outages" B',
      'panel "Outages and care tasks closed per day (hours open)" A',
    ];
    // The gateway runs on the system clock here, the clock its points carry.
    const range = last7Days(gw.gateway.clock.now());
    for (const { where, query } of dashboardQueries(readDashboard())) {
      const result = await rows(runnable(query, range));
      if (empty.some((e) => where.startsWith(e))) expect(result, where).toEqual([]);
      else expect(result.length, `${where}: ${runnable(query, range)}`).toBeGreaterThan(0);
    }
  });
});
