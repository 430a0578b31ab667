// Runs a bare aedes or the gateway alone in a child process (with --expose-gc and a raised open-files limit), so its memory is measured without the benchmark's own.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isHostReply, type HostMode, type HostReply, type HostRequest, type MemorySample } from './host-protocol.js';

const CHILD = fileURLToPath(new URL('./broker-host-child.ts', import.meta.url));

type RequestBody = WithoutId<HostRequest>;
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export interface BrokerHostDeps {
  /** Open-files limit of the host process (one socket per device, plus SQLite's files). */
  openFiles: number;
  replyTimeoutMs?: number;
}

export class BrokerHost {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: HostReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(private readonly deps: BrokerHostDeps) {}

  /** Starts the process and the broker in it; resolves with its MQTT port and, for the gateway, whether it imported the registry. */
  async start(mode: HostMode, env: Record<string, string> = {}): Promise<{ mqttPort: number; registryImported: boolean | null }> {
    const execArgv = [...process.execArgv.filter((a) => !a.startsWith('--cpu-prof')), '--expose-gc'];
    const script = `ulimit -n ${this.deps.openFiles} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
    const child = spawn('bash', ['-c', script, process.execPath, ...execArgv, CHILD], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child = child;
    child.on('message', (msg: unknown) => this.onReply(msg));
    child.on('exit', (code, signal) => {
      this.child = null;
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`broker host exited (${code ?? signal ?? '?'})`));
        this.pending.delete(id);
      }
    });
    const reply = await this.request({ type: 'start', mode, env });
    if (reply.type !== 'started') throw new Error(`broker host: unexpected reply ${reply.type}`);
    return { mqttPort: reply.mqttPort, registryImported: reply.registryImported };
  }

  async connected(): Promise<number> {
    const reply = await this.request({ type: 'clients' });
    return reply.type === 'clients' ? reply.connected : 0;
  }

  /** The host's memory after full garbage collections. */
  async memory(): Promise<MemorySample> {
    const reply = await this.request({ type: 'memory' });
    if (reply.type !== 'memory') throw new Error(`broker host: unexpected reply ${reply.type}`);
    return reply.memory;
  }

  /** Stops the broker and the process. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await this.request({ type: 'stop' });
    } finally {
      if (child.connected) child.disconnect();
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
  }

  private request(body: RequestBody): Promise<HostReply> {
    const child = this.child;
    if (!child) return Promise.reject(new Error('broker host is not running'));
    const id = this.nextId++;
    const timeoutMs = this.deps.replyTimeoutMs ?? 120_000;
    return new Promise<HostReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`broker host: no reply to ${body.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      child.send({ ...body, id });
    });
  }

  private onReply(msg: unknown): void {
    if (!isHostReply(msg)) return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.type === 'error') p.reject(new Error(`broker host: ${msg.message}`));
    else p.resolve(msg);
  }
}
