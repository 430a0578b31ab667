// Messages between the benchmark and its SMS-server child process.
export type SmsServerRequest =
  | { type: 'start'; id: number; accountSid: string; authToken: string }
  | { type: 'counts'; id: number }
  | { type: 'stop'; id: number };

export type SmsServerReply =
  | { type: 'started'; id: number; url: string }
  | { type: 'counts'; id: number; messages: number; callbacks: number }
  | { type: 'stopped'; id: number }
  /** An SMS request arrived; its headers' arrival time on the machine-wide monotonic clock (ms). */
  | { type: 'message'; body: string; monotonicMs: number };

export function isSmsServerRequest(m: unknown): m is SmsServerRequest {
  return typeof m === 'object' && m !== null && 'type' in m && (m.type === 'start' || m.type === 'counts' || m.type === 'stop');
}

export function isSmsServerReply(m: unknown): m is SmsServerReply {
  return typeof m === 'object' && m !== null && 'type' in m && typeof m.type === 'string';
}
