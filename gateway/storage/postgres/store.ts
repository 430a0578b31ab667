// Opens the PostgreSQL implementation of the Store port (DATABASE_URL), with the repos the gateway uses beside it.
import type { Store, TransactionOptions } from '../ports.js';
import { PgDatabase, type PgDatabaseOptions } from './database.js';
import { PgRegistryRepo } from './registry-repo.js';
import { PgEventRepo } from './events-repo.js';
import { PgDeviceHealthRepo, PgSecurityEventRepo } from './device-repos.js';
import { PgIncidentRepo } from './incident-repo.js';
import { PgSmsRepo } from './sms-repo.js';
import { PgSmsCapRepo } from './cap-repo.js';
import { PgPageLinkCodeRepo } from './link-code-repo.js';
import { PgFailureLedgerRepo } from './failure-ledger-repo.js';
import { PgTimerRepo } from './timer-repo.js';
import { PgVisitRepo } from './visits-repo.js';
import { PgWellnessRepo } from './wellness-repo.js';
import { PgAccountRepo } from './account-repo.js';
import { PgSupervisionRepo } from './supervision-repo.js';
import { PgTestPressRepo } from './test-press-repo.js';
import { PgBridgeLevelRepo } from './bridge-levels-repo.js';
import { PgVoiceCallRepo } from './voice-repo.js';
import { PgReportReads } from './report-reads.js';
import { PgRetentionRepo } from './retention-repo.js';

export class PostgresStore implements Store {
  readonly registry: PgRegistryRepo;
  readonly events: PgEventRepo;
  readonly health: PgDeviceHealthRepo;
  readonly security: PgSecurityEventRepo;
  readonly incidents: PgIncidentRepo;
  readonly sms: PgSmsRepo;
  /** The SMS providers' per-recipient cap counters (used by the notifiers, not part of the Store port). */
  readonly smsCaps: PgSmsCapRepo;
  /** Incident-page link codes carried by SMS (used by paging and the /i page, not part of the Store port). */
  readonly linkCodes: PgPageLinkCodeRepo;
  /** Sign-in failures every node appends and reads the others' from (lockouts across nodes; not part of the Store port). */
  readonly failureLedger: PgFailureLedgerRepo;
  /** The retention job's pruning (not part of the Store port). */
  readonly retention: PgRetentionRepo;
  readonly timers: PgTimerRepo;
  readonly visits: PgVisitRepo;
  readonly wellness: PgWellnessRepo;
  readonly accounts: PgAccountRepo;
  readonly supervision: PgSupervisionRepo;
  readonly testPresses: PgTestPressRepo;
  readonly bridgeLevels: PgBridgeLevelRepo;
  readonly voice: PgVoiceCallRepo;
  readonly reports: PgReportReads;

  constructor(readonly database: PgDatabase) {
    this.registry = new PgRegistryRepo(database);
    this.events = new PgEventRepo(database);
    this.health = new PgDeviceHealthRepo(database);
    this.security = new PgSecurityEventRepo(database);
    this.incidents = new PgIncidentRepo(database);
    this.sms = new PgSmsRepo(database);
    this.smsCaps = new PgSmsCapRepo(database);
    this.linkCodes = new PgPageLinkCodeRepo(database);
    this.failureLedger = new PgFailureLedgerRepo(database);
    this.retention = new PgRetentionRepo(database);
    this.timers = new PgTimerRepo(database);
    this.visits = new PgVisitRepo(database);
    this.wellness = new PgWellnessRepo(database);
    this.accounts = new PgAccountRepo(database);
    this.supervision = new PgSupervisionRepo(database);
    this.testPresses = new PgTestPressRepo(database);
    this.bridgeLevels = new PgBridgeLevelRepo(database);
    this.voice = new PgVoiceCallRepo(database);
    this.reports = new PgReportReads(database);
  }

  transaction<T>(work: () => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.database.transaction(work, options);
  }

  afterCommit(fn: () => void): void {
    this.database.afterCommit(fn);
  }

  /** Migrates the database and loads the SMS cap counters; one clear error naming DATABASE_URL if it cannot. */
  async prepare(): Promise<void> {
    await this.database.prepare();
    await this.smsCaps.load();
  }

  ping(): Promise<boolean> {
    return this.database.ping();
  }

  async close(): Promise<void> {
    await this.database.close();
  }
}

/**
 * Connects to `url` (a postgres:// connection string), applies the missing migrations and loads the SMS cap counters.
 * Fails with one line naming DATABASE_URL (password hidden) when the server cannot be reached or refuses the login.
 */
export async function openPostgresStore(url: string, options: PgDatabaseOptions = {}): Promise<PostgresStore> {
  const store = connectPostgresStore(url, options);
  await store.prepare();
  return store;
}

/** The store over a pool that has not connected yet: call prepare() before any other use (the gateway's first start step). */
export function connectPostgresStore(url: string, options: PgDatabaseOptions = {}): PostgresStore {
  return new PostgresStore(PgDatabase.connect(url, options));
}
