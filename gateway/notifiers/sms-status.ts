// SMS delivery states: how Twilio's words map to the gateway's, and which way a status may move.
import type { SmsStatus } from '../core/types.js';

// Receipts can arrive out of order (delivered before sent); a status only ever moves up this ladder.
const RANK: Record<SmsStatus, number> = {
  queued: 0,
  sending: 1,
  accepted: 2,
  sent: 3,
  delivered: 4,
  undelivered: 4,
  failed: 4,
  outbox: 4,
};

/** True when going from `from` to `to` is progress; same-rank or earlier states are stale news. */
export function advances(from: SmsStatus, to: SmsStatus): boolean {
  return RANK[to] > RANK[from];
}

export function isFinal(status: SmsStatus): boolean {
  return RANK[status] === 4;
}

/**
 * Twilio's message states in the gateway's words. Everything before `sent` means the provider has the
 * message; unknown states (e.g. `receiving` of inbound messages) give null.
 */
export function mapTwilioStatus(status: string): SmsStatus | null {
  switch (status) {
    case 'accepted':
    case 'scheduled':
    case 'queued':
    case 'sending':
      return 'accepted';
    case 'sent':
      return 'sent';
    case 'delivered':
    case 'read':
      return 'delivered';
    case 'undelivered':
      return 'undelivered';
    case 'failed':
    case 'canceled':
      return 'failed';
    default:
      return null;
  }
}
