// Messages between the benchmark and its background-load child process (the 1,000 telemetry devices).
import type { DeviceCredentials } from './clients.js';

export type LoadRequest =
  | { id: number; type: 'connect'; url: string; devices: DeviceCredentials[]; concurrency: number }
  | { id: number; type: 'rate'; perSecond: number }
  | { id: number; type: 'stats' }
  | { id: number; type: 'close' };

export type LoadReply =
  | { id: number; type: 'connected'; count: number; ms: number }
  | { id: number; type: 'ok' }
  | { id: number; type: 'stats'; sent: number; publishErrors: number; cpuMicros: number }
  | { id: number; type: 'error'; message: string };

export function isLoadRequest(value: unknown): value is LoadRequest {
  return typeof value === 'object' && value !== null && 'id' in value && 'type' in value;
}

export function isLoadReply(value: unknown): value is LoadReply {
  return typeof value === 'object' && value !== null && 'id' in value && 'type' in value;
}

/** Telemetry every load device sends: QoS 0, a battery level and a signal strength. */
export function telemetryPayload(n: number): string {
  return JSON.stringify({ battery: 20 + (n % 81), rssi: -40 - (n % 61) });
}
