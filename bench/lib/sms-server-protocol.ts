// Messages between the benchmark and its SMS-server child process.
import type { TwilioSimServer } from '../../simulators/sms/twilio-server.js';

export type SmsServerRequest =
  | { type: 'start'; id: number; accountSid: string; authToken: string }
  | { type: 'counts'; id: number }
  /** Answered once every accepted message has had all its status callbacks answered. */
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
  return typeof m === 'object' && m !== null && 'type' in m && (m.type === 'start' || m.type === 'counts' || m.type === 'settled' || m.type === 'stop');
}

export function isSmsServerReply(m: unknown): m is SmsServerReply {
  return typeof m === 'object' && m !== null && 'type' in m && typeof m.type === 'string';
}

/** Every delivered message goes through three statuses (queued, sent, delivered), each posted as a signed callback. */
const CALLBACKS_PER_MESSAGE = 3;

/** Resolves once every message the server accepted has had all its status callbacks answered by the gateway. */
export function settled(sim: TwilioSimServer): Promise<void> {
  const done = (): boolean => {
    const c = sim.counts();
    return c.callbacks >= CALLBACKS_PER_MESSAGE * c.messages;
  };
  if (done()) return Promise.resolve();
  return new Promise((resolve) => {
    const check = (): void => {
      if (!done()) return;
      sim.off('callback', check);
      resolve();
    };
    sim.on('callback', check);
  });
}
