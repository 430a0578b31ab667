// Backups of the SQLite database: a consistent copy taken online beside a running gateway, checked and carrying DATA_DIR's other files, and the checks a restore needs.
import Database from 'better-sqlite3';
import { chmodSync, closeSync, copyFileSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS } from './migrations.js';

/** A file of DATA_DIR other than the database, carried inside the backup. */
export interface CarriedFile {
  name: string;
  content: Buffer;
  mode: number;
}

export interface BackupSummary {
  takenAt: number;
  /** The newest schema migration in the copy. */
  schemaVersion: number;
  bytes: number;
  /** Incidents not yet resolved or cancelled in the copy. */
  activeIncidents: number;
  files: string[];
}

/** The copy, checked and stripped of the backup's own tables, ready to be renamed into place. */
export interface PreparedRestore {
  summary: BackupSummary;
  files: CarriedFile[];
}

const FILES_TABLE = 'backup_files';
const INFO_TABLE = 'backup_info';
/** sqlite3_backup_step's page count, as large as better-sqlite3 allows: all pages in one step, see takeDatabaseBackup. */
const ALL_PAGES = 0x7fffffff;

/**
 * Copies the database at `source` to `out` while a gateway may be writing to it, and puts `files` inside the copy.
 * The copy is written to a temporary file, checked with `PRAGMA integrity_check`, synced, then renamed to `out`.
 */
export async function takeDatabaseBackup(source: string, out: string, files: readonly CarriedFile[], now: number): Promise<BackupSummary> {
  const tmp = `${out}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  try {
    const src = new Database(source, { fileMustExist: true, timeout: 5000 });
    try {
      // One step copies every page inside one read transaction of this second connection: a consistent snapshot,
      // which in WAL mode never holds the gateway's writer up. Smaller steps would restart whenever the gateway
      // commits, and during a storm it commits all the time.
      await src.backup(tmp, { progress: () => ALL_PAGES });
    } finally {
      src.close();
    }
    const summary = embed(tmp, files, now);
    // Names, phone numbers and the link secret: for the operator's eyes only.
    chmodSync(tmp, 0o600);
    fsyncPath(tmp);
    renameSync(tmp, out);
    fsyncPath(dirname(out));
    return summary;
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * True while another connection (a running gateway) has the database open. In WAL mode every open connection
 * keeps a shared lock on the file, so an exclusive lock is granted only to a connection that is alone with it.
 */
export function databaseInUse(file: string): boolean {
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
  } catch {
    return false;
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('ROLLBACK');
    return false;
  } catch (err) {
    if (err instanceof Error && 'code' in err && (err.code === 'SQLITE_BUSY' || err.code === 'SQLITE_LOCKED')) return true;
    throw err;
  } finally {
    db.close();
  }
}

/**
 * Copies the backup at `backup` to `dest`, checks it, takes out the carried files and the backup's own tables, and
 * returns what it held. `dest` is then a plain gateway database. Throws, leaving nothing at `dest`, when the file is
 * no gateway backup, is damaged, or comes from a newer gateway than this one.
 */
export function prepareRestore(backup: string, dest: string): PreparedRestore {
  rmSync(dest, { force: true });
  copyFileSync(backup, dest);
  try {
    const db = new Database(dest, { fileMustExist: true });
    try {
      const problem = integrityProblem(db);
      if (problem) throw new Error(`${backup} is damaged: ${problem}`);
      const tables = new Set(
        db
          .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
          .all()
          .map((r) => r.name),
      );
      if (!tables.has(INFO_TABLE) || !tables.has(FILES_TABLE)) throw new Error(`${backup} is not a backup made by npm run backup`);
      const summary = readSummary(db);
      const known = Math.max(...MIGRATIONS.map((m) => m.version));
      if (summary.schemaVersion > known) {
        throw new Error(
          `${backup} comes from a newer gateway (schema ${summary.schemaVersion}, this one knows up to ${known}); restore it with that version`,
        );
      }
      const files = db
        .prepare<[], { name: string; content: Buffer; mode: number }>(`SELECT name, content, mode FROM ${FILES_TABLE} ORDER BY name`)
        .all()
        .map((r) => ({ name: r.name, content: r.content, mode: r.mode }));
      db.exec(`DROP TABLE ${FILES_TABLE}; DROP TABLE ${INFO_TABLE}`);
      return { summary, files };
    } finally {
      db.close();
    }
  } catch (err) {
    rmSync(dest, { force: true });
    throw err;
  }
}

/** What a backup file holds, read without changing it. */
export function readBackupSummary(backup: string): BackupSummary {
  const db = new Database(backup, { fileMustExist: true, readonly: true });
  try {
    return readSummary(db);
  } finally {
    db.close();
  }
}

/** Null when `PRAGMA integrity_check` finds nothing wrong, else its first findings. */
function integrityProblem(db: Database.Database): string | null {
  const rows = db.prepare<[], { integrity_check: string }>('PRAGMA integrity_check').all();
  const found = rows.map((r) => r.integrity_check);
  return found.length === 1 && found[0] === 'ok' ? null : found.slice(0, 5).join('; ');
}

function embed(file: string, files: readonly CarriedFile[], now: number): BackupSummary {
  const db = new Database(file, { fileMustExist: true });
  try {
    // One self-contained file: the copy of a WAL database would otherwise open in WAL mode, with side files of its own.
    db.pragma('journal_mode = DELETE');
    const problem = integrityProblem(db);
    if (problem) throw new Error(`the copy failed its integrity check: ${problem}`);
    db.exec(`CREATE TABLE ${FILES_TABLE} (name TEXT PRIMARY KEY, content BLOB NOT NULL, mode INTEGER NOT NULL);
             CREATE TABLE ${INFO_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);
    db.transaction(() => {
      const insert = db.prepare(`INSERT INTO ${FILES_TABLE} (name, content, mode) VALUES (?, ?, ?)`);
      for (const f of files) insert.run(f.name, f.content, f.mode);
      db.prepare(`INSERT INTO ${INFO_TABLE} (key, value) VALUES ('taken_at', ?)`).run(String(now));
    })();
    return readSummary(db);
  } finally {
    db.close();
  }
}

function readSummary(db: Database.Database): BackupSummary {
  const takenAt = Number(db.prepare<[], { value: string }>(`SELECT value FROM ${INFO_TABLE} WHERE key = 'taken_at'`).get()?.value ?? NaN);
  const schemaVersion = db.prepare<[], { v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations').get()?.v ?? 0;
  const activeIncidents =
    db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM incidents WHERE state IN ('pending', 'open', 'acknowledged')").get()?.n ?? 0;
  const files = db
    .prepare<[], { name: string }>(`SELECT name FROM ${FILES_TABLE} ORDER BY name`)
    .all()
    .map((r) => r.name);
  const pages = db.pragma('page_count', { simple: true });
  const pageSize = db.pragma('page_size', { simple: true });
  return { takenAt, schemaVersion, bytes: Number(pages) * Number(pageSize), activeIncidents, files };
}

/** Syncs a file or directory to disk (a directory after a rename in it). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
