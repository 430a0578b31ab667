// The store engine the configuration selects (SQLite in DATA_DIR, or PostgreSQL at DATABASE_URL), and what only one engine offers.
import { mkdirSync } from 'node:fs';
import type { FailureLedgerRepo } from '../lockouts/repo.js';
import type { GatewayConfig } from '../config/schema.js';
import type { ComponentHealth } from '../core/health.js';
import type { SlotStore } from '../core/jobs.js';
import { GatewayError } from '../core/errors.js';
import { linkSecretFingerprint } from '../http/links.js';
import type { ChangeFeed, Leasing } from '../core/leases.js';
import type { Logger } from '../core/logger.js';
import type { DeviceHealth, OutboundSms } from '../core/types.js';
import type { SharedTimers } from '../escalation/timers.js';
import type { NoticesStatus } from '../storage/postgres/notices.js';
import { PgNotifyChannel } from '../storage/postgres/notify.js';
import type { VoiceCall } from '../voice/repo.js';
import { Gauge } from 'prom-client';
import { POSTGRES_METRIC_NAMES, type GatewayMetrics } from '../metrics/metrics.js';
import type { RetentionRepo } from '../retention/retention.js';
import { DEFAULT_LEASE_MS } from '../storage/postgres/leases.js';
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
export function openStore(config: GatewayConfig, log: Logger, metrics: GatewayMetrics, tuning: SharedWorkTuning = {}): GatewayStore {
  if (config.databaseUrl) {
    // DATA_DIR is still this node's local state (its free-space check reads it): created if missing, as with SQLite.
    mkdirSync(config.dataDir, { recursive: true });
    const pgStore = connectPostgresStore(config.databaseUrl, {
      onConnectionError: (err) => log.error({ err, part: 'storage' }, 'PostgreSQL connection lost'),
      onAfterCommitError: (err) => log.error({ err, part: 'storage' }, 'a post-commit step failed'),
      lease: { ...(config.nodeId ? { nodeId: config.nodeId } : {}), leaseMs: tuning.leaseMs ?? DEFAULT_LEASE_MS },
      ...(tuning.idleInTransactionMs ? { idleInTransactionMs: tuning.idleInTransactionMs } : {}),
      ...(tuning.noticesRetryMs ? { noticesRetryMs: tuning.noticesRetryMs } : {}),
      ...(tuning.queryTimeoutMs ? { queryTimeoutMs: tuning.queryTimeoutMs } : {}),
    });
    pgStore.database.observeCommits((c) =>
      metrics.storeCommitDuration.observe({ engine: 'postgresql', durability: c.durability }, c.ms / 1000),
    );
    registerNoticesMetrics(metrics, pgStore);
    return pgStore;
  }
  const store = openSqliteStore(databaseFile(config.dataDir), {
    onStorageProblem: (err) => log.error({ err, part: 'storage' }, 'database disk problem'),
  });
  store.database.observeCommits((c) => {
    metrics.sqliteCommitDuration.observe({ durability: c.durability }, c.ms / 1000);
    metrics.storeCommitDuration.observe({ engine: 'sqlite', durability: c.durability }, c.ms / 1000);
  });
  return store;
}

/** The listening connection's state at each scrape: 0 while timers and other nodes' notices are only polled for. */
function registerNoticesMetrics(metrics: GatewayMetrics, store: PostgresStore): void {
  const registers = [metrics.registry];
  new Gauge({
    name: POSTGRES_METRIC_NAMES.noticesListening,
    help: 'Whether this node listens for PostgreSQL notices (timers, SMS caps, the live feed across nodes): 1 yes, 0 no',
    registers,
    collect() {
      this.set(store.database.notices.status().state === 'listening' ? 1 : 0);
    },
  });
  new Gauge({
    name: POSTGRES_METRIC_NAMES.noticesReconnects,
    help: 'Reconnection attempts of the PostgreSQL notices connection since start',
    registers,
    collect() {
      this.set(store.database.notices.status().reconnects);
    },
  });
}

/** Tunables of work shared by several nodes on PostgreSQL, which no setting exposes (tests shorten them). */
export interface SharedWorkTuning {
  /** How long an unsent SMS or unplaced call stays with its node without a renewal (default 15 s). */
  leaseMs?: number;
  /** How often a node reads the timers due soon and looks for work whose lease ran out (default 1 s). */
  pollMs?: number;
  /** How long the server lets a session sit idle inside a transaction before ending it (default 30 s). */
  idleInTransactionMs?: number;
  /** Back-off of the notices connection's reconnection attempts (default 1 s doubling to 10 s). */
  noticesRetryMs?: { first: number; max: number };
  /** How long a round trip to PostgreSQL may go unanswered before it fails (default 5 s; see PgDatabaseOptions). */
  queryTimeoutMs?: number;
  /**
   * How long a recorded alarm may wait for the node that took it before any node acts on it (default 10 s): the
   * node died after its PUBACK, or lags far behind.
   */
  adoptAfterMs?: number;
}

/** The work several nodes share through PostgreSQL: every node arms every timer, SMS and calls go by lease. */
export interface SharedWork {
  timers: SharedTimers;
  sms: Leasing<OutboundSms>;
  calls: Leasing<VoiceCall>;
  /** The signal processor's sweep for events no node acted on in time. */
  signals: { everyMs: number; afterMs: number };
}

const DEFAULT_ADOPT_AFTER_MS = 10_000;

/** On PostgreSQL, the shared timers and the leases; on SQLite (one node) null, and nothing changes. */
export function sharedWorkOf(store: GatewayStore, log: Logger, tuning: SharedWorkTuning = {}): SharedWork | null {
  if (store instanceof SqliteStore) return null;
  const pollMs = tuning.pollMs ?? 1000;
  const renewEveryMs = Math.max(1, Math.floor((tuning.leaseMs ?? DEFAULT_LEASE_MS) / 3));
  const changes = store.timerChanges();
  return {
    timers: { pollMs, changes },
    sms: { leases: store.smsLeases, renewEveryMs, takeOverEveryMs: pollMs },
    calls: { leases: store.callLeases, renewEveryMs, takeOverEveryMs: pollMs },
    signals: { everyMs: 2 * pollMs, afterMs: tuning.adoptAfterMs ?? DEFAULT_ADOPT_AFTER_MS },
  };
}

export function engineOf(store: GatewayStore): StoreEngine {
  return store instanceof SqliteStore ? 'sqlite' : 'postgresql';
}

/** The link secret this node signs with, for the check that every node sharing the database uses the same one. */
export interface NodeSecret {
  linkSecret: Buffer;
  nodeId: string;
  /** Where this node read it (LINK_SECRET_FILE or DATA_DIR/link-secret), for the refusal's line. */
  source: string;
  at: number;
}

/**
 * PostgreSQL: connects, migrates, loads the cap counters and opens the pool's connections, or fails with one line
 * naming DATABASE_URL; then refuses to start a node whose link secret differs from the one the database's first node
 * used, since a link or sign-in code one node sends would be refused by the other. SQLite (one node) is ready.
 */
export async function prepareStore(store: GatewayStore, secret?: NodeSecret): Promise<void> {
  if (store instanceof SqliteStore) return;
  await store.prepare();
  // Before the node takes devices: a connect storm right after start then opens no new server processes.
  await store.database.fillPool();
  if (!secret) return;
  const agreed = await store.agreeOnSecret('link', linkSecretFingerprint(secret.linkSecret), secret.nodeId, secret.at);
  if (agreed.ok) return;
  await store.close();
  throw new GatewayError(
    'GW_ERR_CONFIG',
    `LINK_SECRET_FILE: this node's link secret (${secret.source}) differs from the one node ${agreed.node} uses with this database; ` +
      `give every node the same secret file (copy ${agreed.node}'s DATA_DIR/link-secret, or point LINK_SECRET_FILE at a shared one)`,
  );
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
  const notices = store.database.notices.status();
  if (!up) return { engine: 'postgresql', status: 'down', detail: 'PostgreSQL does not answer', notices };
  return { engine: 'postgresql', ...noticesHealth(notices), notices };
}

/**
 * The one listening connection (timers, SMS caps, the live feed across nodes) lost while queries still work: alarms
 * are recorded and paged, so it degrades the component and never makes /healthz 503 by itself.
 */
function noticesHealth(n: NoticesStatus): Pick<ComponentHealth, 'status' | 'detail'> {
  if (n.state !== 'down') return { status: 'up' };
  const since = n.since === null ? '' : ` since ${new Date(n.since).toISOString()}`;
  return {
    status: 'degraded',
    detail:
      `notices connection reconnecting${since} (${n.lastError ?? 'unknown error'}): other nodes' timers and SMS counts are ` +
      `read by polling, their live dashboard updates wait for it`,
  };
}

/**
 * Device health as last stored, read synchronously, for lists built without the ingest's live health. Only SQLite can
 * answer synchronously; on PostgreSQL the caller must pass the ingest's live health.
 */
export function storedHealthOf(store: GatewayStore): ((deviceId: string) => DeviceHealth | null) | null {
  return store instanceof SqliteStore ? (deviceId) => store.health.read(deviceId) : null;
}

/** Where scheduled jobs record their slots across nodes: PostgreSQL's; null on SQLite, one node, where every trigger runs. */
export function slotStoreOf(store: GatewayStore): SlotStore | null {
  return store instanceof SqliteStore ? null : store.jobSlots;
}

/** Other nodes' registry writes as they commit: PostgreSQL notices; none on SQLite, one node. */
export function registryChangesOf(store: GatewayStore): ChangeFeed | null {
  return store instanceof SqliteStore ? null : store.registry.changes();
}

/** The live feed's channel between nodes: LISTEN/NOTIFY on PostgreSQL; none on SQLite, one node. */
export type FeedChannel = PgNotifyChannel;

export function feedChannelOf(store: GatewayStore, config: GatewayConfig, log: Logger): FeedChannel | null {
  if (store instanceof SqliteStore || !config.databaseUrl) return null;
  return new PgNotifyChannel({ database: store.database, name: 'care_live', log });
}
