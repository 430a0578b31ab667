// Twilio SMS through the official SDK, run on a thread of its own; TWILIO_API_URL points it at a Twilio-compatible
// server instead of api.twilio.com.
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { SenderThread, SenderThreadLost } from './sender-thread.js';
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
/** Sends passed straight on when a thread is lost before it could send anything: enough to reach the event loop. */
const IMMEDIATE_RESENDS = 3;

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
  senderThread?: { url?: URL; watchdogMs?: number; maxStartFailures?: number };
}

/**
 * The SDK's work for a message (building the request, axios, TLS to api.twilio.com, parsing the answer) would, on
 * the event loop, hold up every alarm behind it, and its allocations would add to the gateway's GC pauses. It runs
 * on a sender thread. Should that thread fail to start three times in a row, sends move onto the event loop,
 * logged and in /healthz.
 */
export class TwilioProvider implements SmsProvider {
  readonly name = 'twilio' as const;
  private readonly sdkOptions: TwilioSenderOptions;
  private readonly thread: SenderThread;
  /** Set once the thread is given up on: the SDK on the event loop. */
  private inline: ((sms: OutgoingSms) => Promise<SendOutcome>) | null = null;

  constructor(private readonly deps: TwilioProviderDeps) {
    const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.sdkOptions = { accountSid: deps.accountSid, authToken: deps.authToken, from: deps.from, apiUrl: deps.apiUrl, timeoutMs };
    if (deps.apiUrl) deps.log.info({ apiUrl: deps.apiUrl }, 'Twilio API requests go to a Twilio-compatible server');
    this.thread = new SenderThread({
      url: deps.senderThread?.url ?? WORKER,
      workerData: this.sdkOptions,
      watchdogMs: deps.senderThread?.watchdogMs ?? timeoutMs + WATCHDOG_GRACE_MS,
      maxStartFailures: deps.senderThread?.maxStartFailures,
      onLost: (err) => deps.log.error({ err: err.message }, 'SMS sender thread lost; its sends fail as transient and a new thread starts'),
      onGaveUp: (err) => this.sendOnEventLoop(err),
    });
  }

  async send(msg: OutgoingSms): Promise<SmsSendResult> {
    const outcome = await this.dispatch(msg);
    if (!outcome.ok) throw toSendError(outcome.failure);
    return { sid: outcome.answer.sid, status: mapTwilioStatus(outcome.answer.status) ?? 'accepted' };
  }

  health(): SmsProviderHealth {
    const thread = this.thread.health();
    return {
      sender: this.inline ? 'event-loop' : 'thread',
      senderRestarts: thread.restarts,
      problem: this.inline
        ? `SMS sender thread could not start (${thread.lastError ?? 'unknown'}); SMS are sent on the event loop and can hold alarms up`
        : null,
    };
  }

  async close(): Promise<void> {
    await this.thread.close();
  }

  private async dispatch(msg: OutgoingSms, resends = 0): Promise<SendOutcome> {
    if (this.inline) return this.inline(msg);
    try {
      return await this.thread.send(msg);
    } catch (err) {
      if (!(err instanceof SenderThreadLost)) throw err;
      // The thread never loaded the SDK, so the message cannot have left: straight on to the next thread, or to the
      // event loop once the thread is given up on (after 3 failed starts by default), without the dispatcher's backoff.
      if (!err.mayHaveSent && resends < IMMEDIATE_RESENDS) return this.dispatch(msg, resends + 1);
      // It may have reached Twilio (or the sender is closed): the dispatcher retries after its backoff.
      return { ok: false, failure: { httpStatus: null, code: 'SENDER_THREAD_LOST', message: err.message } };
    }
  }

  private sendOnEventLoop(err: Error): void {
    this.deps.log.error({ err: err.message }, 'SMS sender thread could not start; SMS are now sent on the event loop');
    try {
      this.inline = createTwilioSender(this.sdkOptions);
    } catch (e) {
      // What kept the thread from starting keeps the SDK from working here too: every send fails, loudly, and retries.
      const failure: SendFailure = {
        httpStatus: null,
        code: 'SENDER_UNAVAILABLE',
        message: `the Twilio SDK could not be set up: ${errorMessage(e)}`,
      };
      this.deps.log.error({ err: failure.message }, 'SMS cannot be sent');
      this.inline = async () => ({ ok: false, failure });
    }
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
