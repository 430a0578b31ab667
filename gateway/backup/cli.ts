// `npm run backup` and `npm run restore`: a consistent copy of DATA_DIR taken beside a running gateway, and its restore into a stopped one.
import { resolve } from 'node:path';
import { readEnv } from '../config/load.js';
import { errorMessage } from '../core/errors.js';
import type { BackupSummary } from '../storage/sqlite/backup.js';
import { backupDataDir, restoreDataDir } from './data-dir.js';

const USAGE = ['usage: npm run backup -- [--out FILE] [--data-dir DIR]', '       npm run restore -- FILE [--data-dir DIR]'].join('\n');

interface Command {
  name: 'backup' | 'restore';
  dataDir: string;
  /** backup: where to write; restore: the backup to read. */
  file: string;
}

class UsageError extends Error {}

/** DATA_DIR as the gateway resolves it (environment, then .env, then ./data), unless --data-dir names one. */
function parse(argv: readonly string[], now: number): Command {
  const [name, ...rest] = argv;
  if (name !== 'backup' && name !== 'restore') throw new UsageError(`unknown command ${JSON.stringify(name ?? '')}`);
  let dataDir: string | null = null;
  let out: string | null = null;
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? '';
    const value = (): string => {
      const v = rest[++i];
      if (v === undefined || v === '') throw new UsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === '--data-dir') dataDir = value();
    else if (arg === '--out' && name === 'backup') out = value();
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  const env = readEnv();
  const fromEnv = env.DATA_DIR?.trim();
  const dir = resolve(dataDir ?? (fromEnv ? fromEnv : './data'));
  if (name === 'backup') {
    if (positional.length > 0) throw new UsageError(`unexpected ${positional.join(' ')}`);
    const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
    return { name, dataDir: dir, file: resolve(out ?? `backups/care-gateway-${stamp}.sqlite`) };
  }
  if (positional.length !== 1 || !positional[0]) throw new UsageError('restore needs exactly one backup file');
  return { name, dataDir: dir, file: resolve(positional[0]) };
}

function describe(s: BackupSummary): string {
  const files = s.files.length > 0 ? s.files.join(', ') : 'none';
  return `taken ${new Date(s.takenAt).toISOString()}, schema ${s.schemaVersion}, ${s.activeIncidents} active incidents, ${s.bytes} bytes, files: ${files}`;
}

/**
 * On PostgreSQL the records are not in DATA_DIR: a copy of its files would look like a backup and hold none of them.
 * The server's own tools take a consistent copy of a live database.
 */
function postgresRefusal(name: string): string | null {
  if (!readEnv().DATABASE_URL?.trim()) return null;
  const how =
    name === 'backup'
      ? 'back it up with `pg_dump -Fc -f care.dump "$DATABASE_URL"` (or pg_basebackup / a standby)'
      : 'restore it with `pg_restore --clean -d "$DATABASE_URL" care.dump` with every gateway node stopped';
  return `${name} refused: DATABASE_URL is set, so the records are in PostgreSQL, not in DATA_DIR: ${how}, and keep a copy of DATA_DIR's link secret (docs/operations.md)`;
}

async function main(argv: readonly string[]): Promise<number> {
  const now = Date.now();
  const refusal = postgresRefusal(argv[0] ?? '');
  if (refusal) {
    process.stderr.write(`${refusal}\n`);
    return 1;
  }
  let command: Command;
  try {
    command = parse(argv, now);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n${USAGE}\n`);
    return 2;
  }
  try {
    if (command.name === 'backup') {
      const summary = await backupDataDir(command.dataDir, command.file, now);
      process.stdout.write(`backup written: ${command.file} (${describe(summary)})\n`);
    } else {
      const result = restoreDataDir(command.dataDir, command.file, now);
      process.stdout.write(`restored ${command.file} into ${command.dataDir} (${describe(result.summary)})\n`);
      if (result.replacedDir) process.stdout.write(`what it replaced is kept in ${result.replacedDir}\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(`${command.name} failed: ${errorMessage(err)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
