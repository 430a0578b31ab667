// Opens the PostgreSQL implementation of the Store port (DATABASE_URL), with the repos the gateway uses beside it.
import { errorMessage, GatewayError } from '../../core/errors.js';
import type { Store, TransactionOptions } from '../ports.js';
import { PgDatabase, type PgDatabaseOptions } from './database.js';
import { PgRegistryRepo } from './registry-repo.js';
import { PgEventRepo } from './events-repo.js';
import { PgDeviceHealthRepo, PgSecurityEventRepo } from './device-repos.js';
import { PgIncidentRepo } from './incident-repo.js';
import { PgSmsRepo } from './sms-repo.js';
import { PgSmsCapRepo, type PgSmsCapOptions } from './cap-repo.js';
import { PgPageLinkCodeRepo } from './link-code-repo.js';
import { PgFailureLedgerRepo } from './failure-ledger-repo.js';
import { PgTimerRepo } from './timer-repo.js';
import { PgVisitRepo } from './visits-repo.js';
import { PgWellnessRepo } from './wellness-repo.js';
import { PgAccountRepo } from './account-repo.js';
import { PgSupervisionRepo } from './supervision-repo.js';
import { PgTestPressRepo } from './test-press-repo.js';
import { PgBridgeLevelRepo } from './bridge-levels-repo.js';
import { PgSessionStartRepo } from './session-starts-repo.js';
import { PgVoiceCallRepo } from './voice-repo.js';
import { PgReportReads } from './report-reads.js';
import { PgRetentionRepo } from './retention-repo.js';
import { leaseOptions, PgCallLeases, PgSmsLeases, type PgLeaseOptions } from './leases.js';
import type { NoticesState } from './notices.js';
import type { ChangeFeed } from '../../core/leases.js';
import { TIMER_CHANNEL } from './timer-repo.js';

/** The timer notices as a ChangeFeed, with the state of the connection they arrive on. */
export interface TimerChanges extends ChangeFeed {
  status(): NoticesState;
  backendPid(): number | null;
}

export interface PostgresStoreOptions extends PgDatabaseOptions {
  /** The SMS cap counters' reload period (tests shorten it). */
  smsCaps?: PgSmsCapOptions;
  /** This node's id and lease length on the SMS and calls it stores (default: the host name, 15 s). */
  lease?: Partial<PgLeaseOptions>;
}
import { PgJobSlots } from './job-slots.js';

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
  /** Scheduled jobs' slots across nodes (not part of the Store port: one SQLite node has no one to share them with). */
  readonly jobSlots: PgJobSlots;
  readonly timers: PgTimerRepo;
  readonly visits: PgVisitRepo;
  readonly wellness: PgWellnessRepo;
  readonly accounts: PgAccountRepo;
  readonly supervision: PgSupervisionRepo;
  readonly testPresses: PgTestPressRepo;
  readonly bridgeLevels: PgBridgeLevelRepo;
  readonly sessionStarts: PgSessionStartRepo;
  readonly voice: PgVoiceCallRepo;
  readonly reports: PgReportReads;
  /** Leases on unsent SMS: which node sends each, and taking over a dead node's (not part of the Store port). */
  readonly smsLeases: PgSmsLeases;
  /** Leases on calls not yet placed, likewise. */
  readonly callLeases: PgCallLeases;

  constructor(
    readonly database: PgDatabase,
    smsCapOptions: PgSmsCapOptions = {},
    lease: Partial<PgLeaseOptions> = {},
  ) {
    const leases = leaseOptions(lease);
    this.registry = new PgRegistryRepo(database);
    this.events = new PgEventRepo(database);
    this.health = new PgDeviceHealthRepo(database);
    this.security = new PgSecurityEventRepo(database);
    this.incidents = new PgIncidentRepo(database);
    this.sms = new PgSmsRepo(database, leases);
    this.smsCaps = new PgSmsCapRepo(database, smsCapOptions);
    this.linkCodes = new PgPageLinkCodeRepo(database);
    this.failureLedger = new PgFailureLedgerRepo(database);
    this.retention = new PgRetentionRepo(database);
    this.jobSlots = new PgJobSlots(database);
    this.timers = new PgTimerRepo(database);
    this.visits = new PgVisitRepo(database);
    this.wellness = new PgWellnessRepo(database);
    this.accounts = new PgAccountRepo(database);
    this.supervision = new PgSupervisionRepo(database);
    this.testPresses = new PgTestPressRepo(database);
    this.bridgeLevels = new PgBridgeLevelRepo(database);
    this.sessionStarts = new PgSessionStartRepo(database);
    this.voice = new PgVoiceCallRepo(database, leases);
    this.reports = new PgReportReads(database);
    this.smsLeases = new PgSmsLeases(database, leases);
    this.callLeases = new PgCallLeases(database, leases);
  }

  /** Told of every timer another node schedules, on the store's one notices connection (start it with the timers, stop it with them). */
  timerChanges(): TimerChanges {
    const { database } = this;
    let unsubscribe: (() => Promise<void>) | null = null;
    return {
      async start(onChange) {
        const channel = await database.channel(TIMER_CHANNEL);
        // On every (re)connection too: timers scheduled while this node did not listen are looked for at once.
        unsubscribe = await database.notices.subscribe(channel, {
          onNotice: () => onChange('notice'),
          onListening: () => onChange('listening'),
        });
      },
      async stop() {
        await unsubscribe?.();
        unsubscribe = null;
      },
      status: () => (unsubscribe ? database.notices.status().state : 'stopped'),
      backendPid: () => (unsubscribe ? database.notices.backendPid() : null),
    };
  }

  transaction<T>(work: () => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.database.transaction(work, options);
  }

  afterCommit(fn: () => void): void {
    this.database.afterCommit(fn);
  }

  /**
   * Migrates the database, loads the SMS cap counters and listens for the other nodes' sends; one clear error naming
   * DATABASE_URL if it cannot.
   */
  async prepare(): Promise<void> {
    await this.database.prepare();
    await this.smsCaps.load();
    try {
      await this.smsCaps.listen();
    } catch (err) {
      await this.database.close();
      throw new GatewayError('GW_ERR_CONFIG', `DATABASE_URL: cannot listen for the other nodes' SMS cap counts: ${errorMessage(err)}`);
    }
  }

  ping(): Promise<boolean> {
    return this.database.ping();
  }

  /**
   * Records `fingerprint` as this database's secret `name` unless a node already did; when another fingerprint is
   * there, the node that recorded it.
   */
  async agreeOnSecret(name: string, fingerprint: string, node: string, at: number): Promise<{ ok: true } | { ok: false; node: string }> {
    await this.database.run(
      'INSERT INTO secret_fingerprints (name, fingerprint, node, set_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING',
      [name, fingerprint, node, at],
    );
    const row = await this.database.one<{ fingerprint: string; node: string }>(
      'SELECT fingerprint, node FROM secret_fingerprints WHERE name = $1',
      [name],
    );
    return row && row.fingerprint !== fingerprint ? { ok: false, node: row.node } : { ok: true };
  }

  async close(): Promise<void> {
    await this.smsCaps.stop();
    await this.database.close();
  }
}

/**
 * Connects to `url` (a postgres:// connection string), applies the missing migrations and loads the SMS cap counters.
 * Fails with one line naming DATABASE_URL (password hidden) when the server cannot be reached or refuses the login.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const store = connectPostgresStore(url, options);
  await store.prepare();
  return store;
}

/** The store over a pool that has not connected yet: call prepare() before any other use (the gateway's first start step). */
export function connectPostgresStore(url: string, options: PostgresStoreOptions = {}): PostgresStore {
  const { smsCaps, lease, ...database } = options;
  return new PostgresStore(PgDatabase.connect(url, database), smsCaps, lease);
}
