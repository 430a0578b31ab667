// Runs an SMS provider's simulator in a child process and reports each request's arrival on this process's performance.now() scale.
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ChildRpc } from './child-rpc.js';
import { fromMonotonic } from './monotonic.js';
import { isSmsServerReply, type SmsServerReply, type SmsServerRequest } from './sms-server-protocol.js';
import type { SmsServerSpec } from './sms-servers.js';

const CHILD = fileURLToPath(new URL('./sms-server-child.ts', import.meta.url));

/** Answers to requests; the child also pushes `message` events, which carry no id. */
type Answer = Exclude<SmsServerReply, { type: 'message' }>;

/** Emits 'message' with { body, receivedHr } like the simulators, receivedHr on this process's performance.now() scale. */
export class SmsServerProcess extends EventEmitter {
  private readonly rpc: ChildRpc<SmsServerRequest, Answer>;
  url = '';

  constructor(private readonly spec: SmsServerSpec) {
    super();
    this.rpc = new ChildRpc({
      name: 'SMS server process',
      script: CHILD,
      replyTimeoutMs: 30_000,
      isReply: (m): m is Answer => isSmsServerReply(m) && m.type !== 'message',
      onEvent: (m) => {
        if (!isSmsServerReply(m) || m.type !== 'message') return false;
        this.emit('message', { body: m.body, receivedHr: fromMonotonic(m.monotonicMs) });
        return true;
      },
    });
  }

  async start(): Promise<{ url: string }> {
    this.rpc.start();
    const r = this.rpc.expect(await this.rpc.request({ type: 'start', spec: this.spec }), 'started');
    this.url = r.url;
    return { url: r.url };
  }

  async counts(): Promise<{ messages: number; callbacks: number }> {
    const r = this.rpc.expect(await this.rpc.request({ type: 'counts' }), 'counts');
    return { messages: r.messages, callbacks: r.callbacks };
  }

  /** Resolves once every accepted message has had all its delivery reports answered. */
  async settled(): Promise<void> {
    this.rpc.expect(await this.rpc.request({ type: 'settled' }), 'settled');
  }

  stop(): Promise<void> {
    return this.rpc.stop({ type: 'stop' }, 10_000);
  }
}
