// Wires the side branches that watch the alarm path without ever holding it up: the InfluxDB writer, the live feed and the map data.
import { ClusterFeed } from '../live/cluster.js';
import { LiveFeed } from '../live/feed.js';
import { MapData } from '../live/map-data.js';
import { TelemetryWriter } from '../telemetry/writer.js';
import type { Base } from './base.js';
import type { DeviceParts } from './devices.js';
import type { IncidentParts } from './incidents.js';
import { feedChannelOf, type FeedChannel } from './storage.js';

export interface ObserverParts {
  telemetry: TelemetryWriter;
  /** Server-sent events for the dashboard (incidents, pages, devices, tasks, outages), scoped per caller. */
  live: LiveFeed;
  /** Communities, buildings and residents with their state, for the dashboard map and the incident page's map. */
  map: MapData;
  /** Nodes sharing PostgreSQL: the channel (LISTEN/NOTIFY) that carries the live feed between them; null on SQLite. */
  feedChannel: FeedChannel | null;
}

export type ObserverWiring = Base & Pick<DeviceParts, 'ingest'> & Pick<IncidentParts, 'views'> & { liveHeartbeatMs?: number };

export function wireObservers(w: ObserverWiring): ObserverParts {
  const { config, store, bus, metrics, clock, log } = w;
  const feedChannel = feedChannelOf(store, config, log.child({ part: 'live channel' }));
  const cluster = feedChannel
    ? new ClusterFeed({
        transport: feedChannel,
        node: config.nodeId ?? 'gateway',
        log: log.child({ part: 'live' }),
        count: (outcome, n) => metrics.liveFeedNotices.inc({ outcome }, n),
      })
    : null;
  // Before the live feed's own handler: a dashboard that reloads on a device notice reads the state it announced.
  cluster?.onNotices((notices) => {
    for (const n of notices) if (n.kind === 'device') w.ingest.heardElsewhere(n.deviceId, n.state, n.at);
  });
  const live = new LiveFeed({
    bus,
    views: w.views,
    incidents: store.incidents,
    registry: store.registry,
    log: log.child({ part: 'live' }),
    ...(w.liveHeartbeatMs ? { heartbeatMs: w.liveHeartbeatMs } : {}),
    ...(cluster ? { cluster: { feed: cluster, supervision: store.supervision } } : {}),
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
  return { telemetry, live, map, feedChannel };
}
