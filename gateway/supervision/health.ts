// What device supervision tells /healthz (a component, degraded while an outage is open) and /metrics (gauges read at scrape time).
import { Gauge, type Registry } from 'prom-client';
import { CARE_TASK_KINDS } from '../core/types.js';
import type { ComponentHealth } from '../core/health.js';
import { SUPERVISION_METRIC_NAMES } from '../metrics/metrics.js';
import type { SupervisionHealth, SupervisionMetricsSnapshot } from './service.js';

/** What the gauges read of Supervision; all in memory, no query per scrape. */
export interface SupervisionObservable {
  metricsSnapshot(): SupervisionMetricsSnapshot;
}

/**
 * The `supervision` component of /healthz: 'degraded' while an outage is open (devices of a whole place cannot raise
 * alarms, which a person should know), 'up' otherwise. Open tasks alone do not degrade: they are routine care work.
 */
export function supervisionHealthComponent(h: SupervisionHealth): ComponentHealth {
  const component: ComponentHealth = { status: h.openOutages > 0 ? 'degraded' : 'up', ...h };
  if (h.openOutages > 0) {
    component.detail = `${h.openOutages} grouped device outage${h.openOutages === 1 ? '' : 's'} open since ${h.oldestOpenOutageAt ?? '?'}: those devices cannot raise alarms`;
  }
  return component;
}

/**
 * Registers the supervision gauges on the gateway's registry. collect() runs at each scrape, so the values are the
 * state at that moment and nothing has to keep them up to date. Call once per registry (prom-client refuses a name twice).
 */
export function registerSupervisionMetrics(registry: Registry, supervision: SupervisionObservable): void {
  const n = SUPERVISION_METRIC_NAMES;
  const registers = [registry];
  new Gauge({
    name: n.careTasksOpen,
    help: 'Open care tasks, by kind',
    labelNames: ['kind'],
    registers,
    collect() {
      const counts = supervision.metricsSnapshot().tasksByKind;
      // Every kind, zeros included, so a kind that empties reads 0 rather than vanishing from the scrape.
      for (const kind of CARE_TASK_KINDS) this.set({ kind }, counts[kind]);
    },
  });
  new Gauge({
    name: n.outagesOpen,
    help: 'Open grouped device outages, by place (building or community)',
    labelNames: ['place'],
    registers,
    collect() {
      const { outagesByPlace } = supervision.metricsSnapshot();
      this.set({ place: 'building' }, outagesByPlace.building);
      this.set({ place: 'community' }, outagesByPlace.community);
      this.set({ place: 'bridge' }, outagesByPlace.bridge);
    },
  });
  new Gauge({
    name: n.outageOldestOpenSeconds,
    help: 'Seconds the oldest open grouped outage has been open; 0 when none is open',
    registers,
    collect() {
      this.set(supervision.metricsSnapshot().oldestOutageAgeSeconds);
    },
  });
}
