// Backup and restore of a whole DATA_DIR: the database, copied online and consistently, with the files a restored gateway needs beside it.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { GatewayError } from '../core/errors.js';
import { LINK_SECRET_FILE } from '../http/links.js';
import { DEMO_REGISTRY_FILE } from '../registry/demo.js';
import { databaseFile } from '../storage/sqlite/store.js';
import { databaseInUse, fsyncPath as fsync, prepareRestore, takeDatabaseBackup, type BackupSummary, type CarriedFile } from '../storage/sqlite/backup.js';

/**
 * The files of DATA_DIR besides the database. Without the link secret every incident link already sent by SMS would
 * stop working; without the demo registry a restored demo would generate new device secrets on its next start.
 */
export const CARRIED_FILES: readonly string[] = [LINK_SECRET_FILE, DEMO_REGISTRY_FILE];

export interface RestoreResult {
  summary: BackupSummary;
  /** Where the database and files that the restore replaced were moved; null when DATA_DIR held none. */
  replacedDir: string | null;
}

/** Writes a backup of `dataDir` to `out` while a gateway may be running on it. */
export async function backupDataDir(dataDir: string, out: string, now: number): Promise<BackupSummary> {
  const db = databaseFile(dataDir);
  if (!existsSync(db)) throw new GatewayError('GW_ERR_CONFIG', `no gateway database at ${db} (is DATA_DIR right?)`);
  const files: CarriedFile[] = [];
  for (const name of CARRIED_FILES) {
    const path = join(dataDir, name);
    if (existsSync(path)) files.push({ name, content: readFileSync(path), mode: statSync(path).mode & 0o777 });
  }
  mkdirSync(dirname(out), { recursive: true });
  return takeDatabaseBackup(db, out, files, now);
}

/**
 * Replaces the database and carried files of `dataDir` with those of `backup`. Refuses while a gateway has the
 * database open. What it replaces is moved to `dataDir/replaced-<time>/`, never deleted, and the old -wal and -shm
 * go with it: a stale WAL beside the restored database would be replayed into it.
 */
export function restoreDataDir(dataDir: string, backup: string, now: number): RestoreResult {
  if (!existsSync(backup)) throw new GatewayError('GW_ERR_CONFIG', `no backup file at ${backup}`);
  mkdirSync(dataDir, { recursive: true });
  const db = databaseFile(dataDir);
  if (databaseInUse(db)) {
    throw new GatewayError('GW_ERR_CONFIG', `a gateway is running on ${dataDir} (its database is open): stop it before restoring`);
  }
  const staged = `${db}.restoring`;
  const prepared = prepareRestore(backup, staged);

  const replacing = [db, `${db}-wal`, `${db}-shm`, ...CARRIED_FILES.map((name) => join(dataDir, name))].filter((p) => existsSync(p));
  let replacedDir: string | null = null;
  if (replacing.length > 0) {
    replacedDir = join(dataDir, `replaced-${new Date(now).toISOString().replace(/[:.]/g, '-')}`);
    mkdirSync(replacedDir, { recursive: true });
    for (const path of replacing) renameSync(path, join(replacedDir, basename(path)));
  }
  for (const file of prepared.files) {
    if (!CARRIED_FILES.includes(file.name)) continue;
    const path = join(dataDir, file.name);
    const tmp = `${path}.restoring`;
    writeFileSync(tmp, file.content, { mode: file.mode });
    fsync(tmp);
    renameSync(tmp, path);
  }
  fsync(staged);
  renameSync(staged, db);
  fsync(dataDir);
  return { summary: prepared.summary, replacedDir };
}
