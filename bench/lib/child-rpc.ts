// One request/reply channel to a benchmark's child process over IPC: numbered requests, timeouts, rejection when the child exits, and a stop that cannot hang.
import { fork, spawn, type ChildProcess } from 'node:child_process';

/** A message of a benchmark's child-process channel: numbered, and typed by its `type` (each side switches on it). */
export function isNumberedMessage<T extends { id: number; type: string }>(value: unknown): value is T {
  return typeof value === 'object' && value !== null && 'id' in value && 'type' in value;
}

/** A request as the caller writes it: the channel adds the id (Omit distributed over the union keeps each variant's fields). */
export type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export interface ChildRpcOptions<Reply> {
  /** Named in every error, e.g. "broker host". */
  name: string;
  /** The child's TypeScript entry; it runs through the same loader (tsx) as this process. */
  script: string;
  /** Raises the child's open-files limit (through `bash -c 'ulimit -n N; exec node …'`, the hard limit when N is above it). */
  openFiles?: number;
  /** Node flags beyond this process's own (which are passed on without --cpu-prof). */
  extraExecArgv?: string[];
  replyTimeoutMs: number;
  isReply(message: unknown): message is Reply;
  /** Messages that are not replies (events the child pushes); return true when handled. */
  onEvent?(message: unknown): boolean;
}

interface Pending<Reply> {
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class ChildRpc<Request extends { id: number; type: string }, Reply extends { id: number; type: string }> {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending<Reply>>();

  constructor(private readonly opts: ChildRpcOptions<Reply>) {}

  /** Starts the child process; requests can be sent at once (IPC queues them until the child listens). */
  start(): void {
    const execArgv = [...process.execArgv.filter((a) => !a.startsWith('--cpu-prof')), ...(this.opts.extraExecArgv ?? [])];
    const stdio: ['ignore', 'inherit', 'inherit', 'ipc'] = ['ignore', 'inherit', 'inherit', 'ipc'];
    const child = this.opts.openFiles
      ? // The IPC channel's fd and NODE_CHANNEL_FD survive bash's exec, so this is a fork() with a raised limit.
        spawn(
          'bash',
          [
            '-c',
            `ulimit -n ${this.opts.openFiles} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`,
            process.execPath,
            ...execArgv,
            this.opts.script,
          ],
          { stdio },
        )
      : fork(this.opts.script, [], { execArgv, stdio });
    this.child = child;
    child.on('message', (msg: unknown) => this.onMessage(msg));
    child.on('exit', (code, signal) => {
      this.child = null;
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`${this.opts.name} exited (${code ?? signal ?? '?'})`));
        this.pending.delete(id);
      }
    });
  }

  request(body: WithoutId<Request>): Promise<Reply> {
    const child = this.child;
    if (!child) return Promise.reject(new Error(`${this.opts.name} is not running`));
    const id = this.nextId++;
    const timeoutMs = this.opts.replyTimeoutMs;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.opts.name}: no reply to ${body.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      child.send({ ...body, id });
    });
  }

  /** Throws unless the reply is of the expected type. */
  expect<T extends Reply['type']>(reply: Reply, type: T): Extract<Reply, { type: T }> {
    if (reply.type !== type) throw new Error(`${this.opts.name}: unexpected reply ${reply.type}`);
    return reply as Extract<Reply, { type: T }>;
  }

  /** Sends the child its stop request, then waits for it to exit; kills it if it has not after `killAfterMs`. */
  async stop(body: WithoutId<Request>, killAfterMs: number): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await this.request(body);
    } finally {
      if (child.connected) child.disconnect();
      const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      await exited;
      clearTimeout(killer);
    }
  }

  private onMessage(msg: unknown): void {
    if (this.opts.onEvent?.(msg)) return;
    if (!this.opts.isReply(msg)) return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.type === 'error') p.reject(new Error(`${this.opts.name}: ${'message' in msg ? String(msg.message) : 'error'}`));
    else p.resolve(msg);
  }
}
