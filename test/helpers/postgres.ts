// A throwaway PostgreSQL 15 cluster for tests: initdb + pg_ctl in a temp dir (as the postgres user when run as root), a free loopback port.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../simulators/common/net.js';
import { waitFor } from './wait.js';

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

/** How halt() stops the server: pg_ctl's fast or immediate shutdown, or a SIGKILL of the postmaster. */
export type HaltMode = 'fast' | 'immediate' | 'kill';

/** Runs one query on a connection of its own (a test's look at what the nodes wrote) and returns its rows. */
export async function queryRows<R extends object>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

export class PostgresServer {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly as: { uid: number; gid: number } | null,
    private readonly settings: Readonly<Record<string, string>>,
  ) {}

  /**
   * initdb, then start on a free 127.0.0.1 port with fsync on; the socket lives in the temp dir, never in /var/run.
   * `settings` are extra server settings (`-c name=value`), e.g. a slower WAL writer to widen what a crash can lose.
   */
  static async start(settings: Readonly<Record<string, string>> = {}): Promise<PostgresServer> {
    if (!existsSync(join(POSTGRES_BIN, 'initdb')))
      throw new Error(`PostgreSQL 15 is not installed (${POSTGRES_BIN}): apt-get install postgresql`);
    const dir = mkdtempSync(join(tmpdir(), 'care-gw-pg-'));
    const as = owner();
    if (as) chownSync(dir, as.uid, as.gid);
    chmodSync(dir, 0o700);
    const server = new PostgresServer(dir, await freePort(), as, settings);
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
      await server.pgStart();
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

  /**
   * Makes the server log every statement it receives, each line led by its session's pid (`[pid] LOG:  …`), in
   * `<dir>/server.log`; resolves once a new session logs (sessions opened before keep their setting). `reset` undoes it.
   */
  async logStatements(): Promise<{ file: string; reset: () => Promise<void> }> {
    await this.sql("ALTER SYSTEM SET log_statement = 'all'");
    await this.sql("ALTER SYSTEM SET log_line_prefix = '[%p] '");
    await this.sql('SELECT pg_reload_conf()');
    await waitFor('the server to log statements', async () => {
      const client = new pg.Client({ connectionString: this.url() });
      await client.connect();
      try {
        return (await client.query<{ log_statement: string }>('SHOW log_statement')).rows[0]?.log_statement === 'all';
      } finally {
        await client.end();
      }
    });
    return {
      file: join(this.dir, 'server.log'),
      reset: async () => {
        await this.sql('ALTER SYSTEM RESET log_statement');
        await this.sql('ALTER SYSTEM RESET log_line_prefix');
        await this.sql('SELECT pg_reload_conf()');
      },
    };
  }

  async createDatabase(name: string): Promise<string> {
    await this.sql(`CREATE DATABASE "${name}"`);
    return this.url(name);
  }

  /**
   * Stops the server mid-run and keeps its data, for resume(): 'fast' closes the sessions cleanly, 'immediate' ends the
   * server processes without a checkpoint (a crash; the next start recovers from the WAL), 'kill' SIGKILLs the
   * postmaster (its backends notice and exit; the next start recovers from the WAL too).
   */
  async halt(mode: HaltMode = 'fast'): Promise<void> {
    if (this.halted) return;
    if (mode === 'kill') await this.killPostmaster();
    else await this.bin('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', 'stop']);
    this.halted = true;
  }

  /** SIGKILL to the postmaster, then waits for every server process it had started to exit (they hold its shared memory). */
  private async killPostmaster(): Promise<void> {
    const pid = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error('postmaster.pid names no process');
    const childrenFile = `/proc/${pid}/task/${pid}/children`;
    const children = existsSync(childrenFile)
      ? readFileSync(childrenFile, 'utf8')
          .trim()
          .split(/\s+/)
          .filter((s) => s !== '')
          .map(Number)
      : [];
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 30_000;
    for (const child of [pid, ...children]) {
      while (running(child)) {
        if (Date.now() > deadline) throw new Error(`PostgreSQL process ${child} still runs 30 s after its postmaster was killed`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    // The killed postmaster may linger as a zombie until its parent (here, whatever adopted it) reaps it: the next
    // start would take its lock file for a running server. Nothing holds the data directory any more.
    // Likewise the lock file of its socket.
    for (const file of [join(this.dataDir, 'postmaster.pid'), join(this.dir, `.s.PGSQL.${this.port}.lock`)]) rmSync(file, { force: true });
  }

  /** Starts a halted server again on the same port, with the same data. */
  async resume(): Promise<void> {
    if (!this.halted) return;
    await this.pgStart();
    this.halted = false;
  }

  /** Stops the server (fast shutdown: sessions are closed) and removes its directory. */
  async stop(): Promise<void> {
    try {
      if (!this.halted) await this.bin('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private halted = false;

  private async pgStart(): Promise<void> {
    await this.bin('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      join(this.dir, 'server.log'),
      '-o',
      [
        `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200`,
        ...Object.entries(this.settings).map(([name, value]) => `-c ${name}=${value}`),
      ].join(' '),
      '-w',
      'start',
    ]);
  }

  private async bin(name: string, args: string[]): Promise<void> {
    await run(join(POSTGRES_BIN, name), args, { ...(this.as ?? {}), cwd: this.dir, timeout: 60_000 });
  }
}

/** True while `pid` runs: a zombie (ended, not yet reaped by its parent) no longer holds anything. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
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
