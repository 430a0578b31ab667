// A throwaway PostgreSQL 15 cluster for tests: initdb + pg_ctl in a temp dir (as the postgres user when run as root), a free loopback port.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../simulators/common/net.js';

const run = promisify(execFile);

export const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';
/** The superuser's password: TCP logins are checked (scram-sha-256), so a wrong password is refused as in production. */
export const POSTGRES_PASSWORD = 'care-gw-test';

/** The uid/gid to run the server as: initdb refuses root, so as root the cluster belongs to the `postgres` user. */
function owner(): { uid: number; gid: number } | null {
  if (userInfo().uid !== 0) return null;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('running as root, but there is no `postgres` user to run PostgreSQL as');
  return { uid: Number(uid), gid: Number(gid) };
}

export class PostgresServer {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly as: { uid: number; gid: number } | null,
  ) {}

  /** initdb, then start on a free 127.0.0.1 port with fsync on; the socket lives in the temp dir, never in /var/run. */
  static async start(): Promise<PostgresServer> {
    if (!existsSync(join(POSTGRES_BIN, 'initdb')))
      throw new Error(`PostgreSQL 15 is not installed (${POSTGRES_BIN}): apt-get install postgresql`);
    const dir = mkdtempSync(join(tmpdir(), 'care-gw-pg-'));
    const as = owner();
    if (as) chownSync(dir, as.uid, as.gid);
    chmodSync(dir, 0o700);
    const server = new PostgresServer(dir, await freePort(), as);
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${POSTGRES_PASSWORD}\n`);
    if (as) chownSync(pwfile, as.uid, as.gid);
    try {
      await server.bin('initdb', [
        '-D',
        server.dataDir,
        '-U',
        'postgres',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        `--pwfile=${pwfile}`,
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
      ]);
      await server.bin('pg_ctl', [
        '-D',
        server.dataDir,
        '-l',
        join(dir, 'server.log'),
        '-o',
        `-p ${server.port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200`,
        '-w',
        'start',
      ]);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return server;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** A connection string for `database` over TCP, with the superuser's password (or `password`). */
  url(database = 'postgres', password = POSTGRES_PASSWORD): string {
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${database}`;
  }

  /** Runs SQL as the superuser on `database`. */
  async sql(text: string, database = 'postgres'): Promise<void> {
    const client = new pg.Client({ connectionString: this.url(database) });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  }

  async createDatabase(name: string): Promise<string> {
    await this.sql(`CREATE DATABASE "${name}"`);
    return this.url(name);
  }

  /** Stops the server (fast shutdown: sessions are closed) and removes its directory. */
  async stop(): Promise<void> {
    try {
      await this.bin('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private async bin(name: string, args: string[]): Promise<void> {
    await run(join(POSTGRES_BIN, name), args, { ...(this.as ?? {}), cwd: this.dir, timeout: 60_000 });
  }
}

/**
 * One cluster per test file and a database of its own; `freshUrl()` answers a connection string to a new, empty schema
 * of that database each call, so every store a test opens starts from nothing without paying for a CREATE DATABASE.
 */
export class PostgresFixture {
  private schemas = 0;

  private constructor(
    readonly server: PostgresServer,
    readonly databaseUrl: string,
  ) {}

  static async start(database = 'care_gw_test'): Promise<PostgresFixture> {
    const server = await PostgresServer.start();
    return new PostgresFixture(server, await server.createDatabase(database));
  }

  async freshUrl(): Promise<string> {
    const schema = `s${++this.schemas}`;
    const database = new URL(this.databaseUrl).pathname.slice(1);
    await this.server.sql(`CREATE SCHEMA ${schema}`, database);
    return `${this.databaseUrl}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  }

  async stop(): Promise<void> {
    await this.server.stop();
  }
}
