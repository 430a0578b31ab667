// `npm run migrate` and the SQLite → PostgreSQL move: versions before and after, and every refusal (dead server, newer schema, non-empty target, running source, a table PostgreSQL lacks).
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, readSchemaStatus } from '../../gateway/backup/schema-versions.js';
import { SKIPPED_TABLES, transferSqliteToPostgres } from '../../gateway/backup/sqlite-to-postgres.js';
import { PG_MIGRATIONS } from '../../gateway/storage/postgres/migrations.js';
import { openPostgresStore } from '../../gateway/storage/postgres/store.js';
import { MIGRATIONS } from '../../gateway/storage/sqlite/migrations.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { event, incident, SNAPSHOT, T0, user } from '../contract/fixtures.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { expectDeadDatabaseUrlRefused } from '../helpers/postgres-refusal.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const PG_LATEST = Math.max(...PG_MIGRATIONS.map((m) => m.version));
const SQLITE_LATEST = Math.max(...MIGRATIONS.map((m) => m.version));

let fixture: PostgresFixture;
const dirs: { remove: () => void }[] = [];
const stores: SqliteStore[] = [];

beforeAll(async () => {
  fixture = await PostgresFixture.start();
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) d.remove();
});
afterAll(async () => {
  await fixture.stop();
});

/** A stopped gateway's DATA_DIR: the registry, two events, an incident with its audit, an account. */
async function filledDataDir(): Promise<{ dir: string; file: string }> {
  const d = tempDir('care-gw-migrate-');
  dirs.push(d);
  const file = join(d.path, 'gateway.db');
  const store = openSqliteStore(file);
  await store.registry.upsert(SNAPSHOT);
  const batch = await store.events.recordBatch([event(1), event(2)], 0);
  const inc = incident('inc-1');
  await store.incidents.create(inc);
  for (const id of batch.ids) if (id !== null) await store.incidents.linkSignal(inc.id, id);
  await store.incidents.appendAudit({ incidentId: inc.id, at: T0, action: 'opened', actor: 'system', channel: 'system', detail: null });
  await store.accounts.createUser(user('u-1'));
  await store.close();
  return { dir: d.path, file };
}

async function rows(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

describe('npm run migrate: the schema version of the configured store', () => {
  it('PostgreSQL: reports no schema, applies every migration, then reports it current', async () => {
    const url = await fixture.freshUrl();
    const target = { engine: 'postgresql' as const, url };
    const before = await readSchemaStatus(target);
    expect(before).toMatchObject({ exists: false, applied: [] });
    const { after } = await applyMigrations(target);
    expect(after.applied).toEqual(PG_MIGRATIONS.map((m) => m.version));
    const again = await applyMigrations(target);
    expect(again.before.applied).toEqual(again.after.applied);
  });

  it('refuses a PostgreSQL database migrated by a newer gateway, in one line, and changes nothing', async () => {
    const url = await fixture.freshUrl();
    await (await openPostgresStore(url)).close();
    await rows(url, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)");
    await expect(applyMigrations({ engine: 'postgresql', url })).rejects.toThrow(
      new RegExp(
        `^DATABASE_URL: the database at postgres://postgres:\\*\\*\\*@.* is at schema version 999, newer than this code's ${PG_LATEST} \\(unknown versions 999\\): run a gateway of that version or later$`,
      ),
    );
  });

  it('names DATABASE_URL, hides the password, and keeps the cause when no server answers', async () => {
    await expectDeadDatabaseUrlRefused((url) => readSchemaStatus({ engine: 'postgresql', url }));
  });

  it('SQLite: creates and migrates DATA_DIR/gateway.db, and refuses one a newer gateway wrote', async () => {
    const d = tempDir('care-gw-migrate-');
    dirs.push(d);
    const file = join(d.path, 'gateway.db');
    const { before, after } = await applyMigrations({ engine: 'sqlite', file });
    expect(before.exists).toBe(false);
    expect(Math.max(...after.applied)).toBe(SQLITE_LATEST);
    const db = new Database(file);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)").run();
    db.close();
    await expect(applyMigrations({ engine: 'sqlite', file })).rejects.toThrow(
      /^DATA_DIR: the database at .* is at schema version 999, newer than/,
    );
  });

  it('runs as `npm run migrate`: --status changes nothing, then it prints the version before and after', async () => {
    const url = await fixture.freshUrl();
    const env = { ...process.env, DATABASE_URL: url };
    const status = await run('npx', ['tsx', 'gateway/backup/migrate-cli.ts', '--status'], { env });
    expect(status.stdout).toMatch(
      new RegExp(`^PostgreSQL at postgres://postgres:\\*\\*\\*@.*: no gateway schema yet; ${PG_MIGRATIONS.length} migrations to apply`),
    );
    expect(await readSchemaStatus({ engine: 'postgresql', url })).toMatchObject({ exists: false });
    const applied = await run('npx', ['tsx', 'gateway/backup/migrate-cli.ts'], { env });
    expect(applied.stdout).toMatch(new RegExp(`schema version 0 -> ${PG_LATEST} \\(${PG_MIGRATIONS.length} applied\\)`));
    const bad = await run('npx', ['tsx', 'gateway/backup/migrate-cli.ts'], { env: { ...env, DATABASE_URL: 'mysql://x' } }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad).toMatchObject({ code: 2 });
    expect((bad as { stderr: string }).stderr.split('\n')[0]).toBe('migrate: DATABASE_URL: expected a postgres:// connection string');
  });
});

describe('npm run backup and restore with DATABASE_URL set', () => {
  it('refuse in one line that names pg_dump / pg_restore, and write nothing', async () => {
    const d = tempDir('care-gw-migrate-');
    dirs.push(d);
    const env = { ...process.env, DATABASE_URL: 'postgres://care:secret-pw@127.0.0.1:1/care', DATA_DIR: d.path };
    const out = join(d.path, 'b.sqlite');
    const failed = (e: { code: number; stderr: string }) => e;
    const [backup, restore] = await Promise.all([
      run('npx', ['tsx', 'gateway/backup/cli.ts', 'backup', '--out', out], { env }).catch(failed),
      run('npx', ['tsx', 'gateway/backup/cli.ts', 'restore', out], { env }).catch(failed),
    ]);
    expect(backup).toMatchObject({ code: 1 });
    expect((backup as { stderr: string }).stderr).toMatch(
      /^backup refused: DATABASE_URL is set, so the records are in PostgreSQL, not in DATA_DIR: back it up with `pg_dump -Fc .*\n$/,
    );
    expect(restore).toMatchObject({ code: 1 });
    expect((restore as { stderr: string }).stderr).toMatch(/^restore refused: .*pg_restore --clean .*\n$/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('npm run migrate -- --from-sqlite: moving an installation into PostgreSQL', () => {
  it('copies every table with its ids in one go, verifies the counts, and moves the sequences past the copied ids', async () => {
    const { file } = await filledDataDir();
    const url = await fixture.freshUrl();
    const result = await transferSqliteToPostgres({ sqliteFile: file, databaseUrl: url });
    const counts = Object.fromEntries(result.copied.map((c) => [c.table, c.rows]));
    expect(counts).toMatchObject({ events: 2, incidents: 1, incident_signals: 2, audit_log: 1, users: 1, residents: 3 });
    expect(result.skipped.map((s) => s.table)).toEqual(Object.keys(SKIPPED_TABLES));
    // users before sessions, which refer to them
    const order = result.copied.map((c) => c.table);
    expect(order.indexOf('users')).toBeLessThan(order.indexOf('sessions'));

    const store = await openPostgresStore(url);
    try {
      expect((await store.incidents.get('inc-1'))?.residentId).toBe(incident('inc-1').residentId);
      const src = new Database(file, { readonly: true });
      const ids = src
        .prepare<[], { id: number }>('SELECT id FROM events ORDER BY id')
        .all()
        .map((r) => r.id);
      src.close();
      expect((await store.database.query<{ id: number }>('SELECT id FROM events ORDER BY id')).map((r) => r.id)).toEqual(ids);
      const next = await store.events.recordBatch([event(3)], 0);
      expect(next.ids).toEqual([Math.max(...ids) + 1]);
    } finally {
      await store.close();
    }
  });

  it('runs as `npm run migrate -- --from-sqlite DIR`: refuses while the gateway runs, then prints each table’s verified count', async () => {
    const { dir, file } = await filledDataDir();
    const url = await fixture.freshUrl();
    const env = { ...process.env, DATABASE_URL: url };
    const running = openSqliteStore(file);
    const refused = await run('npx', ['tsx', 'gateway/backup/migrate-cli.ts', '--from-sqlite', dir], { env }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    await running.close();
    expect(refused).toMatchObject({
      code: 1,
      stderr: `migrate failed: a gateway is running on ${dir} (its database is open): stop it before moving it to PostgreSQL\n`,
    });
    const moved = await run('npx', ['tsx', 'gateway/backup/migrate-cli.ts', '--from-sqlite', dir], { env });
    const lines = moved.stdout.split('\n');
    expect(lines[0]).toMatch(
      new RegExp(`^moved SQLite schema ${SQLITE_LATEST} into PostgreSQL schema ${PG_LATEST}, one transaction, row counts verified:$`),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}events +2$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}incidents +1$/));
    expect(lines).toContain(`not copied: schema_migrations (${SKIPPED_TABLES.schema_migrations})`);
  });

  it('refuses a target that already holds records, and with --replace-target replaces them in the same transaction', async () => {
    const { file } = await filledDataDir();
    const url = await fixture.freshUrl();
    await transferSqliteToPostgres({ sqliteFile: file, databaseUrl: url });
    await expect(transferSqliteToPostgres({ sqliteFile: file, databaseUrl: url })).rejects.toThrow(
      /^the PostgreSQL database at postgres:\/\/postgres:\*\*\*@.* already holds records \(.*events: 2.*\): move into an empty database, or pass --replace-target to delete them$/,
    );
    const again = await transferSqliteToPostgres({ sqliteFile: file, databaseUrl: url, replaceTarget: true });
    expect(again.replaced).toContainEqual({ table: 'events', rows: 2 });
    expect(await rows(url, 'SELECT count(*)::int AS n FROM events')).toEqual([{ n: 2 }]);
  });

  it('refuses while a gateway has the SQLite database open', async () => {
    const { file, dir } = await filledDataDir();
    stores.push(openSqliteStore(file));
    const url = await fixture.freshUrl();
    await expect(transferSqliteToPostgres({ sqliteFile: file, databaseUrl: url })).rejects.toThrow(
      `a gateway is running on ${dir} (its database is open): stop it before moving it to PostgreSQL`,
    );
    expect(await readSchemaStatus({ engine: 'postgresql', url })).toMatchObject({ exists: false });
  });

  it('refuses a SQLite database at another schema version than this code’s', async () => {
    const { file } = await filledDataDir();
    const db = new Database(file);
    db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(SQLITE_LATEST);
    db.close();
    await expect(transferSqliteToPostgres({ sqliteFile: file, databaseUrl: await fixture.freshUrl() })).rejects.toThrow(
      /is at schema version \d+, this code's is \d+: bring it up to date first with `npm run migrate`/,
    );
  });

  it('refuses, and copies nothing, when a SQLite table or column has no PostgreSQL counterpart and no reason to skip it', async () => {
    const { file } = await filledDataDir();
    const db = new Database(file);
    db.exec('CREATE TABLE future_notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL); ALTER TABLE incidents ADD COLUMN priority TEXT');
    db.close();
    const url = await fixture.freshUrl();
    await expect(transferSqliteToPostgres({ sqliteFile: file, databaseUrl: url })).rejects.toThrow(
      /^cannot move every SQLite table to .*: table future_notes has no PostgreSQL table; column incidents\.priority has no PostgreSQL column \(add it to the PostgreSQL migrations, or to SKIPPED_TABLES with a reason\)$/,
    );
    expect(await rows(url, 'SELECT count(*)::int AS n FROM events')).toEqual([{ n: 0 }]);
  });

  it('rolls the whole move back when a row does not fit, naming the table and the row', async () => {
    const { file } = await filledDataDir();
    const db = new Database(file);
    db.prepare("UPDATE incidents SET unassigned = 7 WHERE id = 'inc-1'").run();
    db.close();
    const url = await fixture.freshUrl();
    await expect(transferSqliteToPostgres({ sqliteFile: file, databaseUrl: url })).rejects.toThrow(
      /^copying table incidents failed, nothing was moved: incidents\.unassigned \(row 1\): SQLite value 7 does not fit PostgreSQL type boolean$/,
    );
    expect(await rows(url, 'SELECT count(*)::int AS n FROM residents')).toEqual([{ n: 0 }]);
  });
});
