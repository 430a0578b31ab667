// Opens the SQLite implementation of the Store port.
import { join } from 'node:path';
import type { Store, TransactionOptions } from '../ports.js';
import { SqliteDatabase, type SqliteDatabaseOptions } from './database.js';
import { SqliteRegistryRepo } from './registry-repo.js';
import { SqliteEventRepo } from './events-repo.js';
import { SqliteDeviceHealthRepo, SqliteSecurityEventRepo } from './device-repos.js';
import { SqliteIncidentRepo } from './incident-repo.js';
import { SqliteSmsRepo } from './sms-repo.js';
import { SqliteSmsCapRepo } from './cap-repo.js';
import { SqliteFailureLedgerRepo } from './failure-ledger-repo.js';
import { SqlitePageLinkCodeRepo } from './link-code-repo.js';
import { SqliteTimerRepo } from './timer-repo.js';
import { SqliteVisitRepo } from './visits-repo.js';
import { SqliteWellnessRepo } from './wellness-repo.js';
import { SqliteAccountRepo } from './account-repo.js';
import { SqliteSupervisionRepo } from './supervision-repo.js';
import { SqliteTestPressRepo } from './test-press-repo.js';
import { SqliteBridgeLevelRepo } from './bridge-levels-repo.js';
import { SqliteSessionStartRepo } from './session-starts-repo.js';
import { SqliteVoiceCallRepo } from './voice-repo.js';
import { SqliteReportReads } from './report-reads.js';

export class SqliteStore implements Store {
  readonly registry: SqliteRegistryRepo;
  readonly events: SqliteEventRepo;
  readonly health: SqliteDeviceHealthRepo;
  readonly security: SqliteSecurityEventRepo;
  readonly incidents: SqliteIncidentRepo;
  readonly sms: SqliteSmsRepo;
  /** The SMS providers' per-recipient cap counters (used by the notifiers, not part of the Store port). */
  readonly smsCaps: SqliteSmsCapRepo;
  /** Incident-page link codes carried by SMS (used by paging and the /i page, not part of the Store port). */
  readonly linkCodes: SqlitePageLinkCodeRepo;
  /** Sign-in failures shared between nodes (not part of the Store port; one SQLite node keeps its limits in memory). */
  readonly failureLedger: SqliteFailureLedgerRepo;
  readonly timers: SqliteTimerRepo;
  readonly visits: SqliteVisitRepo;
  readonly wellness: SqliteWellnessRepo;
  readonly accounts: SqliteAccountRepo;
  readonly supervision: SqliteSupervisionRepo;
  readonly testPresses: SqliteTestPressRepo;
  readonly bridgeLevels: SqliteBridgeLevelRepo;
  readonly sessionStarts: SqliteSessionStartRepo;
  readonly voice: SqliteVoiceCallRepo;
  readonly reports: SqliteReportReads;

  constructor(readonly database: SqliteDatabase) {
    this.registry = new SqliteRegistryRepo(database);
    this.events = new SqliteEventRepo(database);
    this.health = new SqliteDeviceHealthRepo(database);
    this.security = new SqliteSecurityEventRepo(database);
    this.incidents = new SqliteIncidentRepo(database);
    this.sms = new SqliteSmsRepo(database);
    this.smsCaps = new SqliteSmsCapRepo(database);
    this.linkCodes = new SqlitePageLinkCodeRepo(database);
    this.failureLedger = new SqliteFailureLedgerRepo(database);
    this.timers = new SqliteTimerRepo(database);
    this.visits = new SqliteVisitRepo(database);
    this.wellness = new SqliteWellnessRepo(database);
    this.accounts = new SqliteAccountRepo(database);
    this.supervision = new SqliteSupervisionRepo(database);
    this.testPresses = new SqliteTestPressRepo(database);
    this.bridgeLevels = new SqliteBridgeLevelRepo(database);
    this.sessionStarts = new SqliteSessionStartRepo(database);
    this.voice = new SqliteVoiceCallRepo(database);
    this.reports = new SqliteReportReads(database);
  }

  transaction<T>(work: () => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.database.transaction(work, options);
  }

  afterCommit(fn: () => void): void {
    this.database.afterCommit(fn);
  }

  async ping(): Promise<boolean> {
    try {
      return this.database.stmt<[], { ok: number }>('SELECT 1 AS ok').get()?.ok === 1;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.database.close();
  }
}

/** Opens (creating and migrating if needed) the database file; `path` may be a file or `:memory:`. */
export function openSqliteStore(path: string, options: SqliteDatabaseOptions = {}): SqliteStore {
  return new SqliteStore(new SqliteDatabase(path, options));
}

export function databaseFile(dataDir: string): string {
  return join(dataDir, 'gateway.db');
}
