// The parts every other part is wired to: configuration, clock, log, event bus, metrics and the database.
import type { GatewayConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import type { IncidentEvents } from '../incidents/service.js';
import type { IngestEvents } from '../ingest/events.js';
import { createMetrics, type GatewayMetrics } from '../metrics/metrics.js';
import type { NotifierEvents } from '../notifiers/dispatcher.js';
import { databaseFile, openSqliteStore, type SqliteStore } from '../storage/sqlite/store.js';
import type { SupervisionEvents } from '../supervision/events.js';

export type GatewayEvents = IngestEvents & NotifierEvents & IncidentEvents & SupervisionEvents;

export interface Base {
  config: GatewayConfig;
  clock: Clock;
  log: Logger;
  bus: EventBus<GatewayEvents>;
  metrics: GatewayMetrics;
  store: SqliteStore;
}

/** Opens the database (migrating it) and creates the bus and metrics; nothing listens or runs yet. */
export function wireBase(config: GatewayConfig, clock: Clock, log: Logger): Base {
  const metrics = createMetrics();
  const store = openSqliteStore(databaseFile(config.dataDir), {
    onStorageProblem: (err) => log.error({ err, part: 'storage' }, 'database disk problem'),
  });
  store.database.observeCommits((c) => metrics.sqliteCommitDuration.observe({ durability: c.durability }, c.ms / 1000));
  return { config, clock, log, bus: new EventBus<GatewayEvents>(log), metrics, store };
}
