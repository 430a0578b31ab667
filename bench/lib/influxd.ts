// A real Debian `influxd` (1.x) on free loopback ports with its data in a temp dir; it can be stopped and started again on the same port and data.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerProcess } from '../../simulators/common/server-process.js';
import { freePort } from './net.js';

export const INFLUXD_BINARY = '/usr/bin/influxd';

export interface InfluxdOptions {
  binary?: string;
  /** How long start() waits for /ping to answer 204 (default 20 s). */
  startTimeoutMs?: number;
}

/** The minimal config: every listener on 127.0.0.1 (the RPC one too, so two instances never clash), nothing phoned home. */
export function influxdConfig(dir: string, httpPort: number, rpcPort: number): string {
  return [
    'reporting-enabled = false',
    `bind-address = "127.0.0.1:${rpcPort}"`,
    '[meta]',
    `  dir = "${join(dir, 'meta')}"`,
    '[data]',
    `  dir = "${join(dir, 'data')}"`,
    `  wal-dir = "${join(dir, 'wal')}"`,
    '  query-log-enabled = false',
    '[http]',
    '  enabled = true',
    `  bind-address = "127.0.0.1:${httpPort}"`,
    '  auth-enabled = false',
    '  log-enabled = false',
    '[monitor]',
    '  store-enabled = false',
    '[continuous_queries]',
    '  enabled = true',
    '  log-enabled = false',
    '[logging]',
    '  level = "error"',
    '',
  ].join('\n');
}

export class InfluxdServer {
  private readonly process = new ServerProcess('influxd');
  private dir: string | null = null;
  private httpPort = 0;
  private rpcPort = 0;
  private frozen = false;

  constructor(private readonly opts: InfluxdOptions = {}) {}

  /** Base URL of the HTTP API (valid after the first start). */
  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get running(): boolean {
    return this.process.running;
  }

  /** Starts influxd; the first start picks the ports and the temp dir, later starts reuse both. */
  async start(): Promise<void> {
    if (this.process.running) return;
    if (!this.dir) {
      this.dir = mkdtempSync(join(tmpdir(), 'care-influxd-'));
      this.httpPort = await freePort();
      this.rpcPort = await freePort();
      for (const sub of ['meta', 'data', 'wal']) mkdirSync(join(this.dir, sub));
      writeFileSync(join(this.dir, 'influxdb.conf'), influxdConfig(this.dir, this.httpPort, this.rpcPort));
    }
    this.process.spawn(this.opts.binary ?? INFLUXD_BINARY, ['run', '-config', join(this.dir, 'influxdb.conf')]);
    try {
      await this.waitForPing(this.opts.startTimeoutMs ?? 20_000);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * Freezes influxd (SIGSTOP): its socket still accepts connections but nothing answers, as a hung server behaves,
   * until `thaw()`. Unlike a stopped one, which refuses at once, this shows what waits for InfluxDB.
   */
  freeze(): void {
    if (!this.process.notify('SIGSTOP')) throw new Error('influxd is not running, so it cannot be frozen');
    this.frozen = true;
  }

  thaw(): void {
    if (this.frozen) this.process.notify('SIGCONT');
    this.frozen = false;
  }

  /** Stops influxd (SIGTERM, then SIGKILL after 5 s); data and ports stay for a restart. */
  async stop(): Promise<void> {
    // A frozen process would hold SIGTERM until it runs again.
    this.thaw();
    await this.process.signal('SIGTERM');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops influxd and removes its data. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }

  private async waitForPing(timeoutMs: number): Promise<void> {
    const pings = async (): Promise<boolean> => {
      try {
        return (await fetch(`${this.url}/ping`, { signal: AbortSignal.timeout(1000) })).status === 204;
      } catch {
        return false; // not listening yet
      }
    };
    await this.process.waitUntil(pings, timeoutMs, 'answer /ping');
  }
}
