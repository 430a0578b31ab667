// The SMS provider port: hides Twilio (or the local outbox) from the core, with typed send errors.
import { GatewayError } from '../core/errors.js';
import type { SmsProviderName, SmsStatus } from '../core/types.js';
import type { MessageIntent, MessagePriority, ProviderCapabilities } from './intent.js';

export interface OutgoingSms {
  /** The stored message's id: the idempotency key a provider carries back (Tencent `SessionContext`, Aliyun `OutId`). */
  id?: string;
  to: string;
  /** The free text: what Twilio, the outbox and the simulators send. */
  body: string;
  /** The kind and named parameters: what template providers send. A template provider refuses a message without one. */
  intent?: MessageIntent | null;
  priority?: MessagePriority;
  /** Where the provider posts delivery receipts; null for none. */
  statusCallback: string | null;
}

export interface SmsSendResult {
  sid: string;
  status: SmsStatus;
}

export interface SmsProviderHealth {
  /** Where the SDK's work runs: on a `thread` of its own, or on the `event-loop` after that thread could not start. */
  sender: 'thread' | 'event-loop';
  /** Sender threads replaced after a loss since start. */
  senderRestarts: number;
  /** Set while the provider itself is impaired (not when a single send failed). */
  problem: string | null;
}

export interface SmsProvider {
  readonly name: SmsProviderName;
  /** What this provider can carry; absent means free text, one-way, receipts pushed. */
  readonly capabilities?: ProviderCapabilities;
  send(msg: OutgoingSms): Promise<SmsSendResult>;
  /** Absent for a provider with nothing of its own to report (the outbox). */
  health?(): SmsProviderHealth;
  /** Releases what the provider holds (threads, sockets); called after the dispatcher has stopped. */
  close?(): Promise<void>;
}

export interface SmsSendErrorInit {
  /** True when trying again later may succeed: network errors, timeouts, 429 and 5xx. */
  transient: boolean;
  /** The provider's own error code (e.g. Twilio's "21211"), or a network error code such as "ECONNREFUSED". */
  providerCode: string | null;
  /** HTTP status of the provider's answer, when there was one. */
  httpStatus?: number | null;
  message: string;
  cause?: unknown;
}

export class SmsSendError extends GatewayError {
  readonly transient: boolean;
  readonly providerCode: string | null;
  readonly httpStatus: number | null;

  constructor(init: SmsSendErrorInit) {
    super(init.transient ? 'GW_ERR_SMS_TRANSIENT' : 'GW_ERR_SMS_REJECTED', init.message, undefined, { cause: init.cause });
    this.name = 'SmsSendError';
    this.transient = init.transient;
    this.providerCode = init.providerCode;
    this.httpStatus = init.httpStatus ?? null;
  }
}

/** HTTP statuses worth retrying: rate limiting and server-side trouble. */
export function isTransientHttpStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
