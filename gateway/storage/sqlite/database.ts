// One SQLite connection in WAL mode: versioned migrations, cached statements, and async transactions serialised so awaits inside them cannot interleave.
import Database from 'better-sqlite3';
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Durability, TransactionOptions } from '../ports.js';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

/** Commits since the database was opened, by durability (for benchmarks and /metrics). */
export interface CommitStats {
  /** Commits with the WAL fsynced (synchronous=FULL): they survive power loss. */
  synced: number;
  /** Commits left to the OS (synchronous=NORMAL): they survive a process crash; the next synced commit or checkpoint makes them durable. */
  unsynced: number;
  rollbacks: number;
}

export interface SqliteDatabaseOptions {
  /** A function queued with afterCommit threw (it runs after the COMMIT, so the transaction stands). */
  onAfterCommitError?: (err: unknown) => void;
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

  constructor(
    file: string,
    private readonly options: SqliteDatabaseOptions = {},
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL by default: a committed event survives power loss, not only a process crash. Transactions whose
    // every effect can be rebuilt from synced rows may ask for NORMAL (see TransactionOptions).
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
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
   */
  transaction<T>(work: () => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (this.inTx.getStore()?.open) return work();
    const durability = options.durability ?? 'full';
    const run = async (): Promise<T> => {
      const token: TxToken = { open: true, afterCommit: [] };
      // The safety level cannot change inside a transaction, so it is set for each one before BEGIN.
      this.setSynchronous(durability);
      this.stmt('BEGIN IMMEDIATE').run();
      let result: T;
      try {
        result = await this.inTx.run(token, work);
        this.stmt('COMMIT').run();
      } catch (err) {
        token.open = false;
        this.counts.rollbacks++;
        if (this.db.inTransaction) this.stmt('ROLLBACK').run();
        throw err;
      }
      token.open = false;
      if (durability === 'full') this.counts.synced++;
      else this.counts.unsynced++;
      for (const fn of token.afterCommit) {
        try {
          fn();
        } catch (err) {
          this.options.onAfterCommitError?.(err);
        }
      }
      return result;
    };
    const next = this.tail.then(run, run);
    this.tail = next.catch(() => undefined);
    return next;
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

  close(): void {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }

  private setSynchronous(level: Durability): void {
    if (this.synchronous === level) return;
    this.stmt(level === 'full' ? 'PRAGMA synchronous = FULL' : 'PRAGMA synchronous = NORMAL').run();
    this.synchronous = level;
  }
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set(
    db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version),
  );
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
  }
}
