// Twilio SMS through the official SDK, run on a thread of its own; TWILIO_API_URL points it at a Twilio-compatible
// server instead of api.twilio.com.
import type { Logger } from '../core/logger.js';
import { ThreadedSender, type SenderThreadSettings } from './threaded-sender.js';
import { mapTwilioStatus } from './sms-status.js';
import {
  SmsSendError,
  isTransientHttpStatus,
  type OutgoingSms,
  type SmsProvider,
  type SmsProviderHealth,
  type SmsSendResult,
} from './provider.js';
import { createTwilioSender, type SendFailure, type SendOutcome, type TwilioSenderOptions } from './twilio-sdk.mjs';

export { RewritingRequestClient } from './twilio-sdk.mjs';

const DEFAULT_TIMEOUT_MS = 10_000;
const WORKER = new URL('./twilio-worker.mjs', import.meta.url);
/** How long past the request timeout a send may go unanswered before its thread counts as stuck. */
const WATCHDOG_GRACE_MS = 5_000;

export interface TwilioProviderDeps {
  accountSid: string;
  authToken: string;
  /** An E.164 number, an alphanumeric sender id, or a Messaging Service SID (MG…). */
  from: string;
  /** Base URL that replaces https://api.twilio.com, or null for Twilio itself. */
  apiUrl: string | null;
  /** Per-request timeout; a send that takes longer fails as transient. */
  timeoutMs?: number;
  log: Logger;
  /** The sender thread: its script (tests inject faulty ones) and how long a send may go unanswered. */
  senderThread?: SenderThreadSettings;
}

/**
 * The SDK's work for a message (building the request, axios, TLS to api.twilio.com, parsing the answer) would, on
 * the event loop, hold up every alarm behind it, and its allocations would add to the gateway's GC pauses. It runs
 * on a sender thread. Should that thread fail to start three times in a row, sends move onto the event loop,
 * logged and in /healthz.
 */
export class TwilioProvider implements SmsProvider {
  readonly name = 'twilio' as const;
  private readonly sender: ThreadedSender<OutgoingSms, SendOutcome>;

  constructor(deps: TwilioProviderDeps) {
    const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const sdkOptions: TwilioSenderOptions = {
      accountSid: deps.accountSid,
      authToken: deps.authToken,
      from: deps.from,
      apiUrl: deps.apiUrl,
      timeoutMs,
    };
    if (deps.apiUrl) deps.log.info({ apiUrl: deps.apiUrl }, 'Twilio API requests go to a Twilio-compatible server');
    this.sender = new ThreadedSender<OutgoingSms, SendOutcome>({
      label: 'Twilio SMS',
      url: deps.senderThread?.url ?? WORKER,
      workerData: sdkOptions,
      watchdogMs: deps.senderThread?.watchdogMs ?? timeoutMs + WATCHDOG_GRACE_MS,
      maxStartFailures: deps.senderThread?.maxStartFailures,
      inline: () => createTwilioSender(sdkOptions),
      fault: (code, message) => ({ ok: false, failure: { httpStatus: null, code, message } }),
      log: deps.log,
    });
  }

  async send(msg: OutgoingSms): Promise<SmsSendResult> {
    const outcome = await this.sender.send(msg);
    if (!outcome.ok) throw toSendError(outcome.failure);
    return { sid: outcome.answer.sid, status: mapTwilioStatus(outcome.answer.status) ?? 'accepted' };
  }

  health(): SmsProviderHealth {
    return this.sender.health();
  }

  async close(): Promise<void> {
    await this.sender.close();
  }
}

/** Maps a failed send: an HTTP answer (status + Twilio code) or none at all (refused, reset, DNS, our timeout). */
export function toSendError(failure: SendFailure): SmsSendError {
  const { httpStatus, code, message } = failure;
  if (httpStatus !== null) {
    return new SmsSendError({
      transient: isTransientHttpStatus(httpStatus),
      providerCode: code,
      httpStatus,
      message: `Twilio answered ${httpStatus}${code ? ` (${code})` : ''}: ${message}`,
    });
  }
  // No HTTP answer: always worth another try.
  return new SmsSendError({ transient: true, providerCode: code, message: `Twilio unreachable: ${message}` });
}
