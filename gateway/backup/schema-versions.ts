// The schema version of either store, read without starting the gateway, and its missing migrations applied on request.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { errorMessage, GatewayError } from '../core/errors.js';
import { PgDatabase, redact } from '../storage/postgres/database.js';
import { PG_MIGRATIONS } from '../storage/postgres/migrations.js';
import { SqliteDatabase } from '../storage/sqlite/database.js';
import { MIGRATIONS } from '../storage/sqlite/migrations.js';

/** Where the store lives: PostgreSQL at DATABASE_URL, else the SQLite file in DATA_DIR. */
export type StoreTarget = { engine: 'postgresql'; url: string } | { engine: 'sqlite'; file: string };

export interface SchemaStatus {
  /** How the store is named in messages (a URL with its password hidden, or a file path). */
  where: string;
  /** False when there is no database yet (no SQLite file, or no schema_migrations table). */
  exists: boolean;
  /** The versions applied in the database. */
  applied: number[];
  /** The versions this code knows, in order. */
  known: number[];
}

export function currentVersion(versions: readonly number[]): number {
  return versions.length === 0 ? 0 : Math.max(...versions);
}

/** The code's migrations the database has not applied yet. */
export function pendingVersions(s: SchemaStatus): number[] {
  const applied = new Set(s.applied);
  return s.known.filter((v) => !applied.has(v));
}

/** Versions applied in the database that this code does not know: a newer gateway migrated it. */
export function unknownVersions(s: SchemaStatus): number[] {
  const known = new Set(s.known);
  return s.applied.filter((v) => !known.has(v));
}

/** Refuses, in one line, a database migrated by a newer gateway than this one. */
export function refuseNewer(s: SchemaStatus, variable: string): void {
  const unknown = unknownVersions(s);
  if (unknown.length === 0) return;
  throw new GatewayError(
    'GW_ERR_CONFIG',
    `${variable}: the database at ${s.where} is at schema version ${currentVersion(s.applied)}, newer than this code's ${currentVersion(s.known)} (unknown versions ${unknown.join(', ')}): run a gateway of that version or later`,
  );
}

export async function readSchemaStatus(target: StoreTarget): Promise<SchemaStatus> {
  return target.engine === 'postgresql' ? readPostgresStatus(target.url) : readSqliteStatus(target.file);
}

/**
 * Applies the missing migrations exactly as a starting gateway would (PostgreSQL: under the migrations' advisory lock,
 * so a node starting meanwhile waits), after refusing a database newer than this code. Answers the status before and after.
 */
export async function applyMigrations(target: StoreTarget): Promise<{ before: SchemaStatus; after: SchemaStatus }> {
  const before = await readSchemaStatus(target);
  refuseNewer(before, variableOf(target));
  if (target.engine === 'postgresql') {
    const db = await PgDatabase.open(target.url);
    await db.close();
  } else {
    // Opening the database migrates it; the checkpoint thread it starts is stopped at once by close().
    await new SqliteDatabase(target.file).close();
  }
  return { before, after: await readSchemaStatus(target) };
}

export function variableOf(target: StoreTarget): string {
  return target.engine === 'postgresql' ? 'DATABASE_URL' : 'DATA_DIR';
}

async function readPostgresStatus(url: string): Promise<SchemaStatus> {
  const where = redact(url);
  const known = PG_MIGRATIONS.map((m) => m.version);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // A connection dropped while idle is reported on the client; the next query fails with it instead.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new GatewayError('GW_ERR_CONFIG', `DATABASE_URL: cannot open the PostgreSQL store at ${where}: ${errorMessage(err)}`);
  }
  try {
    const table = await client.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
    if (!table.rows[0]?.t) return { where, exists: false, applied: [], known };
    const rows = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    return { where, exists: true, applied: rows.rows.map((r) => Number(r.version)), known };
  } catch (err) {
    throw new GatewayError('GW_ERR_CONFIG', `DATABASE_URL: cannot read the schema version at ${where}: ${errorMessage(err)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function readSqliteStatus(file: string): SchemaStatus {
  const known = MIGRATIONS.map((m) => m.version);
  if (!existsSync(file)) return { where: file, exists: false, applied: [], known };
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
  } catch (err) {
    throw new GatewayError('GW_ERR_CONFIG', `DATA_DIR: cannot open the SQLite database at ${file}: ${errorMessage(err)}`);
  }
  try {
    return { where: file, exists: true, applied: sqliteVersions(db), known };
  } catch (err) {
    throw new GatewayError('GW_ERR_CONFIG', `DATA_DIR: ${file} is not a gateway database: ${errorMessage(err)}`);
  } finally {
    db.close();
  }
}

/** The versions recorded in a SQLite database's schema_migrations (none when the table is missing). */
export function sqliteVersions(db: Database.Database): number[] {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!table) return [];
  return db
    .prepare<[], { version: number }>('SELECT version FROM schema_migrations ORDER BY version')
    .all()
    .map((r) => r.version);
}
