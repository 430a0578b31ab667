// Runs the Twilio-compatible SMS server in a child process and reports each request's arrival on this process's performance.now() scale.
import { EventEmitter } from 'node:events';
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isSmsServerReply, type SmsServerReply, type SmsServerRequest } from './sms-server-protocol.js';

const CHILD = fileURLToPath(new URL('./sms-server-child.ts', import.meta.url));

type Request = SmsServerRequest extends infer T ? (T extends unknown ? Omit<T, 'id'> : never) : never;

/** Emits 'message' with { body, receivedHr } like TwilioSimServer, receivedHr on this process's performance.now() scale. */
export class SmsServerProcess extends EventEmitter {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (r: SmsServerReply) => void>();
  url = '';

  constructor(private readonly deps: { accountSid: string; authToken: string }) {
    super();
  }

  async start(): Promise<{ url: string }> {
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--cpu-prof'));
    const child = fork(CHILD, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child = child;
    child.on('message', (m: unknown) => {
      if (!isSmsServerReply(m)) return;
      if (m.type === 'message') {
        // Both processes read the same monotonic clock; only the offset to performance.now() differs.
        const receivedHr = m.monotonicMs - (Number(process.hrtime.bigint()) / 1e6 - performance.now());
        this.emit('message', { body: m.body, receivedHr });
        return;
      }
      this.pending.get(m.id)?.(m);
      this.pending.delete(m.id);
    });
    const r = await this.request({ type: 'start', accountSid: this.deps.accountSid, authToken: this.deps.authToken });
    if (r.type !== 'started') throw new Error(`SMS server process: unexpected reply ${r.type}`);
    this.url = r.url;
    return { url: r.url };
  }

  async counts(): Promise<{ messages: number; callbacks: number }> {
    const r = await this.request({ type: 'counts' });
    if (r.type !== 'counts') throw new Error(`SMS server process: unexpected reply ${r.type}`);
    return { messages: r.messages, callbacks: r.callbacks };
  }

  async stop(): Promise<void> {
    if (!this.child?.connected) return;
    const exited = new Promise((resolve) => this.child?.once('exit', resolve));
    await this.request({ type: 'stop' });
    await exited;
    this.child = null;
  }

  private request(body: Request): Promise<SmsServerReply> {
    const child = this.child;
    if (!child) return Promise.reject(new Error('SMS server process is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`SMS server process: no answer to ${body.type}`)), 30_000);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      child.send({ ...body, id });
    });
  }
}
