// A real Debian `influxd` (1.x) on free loopback ports with its data in a temp dir; it can be stopped and started again on the same port and data.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  private child: ChildProcess | null = null;
  private exited: Promise<void> | null = null;
  private dir: string | null = null;
  private httpPort = 0;
  private rpcPort = 0;
  private stderrTail = '';
  private readonly killOnExit = (): void => {
    this.child?.kill('SIGKILL');
  };

  constructor(private readonly opts: InfluxdOptions = {}) {}

  /** Base URL of the HTTP API (valid after the first start). */
  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Starts influxd; the first start picks the ports and the temp dir, later starts reuse both. */
  async start(): Promise<void> {
    if (this.child) return;
    if (!this.dir) {
      this.dir = mkdtempSync(join(tmpdir(), 'care-influxd-'));
      this.httpPort = await freePort();
      this.rpcPort = await freePort();
      for (const sub of ['meta', 'data', 'wal']) mkdirSync(join(this.dir, sub));
      writeFileSync(join(this.dir, 'influxdb.conf'), influxdConfig(this.dir, this.httpPort, this.rpcPort));
    }
    this.stderrTail = '';
    const child = spawn(this.opts.binary ?? INFLUXD_BINARY, ['run', '-config', join(this.dir, 'influxdb.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    process.once('exit', this.killOnExit);
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (this.child === child) this.child = null;
        process.removeListener('exit', this.killOnExit);
        resolve();
      });
      child.once('error', (err) => {
        this.stderrTail += `\n${err.message}`;
      });
    });
    try {
      await this.waitForPing(this.opts.startTimeoutMs ?? 20_000);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Stops influxd (SIGTERM, then SIGKILL after 5 s); data and ports stay for a restart. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.exited) return;
    const exited = this.exited;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
    this.child = null;
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
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.child) throw new Error(`influxd exited during start-up: ${this.stderrTail.trim() || 'no output'}`);
      try {
        const res = await fetch(`${this.url}/ping`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 204) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`influxd did not answer /ping within ${timeoutMs} ms: ${this.stderrTail.trim() || 'no output'}`);
  }
}
