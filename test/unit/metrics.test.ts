// createMetrics: one registry per call, the names the contract's dashboards use, and latency buckets from 1 ms to 10 s.
import { describe, expect, it } from 'vitest';
import { register as globalRegistry } from 'prom-client';
import { ALARM_LATENCY_BUCKETS, createMetrics, METRIC_NAMES } from '../../gateway/metrics/metrics.js';

describe('createMetrics', () => {
  it('registers every named instrument on its own registry, never the global one', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const names = metrics.registry
      .getMetricsAsArray()
      .map((m) => m.name)
      .sort();
    expect(names).toEqual(Object.values(METRIC_NAMES).sort());
    expect(globalRegistry.getSingleMetric(METRIC_NAMES.alarmToFirstSms)).toBeUndefined();
  });

  it('can be called twice in one process (two gateways in one test run) without name clashes', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.smsSent.inc({ purpose: 'page', status: 'accepted' });
    expect(await a.registry.metrics()).toContain('sms_sent_total{purpose="page",status="accepted"} 1');
    expect(await b.registry.metrics()).not.toContain('sms_sent_total{purpose="page"');
  });

  it('buckets alarm latency from 1 ms to 10 s', () => {
    expect(ALARM_LATENCY_BUCKETS[0]).toBe(0.001);
    expect(ALARM_LATENCY_BUCKETS.at(-1)).toBe(10);
    expect([...ALARM_LATENCY_BUCKETS].sort((x, y) => x - y)).toEqual(ALARM_LATENCY_BUCKETS);
  });
});
