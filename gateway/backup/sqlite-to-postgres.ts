// Moves a stopped gateway's SQLite database into PostgreSQL in one transaction: every table, ids kept, counts verified.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import pg from 'pg';
import { errorMessage, GatewayError } from '../core/errors.js';
import { redact } from '../storage/postgres/database.js';
import { MIGRATIONS } from '../storage/sqlite/migrations.js';
import { applyMigrations, currentVersion, readSchemaStatus, refuseNewer, sqliteVersions } from './schema-versions.js';

/**
 * SQLite tables deliberately not copied, each with its reason. Every other SQLite table must have a PostgreSQL table
 * with every one of its columns, or the move is refused: a table added later cannot be left behind unnoticed.
 */
export const SKIPPED_TABLES: Readonly<Record<string, string>> = {
  schema_migrations: 'each engine keeps its own migration history; the target is migrated to this code first',
};

export interface TransferOptions {
  /** The source database file (DATA_DIR/gateway.db). */
  sqliteFile: string;
  databaseUrl: string;
  /** Delete whatever the PostgreSQL database already holds, in the same transaction, instead of refusing. */
  replaceTarget?: boolean;
}

export interface TableCount {
  table: string;
  rows: number;
}

export interface TransferResult {
  schemaVersion: { sqlite: number; postgresql: number };
  /** Rows per copied table, in the order they were copied (parents before the tables that refer to them). */
  copied: TableCount[];
  skipped: { table: string; reason: string }[];
  /** PostgreSQL tables SQLite has no counterpart of (cluster state): left as they were, empty on a fresh target. */
  postgresOnly: string[];
  /** Rows deleted from the target first (--replace-target). */
  replaced: TableCount[];
}

interface PgColumn {
  table_name: string;
  column_name: string;
  data_type: string;
  is_nullable: 'YES' | 'NO';
  column_default: string | null;
  is_identity: 'YES' | 'NO';
  identity_generation: 'ALWAYS' | 'BY DEFAULT' | null;
  is_generated: 'ALWAYS' | 'NEVER';
}

interface TablePlan {
  table: string;
  /** The columns copied, in SQLite's order; each exists on both sides. */
  columns: { name: string; pgType: string }[];
  /** Copied columns that draw from a sequence: the sequence is moved past the copied ids. */
  sequenced: string[];
  rowid: boolean;
}

// bigint columns are epoch milliseconds and ids, far below 2^53: compare counts and ids as numbers.
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === 20) return (value: string) => Number(value);
    const parse: unknown = pg.types.getTypeParser(oid, format ?? 'text');
    return parse;
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** Parameters per INSERT stay far below PostgreSQL's 65,535. */
const PARAMS_PER_BATCH = 20_000;

/** Copies the stopped gateway's SQLite database at `sqliteFile` into the PostgreSQL database at `databaseUrl`. */
export async function transferSqliteToPostgres(opts: TransferOptions): Promise<TransferResult> {
  const where = redact(opts.databaseUrl);
  if (!existsSync(opts.sqliteFile))
    throw new GatewayError('GW_ERR_CONFIG', `no gateway database at ${opts.sqliteFile} (is the directory right?)`);
  const source = lockSource(opts.sqliteFile);
  try {
    const sqliteVersion = checkSourceVersion(source, opts.sqliteFile);
    refuseNewer(await readSchemaStatus({ engine: 'postgresql', url: opts.databaseUrl }), 'DATABASE_URL');
    const { after } = await applyMigrations({ engine: 'postgresql', url: opts.databaseUrl });
    const client = new pg.Client({ connectionString: opts.databaseUrl, types, connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query('BEGIN');
      try {
        const result = await copyAll(source, client, where, opts.replaceTarget === true);
        await client.query('COMMIT');
        return { ...result, schemaVersion: { sqlite: sqliteVersion, postgresql: currentVersion(after.applied) } };
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  } finally {
    if (source.inTransaction) source.exec('ROLLBACK');
    source.close();
  }
}

/**
 * Opens the source and holds an exclusive lock on it for the whole move. A running gateway keeps the database open
 * (in WAL mode every connection holds a shared lock), so the lock is refused while one runs, and a gateway started
 * during the move cannot write to it.
 */
function lockSource(file: string): Database.Database {
  const db = new Database(file, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    return db;
  } catch (err) {
    db.close();
    if (/busy|locked/i.test(errorMessage(err)))
      throw new GatewayError(
        'GW_ERR_CONFIG',
        `a gateway is running on ${dirname(file)} (its database is open): stop it before moving it to PostgreSQL`,
      );
    throw new GatewayError('GW_ERR_CONFIG', `cannot open the SQLite database at ${file}: ${errorMessage(err)}`);
  }
}

/** The source must be exactly at this code's schema: the PostgreSQL schema it is copied into is this code's. */
function checkSourceVersion(db: Database.Database, file: string): number {
  const applied = sqliteVersions(db);
  const known = MIGRATIONS.map((m) => m.version);
  const same = applied.length === known.length && known.every((v, i) => applied[i] === v);
  if (same) return currentVersion(applied);
  const have = currentVersion(applied);
  const want = currentVersion(known);
  const advice =
    have > want || applied.some((v) => !known.includes(v))
      ? 'move it with the gateway version that wrote it'
      : 'bring it up to date first with `npm run migrate` (DATABASE_URL unset, DATA_DIR pointing at it)';
  throw new GatewayError('GW_ERR_CONFIG', `the SQLite database at ${file} is at schema version ${have}, this code's is ${want}: ${advice}`);
}

async function copyAll(
  source: Database.Database,
  client: pg.Client,
  where: string,
  replaceTarget: boolean,
): Promise<Omit<TransferResult, 'schemaVersion'>> {
  const pgColumns = (
    await client.query<PgColumn>(
      `SELECT c.table_name, c.column_name, c.data_type, c.is_nullable, c.column_default, c.is_identity, c.identity_generation, c.is_generated
         FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
        ORDER BY c.table_name, c.ordinal_position`,
    )
  ).rows;
  const pgTables = new Map<string, PgColumn[]>();
  for (const c of pgColumns) pgTables.set(c.table_name, [...(pgTables.get(c.table_name) ?? []), c]);

  const sqliteTables = source
    .prepare<[], { name: string; sql: string }>(
      "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .all();
  const skipped: TransferResult['skipped'] = [];
  const plans: TablePlan[] = [];
  const problems: string[] = [];
  for (const { name, sql } of sqliteTables) {
    const reason = SKIPPED_TABLES[name];
    if (reason !== undefined) {
      skipped.push({ table: name, reason });
      continue;
    }
    const target = pgTables.get(name);
    if (!target) {
      problems.push(`table ${name} has no PostgreSQL table`);
      continue;
    }
    const plan = planTable(source, name, sql, target, problems);
    if (plan) plans.push(plan);
  }
  if (problems.length > 0) {
    throw new GatewayError(
      'GW_ERR_CONFIG',
      `cannot move every SQLite table to ${where}: ${problems.join('; ')} (add it to the PostgreSQL migrations, or to SKIPPED_TABLES with a reason)`,
    );
  }
  const copiedNames = new Set(plans.map((p) => p.table));
  const postgresOnly = [...pgTables.keys()]
    .filter((t) => t !== 'schema_migrations' && !copiedNames.has(t) && !(t in SKIPPED_TABLES))
    .sort();
  const ordered = inDependencyOrder(plans, await foreignKeys(source, client, copiedNames));

  // Nothing else writes to these tables until the move commits: a node started on the target meanwhile waits.
  const targetTables = [...pgTables.keys()].filter((t) => t !== 'schema_migrations').sort();
  await client.query(`LOCK TABLE ${targetTables.map(ident).join(', ')} IN ACCESS EXCLUSIVE MODE`);
  const held: TableCount[] = [];
  for (const table of targetTables) {
    const rows = await countPg(client, table);
    if (rows > 0) held.push({ table, rows });
  }
  if (held.length > 0 && !replaceTarget) {
    const list = held.map((h) => `${h.table}: ${h.rows}`).join(', ');
    throw new GatewayError(
      'GW_ERR_CONFIG',
      `the PostgreSQL database at ${where} already holds records (${list}): move into an empty database, or pass --replace-target to delete them`,
    );
  }
  if (held.length > 0) await client.query(`TRUNCATE ${targetTables.map(ident).join(', ')} RESTART IDENTITY`);

  const copied: TableCount[] = [];
  for (const plan of ordered) {
    try {
      const rows = await copyTable(source, client, plan);
      await moveSequences(client, plan);
      copied.push({ table: plan.table, rows });
    } catch (err) {
      throw new GatewayError('GW_ERR_CONFIG', `copying table ${plan.table} failed, nothing was moved: ${errorMessage(err)}`);
    }
  }
  const mismatched: string[] = [];
  for (const c of copied) {
    const there = await countPg(client, c.table);
    const here = source.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${ident(c.table)}`).get()?.n ?? 0;
    if (there !== c.rows || here !== c.rows) mismatched.push(`${c.table}: SQLite ${here}, PostgreSQL ${there}`);
  }
  if (mismatched.length > 0)
    throw new GatewayError('GW_ERR_CONFIG', `row counts differ after the copy, nothing was moved: ${mismatched.join(', ')}`);
  return { copied, skipped, postgresOnly, replaced: held };
}

function planTable(source: Database.Database, table: string, sql: string, target: PgColumn[], problems: string[]): TablePlan | null {
  const sqliteColumns = source.prepare<[], { name: string }>(`PRAGMA table_info(${ident(table)})`).all();
  const byName = new Map(target.map((c) => [c.column_name, c]));
  const columns: TablePlan['columns'] = [];
  const sequenced: string[] = [];
  let ok = true;
  for (const { name } of sqliteColumns) {
    const pgCol = byName.get(name);
    if (!pgCol) {
      problems.push(`column ${table}.${name} has no PostgreSQL column`);
      ok = false;
      continue;
    }
    if (pgCol.identity_generation === 'ALWAYS' || pgCol.is_generated === 'ALWAYS') {
      problems.push(`column ${table}.${name} is generated in PostgreSQL and cannot take SQLite's values`);
      ok = false;
      continue;
    }
    columns.push({ name, pgType: pgCol.data_type });
    if (pgCol.is_identity === 'YES' || pgCol.column_default?.startsWith('nextval(')) sequenced.push(name);
  }
  const fed = new Set(sqliteColumns.map((c) => c.name));
  for (const c of target) {
    if (fed.has(c.column_name)) continue;
    const filled = c.is_identity === 'YES' || c.is_generated === 'ALWAYS' || c.column_default !== null || c.is_nullable === 'YES';
    if (!filled) {
      problems.push(`column ${table}.${c.column_name} is required in PostgreSQL but SQLite has no such column`);
      ok = false;
    }
  }
  return ok ? { table, columns, sequenced, rowid: !/WITHOUT\s+ROWID/i.test(sql) } : null;
}

/** Parent → child edges among the copied tables, from both engines' foreign keys. */
async function foreignKeys(source: Database.Database, client: pg.Client, tables: Set<string>): Promise<[string, string][]> {
  const edges: [string, string][] = [];
  const fromPg = await client.query<{ child: string; parent: string }>(
    `SELECT ch.relname AS child, pa.relname AS parent
       FROM pg_constraint c JOIN pg_class ch ON ch.oid = c.conrelid JOIN pg_class pa ON pa.oid = c.confrelid
       JOIN pg_namespace n ON n.oid = c.connamespace
      WHERE c.contype = 'f' AND n.nspname = current_schema()`,
  );
  for (const r of fromPg.rows) edges.push([r.parent, r.child]);
  for (const table of tables) {
    for (const fk of source.prepare<[], { table: string }>(`PRAGMA foreign_key_list(${ident(table)})`).all()) edges.push([fk.table, table]);
  }
  return edges.filter(([parent, child]) => parent !== child && tables.has(parent) && tables.has(child));
}

/** Tables before the tables whose foreign keys refer to them; otherwise by name. */
function inDependencyOrder(plans: TablePlan[], edges: [string, string][]): TablePlan[] {
  const remaining = new Map(plans.map((p) => [p.table, p]));
  const ordered: TablePlan[] = [];
  while (remaining.size > 0) {
    const ready = [...remaining.keys()].filter((t) => !edges.some(([parent, child]) => child === t && remaining.has(parent))).sort();
    if (ready.length === 0) throw new GatewayError('GW_ERR_CONFIG', `foreign keys form a cycle among ${[...remaining.keys()].join(', ')}`);
    for (const t of ready) {
      ordered.push(remaining.get(t)!);
      remaining.delete(t);
    }
  }
  return ordered;
}

/** Streams the table's rows in insertion order into multi-row INSERTs; answers how many were copied. */
async function copyTable(source: Database.Database, client: pg.Client, plan: TablePlan): Promise<number> {
  const cols = plan.columns;
  const select = `SELECT ${plan.rowid ? 'rowid AS "__rowid", ' : ''}${cols.map((c) => ident(c.name)).join(', ')} FROM ${ident(plan.table)}${plan.rowid ? ' ORDER BY rowid' : ''}`;
  const insertHead = `INSERT INTO ${ident(plan.table)} (${cols.map((c) => ident(c.name)).join(', ')}) VALUES `;
  const perBatch = Math.max(1, Math.floor(PARAMS_PER_BATCH / cols.length));
  let batch: unknown[][] = [];
  let copied = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const params: unknown[] = [];
    const tuples = batch.map((row) => {
      const start = params.length;
      params.push(...row);
      return `(${row.map((_, i) => `$${start + i + 1}`).join(', ')})`;
    });
    await client.query(insertHead + tuples.join(', '), params);
    copied += batch.length;
    batch = [];
  };
  for (const raw of source.prepare(select).raw(true).iterate() as Iterable<unknown[]>) {
    const values = plan.rowid ? raw.slice(1) : raw;
    batch.push(values.map((v, i) => convert(v, cols[i]!, plan.table, plan.rowid ? raw[0] : copied + batch.length + 1)));
    if (batch.length >= perBatch) await flush();
  }
  await flush();
  return copied;
}

/** SQLite's value as the PostgreSQL column's type: 0/1 to booleans, numbers kept, text as text; anything else refused. */
function convert(v: unknown, col: { name: string; pgType: string }, table: string, row: unknown): unknown {
  if (v === null) return null;
  const bad = (): never => {
    throw new Error(
      `${table}.${col.name} (row ${String(row)}): SQLite value ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)} does not fit PostgreSQL type ${col.pgType}`,
    );
  };
  switch (col.pgType) {
    case 'boolean':
      return v === 0 || v === 1 ? v === 1 : bad();
    case 'bigint':
    case 'integer':
    case 'smallint':
      return typeof v === 'number' && Number.isInteger(v) ? v : bad();
    case 'double precision':
    case 'real':
    case 'numeric':
      return typeof v === 'number' ? v : bad();
    case 'text':
    case 'character varying':
    case 'json':
    case 'jsonb':
      if (typeof v === 'string') return v;
      return typeof v === 'number' ? String(v) : bad();
    case 'bytea':
      return Buffer.isBuffer(v) ? v : bad();
    default:
      return typeof v === 'string' || typeof v === 'number' ? v : bad();
  }
}

/** The next id a sequence hands out comes after the largest copied one, so new rows never collide with old ids. */
async function moveSequences(client: pg.Client, plan: TablePlan): Promise<void> {
  for (const col of plan.sequenced) {
    await client.query(
      `SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT max(${ident(col)}) FROM ${ident(plan.table)}), 0) + 1, false)`,
      [ident(plan.table), col],
    );
  }
}

async function countPg(client: pg.Client, table: string): Promise<number> {
  return (await client.query<{ n: number }>(`SELECT count(*) AS n FROM ${ident(table)}`)).rows[0]?.n ?? 0;
}

/** A table or column name quoted for either engine (both quote identifiers with double quotes). */
function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
