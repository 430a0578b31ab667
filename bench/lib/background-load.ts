// Background telemetry from many devices, generated in a child process so the devices do not share the gateway's event loop.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DeviceCredentials } from './clients.js';
import { isLoadReply, type LoadReply, type LoadRequest, type Qos1Result, type StormSendResult } from './load-protocol.js';

export interface BackgroundLoadDeps {
  /** mqtt://host:port of the broker under test. */
  url: string;
  devices: DeviceCredentials[];
  /** Connection handshakes in flight at once while connecting. */
  concurrency?: number;
  /**
   * Open-files limit for the load process (one socket per device): it is started through
   * `bash -c 'ulimit -n N; exec node …'` (the hard limit when N is above it).
   */
  openFiles?: number;
  /** How long a request may take (default 120 s; connecting 10,000 devices to the gateway takes longer). */
  replyTimeoutMs?: number;
}

// Omit distributed over the union, so each request keeps its own fields.
type RequestBody = WithoutId<LoadRequest>;
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

const CHILD = fileURLToPath(new URL('./load-child.ts', import.meta.url));
const REPLY_TIMEOUT_MS = 120_000;

export class BackgroundLoad {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: LoadReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(private readonly deps: BackgroundLoadDeps) {}

  /** Starts the child process and connects every device; resolves with how long connecting took. */
  async start(): Promise<{ connected: number; ms: number }> {
    // The child runs TypeScript through the same loader (tsx) as this process, but is not profiled with it.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--cpu-prof'));
    const child = this.deps.openFiles
      ? // The IPC channel's fd and NODE_CHANNEL_FD survive bash's exec, so this is a fork() with a raised limit.
        spawn('bash', ['-c', `ulimit -n ${this.deps.openFiles} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`, process.execPath, ...execArgv, CHILD], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : fork(CHILD, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child = child;
    child.on('message', (msg: unknown) => this.onReply(msg));
    child.on('exit', (code, signal) => {
      this.child = null;
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`background load process exited (${code ?? signal ?? '?'})`));
        this.pending.delete(id);
      }
    });
    const reply = await this.request({ type: 'connect', url: this.deps.url, devices: this.deps.devices, concurrency: this.deps.concurrency ?? 32 });
    if (reply.type !== 'connected') throw new Error(`background load: unexpected reply ${reply.type}`);
    return { connected: reply.count, ms: reply.ms };
  }

  /** Telemetry messages per second across all devices; 0 pauses (the devices stay connected). */
  async setRate(perSecond: number): Promise<void> {
    await this.request({ type: 'rate', perSecond });
  }

  /** Messages published so far, and the CPU time the load process has used (µs). */
  async stats(): Promise<{ sent: number; cpuMicros: number }> {
    const reply = await this.request({ type: 'stats' });
    return reply.type === 'stats' ? { sent: reply.sent, cpuMicros: reply.cpuMicros } : { sent: 0, cpuMicros: 0 };
  }

  /** A closed-loop QoS 1 run of motion/heartbeat events from every device (see load-child.ts). */
  async qos1(durationMs: number, inFlightPerDevice: number): Promise<Qos1Result> {
    const reply = await this.request({ type: 'qos1', durationMs, inFlightPerDevice });
    if (reply.type !== 'qos1') throw new Error(`background load: unexpected reply ${reply.type}`);
    return reply.result;
  }

  /** One `sos` from each of the first `count` devices, spread evenly over `overMs`. */
  async storm(count: number, overMs: number, settleMs: number): Promise<StormSendResult> {
    const reply = await this.request({ type: 'storm', count, overMs, settleMs });
    if (reply.type !== 'storm') throw new Error(`background load: unexpected reply ${reply.type}`);
    return reply.result;
  }

  /** Disconnects every device and waits for the child process to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await this.request({ type: 'close' });
    } finally {
      if (child.connected) child.disconnect();
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
  }

  private request(body: RequestBody): Promise<LoadReply> {
    const child = this.child;
    if (!child) return Promise.reject(new Error('background load is not running'));
    const id = this.nextId++;
    const timeoutMs = this.deps.replyTimeoutMs ?? REPLY_TIMEOUT_MS;
    return new Promise<LoadReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`background load: no reply to ${body.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      child.send({ ...body, id });
    });
  }

  private onReply(msg: unknown): void {
    if (!isLoadReply(msg)) return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.type === 'error') p.reject(new Error(`background load: ${msg.message}`));
    else p.resolve(msg);
  }
}
