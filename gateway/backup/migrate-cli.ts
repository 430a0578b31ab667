// `npm run migrate`: applies (or with --status only reports) the configured store's schema migrations without starting the gateway, and moves a SQLite installation into PostgreSQL (--from-sqlite).
import { resolve } from 'node:path';
import { readEnv } from '../config/load.js';
import { errorMessage } from '../core/errors.js';
import { databaseFile } from '../storage/sqlite/store.js';
import {
  applyMigrations,
  currentVersion,
  pendingVersions,
  readSchemaStatus,
  refuseNewer,
  type SchemaStatus,
  type StoreTarget,
  variableOf,
} from './schema-versions.js';
import { transferSqliteToPostgres, type TransferResult } from './sqlite-to-postgres.js';

const USAGE = [
  'usage: npm run migrate                       apply the missing schema migrations (DATABASE_URL, else DATA_DIR)',
  '       npm run migrate -- --status           print the schema version and what is missing; change nothing',
  '       npm run migrate -- --from-sqlite DIR [--replace-target]',
  '                                             copy the stopped gateway database DIR/gateway.db into DATABASE_URL',
].join('\n');

type Command =
  | { name: 'apply' | 'status'; target: StoreTarget }
  | { name: 'from-sqlite'; sqliteFile: string; databaseUrl: string; replaceTarget: boolean };

class UsageError extends Error {}

function parse(argv: readonly string[], env: Record<string, string | undefined>): Command {
  let status = false;
  let fromSqlite: string | null = null;
  let replaceTarget = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--status') status = true;
    else if (arg === '--replace-target') replaceTarget = true;
    else if (arg === '--from-sqlite') {
      const v = argv[++i];
      if (v === undefined || v === '' || v.startsWith('-')) throw new UsageError('--from-sqlite needs the old DATA_DIR');
      fromSqlite = v;
    } else throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
  }
  const databaseUrl = env.DATABASE_URL?.trim() ?? '';
  if (databaseUrl !== '' && !/^postgres(ql)?:\/\/\S+$/.test(databaseUrl)) {
    throw new UsageError('DATABASE_URL: expected a postgres:// connection string');
  }
  if (fromSqlite !== null) {
    if (status) throw new UsageError('--status and --from-sqlite do not go together');
    if (databaseUrl === '') throw new UsageError('--from-sqlite needs DATABASE_URL: the PostgreSQL database to move into');
    return { name: 'from-sqlite', sqliteFile: databaseFile(resolve(fromSqlite)), databaseUrl, replaceTarget };
  }
  if (replaceTarget) throw new UsageError('--replace-target goes only with --from-sqlite');
  const dataDir = env.DATA_DIR?.trim();
  const target: StoreTarget =
    databaseUrl !== ''
      ? { engine: 'postgresql', url: databaseUrl }
      : { engine: 'sqlite', file: databaseFile(resolve(dataDir ? dataDir : './data')) };
  return { name: status ? 'status' : 'apply', target };
}

function engineName(target: StoreTarget): string {
  return target.engine === 'postgresql' ? 'PostgreSQL' : 'SQLite';
}

function describeStatus(target: StoreTarget, s: SchemaStatus): string {
  const pending = pendingVersions(s);
  const head = `${engineName(target)} at ${s.where}: `;
  if (!s.exists) return `${head}no gateway schema yet; ${pending.length} migrations to apply (up to version ${currentVersion(s.known)})`;
  const missing = pending.length === 0 ? 'up to date' : `${pending.length} to apply: ${pending.join(', ')}`;
  return `${head}schema version ${currentVersion(s.applied)}, this code's ${currentVersion(s.known)} (${missing})`;
}

function describeTransfer(r: TransferResult): string {
  const width = Math.max(...r.copied.map((c) => c.table.length), 5);
  const lines = [
    `moved SQLite schema ${r.schemaVersion.sqlite} into PostgreSQL schema ${r.schemaVersion.postgresql}, one transaction, row counts verified:`,
  ];
  for (const c of r.copied) lines.push(`  ${c.table.padEnd(width)} ${c.rows}`);
  const total = r.copied.reduce((n, c) => n + c.rows, 0);
  lines.push(`  ${'total'.padEnd(width)} ${total}`);
  for (const s of r.skipped) lines.push(`not copied: ${s.table} (${s.reason})`);
  if (r.postgresOnly.length > 0) lines.push(`PostgreSQL-only tables, left empty: ${r.postgresOnly.join(', ')}`);
  if (r.replaced.length > 0) lines.push(`deleted first (--replace-target): ${r.replaced.map((t) => `${t.table} ${t.rows}`).join(', ')}`);
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  let command: Command;
  try {
    command = parse(argv, readEnv());
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`migrate: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  try {
    if (command.name === 'from-sqlite') {
      const result = await transferSqliteToPostgres(command);
      process.stdout.write(`${describeTransfer(result)}\n`);
    } else if (command.name === 'status') {
      const s = await readSchemaStatus(command.target);
      process.stdout.write(`${describeStatus(command.target, s)}\n`);
      refuseNewer(s, variableOf(command.target));
    } else {
      const { before, after } = await applyMigrations(command.target);
      const applied = pendingVersions(before).length;
      process.stdout.write(
        `${engineName(command.target)} at ${after.where}: schema version ${currentVersion(before.applied)} -> ${currentVersion(after.applied)} (${applied === 0 ? 'already up to date' : `${applied} applied`})\n`,
      );
    }
    return 0;
  } catch (err) {
    process.stderr.write(`migrate failed: ${errorMessage(err)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
