// An InfluxDB outage must not delay or lose a single alarm: the whole gateway against a real influxd that stops and starts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import type { MqttClient } from 'mqtt';
import { connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { queryClient, startInfluxd, type InfluxdServer } from '../helpers/influxd.js';

const W1 = '+8613900000001';

describe('InfluxDB outage and the alarm path', () => {
  let influxd: InfluxdServer;
  let t: TestGateway | null = null;
  let button: MqttClient | null = null;

  beforeAll(async () => {
    influxd = await startInfluxd();
  });
  afterEach(async () => {
    await button?.endAsync();
    button = null;
    await t?.stop();
    t = null;
    if (!influxd.running) await influxd.start();
  });
  afterAll(async () => {
    await influxd.dispose();
  });

  const health = async () => {
    const res = await fetch(`${t!.httpUrl}/healthz`);
    return {
      status: res.status,
      body: (await res.json()) as { status: string; components: { influxdb: { status: string; buffered?: number } } },
    };
  };

  it('pages at once while InfluxDB is down, reports it degraded, and backfills the event when it returns', async () => {
    t = await startTestGateway({ env: { INFLUX_URL: influxd.url, INFLUX_DATABASE: 'outage' } });
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
    await influxd.stop();

    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'), 3000);

    const down = await waitFor(
      'influxdb degraded in /healthz',
      async () => {
        const h = await health();
        return h.body.components.influxdb.status === 'degraded' ? h : null;
      },
      { timeoutMs: 8000, retryErrors: true, intervalMs: 50 },
    );
    expect(down.status).toBe(200);
    expect(down.body.status).toBe('degraded');
    expect(down.body.components.influxdb.buffered).toBeGreaterThan(0);

    await influxd.start();
    const influx = queryClient(influxd, 'outage');
    const rows = await waitFor(
      'the sos event of btn-001 in InfluxDB',
      async () => {
        const r = await influx.query<{ type: string; device: string }>(`SELECT * FROM "event" WHERE device = 'btn-001'`);
        return r.length >= 1 ? r : null;
      },
      { timeoutMs: 15_000, retryErrors: true, intervalMs: 50 },
    );
    expect(rows[0]).toMatchObject({ type: 'sos', device: 'btn-001' });
    await waitFor('influxdb up in /healthz', async () => (await health()).body.components.influxdb.status === 'up', {
      timeoutMs: 15_000,
      retryErrors: true,
      intervalMs: 50,
    });
  });

  it('pages while InfluxDB hangs (it accepts and never answers), before the write of the event is given up', async () => {
    t = await startTestGateway({ env: { INFLUX_URL: influxd.url, INFLUX_DATABASE: 'hung' } });
    const telemetry = t.gateway.telemetry;
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
    await button.publishAsync('care/v1/btn-001/status', 'online', { qos: 1, retain: true });
    await waitFor('a first write to InfluxDB', () => telemetry.health().status === 'up' && telemetry.health().written > 0);
    influxd.freeze();
    try {
      await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
      // The deadline is longer than the writer's request timeout (10 s), so a page that waited for the write would
      // still turn up, only after the writer had given the write up: the health below tells the two apart.
      await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'), 30_000);
      const h = telemetry.health();
      expect(h).toMatchObject({ status: 'up', lastError: null });
      expect(h.buffered).toBeGreaterThan(0);
    } finally {
      influxd.thaw();
    }
    const influx = queryClient(influxd, 'hung');
    await waitFor(
      'the sos event of btn-001 in InfluxDB once it answers again',
      async () => (await influx.query(`SELECT * FROM "event" WHERE device = 'btn-001'`)).length >= 1,
      { timeoutMs: 20_000, retryErrors: true, intervalMs: 50 },
    );
  }, 60_000);

  it('starts and pages when InfluxDB is unreachable from the start', async () => {
    await influxd.stop();
    t = await startTestGateway({ env: { INFLUX_URL: influxd.url, INFLUX_DATABASE: 'late' } });
    const h = await health();
    expect(h.status).toBe(200);
    expect(h.body.components.influxdb.status).toBe('degraded');
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'), 3000);
  });
});
