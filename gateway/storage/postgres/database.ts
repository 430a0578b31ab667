// A PostgreSQL connection pool: versioned migrations under an advisory lock, transactions that calls inside join, afterCommit.
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import pg from 'pg';
import { errorMessage, GatewayError } from '../../core/errors.js';
import { corkForTurn } from '../../core/turn-writes.js';
import type { Durability, TransactionOptions } from '../ports.js';
import { PgNotices } from './notices.js';
import { PG_MIGRATIONS, type PgMigration } from './migrations.js';

/** A value bound to a `$n` placeholder. Arrays are bound as PostgreSQL arrays (`$1::text[]`). */
export type PgParam =
  string | number | boolean | null | readonly (string | null)[] | readonly (number | null)[] | readonly (boolean | null)[];

/**
 * A statement of the alarm path that each pooled connection parses and plans once, then only binds and executes (pg's
 * named prepared statement, `{ name, text, values }`): the round trips stay the same, the server's parse and plan per
 * execution go. Only for statements whose result columns are fixed (no `SELECT *`): a migration run by another node
 * that changed them would fail a prepared plan ("cached plan must not change result type").
 */
export interface PreparedSql {
  readonly name: string;
  readonly text: string;
}

export function prepared(name: string, text: string): PreparedSql {
  return { name, text };
}

/** A statement as repositories pass it: plain text (parsed at each execution) or a prepared one. */
export type PgSql = string | PreparedSql;

export interface PgDatabaseOptions {
  /** Connections in the pool (default 10). */
  max?: number;
  /** A function queued with afterCommit threw (it runs after the COMMIT, so the transaction stands). */
  onAfterCommitError?: (err: unknown) => void;
  /** A pooled connection failed while idle (the server restarted, the network dropped). Log it. */
  onConnectionError?: (err: Error) => void;
  /**
   * A session left idle inside a transaction this long is ended by the server (default 30 s), so a frozen or
   * partitioned node cannot hold row locks (a claimed timer, an incident) while the others wait on them.
   */
  idleInTransactionMs?: number;
  /** Migrations to apply (default: all of PG_MIGRATIONS); tests pass a prefix to see a schema upgraded. */
  migrations?: readonly PgMigration[];
  /** Back-off of the notices connection's reconnection attempts (default 1 s doubling to 10 s); tests shorten it. */
  noticesRetryMs?: { first: number; max: number };
  /**
   * How long a round trip on a pooled connection may go unanswered (default DEFAULT_QUERY_TIMEOUT_MS): a query, or
   * the set-up of a new connection. Statements inside a transaction are cancelled by the server at 80% of it.
   */
  queryTimeoutMs?: number;
}

/**
 * The default bound of one round trip to PostgreSQL. A connection whose peer vanished without a reset (a network cut)
 * answers nothing: without a bound an alarm's commit would wait on it for the kernel's TCP time-outs (about 15 minutes),
 * with no PUBACK and /healthz hanging. With it the commit fails, the node answers 503 and the device sends again.
 */
export const DEFAULT_QUERY_TIMEOUT_MS = 5_000;
/**
 * TCP keep-alive after this much idleness, on every connection (pooled, LISTEN, migrations): the kernel then probes
 * the peer (every 75 s, 9 times, with Linux's defaults), so a vanished server is noticed on a connection that sends
 * nothing, the LISTEN connection above all, and that connection is reopened.
 */
export const KEEPALIVE_IDLE_MS = 10_000;
/** The client-side read time-out of a query allowed to wait as long as it must (setTimeout's largest delay). */
const UNBOUNDED_MS = 2_147_483_647;
/** pg's message when a query got no answer within its read time-out (pg/lib/client.js). */
const READ_TIMEOUT_MESSAGE = 'Query read timeout';

/** pg honours a per-query read time-out that its QueryConfig type does not declare. */
interface TimedQuery extends pg.QueryConfig<PgParam[]> {
  query_timeout: number;
}

/**
 * A query that may wait indefinitely for a lock another node holds (its migrations, its registry import): the pool's
 * read time-out would otherwise end the wait and fail the caller's start-up. Run it outside a transaction.
 */
export function unboundedQuery(text: string, values: PgParam[] = []): TimedQuery {
  return { text, values, query_timeout: UNBOUNDED_MS };
}

/** The query got no answer within its read time-out: the connection is useless (a ROLLBACK would wait as long again). */
function isReadTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === READ_TIMEOUT_MESSAGE;
}

/** One COMMIT as the server answered it: its round trip (with the WAL flush for `full`) and its durability. */
export interface PgCommitTiming {
  ms: number;
  durability: Durability;
  /** Statements the transaction sent, BEGIN and COMMIT included. */
  statements: number;
  /**
   * Round trips its caller waited for in turn, COMMIT included: statements sent with send() (and BEGIN) travel behind
   * the next one waited for, so they add none.
   */
  waits: number;
}

interface TxContext {
  client: pg.PoolClient;
  open: boolean;
  afterCommit: (() => void)[];
  /** Runs once the transaction has ended, committed or rolled back (caches that must not keep uncommitted rows). */
  afterEnd: (() => void)[];
  /** Statements sent and not waited for (BEGIN, send()), in the order sent: their failures fail the transaction. */
  unread: Unread[];
  statements: number;
  waits: number;
  /** Statements waited for and not answered yet: one sent meanwhile is answered right behind them, no wait of its own. */
  awaiting: number;
}

/** A statement in flight whose answer nobody reads; `failure` is set once it failed. */
interface Unread {
  done: Promise<void>;
  failure?: { err: unknown };
}

/** Lock key of the migrations: two nodes starting at once do not both migrate. */
const MIGRATION_LOCK = 0x4341_5245; // 'CARE'

// bigint columns hold epoch milliseconds and row ids, far below 2^53: read them as numbers, not strings.
const INT8_OID = 20;
function parserFor(oid: number, format: 'text' | 'binary' = 'text'): (value: string) => unknown {
  if (oid === INT8_OID) return (value) => Number(value);
  // pg-types declares its parsers as returning any.
  const parse: unknown = pg.types.getTypeParser(oid, format);
  return parse as (value: string) => unknown;
}
const types: pg.CustomTypesConfig = { getTypeParser: parserFor as pg.CustomTypesConfig['getTypeParser'] };

export class PgDatabase {
  private readonly pool: pg.Pool;
  private readonly poolSize: number;
  private readonly queryTimeoutMs: number;
  private readonly inTx = new AsyncLocalStorage<TxContext>();
  /**
   * Transactions whose work is running. On Node 20 an AsyncLocalStorage that has run once keeps async hooks on for every
   * promise of the process (aedes', ioredis', the HTTP server's), which made each promise cost about two and a half times
   * as much. The hooks only have to be on while a transaction's work runs, so the storage is disabled whenever none does.
   */
  private working = 0;
  private readonly commitObservers = new Set<(timing: PgCommitTiming) => void>();
  private schema: Promise<string> | null = null;
  /** The one listening connection of this store: every channel its users subscribe to. */
  readonly notices: PgNotices;

  private constructor(
    private readonly connectionString: string,
    private readonly options: PgDatabaseOptions,
  ) {
    this.queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    this.poolSize = options.max ?? 10;
    this.pool = new pg.Pool({
      connectionString,
      max: this.poolSize,
      types,
      connectionTimeoutMillis: this.queryTimeoutMs,
      // Pooled connections are kept however long they idle (pg-pool closes them after 10 s by default). A CONNECT storm
      // (each first CONNECT reads its device) keeps a node's pool near its peak with lulls between bursts: at 10 s the
      // pool shrank and grew again all through it, and each new connection is a server process that a loaded host may
      // not start within the bound above, which also bounds a new connection. That refused devices with CONNACK 3 (a
      // 30,000-device cluster-idle run: 195 connections opened while connecting, 9-10 devices refused; kept 300 s: 16
      // opened, none refused). The pool's peak (`max`) is what max_connections is sized for anyway.
      idleTimeoutMillis: 0,
      query_timeout: this.queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
      idle_in_transaction_session_timeout: options.idleInTransactionMs ?? 30_000,
      // Each statement goes on the wire when it is issued, not after the answer to the one before: what send() needs.
      // A caller that waits for each answer (every query() and run()) sees no difference.
      pipeline: true,
    });
    // Without a listener an idle connection's error would be thrown as an uncaught exception and stop the process.
    this.pool.on('error', (err) => this.options.onConnectionError?.(err));
    // Statements issued in one turn (a transaction's BEGIN and the writes it sends without waiting, a batch's reads) leave
    // in one socket write, and so wake the server process once: with pipelining each statement was a write of its own.
    this.pool.on('connect', (client) => coalesceStatements(client));
    this.notices = new PgNotices({
      client: () => this.newClient(),
      onProblem: (err) => this.options.onConnectionError?.(err),
      ...(options.noticesRetryMs ? { retryMs: options.noticesRetryMs } : {}),
    });
  }

  /** Connects, checks the server answers, and applies the migrations this database lacks. One clear error if it cannot. */
  static async open(connectionString: string, options: PgDatabaseOptions = {}): Promise<PgDatabase> {
    const db = PgDatabase.connect(connectionString, options);
    await db.prepare();
    return db;
  }

  /**
   * The pool only: no connection is made until prepare() or a query. For a composition that is built synchronously
   * and opens the database as its first start-up step.
   */
  static connect(connectionString: string, options: PgDatabaseOptions = {}): PgDatabase {
    return new PgDatabase(connectionString, options);
  }

  /** Checks the server answers and applies the missing migrations; on failure the pool is closed and one clear error names DATABASE_URL. */
  async prepare(): Promise<void> {
    try {
      await this.migrate(this.options.migrations ?? PG_MIGRATIONS);
    } catch (err) {
      await this.pool.end().catch(() => undefined);
      if (err instanceof GatewayError) throw err;
      throw new GatewayError(
        'GW_ERR_CONFIG',
        `DATABASE_URL: cannot open the PostgreSQL store at ${redact(this.connectionString)}: ${errorMessage(err)}`,
      );
    }
  }

  /**
   * A connection of its own outside the pool (a LISTEN connection), for the same database; the caller connects and
   * ends it. Its queries (LISTEN, UNLISTEN) are bounded like the pool's.
   */
  newClient(): pg.Client {
    return new pg.Client({
      connectionString: this.connectionString,
      types,
      connectionTimeoutMillis: 10_000,
      query_timeout: this.queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    });
  }

  /** Reports a connection problem found outside the pool (a LISTEN connection lost) where the pool's own go. */
  reportConnectionProblem(err: Error): void {
    this.options.onConnectionError?.(err);
  }

  /** Rows of `sql`; inside a transaction, on its connection. */
  async query<R extends object>(sql: PgSql, params: readonly PgParam[] = []): Promise<R[]> {
    return (await this.waitedFor<R>(sql, params)).rows;
  }

  /**
   * A write whose answer nobody reads (no rows, no count). Inside a transaction it goes on the wire at once and the
   * caller does not wait for it: the server runs it before whatever the transaction sends next, so a later read sees
   * it, and the round trip rides with the next statement waited for (at the latest the COMMIT). If it fails, the
   * transaction fails with its error and rolls back; nothing queued with afterCommit runs. So: only for a write whose
   * failure the caller would not handle itself. Outside a transaction it is run() without the count.
   */
  async send(sql: PgSql, params: readonly PgParam[] = []): Promise<void> {
    const tx = this.inTx.getStore();
    if (!tx?.open) {
      await this.run(sql, params);
      return;
    }
    // Its failure is kept by the transaction (track), which throws it.
    void this.sendIn(tx, sql, params);
  }

  /**
   * A statement whose rows its caller reads only once the transaction has committed (the ids an insert hands out, for
   * what is announced then). Inside a transaction it goes on the wire at once, like send(), and its answer rides with
   * the next statement waited for (at the latest the COMMIT); if it fails, the transaction fails with its error, which
   * is where it is reported: the promise rejects too, but one nobody reads is no unhandled rejection. Outside a
   * transaction it is query().
   */
  sendForRows<R extends object>(sql: PgSql, params: readonly PgParam[] = []): Promise<R[]> {
    const tx = this.inTx.getStore();
    if (!tx?.open) return this.query<R>(sql, params);
    const rows = this.sendIn<R>(tx, sql, params).then((r) => r.rows);
    rows.catch(() => undefined);
    return rows;
  }

  /** Puts a statement of `tx` on the wire without waiting for it: counted, and kept for the transaction to throw its failure. */
  private sendIn<R extends object>(tx: TxContext, sql: PgSql, params: readonly PgParam[]): Promise<pg.QueryResult<R>> {
    tx.statements++;
    const sent = tx.client.query<R>(statement(sql, params));
    track(tx, sent);
    return sent;
  }

  /** The first row of `sql`, or null. */
  async one<R extends object>(sql: PgSql, params: readonly PgParam[] = []): Promise<R | null> {
    return (await this.query<R>(sql, params))[0] ?? null;
  }

  /** Runs a write and answers how many rows it touched. */
  async run(sql: PgSql, params: readonly PgParam[] = []): Promise<number> {
    return (await this.waitedFor(sql, params)).rowCount ?? 0;
  }

  /**
   * Runs a statement the caller waits for: on the calling transaction's connection, counted there as a statement, and
   * as a round trip unless another such statement is in flight (this one is answered right behind it); else on the pool.
   */
  private async waitedFor<R extends object = object>(sql: PgSql, params: readonly PgParam[]): Promise<pg.QueryResult<R>> {
    const tx = this.inTx.getStore();
    if (!tx?.open) return this.pool.query<R>(statement(sql, params));
    tx.statements++;
    if (tx.awaiting === 0) tx.waits++;
    tx.awaiting++;
    try {
      return await tx.client.query<R>(statement(sql, params));
    } finally {
      tx.awaiting--;
    }
  }

  /** True when the calling context runs inside an open transaction. */
  inTransaction(): boolean {
    return this.inTx.getStore()?.open === true;
  }

  /**
   * Runs `work` in one transaction on one pooled connection; repository calls inside join it (nested calls too).
   * `normal` durability commits without waiting for the WAL flush (synchronous_commit off): safe from a crash of this
   * process, not from a crash of the database server's machine; `full` waits for it.
   */
  async transaction<T>(work: () => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (this.inTransaction()) return work();
    const client = await this.pool.connect();
    // The pool listens for errors only on idle connections: a connection lost while checked out (the server ended an
    // idle transaction, or restarted) would otherwise be an uncaught error that stops the process. Its next query fails.
    const onLost = (err: Error): void => this.options.onConnectionError?.(err);
    client.on('error', onLost);
    const tx: TxContext = { client, open: true, afterCommit: [], afterEnd: [], unread: [], statements: 1, waits: 0, awaiting: 0 };
    let result: T;
    const durability = options.durability ?? 'full';
    try {
      // One statement, and not waited for: it rides with the transaction's first statement (on the alarm path every
      // round trip is waited for in turn). A statement the server is slow to finish (a lock wait) is cancelled by it
      // before the read time-out gives the connection up.
      track(tx, client.query(`BEGIN; ${synchronousCommit(durability)}; SET LOCAL statement_timeout = ${this.statementTimeoutMs()}`));
      result = await this.inWork(tx, work);
      const startedAt = performance.now();
      tx.statements++;
      tx.waits++;
      const committed = await client.query('COMMIT');
      // Everything sent before the COMMIT was answered before it: a failed one aborted the transaction, and the
      // server answered the COMMIT with ROLLBACK.
      await settled(tx);
      if (committed.command !== 'COMMIT') throw new Error(`PostgreSQL ended the transaction with ${committed.command}, not COMMIT`);
      if (this.commitObservers.size > 0)
        this.notifyCommit({ ms: performance.now() - startedAt, durability, statements: tx.statements, waits: tx.waits });
    } catch (caught) {
      tx.open = false;
      // A statement sent and not waited for that failed is the cause; what failed after it only saw the aborted transaction.
      const err = await firstFailure(tx, caught);
      let connectionLost = isReadTimeout(err);
      if (!connectionLost) {
        try {
          await client.query('ROLLBACK');
        } catch {
          connectionLost = true;
        }
      }
      client.off('error', onLost);
      // A connection that cannot even roll back is destroyed, not handed to the next caller.
      client.release(connectionLost ? true : undefined);
      runAll(tx.afterEnd, this.options.onAfterCommitError);
      throw err;
    }
    tx.open = false;
    client.off('error', onLost);
    client.release();
    runAll(tx.afterEnd, this.options.onAfterCommitError);
    runAll(tx.afterCommit, this.options.onAfterCommitError);
    return result;
  }

  /**
   * Runs a transaction's work with `tx` as the calling context of every statement it makes. Once no transaction's work
   * runs, the storage is disabled (its next run enables it again): the context is read only by statements issued while
   * some work runs, and what a finished transaction's stray continuation reads (nothing, or its closed context) sends
   * it to the pool alike.
   */
  private async inWork<T>(tx: TxContext, work: () => Promise<T>): Promise<T> {
    this.working++;
    try {
      return await this.inTx.run(tx, work);
    } finally {
      if (--this.working === 0) this.inTx.disable();
    }
  }

  /** The server's bound on one statement in a transaction: 80% of the read time-out, so a live server answers first. */
  private statementTimeoutMs(): number {
    return Math.max(1, Math.floor(this.queryTimeoutMs * 0.8));
  }

  /** Calls `fn` after every COMMIT with its timing (metrics); returns the function that stops it. */
  observeCommits(fn: (timing: PgCommitTiming) => void): () => void {
    this.commitObservers.add(fn);
    return () => this.commitObservers.delete(fn);
  }

  private notifyCommit(timing: PgCommitTiming): void {
    for (const fn of this.commitObservers) {
      try {
        fn(timing);
      } catch (err) {
        this.options.onAfterCommitError?.(err);
      }
    }
  }

  /**
   * Runs `fn` on one pooled connection of its own, outside any transaction: for session state such as an advisory
   * lock held while other work runs on the pool. A connection that failed is destroyed, not handed on.
   */
  async session<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const onLost = (err: Error): void => this.options.onConnectionError?.(err);
    client.on('error', onLost);
    let failed: Error | undefined;
    try {
      return await fn(client);
    } catch (err) {
      if (err instanceof Error && !(err instanceof GatewayError)) failed = err;
      throw err;
    } finally {
      client.off('error', onLost);
      client.release(failed);
    }
  }

  /**
   * NOTIFY on `channel`, on the pool and never inside the caller's transaction: the other nodes hear it at once, and
   * the caller's transaction never waits on it.
   */
  async broadcast(channel: string, payload: string): Promise<void> {
    await this.pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  /** A single statement group: joins the caller's transaction, or runs as its own. */
  write<T>(fn: () => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (this.inTransaction()) return fn();
    return this.transaction(fn, options);
  }

  /** Runs `fn` once the calling transaction has committed, never if it rolls back; outside one, at once. */
  afterCommit(fn: () => void): void {
    const tx = this.inTx.getStore();
    if (tx?.open) tx.afterCommit.push(fn);
    else fn();
  }

  /** Runs `fn` once the calling transaction has ended either way; outside one, at once. */
  afterEnd(fn: () => void): void {
    const tx = this.inTx.getStore();
    if (tx?.open) tx.afterEnd.push(fn);
    else fn();
  }

  /**
   * The NOTIFY channel named `base` for this store's schema, so installations (and test schemas) sharing one database
   * do not hear each other. PostgreSQL channel names are identifiers: at most 63 bytes.
   */
  async channel(base: string): Promise<string> {
    this.schema ??= this.pool
      .query<{ schema: string }>('SELECT current_schema() AS schema')
      .then((r) => r.rows[0]?.schema ?? 'public')
      .catch((err: unknown) => {
        this.schema = null;
        throw err;
      });
    return `${base}:${await this.schema}`.slice(0, 63);
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.pool.query<{ ok: number }>('SELECT 1 AS ok')).rows[0]?.ok === 1;
    } catch {
      return false;
    }
  }

  /**
   * Opens the pool's connections, up to its size, and gives them back to it (they stay: see idleTimeoutMillis), so a
   * burst right after start (devices connecting to a node that just started) opens none: each new connection is a
   * server process, and on a host busy with a connect storm its start-up passed the bound of the work waiting for it.
   * Best effort: answers how many the pool holds; one the server refused now is opened when needed, as before.
   */
  async fillPool(): Promise<number> {
    const opened = await Promise.allSettled(Array.from({ length: this.poolSize }, () => this.pool.connect()));
    let held = 0;
    for (const o of opened) {
      if (o.status !== 'fulfilled') continue;
      o.value.release();
      held++;
    }
    return held;
  }

  /** Ends the pool; a second call (a gateway stopping after its start failed on this database) does nothing. */
  async close(): Promise<void> {
    await this.notices.stop();
    if (this.pool.ended) return;
    await this.pool.end();
  }

  /**
   * Applies the missing migrations, each in its own transaction, holding a session advisory lock so that a second
   * node starting at the same moment waits, then finds the schema current and applies nothing.
   */
  private async migrate(migrations: readonly PgMigration[]): Promise<void> {
    // A connection of its own, without the pool's read time-out: a migration may take long, and a second node waits
    // for the lock as long as the first one migrates.
    const client = new pg.Client({
      connectionString: this.connectionString,
      types,
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    });
    const onLost = (err: Error): void => this.options.onConnectionError?.(err);
    client.on('error', onLost);
    await client.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        await client.query(
          'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)',
        );
        const applied = new Set(
          (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
        );
        for (const m of migrations) {
          if (applied.has(m.version)) continue;
          await client.query('BEGIN');
          try {
            await client.query(m.sql);
            await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
              m.version,
              m.name,
              Date.now(),
            ]);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK');
            throw new GatewayError('GW_ERR_CONFIG', `PostgreSQL migration ${m.version} (${m.name}) failed: ${errorMessage(err)}`);
          }
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      }
    } finally {
      // The session ends with the connection, and its advisory lock with it.
      await client.end().catch(() => undefined);
      client.off('error', onLost);
    }
  }
}

/** A statement as pg takes it: text and values, or, for a prepared one, its name too. */
function statement(sql: PgSql, params: readonly PgParam[]): pg.QueryConfig {
  const values = params as unknown[];
  return typeof sql === 'string' ? { text: sql, values } : { name: sql.name, text: sql.text, values };
}

/** Keeps a statement nobody waits for: its failure is kept (never an unhandled rejection) for the transaction to throw. */
function track(tx: TxContext, sent: Promise<unknown>): void {
  const unread: Unread = {
    done: sent.then(
      () => undefined,
      (err: unknown) => {
        unread.failure = { err };
      },
    ),
  };
  tx.unread.push(unread);
}

/** Waits for the statements not waited for; throws the first one's failure. */
async function settled(tx: TxContext): Promise<void> {
  await Promise.all(tx.unread.map((u) => u.done));
  const failed = tx.unread.find((u) => u.failure);
  if (failed?.failure) throw failed.failure.err;
}

/** The failure to report for a transaction that failed with `caught`: the first unread statement's, if one failed. */
async function firstFailure(tx: TxContext, caught: unknown): Promise<unknown> {
  // A read time-out ends the connection, and every statement still in flight on it with it: the time-out is the cause.
  if (isReadTimeout(caught)) return caught;
  try {
    await settled(tx);
  } catch (err) {
    return err;
  }
  return caught;
}

function synchronousCommit(d: Durability): string {
  return d === 'normal' ? 'SET LOCAL synchronous_commit = off' : 'SET LOCAL synchronous_commit = on';
}

function runAll(fns: (() => void)[], onError: ((err: unknown) => void) | undefined): void {
  for (const fn of fns.splice(0)) {
    try {
      fn();
    } catch (err) {
      onError?.(err);
    }
  }
}

/** The connection string without its password, for error lines and logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * Makes each write to a pooled connection's socket cork it for the rest of the turn (corkForTurn). pg 8 writes through
 * `client.connection.stream` (a net.Socket, or a TLSSocket once SSL is up, which is what it holds after `connect`); a
 * client without one is left as it is (postgres-engine.test.ts checks the writes are coalesced, so a pg that changed
 * this is found there).
 */
function coalesceStatements(client: pg.PoolClient): void {
  const connection: unknown = Reflect.get(client, 'connection');
  const stream: unknown = typeof connection === 'object' && connection !== null ? Reflect.get(connection, 'stream') : undefined;
  if (!(stream instanceof Writable)) return;
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  const coalesced = (...args: unknown[]): boolean => {
    corkForTurn(stream);
    return write(...args);
  };
  stream.write = coalesced as Writable['write'];
}
