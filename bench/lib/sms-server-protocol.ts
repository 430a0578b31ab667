// Messages between the benchmark and its SMS-server child process.
import type { SmsServerSpec } from './sms-servers.js';

export type SmsServerRequest =
  | { type: 'start'; id: number; spec: SmsServerSpec }
  | { type: 'counts'; id: number }
  /** Answered once every accepted message has had all its delivery reports answered. */
  | { type: 'settled'; id: number }
  | { type: 'stop'; id: number };

export type SmsServerReply =
  | { type: 'started'; id: number; url: string }
  | { type: 'counts'; id: number; messages: number; callbacks: number }
  | { type: 'settled'; id: number }
  | { type: 'stopped'; id: number }
  /** An SMS request arrived; its headers' arrival time on the machine-wide monotonic clock (ms). */
  | { type: 'message'; body: string; monotonicMs: number };

export function isSmsServerRequest(m: unknown): m is SmsServerRequest {
  return (
    typeof m === 'object' &&
    m !== null &&
    'type' in m &&
    (m.type === 'start' || m.type === 'counts' || m.type === 'settled' || m.type === 'stop')
  );
}

export function isSmsServerReply(m: unknown): m is SmsServerReply {
  return typeof m === 'object' && m !== null && 'type' in m && typeof m.type === 'string';
}
