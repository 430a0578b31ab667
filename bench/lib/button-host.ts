// The timed devices in a child process of their own, so their mqtt.js clients do not share the gateway's event loop and heap (real buttons are elsewhere).
import { fileURLToPath } from 'node:url';
import { ChildRpc, isNumberedMessage } from './child-rpc.js';
import type { DeviceCredentials } from './clients.js';
import { type ButtonReply, type ButtonRequest } from './button-protocol.js';
import { fromMonotonic } from './monotonic.js';

const CHILD = fileURLToPath(new URL('./button-host-child.ts', import.meta.url));

export interface ButtonHostDeps {
  url: string;
  devices: DeviceCredentials[];
  /** Subscribe each device to its command topic, as real buttons do. */
  subscribeCommands: boolean;
  concurrency?: number;
}

export class ButtonHost {
  private readonly rpc = new ChildRpc<ButtonRequest, ButtonReply>({
    name: 'button host',
    script: CHILD,
    replyTimeoutMs: 120_000,
    isReply: isNumberedMessage<ButtonReply>,
  });

  constructor(private readonly deps: ButtonHostDeps) {}

  /** Starts the child process and connects every device; resolves with how long connecting took. */
  async start(): Promise<{ connected: number; ms: number }> {
    this.rpc.start();
    const { url, devices, subscribeCommands } = this.deps;
    const reply = this.rpc.expect(
      await this.rpc.request({ type: 'connect', url, devices, concurrency: this.deps.concurrency ?? 32, subscribeCommands }),
      'connected',
    );
    return { connected: reply.count, ms: reply.ms };
  }

  /** Device `index` publishes at QoS 1; resolves at its PUBACK with both times on this process's performance.now() scale. */
  async press(index: number, topic: string, payload: string): Promise<{ publishedAt: number; ackedAt: number }> {
    const r = this.rpc.expect(await this.rpc.request({ type: 'press', index, topic, payload }), 'pressed');
    return { publishedAt: fromMonotonic(r.publishedAt), ackedAt: fromMonotonic(r.ackedAt) };
  }

  /** Disconnects every device and waits for the child process to exit. */
  stop(): Promise<void> {
    return this.rpc.stop({ type: 'close' }, 5000);
  }
}
