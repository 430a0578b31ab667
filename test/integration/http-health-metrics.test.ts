// GET /healthz (ok / degraded / down with 200 or 503) and GET /metrics (Prometheus text with the gateway's instruments).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpFixture, type HttpFixture } from '../helpers/http-fixture.js';

describe('GET /healthz', () => {
  let fx: HttpFixture;
  beforeEach(async () => {
    fx = await createHttpFixture();
  });
  afterEach(async () => fx.close());

  it('answers 200 ok with every component when all is well', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'ok',
      alarmsOk: true,
      components: { broker: { status: 'up' }, database: { status: 'up' }, sms: { status: 'up' }, influx: { status: 'disabled' } },
      unassignedIncidents: 0,
    });
  });

  it('stays 200 but says degraded, naming the part, in outbox mode or with InfluxDB down', async () => {
    fx.healthReport.components.sms = { status: 'degraded', detail: 'outbox mode: SMS are not sent' };
    const outbox = await fx.app.inject({ method: 'GET', url: '/healthz' });
    expect(outbox.statusCode).toBe(200);
    expect(outbox.json()).toMatchObject({
      status: 'degraded',
      components: { sms: { status: 'degraded', detail: 'outbox mode: SMS are not sent' } },
    });

    fx.healthReport.components.sms = { status: 'up' };
    fx.healthReport.components.influx = { status: 'down', detail: 'ECONNREFUSED' };
    const influx = await fx.app.inject({ method: 'GET', url: '/healthz' });
    expect(influx.statusCode).toBe(200);
    expect(influx.json()).toMatchObject({ status: 'degraded', components: { influx: { status: 'down' } } });
  });

  it('says degraded while an incident has nobody paged', async () => {
    fx.healthReport.unassignedIncidents = 2;
    const res = await fx.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'degraded', unassignedIncidents: 2 });
  });

  it('answers 503 down when alarms cannot be taken or paged', async () => {
    fx.healthReport.alarmsOk = false;
    fx.healthReport.components.database = { status: 'down', detail: 'not answering' };
    const res = await fx.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'down', alarmsOk: false, components: { database: { status: 'down' } } });
  });

  it('answers 503 down when the health check itself fails', async () => {
    const broken = await createHttpFixture({
      override: {
        health: async () => {
          throw new Error('health probe exploded');
        },
      },
    });
    try {
      const res = await broken.app.inject({ method: 'GET', url: '/healthz' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ status: 'down', alarmsOk: false });
      expect(res.body).not.toContain('exploded');
    } finally {
      await broken.close();
    }
  });
});

describe('GET /metrics', () => {
  let fx: HttpFixture;
  beforeEach(async () => {
    fx = await createHttpFixture();
  });
  afterEach(async () => fx.close());

  it('serves Prometheus text with the alarm latency histogram and process metrics, without auth', async () => {
    fx.metrics.alarmToFirstSms.observe(0.004);
    fx.metrics.eventsIngested.inc({ type: 'sos' });
    fx.metrics.unassignedIncidents.set(1);
    const res = await fx.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('# TYPE alarm_to_first_sms_seconds histogram');
    expect(res.body).toContain('alarm_to_first_sms_seconds_bucket{le="0.001"} 0');
    expect(res.body).toContain('alarm_to_first_sms_seconds_bucket{le="0.005"} 1');
    expect(res.body).toContain('alarm_to_first_sms_seconds_bucket{le="10"} 1');
    expect(res.body).toContain('events_ingested_total{type="sos"} 1');
    expect(res.body).toContain('unassigned_incidents 1');
    expect(res.body).toContain('process_cpu_user_seconds_total');
  });
});
