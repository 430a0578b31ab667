// A throwaway redis-server 7 for tests: a free loopback port, its files in a temp dir, no persistence; restart() comes back empty on the same port.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../../simulators/common/net.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

export const REDIS_SERVER = '/usr/bin/redis-server';

export class RedisServer {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** Starts redis-server on a free 127.0.0.1 port, daemonized, with nothing saved to disk. */
  static async start(): Promise<RedisServer> {
    if (!existsSync(REDIS_SERVER)) throw new Error(`redis-server is not installed (${REDIS_SERVER}): apt-get install redis-server`);
    const server = new RedisServer(mkdtempSync(join(tmpdir(), 'care-gw-redis-')), await freePort());
    try {
      await server.launch();
    } catch (err) {
      rmSync(server.dir, { recursive: true, force: true });
      throw err;
    }
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** A client of the test's own (the caller quits it). */
  client(): Redis {
    return new Redis(this.url, { maxRetriesPerRequest: 1 });
  }

  /** Kills the server (SIGKILL: nothing saved, as a crash); the port stays free for restart(). */
  async kill(): Promise<void> {
    const pid = this.pid();
    if (pid === null) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    await waitFor(`redis-server ${pid} to exit`, () => !alive(pid), { timeoutMs: 10_000 });
    rmSync(this.pidFile, { force: true });
  }

  /** A restart on the same port: killed, then started again, empty. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  /** Stops the server and removes its directory. */
  async stop(): Promise<void> {
    try {
      await this.kill();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private get pidFile(): string {
    return join(this.dir, 'redis.pid');
  }

  private pid(): number | null {
    if (!existsSync(this.pidFile)) return null;
    const pid = Number(readFileSync(this.pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  }

  private async launch(): Promise<void> {
    // prettier-ignore
    await run(REDIS_SERVER, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--daemonize', 'yes', '--dir', this.dir,
      '--pidfile', this.pidFile, '--logfile', join(this.dir, 'redis.log'), '--save', '', '--appendonly', 'no',
    ], { timeout: 30_000 });
    await waitFor(
      `redis-server on port ${this.port}`,
      async () => {
        const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        probe.on('error', () => undefined);
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG';
        } finally {
          probe.disconnect();
        }
      },
      { timeoutMs: 10_000, retryErrors: true },
    );
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
