// The parts every other part is wired to: configuration, clock, log, event bus, metrics and the database.
import type { GatewayConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { EventBus } from '../core/events.js';
import { SlotJobs } from '../core/jobs.js';
import type { Logger } from '../core/logger.js';
import type { IncidentEvents } from '../incidents/service.js';
import type { IngestEvents } from '../ingest/events.js';
import { createMetrics, type GatewayMetrics } from '../metrics/metrics.js';
import type { NotifierEvents } from '../notifiers/dispatcher.js';
import type { SupervisionEvents } from '../supervision/events.js';
import { RegistryFollower } from '../registry/follower.js';
import {
  openStore,
  registryChangesOf,
  sharedWorkOf,
  slotStoreOf,
  type GatewayStore,
  type SharedWork,
  type SharedWorkTuning,
} from './storage.js';

export type GatewayEvents = IngestEvents & NotifierEvents & IncidentEvents & SupervisionEvents;

export interface Base {
  config: GatewayConfig;
  clock: Clock;
  log: Logger;
  bus: EventBus<GatewayEvents>;
  metrics: GatewayMetrics;
  /** SQLite in DATA_DIR, or PostgreSQL when DATABASE_URL is set (connected by the 'database' start step). */
  store: GatewayStore;
  /** Several nodes on PostgreSQL: timers armed from the shared table, SMS and calls sent under leases; null on SQLite. */
  sharedWork: SharedWork | null;
  /** Runs each slot of a scheduled job once across the nodes sharing PostgreSQL; on SQLite, every trigger runs. */
  slots: SlotJobs;
  /** Reloads this node's registry views after another node's import (PostgreSQL); idle on SQLite. */
  registryFollower: RegistryFollower;
}

/** Opens the database (SQLite migrated here, PostgreSQL at start) and creates the bus and metrics; nothing listens or runs yet. */
export function wireBase(config: GatewayConfig, clock: Clock, log: Logger, tuning: SharedWorkTuning = {}): Base {
  const metrics = createMetrics();
  const store = openStore(config, log, metrics, tuning);
  const slots = new SlotJobs({ store: slotStoreOf(store), node: config.nodeId ?? 'gateway', clock, log: log.child({ part: 'job slots' }) });
  const registryFollower = new RegistryFollower({ changes: registryChangesOf(store), log: log.child({ part: 'registry follower' }) });
  return {
    config,
    clock,
    log,
    bus: new EventBus<GatewayEvents>(log),
    metrics,
    store,
    sharedWork: sharedWorkOf(store, log, tuning),
    slots,
    registryFollower,
  };
}
