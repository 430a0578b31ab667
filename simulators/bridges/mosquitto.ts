// A real Debian `mosquitto` 2.x as a bridge's external broker: a free loopback port, a password file, persistence in a temp dir; it can be killed and started again on the same port and data.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../common/net.js';
import { ServerProcess } from '../common/server-process.js';

export const MOSQUITTO_BINARY = '/usr/sbin/mosquitto';
export const MOSQUITTO_PASSWD_BINARY = '/usr/bin/mosquitto_passwd';

export interface MosquittoUser {
  username: string;
  password: string;
}

export interface MosquittoOptions {
  /** Accounts in the password file; anonymous clients are refused. */
  users: MosquittoUser[];
  binary?: string;
  /** How long start() waits for the port to accept connections (default 10 s). */
  startTimeoutMs?: number;
  /**
   * Save the persistence file after every change (default true), so a message PUBACKed to its publisher survives a
   * SIGKILL, as the restart tests need. False: mosquitto's own default (a save every 30 minutes and at a clean stop),
   * as ChirpStack's example deployment runs it; the bridge benchmark uses this, so it measures the bridge, not disk writes.
   */
  saveEveryChange?: boolean;
  /** Listen on this port (default: a free one). */
  port?: number;
}

/**
 * The broker as a ChirpStack installation runs it: no anonymous access, and persistence; saved after every change
 * (unless `saveEveryChange` is false), so QoS 1 messages queued for a persistent session survive the broker being killed.
 */
export function mosquittoConfig(dir: string, port: number, saveEveryChange = true): string {
  return [
    // Started as root (a CI container), mosquitto would drop to the `mosquitto` user, who cannot read this temp dir.
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    'per_listener_settings false',
    'set_tcp_nodelay true',
    `listener ${port} 127.0.0.1`,
    'allow_anonymous false',
    `password_file ${join(dir, 'passwd')}`,
    'persistence true',
    `persistence_location ${dir}/`,
    ...(saveEveryChange ? ['autosave_on_changes true', 'autosave_interval 1'] : []),
    // Queued messages for an offline persistent session: far more than a test or a simulator run sends.
    'max_queued_messages 100000',
    'log_dest stderr',
    'log_type error',
    '',
  ].join('\n');
}

export class MosquittoServer {
  private readonly process = new ServerProcess('mosquitto');
  private dir: string | null = null;
  private portNumber = 0;

  constructor(private readonly opts: MosquittoOptions) {}

  get port(): number {
    return this.portNumber;
  }

  /** `mqtt://127.0.0.1:<port>` (valid after the first start). */
  get url(): string {
    return `mqtt://127.0.0.1:${this.portNumber}`;
  }

  get running(): boolean {
    return this.process.running;
  }

  /** The persistence file mosquitto writes (it appears after the first save). */
  get databaseFile(): string {
    if (!this.dir) throw new Error('mosquitto was never started');
    return join(this.dir, 'mosquitto.db');
  }

  /** Starts mosquitto; the first start picks the port and temp dir and writes the password file, later starts reuse them. */
  async start(): Promise<void> {
    if (this.process.running) return;
    if (!this.dir) {
      this.dir = mkdtempSync(join(tmpdir(), 'care-mosquitto-'));
      this.portNumber = this.opts.port ?? (await freePort());
      const passwd = join(this.dir, 'passwd');
      writeFileSync(passwd, '', { mode: 0o600 });
      for (const u of this.opts.users) execFileSync(MOSQUITTO_PASSWD_BINARY, ['-b', passwd, u.username, u.password]);
      writeFileSync(join(this.dir, 'mosquitto.conf'), mosquittoConfig(this.dir, this.portNumber, this.opts.saveEveryChange ?? true));
    }
    this.process.spawn(this.opts.binary ?? MOSQUITTO_BINARY, ['-c', join(this.dir, 'mosquitto.conf')]);
    try {
      await this.waitForPort(this.opts.startTimeoutMs ?? 10_000);
    } catch (err) {
      await this.kill();
      throw err;
    }
  }

  /**
   * Makes mosquitto write its persistence file now (SIGUSR1) and waits until it has. Its own saves follow the changes
   * (autosave_on_changes) but trail its PUBACKs: a message PUBACKed just before a SIGKILL can die with the broker's
   * memory. A test that kills it on purpose saves first, so that it is about the gateway, not that gap.
   *
   * Two things make this wait exact rather than lucky. mosquitto only notes the signal and saves on its next loop
   * turn, which may be many seconds away on an idle broker: a loopback connection wakes it up. And a new save is told
   * by the file being replaced (mosquitto writes `.new` and renames it), not by comparing its mtime with the wall
   * clock: file times come from the kernel's coarse clock and can read up to a tick (4 ms) earlier than Date.now().
   */
  async save(timeoutMs = 5000): Promise<void> {
    const before = fileIdentity(this.databaseFile);
    if (!this.process.notify('SIGUSR1')) throw new Error('mosquitto is not running');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await accepts(this.portNumber);
      const now = fileIdentity(this.databaseFile);
      if (now !== null && now !== before) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`mosquitto did not save its persistence file within ${timeoutMs} ms of SIGUSR1`);
  }

  /** A clean stop (SIGTERM: mosquitto saves its persistence file first). */
  async stop(): Promise<void> {
    await this.process.signal('SIGTERM');
  }

  /** Kills the broker with no chance to save: what survives is what autosave already wrote. */
  async kill(): Promise<void> {
    await this.process.signal('SIGKILL');
  }

  /** Stops mosquitto and removes its data. */
  async dispose(): Promise<void> {
    await this.kill();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }

  private async waitForPort(timeoutMs: number): Promise<void> {
    await this.process.waitUntil(() => accepts(this.portNumber), timeoutMs, `listen on 127.0.0.1:${this.portNumber}`);
  }
}

/** The file as one save left it (inode, size, mtime), or null before the first save. */
function fileIdentity(path: string): string | null {
  if (!existsSync(path)) return null;
  const st = statSync(path);
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
