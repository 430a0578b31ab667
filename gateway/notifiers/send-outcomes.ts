// How a try of an SMS ends: handed to a provider, retried after a backoff, failed for good, over every cap, or unsendable.
import type { OutboundSms } from '../core/types.js';
import type { SmsStatusUpdate } from '../storage/ports.js';
import type { BreakerPermit } from './circuit-breaker.js';
import { CAPPED_CODE, DIVERTED_CODE, type Route, type SmsDispatcherDeps } from './dispatch-types.js';
import type { SmsSendError, SmsSendResult } from './provider.js';
import type { ReceiptApplier } from './receipt-applier.js';
import { defaultBackoffMs, type SendGate } from './send-gate.js';
import type { SmsTexts } from './sms-text.js';
import { withUpdate, type SmsStatusWriter } from './status-writer.js';

export interface SendOutcomesDeps extends Pick<
  SmsDispatcherDeps,
  'clock' | 'log' | 'bus' | 'caps' | 'divert' | 'maxAttempts' | 'backoffMs' | 'onSent' | 'onFailed'
> {
  writer: SmsStatusWriter;
  receipts: Pick<ReceiptApplier, 'remember' | 'serialised' | 'replayEarly'>;
  texts: Pick<SmsTexts, 'forget'>;
  /** The first provider's gate: it holds the backoffs and the delay watch for the whole queue. */
  gate: SendGate;
  /** False once the dispatcher stops: a failed message then waits for the next start instead of a retry timer. */
  running(): boolean;
  /** The first provider's breaker closed again: messages waiting out a backoff go now. */
  recovered(): void;
}

export class SendOutcomes {
  constructor(private readonly deps: SendOutcomesDeps) {}

  async handedOver(
    sending: OutboundSms,
    route: Route,
    permit: BreakerPermit,
    result: SmsSendResult,
    call: { latencyMs: number; startedAt: number },
  ): Promise<void> {
    const { latencyMs } = call;
    const closed = route.gate.answered(permit);
    route.consecutiveFailures = 0;
    this.deps.gate.unwatch(sending.id);
    this.deps.texts.forget(sending.id);
    const sid = result.sid;
    this.deps.receipts.remember(sid, sending.id);
    const provider = route.provider.name;
    const accepted = await this.deps.receipts.serialised(sending.id, () =>
      this.record(sending, {
        status: result.status,
        provider,
        providerSid: sid,
        attempts: sending.attempts,
        errorCode: null,
        error: null,
        sentAt: this.deps.clock.now(),
      }),
    );
    try {
      await this.deps.caps?.record(provider, sending);
    } catch (err) {
      this.deps.log.error({ err, sms: sending.id }, 'could not count an SMS against its provider cap');
    }
    this.deps.onSent?.(accepted, latencyMs, call.startedAt);
    this.deps.log.info(
      { sms: sending.id, sid, provider, attempts: sending.attempts, latencyMs: Math.round(latencyMs) },
      'SMS handed to provider',
    );
    if (closed) this.deps.recovered();
    await this.deps.receipts.replayEarly(sid);
  }

  async failed(msg: OutboundSms, attempts: number, err: SmsSendError): Promise<void> {
    const giveUp = !err.transient || (attempts >= (this.deps.maxAttempts ?? 7) && !(await this.deps.gate.keepsTrying(msg)));
    const fields = { attempts, errorCode: err.providerCode, error: err.message };
    if (giveUp) {
      this.deps.texts.forget(msg.id);
      this.deps.gate.unwatch(msg.id);
      const failed = await this.record(msg, { status: 'failed', ...fields });
      this.deps.log.error(
        { sms: msg.id, attempts, code: err.providerCode, transient: err.transient, err: err.message },
        'SMS failed for good',
      );
      this.deps.onFailed?.(failed);
      return;
    }
    const waiting = await this.record(msg, { status: 'sending', ...fields });
    if (!this.deps.running()) return;
    const delay = this.deps.gate.retryDelay((this.deps.backoffMs ?? defaultBackoffMs)(attempts));
    this.deps.log.warn(
      { sms: msg.id, attempts, code: err.providerCode, retryInMs: delay, err: err.message },
      'SMS send failed, will retry',
    );
    this.deps.gate.retryLater(waiting, delay);
    this.deps.gate.watchDelay(waiting);
  }

  /**
   * Every provider that could take the message is at its cap for this number: sending would only earn a rejection.
   * Another channel may take it (a call); otherwise it fails at once, so a page shows as failed on the incident and
   * the next responder is paged, instead of waiting for a cap that lasts up to a day.
   */
  async overCap(msg: OutboundSms, capped: string[]): Promise<void> {
    this.deps.texts.forget(msg.id);
    this.deps.gate.unwatch(msg.id);
    const reason = `not sent: over the per-recipient cap of ${capped.join('; ') || 'every provider'}`;
    let diverted = false;
    try {
      diverted = (await this.deps.divert?.(msg, reason)) ?? false;
    } catch (err) {
      this.deps.log.error({ err, sms: msg.id }, 'the other channel could not take a capped SMS');
    }
    const failed = await this.record(msg, {
      status: 'failed',
      attempts: msg.attempts,
      errorCode: diverted ? DIVERTED_CODE : CAPPED_CODE,
      error: diverted ? `${reason}; taken by another channel` : reason,
    });
    this.deps.log.error({ sms: msg.id, diverted, reason }, 'SMS over every provider cap');
    if (!diverted) this.deps.onFailed?.(failed);
  }

  /**
   * A masked message (a sign-in code) whose clear text died with an earlier process. Storing the code in clear to
   * survive a restart would put it back in the log; the person asks for a new code instead (the old one expires anyway).
   */
  async unsendable(msg: OutboundSms): Promise<void> {
    await this.record(msg, {
      status: 'failed',
      attempts: msg.attempts,
      errorCode: null,
      error: 'not sent: its text was not kept across a restart; a new code must be requested',
    });
    this.deps.log.warn({ sms: msg.id, purpose: msg.purpose }, 'masked SMS not sent after a restart');
  }

  /** Writes an update and announces a status change; keeps going on the in-memory copy if the row vanished. */
  async record(prev: OutboundSms, update: Omit<SmsStatusUpdate, 'at'>): Promise<OutboundSms> {
    const at = this.deps.clock.now();
    const stored = await this.deps.writer.write(prev.id, { ...update, at });
    const next = stored ?? withUpdate(prev, update, at);
    if (next.status !== prev.status) this.deps.bus.emit('smsStatusChanged', next);
    return next;
  }
}
