// Devices held in child processes (several when one process cannot hold or reconnect them all quickly), driven as one fleet.
import { fileURLToPath } from 'node:url';
import { ChildRpc, isNumberedMessage } from './child-rpc.js';
import type { FleetConnect, FleetDevice, FleetReply, FleetRequest, FleetStatus } from './fleet-protocol.js';

const CHILD = fileURLToPath(new URL('./fleet-child.ts', import.meta.url));

export interface FleetOptions {
  urls: string[];
  /** Source addresses the connections leave from, so one address:port pair does not run out of ephemeral ports. */
  localAddresses: string[];
  reconnectPeriodMs: number;
  keepaliveS: number;
  presence: boolean;
  /** Devices per child process (each socket is one descriptor; the children run with `ulimit -n openFiles`). */
  perProcess: number;
  openFiles: number;
  concurrency: number;
  /** A failed first connect is tried again, as firmware does (see FleetConnect.retry); absent: not. */
  retry?: { tries: number; delayMs: number };
  /** How long one child may take to connect its devices (default 15 min; 9,000 devices at a loaded cluster's rate take longer). */
  connectTimeoutMs?: number;
}

/** 127.0.0.<2..n+1>: loopback source addresses (all of 127.0.0.0/8 is local on Linux). */
export function loopbackSources(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.${Math.floor((i + 2) / 250)}.${((i + 2) % 250) + 1}`);
}

export class DeviceFleet {
  private readonly parts: { rpc: ChildRpc<FleetRequest, FleetReply>; devices: FleetDevice[] }[] = [];

  constructor(
    devices: readonly FleetDevice[],
    private readonly opts: FleetOptions,
  ) {
    for (let at = 0; at < devices.length; at += opts.perProcess) {
      const rpc = new ChildRpc<FleetRequest, FleetReply>({
        name: `device fleet ${this.parts.length + 1}`,
        script: CHILD,
        openFiles: opts.openFiles,
        replyTimeoutMs: opts.connectTimeoutMs ?? 900_000,
        isReply: isNumberedMessage<FleetReply>,
      });
      this.parts.push({ rpc, devices: devices.slice(at, at + opts.perProcess) });
    }
  }

  get processes(): number {
    return this.parts.length;
  }

  /** Starts every child and connects its devices (the children in parallel); resolves with the slowest child's time. */
  async connect(): Promise<{ count: number; ms: number }> {
    const replies = await Promise.all(
      this.parts.map(async ({ rpc, devices }) => {
        rpc.start();
        const req: Omit<FleetConnect, 'id'> = {
          type: 'connect',
          urls: this.opts.urls,
          localAddresses: this.opts.localAddresses,
          devices,
          concurrency: this.opts.concurrency,
          reconnectPeriodMs: this.opts.reconnectPeriodMs,
          keepaliveS: this.opts.keepaliveS,
          presence: this.opts.presence,
          ...(this.opts.retry ? { retry: this.opts.retry } : {}),
        };
        return rpc.expect(await rpc.request(req), 'connected');
      }),
    );
    return { count: replies.reduce((n, r) => n + r.count, 0), ms: Math.max(...replies.map((r) => r.ms)) };
  }

  async mark(): Promise<void> {
    await Promise.all(this.parts.map(({ rpc }) => rpc.request({ type: 'mark' })));
  }

  /**
   * The children's counts added up; times are the latest (reconnect) and earliest (loss) over the children. Each
   * reconnect's time (reconnectAts, thousands of numbers per child) only with `times`: a poll every 100 ms during a
   * failover would otherwise have the children encode them all each time, on the cores the survivors need.
   */
  async status(opts: { times?: boolean } = {}): Promise<FleetStatus> {
    const times = opts.times === true;
    const all = await Promise.all(this.parts.map(async ({ rpc }) => rpc.expect(await rpc.request({ type: 'status', times }), 'status')));
    const sum = (
      k:
        | 'devices'
        | 'connected'
        | 'reconnected'
        | 'lost'
        | 'failedAttempts'
        | 'onlineAcked'
        | 'heldFirstAttempt'
        | 'heldAfterRetry'
        | 'gaveUp',
    ): number => all.reduce((n, s) => n + s[k], 0);
    const losses = all.map((s) => s.firstLossAt).filter((t) => t > 0);
    return {
      devices: sum('devices'),
      connected: sum('connected'),
      reconnected: sum('reconnected'),
      lost: sum('lost'),
      failedAttempts: sum('failedAttempts'),
      onlineAcked: sum('onlineAcked'),
      heldFirstAttempt: sum('heldFirstAttempt'),
      heldAfterRetry: sum('heldAfterRetry'),
      gaveUp: sum('gaveUp'),
      lastReconnectAt: Math.max(0, ...all.map((s) => s.lastReconnectAt)),
      firstLossAt: losses.length ? Math.min(...losses) : 0,
      reconnectAts: all.flatMap((s) => s.reconnectAts),
      failures: all.reduce<Record<string, number>>((acc, s) => {
        for (const [why, n] of Object.entries(s.failures)) acc[why] = (acc[why] ?? 0) + n;
        return acc;
      }, {}),
    };
  }

  /** One QoS 1 PUBLISH from `device`; resolves with its send and PUBACK times (monotonic ms). */
  async publish(device: string, topic: string, payload: string): Promise<{ sentAt: number; ackAt: number }> {
    const part = this.parts.find((p) => p.devices.some((d) => d.id === device));
    if (!part) throw new Error(`no fleet process holds ${device}`);
    return part.rpc.expect(await part.rpc.request({ type: 'publish', device, topic, payload }), 'published');
  }

  /** Disconnects every device and waits for the children to exit. */
  async stop(): Promise<void> {
    await Promise.all(this.parts.map(({ rpc }) => rpc.stop({ type: 'close' }, 10_000).catch(() => undefined)));
  }
}
