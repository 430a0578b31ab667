// Background telemetry from many devices, generated in a child process so the devices do not share the gateway's event loop.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DeviceCredentials } from './clients.js';
import { isLoadReply, type LoadReply, type LoadRequest } from './load-protocol.js';

export interface BackgroundLoadDeps {
  /** mqtt://host:port of the broker under test. */
  url: string;
  devices: DeviceCredentials[];
  /** Connection handshakes in flight at once while connecting. */
  concurrency?: number;
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
    const child = fork(CHILD, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
    return new Promise<LoadReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`background load: no reply to ${body.type} within ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
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
