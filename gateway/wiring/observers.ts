// Wires the side branches that watch the alarm path without ever holding it up: the InfluxDB writer, the live feed and the map data.
import { LiveFeed } from '../live/feed.js';
import { MapData } from '../live/map-data.js';
import { TelemetryWriter } from '../telemetry/writer.js';
import type { Base } from './base.js';
import type { DeviceParts } from './devices.js';
import type { IncidentParts } from './incidents.js';

export interface ObserverParts {
  telemetry: TelemetryWriter;
  /** Server-sent events for the dashboard (incidents, pages, devices, tasks, outages), scoped per caller. */
  live: LiveFeed;
  /** Communities, buildings and residents with their state, for the dashboard map and the incident page's map. */
  map: MapData;
}

export type ObserverWiring = Base & Pick<DeviceParts, 'ingest'> & Pick<IncidentParts, 'views'> & { liveHeartbeatMs?: number };

export function wireObservers(w: ObserverWiring): ObserverParts {
  const { config, store, bus, metrics, clock, log } = w;
  const live = new LiveFeed({
    bus,
    views: w.views,
    incidents: store.incidents,
    registry: store.registry,
    log: log.child({ part: 'live' }),
    ...(w.liveHeartbeatMs ? { heartbeatMs: w.liveHeartbeatMs } : {}),
  });
  const map = new MapData({ registry: store.registry, incidents: store.incidents, health: (id) => w.ingest.healthOf(id) });
  const telemetry = new TelemetryWriter({
    config: config.influx,
    store,
    bus,
    log: log.child({ part: 'telemetry' }),
    clock,
    onDropped: (n) => metrics.telemetryDropped.inc(n),
  });
  return { telemetry, live, map };
}
