// Background telemetry from many devices, generated in a child process so the devices do not share the gateway's event loop.
import { fileURLToPath } from 'node:url';
import { ChildRpc, isNumberedMessage } from './child-rpc.js';
import type { DeviceCredentials } from './clients.js';
import { type LoadReply, type LoadRequest, type Qos1Result, type StormSendResult } from './load-protocol.js';

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

const CHILD = fileURLToPath(new URL('./load-child.ts', import.meta.url));
const REPLY_TIMEOUT_MS = 120_000;

export class BackgroundLoad {
  private readonly rpc: ChildRpc<LoadRequest, LoadReply>;

  constructor(private readonly deps: BackgroundLoadDeps) {
    this.rpc = new ChildRpc({
      name: 'background load',
      script: CHILD,
      ...(deps.openFiles ? { openFiles: deps.openFiles } : {}),
      replyTimeoutMs: deps.replyTimeoutMs ?? REPLY_TIMEOUT_MS,
      isReply: isNumberedMessage<LoadReply>,
    });
  }

  /** Starts the child process and connects every device; resolves with how long connecting took. */
  async start(): Promise<{ connected: number; ms: number }> {
    this.rpc.start();
    const request = { type: 'connect', url: this.deps.url, devices: this.deps.devices, concurrency: this.deps.concurrency ?? 32 } as const;
    const reply = this.rpc.expect(await this.rpc.request(request), 'connected');
    return { connected: reply.count, ms: reply.ms };
  }

  /** Telemetry messages per second across all devices; 0 pauses (the devices stay connected). */
  async setRate(perSecond: number): Promise<void> {
    await this.rpc.request({ type: 'rate', perSecond });
  }

  /** Messages published so far, and the CPU time the load process has used (µs). */
  async stats(): Promise<{ sent: number; cpuMicros: number }> {
    const reply = await this.rpc.request({ type: 'stats' });
    return reply.type === 'stats' ? { sent: reply.sent, cpuMicros: reply.cpuMicros } : { sent: 0, cpuMicros: 0 };
  }

  /** A closed-loop QoS 1 run of motion/heartbeat events from every device (see load-child.ts). */
  async qos1(durationMs: number, inFlightPerDevice: number): Promise<Qos1Result> {
    return this.rpc.expect(await this.rpc.request({ type: 'qos1', durationMs, inFlightPerDevice }), 'qos1').result;
  }

  /** One `sos` from each of the first `count` devices, spread evenly over `overMs`. */
  async storm(count: number, overMs: number, settleMs: number): Promise<StormSendResult> {
    return this.rpc.expect(await this.rpc.request({ type: 'storm', count, overMs, settleMs }), 'storm').result;
  }

  /** Disconnects every device and waits for the child process to exit. */
  stop(): Promise<void> {
    return this.rpc.stop({ type: 'close' }, 5000);
  }
}
