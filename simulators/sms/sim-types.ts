// Options, fault kinds and request/callback records of the Twilio simulator.
import type { SimMessage, TwilioMessageStatus } from './twilio-format.js';

export interface TwilioSimOptions {
  /** Defaults to a random `AC…` SID. */
  accountSid?: string;
  /** Defaults to a random token. */
  authToken?: string;
  /** Pause before each status callback (ms). */
  callbackDelayMs?: number;
  /** Maps a callback URL to the address actually reached, like a reverse proxy; the signature still covers the original URL. */
  deliverTo?: (url: string) => string;
  /** The simulator's own number: replies come from it when no message went to that phone. */
  defaultNumber?: string;
  /** Voice calls: how long a live phone rings and waits for a key, and the pause between a call's steps (ms). */
  voice?: { ringMs?: number; gatherMs?: number; stepMs?: number };
}

export type FaultKind = 429 | 500 | 502 | 503 | 'network';
export type DeliveryOutcome = 'delivered' | 'failed' | 'undelivered';

export interface SimRequest {
  method: string;
  path: string;
  /** HTTP status answered, or null when the socket was destroyed. */
  status: number | null;
  fault: FaultKind | null;
  receivedAt: number;
  receivedHr: number;
}

export interface SimCallback {
  messageSid: string;
  status: TwilioMessageStatus;
  url: string;
  params: Record<string, string>;
  signature: string;
  /** Status the receiver answered, or null when it could not be reached. */
  httpStatus: number | null;
  error: string | null;
  at: number;
}

export interface SimEvents {
  message: [SimMessage];
  callback: [SimCallback];
}

export const LIFECYCLES: Record<DeliveryOutcome, TwilioMessageStatus[]> = {
  delivered: ['queued', 'sent', 'delivered'],
  undelivered: ['queued', 'sent', 'undelivered'],
  failed: ['queued', 'failed'],
};
