// The store engine the configuration selects (SQLite in DATA_DIR, or PostgreSQL at DATABASE_URL), and what only one engine offers.
import type { FailureLedgerRepo } from '../lockouts/repo.js';
import type { GatewayConfig } from '../config/schema.js';
import type { ComponentHealth } from '../core/health.js';
import type { Logger } from '../core/logger.js';
import type { DeviceHealth } from '../core/types.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { RetentionRepo } from '../retention/retention.js';
import { connectPostgresStore, type PostgresStore } from '../storage/postgres/store.js';
import { databaseHealth } from '../storage/sqlite/health.js';
import { SqliteRetentionRepo } from '../storage/sqlite/retention-repo.js';
import { databaseFile, openSqliteStore, SqliteStore } from '../storage/sqlite/store.js';

/** Either engine: both implement the Store port and carry the SMS cap counters and the page link codes beside it. */
export type GatewayStore = SqliteStore | PostgresStore;

export type StoreEngine = 'sqlite' | 'postgresql';

/**
 * Builds the store without waiting on anything: SQLite opens (and migrates) its file here; PostgreSQL gets a pool that
 * connects at prepareStore(), the first start-up step, since opening it is asynchronous.
 */
export function openStore(config: GatewayConfig, log: Logger, metrics: GatewayMetrics): GatewayStore {
  if (config.databaseUrl) {
    return connectPostgresStore(config.databaseUrl, {
      onConnectionError: (err) => log.error({ err, part: 'storage' }, 'PostgreSQL connection lost'),
      onAfterCommitError: (err) => log.error({ err, part: 'storage' }, 'a post-commit step failed'),
    });
  }
  const store = openSqliteStore(databaseFile(config.dataDir), {
    onStorageProblem: (err) => log.error({ err, part: 'storage' }, 'database disk problem'),
  });
  store.database.observeCommits((c) => metrics.sqliteCommitDuration.observe({ durability: c.durability }, c.ms / 1000));
  return store;
}

export function engineOf(store: GatewayStore): StoreEngine {
  return store instanceof SqliteStore ? 'sqlite' : 'postgresql';
}

/** PostgreSQL: connects, migrates and loads the cap counters, or fails with one line naming DATABASE_URL. SQLite is ready. */
export async function prepareStore(store: GatewayStore): Promise<void> {
  if (!(store instanceof SqliteStore)) await store.prepare();
}

/** Where nodes share sign-in failures: PostgreSQL; null on SQLite, where one node keeps its limits in memory. */
export function failureLedgerOf(store: GatewayStore): FailureLedgerRepo | null {
  return store instanceof SqliteStore ? null : store.failureLedger;
}

export function retentionRepoOf(store: GatewayStore): RetentionRepo {
  return store instanceof SqliteStore ? new SqliteRetentionRepo(store.database) : store.retention;
}

/**
 * The database's /healthz component, naming its engine. SQLite adds whether recent commits are known to be on disk;
 * PostgreSQL is up while it answers a query (its durability is the server's, watched by its own monitoring).
 */
export function databaseComponent(store: GatewayStore, up: boolean): ComponentHealth {
  if (store instanceof SqliteStore) return { engine: 'sqlite', ...databaseHealth(up, () => store.database.storageHealth()) };
  return up ? { engine: 'postgresql', status: 'up' } : { engine: 'postgresql', status: 'down', detail: 'PostgreSQL does not answer' };
}

/**
 * Device health as last stored, read synchronously, for lists built without the ingest's live health. Only SQLite can
 * answer synchronously; on PostgreSQL the caller must pass the ingest's live health.
 */
export function storedHealthOf(store: GatewayStore): ((deviceId: string) => DeviceHealth | null) | null {
  return store instanceof SqliteStore ? (deviceId) => store.health.read(deviceId) : null;
}
