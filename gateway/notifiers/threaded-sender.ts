// Runs an SMS provider's SDK on a sender thread, and on the event loop only once that thread cannot start: the send
// path every SMS provider shares (the SDK's request building, signing, HTTP exchange and parsing stay off the loop).
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { SmsSendError, type SmsProviderHealth } from './provider.js';
import { SenderThread, SenderThreadLost } from './sender-thread.js';

/** Why a send could not be made at all: the thread was lost with it, or the SDK cannot be set up anywhere. */
export type SenderFault = 'SENDER_THREAD_LOST' | 'SENDER_UNAVAILABLE';

const SENDER_FAULTS: ReadonlySet<string> = new Set<SenderFault>(['SENDER_THREAD_LOST', 'SENDER_UNAVAILABLE']);

/**
 * A failure that is a fault of the sender, not an answer of the provider: transient (the message may not have left,
 * or may have; the dispatcher retries after its backoff either way, or hands it to the fallback provider at once).
 * Null for any other failure, which the provider's own error mapping reads.
 */
export function senderFaultError(label: string, failure: { code: string | null; message: string }): SmsSendError | null {
  if (failure.code === null || !SENDER_FAULTS.has(failure.code)) return null;
  return new SmsSendError({ transient: true, providerCode: failure.code, message: `${label}: ${failure.message}` });
}

/** The thread's script (tests inject faulty ones) and how long a send may go unanswered. */
export interface SenderThreadSettings {
  url?: URL;
  watchdogMs?: number;
  maxStartFailures?: number;
}

export interface ThreadedSenderOptions<Sms, Outcome> {
  /** The provider, as logs and /healthz name it ("Aliyun SMS"). */
  label: string;
  url: URL;
  workerData: unknown;
  watchdogMs: number;
  maxStartFailures?: number;
  /** The same SDK code on the event loop; built only when the thread is given up on. */
  inline: () => (sms: Sms) => Promise<Outcome>;
  /** The outcome of a send that could not be made (see SenderFault), in the provider's own outcome form. */
  fault: (code: SenderFault, message: string) => Outcome;
  log: Logger;
}

/** Sends passed straight on when a thread is lost before it could send anything: enough to reach the event loop. */
const IMMEDIATE_RESENDS = 3;

export class ThreadedSender<Sms, Outcome> {
  private readonly thread: SenderThread<Sms, Outcome>;
  /** Set once the thread is given up on: the SDK on the event loop. */
  private inline: ((sms: Sms) => Promise<Outcome>) | null = null;

  constructor(private readonly options: ThreadedSenderOptions<Sms, Outcome>) {
    const { label, log } = options;
    this.thread = new SenderThread<Sms, Outcome>({
      url: options.url,
      workerData: options.workerData,
      watchdogMs: options.watchdogMs,
      maxStartFailures: options.maxStartFailures,
      onLost: (err) => log.error({ err: err.message }, `${label} sender thread lost; its sends fail as transient and a new thread starts`),
      onGaveUp: (err) => this.sendOnEventLoop(err),
    });
  }

  /** Never rejects: the provider's outcome, or a fault outcome when the send could not be made. */
  async send(sms: Sms, resends = 0): Promise<Outcome> {
    if (this.inline) return this.inline(sms);
    try {
      return await this.thread.send(sms);
    } catch (err) {
      if (!(err instanceof SenderThreadLost)) throw err;
      // The thread never loaded the SDK, so the message cannot have left: straight on to the next thread, or to the
      // event loop once the thread is given up on, without the dispatcher's backoff.
      if (!err.mayHaveSent && resends < IMMEDIATE_RESENDS) return this.send(sms, resends + 1);
      // It may have reached the provider (or the sender is closed): the dispatcher retries after its backoff.
      return this.options.fault('SENDER_THREAD_LOST', err.message);
    }
  }

  health(): SmsProviderHealth {
    const thread = this.thread.health();
    return {
      sender: this.inline ? 'event-loop' : 'thread',
      senderRestarts: thread.restarts,
      problem: this.inline
        ? `${this.options.label} sender thread could not start (${thread.lastError ?? 'unknown'}); its SMS are sent on the event loop and can hold alarms up`
        : null,
    };
  }

  async close(): Promise<void> {
    await this.thread.close();
  }

  private sendOnEventLoop(err: Error): void {
    const { label, log } = this.options;
    log.error({ err: err.message }, `${label} sender thread could not start; its SMS are now sent on the event loop`);
    try {
      this.inline = this.options.inline();
    } catch (e) {
      // What kept the thread from starting keeps the SDK from working here too: every send fails, loudly, and retries.
      const message = `the ${label} SDK could not be set up: ${errorMessage(e)}`;
      log.error({ err: message }, 'SMS cannot be sent');
      this.inline = async () => this.options.fault('SENDER_UNAVAILABLE', message);
    }
  }
}
