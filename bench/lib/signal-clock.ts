// When each device's signal reached the rules (the gateway's signalReceived), on the benchmark's monotonic clock: the end point every alarm path is measured to.
import { performance } from 'node:perf_hooks';
import type { Gateway } from '../../gateway/app.js';
import { waitUntil } from './net.js';

export class SignalClock {
  private readonly at = new Map<string, number>();
  private readonly arrived = new Map<string, number>();
  private readonly owner = {};

  constructor(private readonly gateway: Gateway) {
    gateway.bus.on(this.owner, 'signalReceived', (s) => {
      this.at.set(s.deviceId, performance.now());
      if (s.arrivedHr !== undefined && s.arrivedHr > 0) this.arrived.set(s.deviceId, s.arrivedHr);
    });
  }

  /** performance.now() when the device's latest signal reached the gateway process (the broker hook, or the bridge's client); NaN if unknown. */
  arrivedAt(deviceId: string): number {
    return this.arrived.get(deviceId) ?? Number.NaN;
  }

  /** performance.now() of the device's latest signal after `since`, waiting for it up to `timeoutMs`. */
  async after(deviceId: string, since: number, timeoutMs: number): Promise<number> {
    await waitUntil(() => (this.at.get(deviceId) ?? -1) >= since, timeoutMs, `the signal of ${deviceId}`, 1);
    return this.at.get(deviceId) ?? Number.NaN;
  }

  stop(): void {
    this.gateway.bus.removeAll(this.owner);
  }
}
