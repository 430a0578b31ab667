// The InfluxDB writer's /healthz component: never worse than degraded, because telemetry is a side branch of the alarm path.
import type { ComponentHealth } from '../core/health.js';
import type { TelemetryHealth } from './writer.js';

export function influxHealth(h: TelemetryHealth): ComponentHealth {
  if (h.status === 'disabled') return { status: 'disabled', detail: 'INFLUX_URL not set' };
  // When InfluxDB is down the gateway still takes and pages alarms, so it only degrades.
  return {
    ...h,
    status: h.status === 'up' ? 'up' : 'degraded',
    ...(h.status === 'down' ? { detail: 'InfluxDB unreachable; points buffered (bounded) and retried' } : {}),
  };
}
