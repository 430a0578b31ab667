// Messages between the benchmark and its background-load child process (the 1,000 telemetry devices).
import type { DeviceCredentials } from './clients.js';

export type LoadRequest =
  | { id: number; type: 'connect'; url: string; devices: DeviceCredentials[]; concurrency: number }
  | { id: number; type: 'rate'; perSecond: number }
  | { id: number; type: 'stats' }
  | { id: number; type: 'qos1'; durationMs: number; inFlightPerDevice: number }
  | { id: number; type: 'storm'; count: number; overMs: number; settleMs: number }
  | { id: number; type: 'close' };

export type LoadReply =
  | { id: number; type: 'connected'; count: number; ms: number }
  | { id: number; type: 'ok' }
  | { id: number; type: 'stats'; sent: number; publishErrors: number; cpuMicros: number }
  | { id: number; type: 'qos1'; result: Qos1Result }
  | { id: number; type: 'storm'; result: StormSendResult }
  | { id: number; type: 'error'; message: string };

/** A closed-loop run of QoS 1 events: acknowledgements completed inside the window, and the load process's CPU. */
export interface Qos1Result {
  acked: number;
  sent: number;
  errors: number;
  seconds: number;
  cpuMicros: number;
}

/** Per device of a storm (by index): when its PUBLISH left and when its PUBACK came, in ms on the host clock (timeOrigin + now), null if none. */
export interface StormSendResult {
  sentAt: number[];
  ackedAt: (number | null)[];
  errors: number;
}

/** Every 5th QoS 1 bench event is a heartbeat, the rest motion: the everyday events of a motion sensor, which never page. */
export function everydayEvent(seq: number): string {
  return seq % 5 === 0 ? JSON.stringify({ type: 'heartbeat', seq, battery: 80 }) : JSON.stringify({ type: 'motion', seq });
}

/** The host's wall clock in ms with sub-ms resolution, comparable between processes on one machine. */
export function hostNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Telemetry every load device sends: QoS 0, a battery level and a signal strength. */
export function telemetryPayload(n: number): string {
  return JSON.stringify({ battery: 20 + (n % 81), rssi: -40 - (n % 61) });
}
