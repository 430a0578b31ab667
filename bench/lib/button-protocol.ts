// Messages between a latency benchmark and its button-host child process (the devices whose PUBLISH is timed).
import type { DeviceCredentials } from './clients.js';

export type ButtonRequest =
  | { id: number; type: 'connect'; url: string; devices: DeviceCredentials[]; concurrency: number; subscribeCommands: boolean }
  /** Device `index` publishes `payload` on `topic` at QoS 1. */
  | { id: number; type: 'press'; index: number; topic: string; payload: string }
  | { id: number; type: 'close' };

export type ButtonReply =
  | { id: number; type: 'connected'; count: number; ms: number }
  /** When the PUBLISH was handed to mqtt.js and when its PUBACK came, on the machine-wide monotonic clock (ms). */
  | { id: number; type: 'pressed'; publishedAt: number; ackedAt: number }
  | { id: number; type: 'ok' }
  | { id: number; type: 'error'; message: string };
