// One SQLite connection in WAL mode: versioned migrations, and async transactions serialised so awaits inside them cannot interleave.
import Database from 'better-sqlite3';
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export class SqliteDatabase {
  readonly db: Db;
  /**
   * The transaction the current async context runs in. Work started inside a transaction (a background
   * send) keeps this context after the COMMIT, so the token says whether that transaction is still open.
   */
  private readonly inTx = new AsyncLocalStorage<{ open: boolean }>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a committed event survives power loss, not only a process crash; group commit keeps the fsyncs few.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
  }

  /**
   * Runs `work` in one transaction. Work may await repository calls; other writers wait their turn,
   * so nothing from outside lands inside this transaction. Calls made inside join it.
   */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    if (this.inTx.getStore()?.open) return work();
    const run = async (): Promise<T> => {
      const token = { open: true };
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await this.inTx.run(token, work);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      } finally {
        token.open = false;
      }
    };
    const next = this.tail.then(run, run);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** A single write: joins the caller's transaction, or runs as its own, in turn with other transactions. */
  write<T>(fn: () => T): Promise<T> {
    if (this.inTx.getStore()?.open) return Promise.resolve(fn());
    return this.transaction(async () => fn());
  }

  close(): void {
    if (this.db.open) this.db.close();
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
