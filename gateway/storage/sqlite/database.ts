// One SQLite connection in WAL mode: versioned migrations, cached statements, async transactions serialised so awaits
// inside them cannot interleave, and disk syncs and checkpoints kept off the event loop.
import Database from 'better-sqlite3';
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorMessage } from '../../core/errors.js';
import type { Durability, TransactionOptions } from '../ports.js';
import { Checkpointer, type CheckpointerStats } from './checkpointer.js';
import { MIGRATIONS } from './migrations.js';
import { WalSync, type WalSyncOptions } from './wal-sync.js';

export type Db = Database.Database;

/** Commits since the database was opened, by durability (for benchmarks and /metrics). */
export interface CommitStats {
  /** Commits whose WAL frames were synced to disk before they counted as done: they survive power loss. */
  synced: number;
  /** Commits left to the OS: they survive a process crash; the next synced commit or checkpoint makes them durable. */
  unsynced: number;
  rollbacks: number;
}

/** The disk side of the database, for /healthz: the event recorder's WAL syncs and the checkpoint thread, both off the event loop. */
export interface StorageHealth {
  walSyncs: number;
  walSyncFailures: number;
  /** The last WAL sync's error; null once a later sync succeeded. */
  lastWalSyncError: string | null;
  checkpoints: CheckpointerStats | null;
}

/** A staged transaction at its COMMIT: its result, and the promise that its WAL frames are on disk. */
export interface StagedCommit<T> {
  result: T;
  durable: Promise<void>;
}

/** One COMMIT as it ran on the event loop: when it started (performance.now()), how long it blocked, and whether it synced (full) before returning. */
export interface CommitTiming {
  startedAt: number;
  ms: number;
  durability: Durability;
}

export interface SqliteDatabaseOptions {
  /** A function queued with afterCommit threw (it runs after the COMMIT, so the transaction stands). */
  onAfterCommitError?: (err: unknown) => void;
  /** A disk-side problem: a failed WAL sync or checkpoint, or the checkpoint thread lost. Log it loudly. */
  onStorageProblem?: (err: Error) => void;
  /** Checkpoint period of the checkpoint thread (default 1 s). */
  checkpointIntervalMs?: number;
  /** How the WAL file is flushed to disk (default: fdatasync). Tests use it to hold or fail a sync, as a slow or broken disk would. */
  flushWal?: WalSyncOptions['flush'];
}

interface TxToken {
  open: boolean;
  afterCommit: (() => void)[];
}

const STATEMENT_CACHE_MAX = 500;

export class SqliteDatabase {
  readonly db: Db;
  /**
   * The transaction the current async context runs in. Work started inside a transaction (a background
   * send) keeps this context after the COMMIT, so the token says whether that transaction is still open.
   */
  private readonly inTx = new AsyncLocalStorage<TxToken>();
  private tail: Promise<unknown> = Promise.resolve();
  // Preparing costs more than running a short statement; the hot path runs the same few dozen over and over.
  private readonly statements = new Map<string, Database.Statement>();
  private synchronous: Durability = 'full';
  private readonly counts: CommitStats = { synced: 0, unsynced: 0, rollbacks: 0 };
  private readonly commitObservers = new Set<(timing: CommitTiming) => void>();
  /** Null for an in-memory database, which has no WAL file. */
  private readonly walSync: WalSync | null = null;
  /** The checkpoint thread (null for an in-memory database). */
  readonly checkpointer: Checkpointer | null = null;

  constructor(
    file: string,
    private readonly options: SqliteDatabaseOptions = {},
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL by default: a committed transaction survives power loss, not only a process crash. Transactions whose
    // every effect can be rebuilt from synced rows may ask for NORMAL (see TransactionOptions); the event recorder
    // commits with NORMAL and syncs the WAL on the thread pool before acknowledging (transactionStaged).
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    if (file === ':memory:') return;
    this.walSync = new WalSync({ path: `${file}-wal`, ...(options.flushWal ? { flush: options.flushWal } : {}) });
    // No COMMIT stops to checkpoint: the checkpoint thread copies the WAL back on a connection of its own.
    this.db.pragma('wal_autocheckpoint = 0');
    this.checkpointer = new Checkpointer({
      file,
      ...(options.checkpointIntervalMs !== undefined ? { intervalMs: options.checkpointIntervalMs } : {}),
      onLost: (err) => {
        // Never let the WAL grow without bound: SQLite checkpoints in COMMIT again, on the event loop.
        if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
        this.options.onStorageProblem?.(new Error(`checkpoint thread lost, checkpoints run in COMMIT again: ${err.message}`));
      },
      onError: (err) => this.options.onStorageProblem?.(err),
    });
    this.checkpointer.start();
  }

  /**
   * The prepared statement for `sql`, prepared once per connection. Only for fixed SQL texts: texts built
   * from data would fill the cache, so it is bounded and simply starts over when full.
   */
  stmt<P extends unknown[] | object = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let s = this.statements.get(sql);
    if (!s) {
      if (this.statements.size >= STATEMENT_CACHE_MAX) this.statements.clear();
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s as Database.Statement<P, R>;
  }

  /**
   * Runs `work` in one transaction. Work may await repository calls; other writers wait their turn,
   * so nothing from outside lands inside this transaction. Calls made inside join it (and its durability).
   * A `full` COMMIT syncs the WAL before it returns (synchronous=FULL), so the transaction resolves, and its
   * afterCommit effects run, with the rows on disk and visible in the same step.
   */
  async transaction<T>(work: () => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (this.inTx.getStore()?.open) return work();
    const { result, token } = await this.commitInTurn(work, options.durability ?? 'full');
    this.runAfterCommit(token);
    return result;
  }

  /**
   * A durable transaction whose disk sync does not hold the event loop: COMMIT returns once the WAL is written
   * (the rows are visible and safe from a process crash), and `durable` settles when a sync on the thread pool has
   * put them on disk (safe from a power loss). For the event recorder: it acts on an alarm at once, and acknowledges
   * it to the device only when `durable` resolves. afterCommit effects run at the COMMIT. Called inside an open
   * transaction it joins that one, and `durable` resolves at once: the outer transaction is what reaches the disk.
   */
  async transactionStaged<T>(work: () => Promise<T>): Promise<StagedCommit<T>> {
    if (this.inTx.getStore()?.open) return { result: await work(), durable: Promise.resolve() };
    // COMMIT without a sync, counted as synced: it is acknowledged only once syncWal has put it on disk.
    const { result, token } = await this.commitInTurn(work, 'normal', 'full');
    this.runAfterCommit(token);
    return { result, durable: this.syncWal() };
  }

  /** Runs `work` between BEGIN and COMMIT in turn with other transactions; `countAs` is the durability it is counted under. */
  private commitInTurn<T>(
    work: () => Promise<T>,
    durability: Durability,
    countAs: Durability = durability,
  ): Promise<{ result: T; token: TxToken }> {
    const run = async (): Promise<{ result: T; token: TxToken }> => {
      const token: TxToken = { open: true, afterCommit: [] };
      // The safety level cannot change inside a transaction, so it is set for each one before BEGIN.
      this.setSynchronous(durability);
      this.stmt('BEGIN IMMEDIATE').run();
      let result: T;
      try {
        result = await this.inTx.run(token, work);
        const startedAt = performance.now();
        this.stmt('COMMIT').run();
        if (this.commitObservers.size > 0) this.notifyCommit({ startedAt, ms: performance.now() - startedAt, durability });
      } catch (err) {
        token.open = false;
        this.counts.rollbacks++;
        if (this.db.inTransaction) this.stmt('ROLLBACK').run();
        throw err;
      }
      token.open = false;
      if (countAs === 'full') this.counts.synced++;
      else this.counts.unsynced++;
      return { result, token };
    };
    const next = this.tail.then(run, run);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** The WAL sync of a staged commit; a failure is reported as a storage problem and rejects the commit's `durable`. */
  private syncWal(): Promise<void> {
    const sync = this.walSync;
    if (!sync) return Promise.resolve();
    const durable = sync.sync();
    durable.catch((err: unknown) => {
      this.options.onStorageProblem?.(
        new Error(`WAL sync failed; the commit is written but not known to be on disk: ${errorMessage(err)}`),
      );
    });
    return durable;
  }

  private runAfterCommit(token: TxToken): void {
    for (const fn of token.afterCommit) {
      try {
        fn();
      } catch (err) {
        this.options.onAfterCommitError?.(err);
      }
    }
  }

  /** A single write: joins the caller's transaction, or runs as its own, in turn with other transactions. */
  write<T>(fn: () => T, options: TransactionOptions = {}): Promise<T> {
    if (this.inTx.getStore()?.open) return Promise.resolve(fn());
    return this.transaction(async () => fn(), options);
  }

  /**
   * Runs `fn` once the transaction of the calling context has committed, and never if it rolls back;
   * outside a transaction, at once. For effects that must not get ahead of the data (sending an SMS).
   */
  afterCommit(fn: () => void): void {
    const token = this.inTx.getStore();
    if (token?.open) token.afterCommit.push(fn);
    else fn();
  }

  commitStats(): CommitStats {
    return { ...this.counts };
  }

  /** Calls `fn` after every COMMIT with its timing (metrics, benchmarks); returns the function that stops it. */
  observeCommits(fn: (timing: CommitTiming) => void): () => void {
    this.commitObservers.add(fn);
    return () => this.commitObservers.delete(fn);
  }

  private notifyCommit(timing: CommitTiming): void {
    for (const fn of this.commitObservers) {
      try {
        fn(timing);
      } catch (err) {
        this.options.onAfterCommitError?.(err);
      }
    }
  }

  /** Runs a checkpoint on the checkpoint thread now and waits for it (nothing to do for an in-memory database). */
  async checkpointNow(): Promise<void> {
    await this.checkpointer?.checkpointNow();
  }

  storageHealth(): StorageHealth {
    const sync = this.walSync?.stats() ?? { syncs: 0, failures: 0, lastError: null };
    return {
      walSyncs: sync.syncs,
      walSyncFailures: sync.failures,
      lastWalSyncError: sync.lastError,
      checkpoints: this.checkpointer?.stats() ?? null,
    };
  }

  private setSynchronous(level: Durability): void {
    if (this.synchronous === level) return;
    this.stmt(level === 'full' ? 'PRAGMA synchronous = FULL' : 'PRAGMA synchronous = NORMAL').run();
    this.synchronous = level;
  }

  /** Stops the checkpoint thread and the WAL sync, then closes the connection (which checkpoints what is left). */
  async close(): Promise<void> {
    await this.checkpointer?.stop();
    await this.walSync?.close();
    this.statements.clear();
    if (this.db.open) this.db.close();
  }
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set(
    db
      .prepare<[], { version: number }>('SELECT version FROM schema_migrations')
      .all()
      .map((r) => r.version),
  );
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
  }
}
