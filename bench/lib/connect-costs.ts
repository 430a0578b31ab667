// What the survivors of a failover spend per CONNECT: PostgreSQL statements per node (from the server's statement log) and Redis commands (INFO commandstats deltas), over a measured window.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import pg from 'pg';
import type { Redis } from 'ioredis';

/** Statements one node sent in the window, by normalised text (numbers and literals replaced), most frequent first. */
export interface NodeStatements {
  total: number;
  top: { statement: string; count: number }[];
}

export interface ConnectCosts {
  /** Devices that reconnected in the window: the divisor of every per-connect figure. */
  connects: number;
  /** PostgreSQL statements per node (its PGAPPNAME), and per connect. */
  postgres: Record<string, NodeStatements & { perConnect: number }>;
  /**
   * Redis commands across every node in the window, by command, and per connect; `usecByCommand` is the server's own
   * time in each (microseconds, INFO commandstats) and `serverCpuS` the Redis process' CPU seconds in the window: Redis
   * runs commands one at a time, so that is time every CONNECT of the cluster queues behind.
   */
  redis: {
    total: number;
    perConnect: number;
    byCommand: Record<string, number>;
    usecByCommand: Record<string, number>;
    serverCpuS: number;
  };
}

/** Redis' calls and time per command since it started, and its CPU seconds (INFO commandstats, INFO cpu). */
export interface RedisSample {
  calls: Map<string, number>;
  usec: Map<string, number>;
  cpuS: number;
}

/**
 * Turns on `log_statement = all` with the application name in each line's prefix (the nodes set PGAPPNAME to their
 * name); both settings take effect on reload, no restart. Costs PostgreSQL some time per statement: profiling only.
 */
export async function logEveryStatement(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`ALTER SYSTEM SET log_statement = 'all'`);
    await client.query(`ALTER SYSTEM SET log_line_prefix = '@%a| '`);
    await client.query('SELECT pg_reload_conf()');
  } finally {
    await client.end();
  }
}

/** Bytes in the log now: where the window's statements start. */
export function logOffset(path: string): number {
  return statSync(path).size;
}

/** Redis' calls and time per command since it started, and its CPU time. */
export async function redisCommandCalls(redis: Redis): Promise<RedisSample> {
  const info = await redis.info('commandstats');
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (m?.[1] && m[2] && m[3]) {
      calls.set(m[1], Number(m[2]));
      usec.set(m[1], Number(m[3]));
    }
  }
  const cpu = await redis.info('cpu');
  let cpuS = 0;
  for (const line of cpu.split('\n')) {
    const m = /^used_cpu_(?:sys|user):([\d.]+)/.exec(line.trim());
    if (m?.[1]) cpuS += Number(m[1]);
  }
  return { calls, usec, cpuS };
}

/** Statements logged between two offsets of the server log, per application name. */
export function statementsBetween(path: string, from: number, to: number): Map<string, NodeStatements> {
  const length = Math.max(0, to - from);
  const buf = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, length, from);
  } finally {
    closeSync(fd);
  }
  const counts = new Map<string, Map<string, number>>();
  for (const line of buf.toString('utf8').split('\n')) {
    const m = /^@([^|]*)\| LOG: {2}(?:statement|execute [^:]*): (.*)$/.exec(line);
    if (!m) continue;
    const app = m[1] || '(none)';
    const text = normalise(m[2] ?? '');
    const perApp = counts.get(app) ?? new Map<string, number>();
    perApp.set(text, (perApp.get(text) ?? 0) + 1);
    counts.set(app, perApp);
  }
  const out = new Map<string, NodeStatements>();
  for (const [app, perText] of counts) {
    const top = [...perText].map(([statement, count]) => ({ statement, count })).sort((a, b) => b.count - a.count);
    out.set(app, { total: top.reduce((s, t) => s + t.count, 0), top: top.slice(0, 12) });
  }
  return out;
}

/** Costs of the window: statement-log counts and commandstats deltas divided by the connects in it. */
export function connectCosts(
  connects: number,
  statements: Map<string, NodeStatements>,
  before: RedisSample,
  after: RedisSample,
): ConnectCosts {
  const per = (n: number): number => (connects > 0 ? Math.round((n / connects) * 100) / 100 : 0);
  const postgres: ConnectCosts['postgres'] = {};
  for (const [app, s] of statements) postgres[app] = { ...s, perConnect: per(s.total) };
  const byCommand: Record<string, number> = {};
  const usecByCommand: Record<string, number> = {};
  let total = 0;
  for (const [cmd, calls] of after.calls) {
    const delta = calls - (before.calls.get(cmd) ?? 0);
    if (delta <= 0 || cmd === 'info') continue;
    byCommand[cmd] = delta;
    usecByCommand[cmd] = (after.usec.get(cmd) ?? 0) - (before.usec.get(cmd) ?? 0);
    total += delta;
  }
  const serverCpuS = Math.round((after.cpuS - before.cpuS) * 100) / 100;
  return { connects, postgres, redis: { total, perConnect: per(total), byCommand, usecByCommand, serverCpuS } };
}

/** One shape per statement: literals and parameter numbers do not make a statement different. */
function normalise(sql: string): string {
  return sql
    .replace(/'(?:[^']|'')*'/g, "'?'")
    .replace(/\$\d+/g, '$n')
    .replace(/\b\d+\b/g, 'N')
    .replace(/\s+/g, ' ')
    .slice(0, 160);
}
