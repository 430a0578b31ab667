// Sends outbound SMS in the background: durable first, bounded concurrency, retries with backoff behind a circuit
// breaker, delivery receipts.
import { performance } from 'node:perf_hooks';
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import { newId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { OutboundSms, SmsPurpose, SmsStatus, SmsProviderName } from '../core/types.js';
import type { SmsStatusUpdate, Store } from '../storage/ports.js';
import type { BreakerPermit, CircuitBreakerHealth, CircuitBreakerOptions } from './circuit-breaker.js';
import { SendGate, defaultBackoffMs } from './send-gate.js';
import { SmsSendError, type SmsProvider, type SmsProviderHealth, type SmsSendResult } from './provider.js';
import { advances, isFinal, mapTwilioStatus } from './sms-status.js';
import { SmsStatusWriter } from './status-writer.js';

export interface NotifierEvents {
  /** A stored message changed status (including its creation as `queued`). */
  smsStatusChanged: [OutboundSms];
  /** A message has failed and is still not handed over `delayedAfterMs` after it was queued (once per message and run). */
  smsDelayed: [OutboundSms];
}

/** What a caller supplies; the dispatcher owns id, status, provider fields, attempts and times. */
export type NewOutboundSms = Omit<
  OutboundSms,
  'id' | 'status' | 'provider' | 'providerSid' | 'attempts' | 'errorCode' | 'error' | 'createdAt' | 'sentAt' | 'updatedAt'
> & {
  /**
   * What the provider gets when it differs from the stored `body` (a sign-in code, stored masked). Held in this
   * process only: never stored, logged or announced, so a message that needs it cannot be resent after a restart.
   */
  sendBody?: string;
};

/** The fields of Twilio's status callback the dispatcher uses. */
export interface StatusCallbackParams {
  MessageSid: string;
  MessageStatus: string;
  ErrorCode?: string | null;
}

export interface SmsDispatcherHealth {
  provider: SmsProviderName;
  /** Outbox mode, the last send attempt failed for a reason on the provider's side, the breaker is not closed, or the provider reports a problem. */
  degraded: boolean;
  lastError: string | null;
  consecutiveFailures: number;
  /** Messages waiting for a slot, being sent, or waiting to retry. */
  queued: number;
  /** Provider calls in flight. */
  sending: number;
  /** Of those, messages held back because the provider's breaker is not closed: they wait, they do not fail. */
  waiting: number;
  /** The provider's circuit breaker. */
  breaker: CircuitBreakerHealth;
  /** The provider's own state (its sender thread), when it reports one. */
  sender: SmsProviderHealth | null;
}

export interface SmsDispatcherDeps {
  store: Store;
  provider: SmsProvider;
  clock: Clock;
  log: Logger;
  bus: EventBus<NotifierEvents>;
  /** PUBLIC_URL: the status callback is `${publicUrl}/webhooks/twilio/status`. */
  publicUrl: string;
  /** Total tries per message, the first included (default 7), unless `keepTrying` says to go on. */
  maxAttempts?: number;
  /**
   * Asked only once a message has used its `maxAttempts` on transient failures: true keeps it trying (with the capped
   * backoff) instead of failing it, e.g. a page of an incident that still waits for a responder. Default: never.
   */
  keepTrying?: (msg: OutboundSms) => Promise<boolean>;
  /** The provider's circuit breaker: failures in a row that open it, and the cooldown before a probe. */
  breaker?: CircuitBreakerOptions;
  /** A message still unsent this long after it was queued, having failed at least once, is announced (default 30 s). */
  delayedAfterMs?: number;
  /** Provider calls in flight at once (default 16). */
  concurrency?: number;
  /** Wait before retry number `attempt` (1-based: after the first failure). Default: 0.5 s doubling to 60 s, ±20 % jitter. */
  backoffMs?: (attempt: number) => number;
  /** Metrics hook: a message was handed to the provider, `latencyMs` after the call started. */
  onSent?: (msg: OutboundSms, latencyMs: number) => void;
  /** Metrics hook: a message failed for good. */
  onFailed?: (msg: OutboundSms) => void;
}

// Receipts that overtake the provider's answer to our send are held this long for the SID to become known.
const EARLY_RECEIPT_TTL_MS = 60_000;
const EARLY_RECEIPT_MAX = 1000;
const SID_CACHE_MAX = 10_000;

/** Purposes whose stored body is masked: without the clear text held by this process, such a message cannot be sent. */
const MASKED_PURPOSES: ReadonlySet<SmsPurpose> = new Set<SmsPurpose>(['otp']);

export class SmsDispatcher {
  private running = false;
  /** Waiting for a send slot. */
  private readonly ready: OutboundSms[] = [];
  /** Provider calls in flight, by message id. */
  private readonly active = new Map<string, Promise<void>>();
  /** The provider's circuit breaker, the messages waiting out a backoff, and the delay watch. */
  private readonly gate: SendGate;
  /** Every message this dispatcher holds (ready, active or waiting to retry), so a resume never doubles one. */
  private readonly held = new Set<string>();
  private readonly sidToId = new Map<string, string>();
  private readonly earlyReceipts = new Map<string, { params: StatusCallbackParams; at: number }[]>();
  private readonly locks = new Map<string, Promise<void>>();
  /** Clear texts of messages stored masked (sendBody), by message id, until the message is sent or fails for good. */
  private readonly sendBodies = new Map<string, string>();
  private consecutiveFailures = 0;
  private lastError: string | null = null;
  private readonly writer: SmsStatusWriter;
  /** A pump is scheduled for the next turn of the event loop (see pump). */
  private pumpLater: NodeJS.Immediate | null = null;

  constructor(private readonly deps: SmsDispatcherDeps) {
    this.writer = new SmsStatusWriter({ store: deps.store });
    this.gate = new SendGate({
      clock: deps.clock,
      breaker: deps.breaker,
      log: deps.log,
      keepTrying: deps.keepTrying,
      delayedAfterMs: deps.delayedAfterMs ?? 30_000,
      onProbeDue: () => this.pump(),
      onRetryDue: (msg) => {
        if (!this.running) return;
        this.ready.push(msg);
        this.pump();
      },
      onDelayed: (msg) => void this.announceDelay(msg.id),
    });
  }

  /** Starts sending, beginning with messages a crash left queued or half sent. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const unsent = await this.deps.store.sms.listUnsent();
    for (const msg of unsent) {
      if (this.held.has(msg.id)) continue;
      // A message left 'sending' may have reached the provider just before the crash; a duplicate page beats a lost one.
      this.deps.log.info({ sms: msg.id, status: msg.status, attempts: msg.attempts }, 'resuming unsent SMS');
      this.admit(msg);
    }
  }

  /** Stops taking new work, cancels retry timers and waits for provider calls in flight; unsent rows resume on the next start. */
  async stop(): Promise<void> {
    this.running = false;
    this.gate.stop();
    this.ready.length = 0;
    if (this.pumpLater) clearImmediate(this.pumpLater);
    this.pumpLater = null;
    await Promise.allSettled([...this.active.values()]);
    await this.writer.flush();
    this.held.clear();
  }

  /**
   * Persists the message (status `queued`), then sends it in the background; resolves once it is stored.
   * Called inside a transaction, the send waits for its COMMIT (and never happens if it rolls back), so a
   * message is on disk before it can reach the provider.
   */
  async enqueue(msg: NewOutboundSms): Promise<OutboundSms> {
    const now = this.deps.clock.now();
    const { sendBody, ...fields } = msg;
    const row: OutboundSms = {
      ...fields,
      id: newId('sms', now),
      status: 'queued',
      provider: this.deps.provider.name,
      providerSid: null,
      attempts: 0,
      errorCode: null,
      error: null,
      createdAt: now,
      sentAt: null,
      updatedAt: now,
    };
    await this.deps.store.sms.insert(row);
    if (sendBody !== undefined && sendBody !== row.body) this.sendBodies.set(row.id, sendBody);
    this.deps.bus.emit('smsStatusChanged', row);
    // Before start() the row simply waits in the store; start() picks it up with the other unsent ones.
    this.deps.store.afterCommit(() => {
      if (this.running && !this.held.has(row.id)) this.admit(row);
    });
    return row;
  }

  /**
   * Applies a delivery receipt. False for a SID no stored message has (or a status it does not know);
   * true otherwise, even when the receipt is stale and changes nothing.
   */
  async handleStatusCallback(params: StatusCallbackParams): Promise<boolean> {
    const status = mapTwilioStatus(params.MessageStatus);
    if (!status) {
      this.deps.log.debug({ sid: params.MessageSid, status: params.MessageStatus }, 'status callback with an unknown status ignored');
      return false;
    }
    const id = this.sidToId.get(params.MessageSid) ?? (await this.deps.store.sms.getBySid(params.MessageSid))?.id;
    // Checked again after the await, with no await before holding the receipt: the send may have finished meanwhile.
    const known = id ?? this.sidToId.get(params.MessageSid);
    if (!known) {
      if (this.active.size > 0) this.holdEarlyReceipt(params);
      this.deps.log.debug({ sid: params.MessageSid }, 'status callback for an unknown message');
      return false;
    }
    return this.withLock(known, () => this.applyReceipt(known, status, params.ErrorCode ?? null));
  }

  health(): SmsDispatcherHealth {
    const sender = this.deps.provider.health?.() ?? null;
    const breaker = this.gate.health();
    return {
      provider: this.deps.provider.name,
      degraded: this.deps.provider.name === 'outbox' || this.consecutiveFailures > 0 || !!sender?.problem || breaker.state !== 'closed',
      lastError: this.lastError,
      consecutiveFailures: this.consecutiveFailures,
      queued: this.ready.length + this.active.size + this.gate.backingOff,
      sending: this.active.size,
      waiting: breaker.state === 'closed' ? 0 : this.ready.length + this.gate.backingOff,
      breaker,
      sender,
    };
  }

  // ---- sending ---------------------------------------------------------------------------------

  private get statusCallbackUrl(): string | null {
    if (this.deps.provider.name === 'outbox') return null;
    return `${this.deps.publicUrl.replace(/\/+$/, '')}/webhooks/twilio/status`;
  }

  private admit(msg: OutboundSms): void {
    this.held.add(msg.id);
    // Queued while the provider is out: it will wait, so it is watched like one that failed.
    if (!this.gate.isClosed()) this.gate.watchDelay(msg);
    this.ready.push(msg);
    this.pump();
  }

  /**
   * Starts one send now and the next on the following turn of the event loop. Building a request in the
   * SDK takes a few hundred microseconds of awaits; started together, an alarm's page, link and family
   * SMS would interleave and the first page would leave last. One per turn lets each request reach the
   * socket before the next is built, in the order the messages were queued.
   */
  private pump(): void {
    const limit = Math.max(1, this.deps.concurrency ?? 16);
    if (!this.running || this.active.size >= limit || this.ready.length === 0) return;
    // While the breaker is open nothing is sent: messages stay in `ready`, neither tried nor failed, until a probe
    // (one at a time) finds the provider back.
    const permit = this.gate.permit();
    if (!permit) return;
    const msg = this.ready.shift();
    if (!msg) return;
    this.launch(msg, permit);
    if (this.ready.length > 0 && !this.pumpLater && !permit.probe) {
      this.pumpLater = setImmediate(() => {
        this.pumpLater = null;
        this.pump();
      });
    }
  }

  /** The breaker closed again: messages waiting out a backoff go now too, oldest first, at the usual pace. */
  private recovered(): void {
    const released = this.gate.releaseBackoff();
    this.deps.log.info({ provider: this.deps.provider.name, waiting: this.ready.length + released.length }, 'SMS provider answers again; circuit breaker closed');
    this.ready.push(...released);
    this.ready.sort((a, b) => a.createdAt - b.createdAt);
    this.pump();
  }

  private launch(msg: OutboundSms, permit: BreakerPermit): void {
    const run = this.attempt(msg, permit)
      .catch((err: unknown) => {
        // Only storage trouble lands here; the row stays unsent and is resumed on the next start.
        this.deps.log.error({ err, sms: msg.id }, 'SMS attempt could not be recorded');
      })
      .finally(() => {
        this.active.delete(msg.id);
        if (!this.gate.isBackingOff(msg.id)) this.held.delete(msg.id);
        this.pump();
      });
    this.active.set(msg.id, run);
  }

  private async attempt(msg: OutboundSms, permit: BreakerPermit): Promise<void> {
    const attempts = msg.attempts + 1;
    // Announced, not stored: the row is already durable as `queued` (or `sending` after a failed try), and a
    // crash before the provider's answer is stored resends it either way. The write would only delay the send.
    const sending: OutboundSms = { ...msg, status: 'sending', attempts, updatedAt: this.deps.clock.now() };
    if (msg.status !== 'sending') this.deps.bus.emit('smsStatusChanged', sending);
    const body = this.sendBodies.get(msg.id) ?? (MASKED_PURPOSES.has(msg.purpose) ? null : msg.body);
    if (body === null) {
      await this.unsendable(sending);
      return;
    }
    const started = performance.now();
    let result: SmsSendResult;
    try {
      result = await this.deps.provider.send({ to: msg.to, body, statusCallback: this.statusCallbackUrl });
    } catch (err) {
      const failure = err instanceof SmsSendError ? err : new SmsSendError({ transient: true, providerCode: null, message: errorMessage(err), cause: err });
      await this.failed(sending, attempts, failure, permit);
      return;
    }
    const closed = this.gate.answered(permit);
    this.gate.unwatch(msg.id);
    const latencyMs = performance.now() - started;
    this.sendBodies.delete(msg.id);
    const sid = result.sid;
    this.rememberSid(sid, msg.id);
    const accepted = await this.withLock(msg.id, () =>
      this.record(sending, { status: result.status, providerSid: sid, attempts, errorCode: null, error: null, sentAt: this.deps.clock.now() }),
    );
    this.consecutiveFailures = 0;
    this.deps.onSent?.(accepted, latencyMs);
    this.deps.log.info({ sms: msg.id, sid, provider: this.deps.provider.name, attempts, latencyMs: Math.round(latencyMs) }, 'SMS handed to provider');
    if (closed) this.recovered();
    await this.replayEarlyReceipts(sid);
  }

  private async failed(msg: OutboundSms, attempts: number, err: SmsSendError, permit: BreakerPermit): Promise<void> {
    this.lastError = err.message;
    // A rejected message (bad number) says nothing against the provider's health: it answered. An outage does.
    if (err.transient) {
      this.consecutiveFailures++;
      if (this.gate.troubled(permit)) {
        this.deps.log.error({ provider: this.deps.provider.name, err: err.message }, 'SMS provider failing; circuit breaker open, sends wait for a probe');
        for (const waiting of this.ready) this.gate.watchDelay(waiting);
      }
    } else if (this.gate.answered(permit)) {
      this.recovered();
    }
    const giveUp = !err.transient || (attempts >= (this.deps.maxAttempts ?? 7) && !(await this.gate.keepsTrying(msg)));
    const fields = { attempts, errorCode: err.providerCode, error: err.message };
    if (giveUp) {
      this.sendBodies.delete(msg.id);
      this.gate.unwatch(msg.id);
      const failed = await this.record(msg, { status: 'failed', ...fields });
      this.deps.log.error({ sms: msg.id, attempts, code: err.providerCode, transient: err.transient, err: err.message }, 'SMS failed for good');
      this.deps.onFailed?.(failed);
      return;
    }
    const waiting = await this.record(msg, { status: 'sending', ...fields });
    if (!this.running) return;
    const delay = this.gate.retryDelay((this.deps.backoffMs ?? defaultBackoffMs)(attempts));
    this.deps.log.warn({ sms: msg.id, attempts, code: err.providerCode, retryInMs: delay, err: err.message }, 'SMS send failed, will retry');
    this.gate.retryLater(waiting, delay);
    this.gate.watchDelay(waiting);
  }

  /**
   * Announces a message that is still not handed over at its delay threshold. One never tried (held back by the open
   * breaker since it was queued) gets the reason as its error first, so that views can tell it from a normal queue.
   */
  private async announceDelay(id: string): Promise<void> {
    try {
      let row = await this.deps.store.sms.get(id);
      if (!this.running || !row || (row.status !== 'queued' && row.status !== 'sending')) return;
      if (row.error === null && !this.active.has(id)) {
        const reason = `not sent yet: the SMS provider is failing (circuit breaker ${this.gate.health().state})`;
        row = (await this.writer.write(id, { status: row.status, error: reason, at: this.deps.clock.now() })) ?? row;
      }
      this.deps.bus.emit('smsDelayed', row);
    } catch (err) {
      this.deps.log.error({ err, sms: id }, 'could not check a delayed SMS');
    }
  }

  /**
   * A masked message (a sign-in code) whose clear text died with an earlier process. Storing the code in clear to
   * survive a restart would put it back in the log; the person asks for a new code instead (the old one expires anyway).
   */
  private async unsendable(msg: OutboundSms): Promise<void> {
    await this.record(msg, { status: 'failed', attempts: msg.attempts, errorCode: null, error: 'not sent: its text was not kept across a restart; a new code must be requested' });
    this.deps.log.warn({ sms: msg.id, purpose: msg.purpose }, 'masked SMS not sent after a restart');
  }

  /** Writes an update and announces a status change; keeps going on the in-memory copy if the row vanished. */
  private async record(prev: OutboundSms, update: Omit<SmsStatusUpdate, 'at'>): Promise<OutboundSms> {
    const at = this.deps.clock.now();
    const stored = await this.writer.write(prev.id, { ...update, at });
    const next = stored ?? { ...prev, ...definedFields(update), updatedAt: at };
    if (next.status !== prev.status) this.deps.bus.emit('smsStatusChanged', next);
    return next;
  }

  // ---- receipts --------------------------------------------------------------------------------

  private async applyReceipt(id: string, status: SmsStatus, errorCode: string | null): Promise<boolean> {
    const row = await this.deps.store.sms.get(id);
    if (!row) return false;
    if (!advances(row.status, status)) {
      this.deps.log.debug({ sms: id, from: row.status, to: status }, 'stale status callback ignored');
      return true;
    }
    const failing = status === 'failed' || status === 'undelivered';
    await this.record(row, {
      status,
      ...(failing ? { errorCode: errorCode ?? row.errorCode, error: `delivery ${status}${errorCode ? ` (provider error ${errorCode})` : ''}` } : {}),
    });
    if (isFinal(status) && row.providerSid) this.sidToId.delete(row.providerSid);
    return true;
  }

  private rememberSid(sid: string, id: string): void {
    this.sidToId.set(sid, id);
    if (this.sidToId.size > SID_CACHE_MAX) {
      const oldest = this.sidToId.keys().next();
      if (!oldest.done) this.sidToId.delete(oldest.value);
    }
  }

  private holdEarlyReceipt(params: StatusCallbackParams): void {
    const now = this.deps.clock.now();
    for (const [sid, list] of this.earlyReceipts) {
      if (list.every((r) => now - r.at > EARLY_RECEIPT_TTL_MS)) this.earlyReceipts.delete(sid);
    }
    if (this.earlyReceipts.size >= EARLY_RECEIPT_MAX) return;
    const list = this.earlyReceipts.get(params.MessageSid) ?? [];
    list.push({ params, at: now });
    this.earlyReceipts.set(params.MessageSid, list);
  }

  private async replayEarlyReceipts(sid: string): Promise<void> {
    const list = this.earlyReceipts.get(sid);
    if (!list) return;
    this.earlyReceipts.delete(sid);
    for (const { params } of list) await this.handleStatusCallback(params);
  }

  /** Runs `work` after earlier work on the same message: receipts and the send's own update never interleave. */
  private async withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(work);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}

function definedFields(update: Omit<SmsStatusUpdate, 'at'>): Partial<OutboundSms> {
  const out: Partial<OutboundSms> = { status: update.status };
  if (update.providerSid !== undefined) out.providerSid = update.providerSid;
  if (update.attempts !== undefined) out.attempts = update.attempts;
  if (update.errorCode !== undefined) out.errorCode = update.errorCode;
  if (update.error !== undefined) out.error = update.error;
  if (update.sentAt !== undefined) out.sentAt = update.sentAt;
  return out;
}
