// Sends outbound SMS in the background: durable first, bounded concurrency, a fallback provider that takes a message
// at once when the first fails or is capped, retries with backoff behind a circuit breaker per provider, receipts.
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { LeaseKeeper } from '../core/leases.js';
import type { OutboundSms, SmsStatus } from '../core/types.js';
import type { BreakerPermit } from './circuit-breaker.js';
import { SendGate } from './send-gate.js';
import { SendOutcomes } from './send-outcomes.js';
import { SendQueue } from './send-queue.js';
import { SmsSendError, type SmsProvider, type SmsSendResult } from './provider.js';
import { SmsTexts } from './sms-text.js';
import { SmsStatusWriter } from './status-writer.js';
import { ReceiptApplier } from './receipt-applier.js';
import {
  dispatcherHealth,
  type NewOutboundSms,
  type Route,
  type SmsDispatcherDeps,
  type SmsDispatcherHealth,
  type StatusCallbackParams,
} from './dispatch-types.js';

export * from './dispatch-types.js';

export class SmsDispatcher {
  private running = false;
  /** Waiting for a send slot, alarms first, and the slots in use. */
  private readonly queue: SendQueue;
  /** Provider calls in flight, by message id. */
  private readonly active = new Map<string, Promise<void>>();
  /** The provider's circuit breaker, the messages waiting out a backoff, and the delay watch. */
  private readonly gate: SendGate;
  /** Every message this dispatcher holds (ready, active or waiting to retry), so a resume never doubles one. */
  private readonly held = new Set<string>();
  private readonly receipts: ReceiptApplier;
  /** Rendered bodies, and the clear intents of messages stored masked (a sign-in code). */
  private readonly texts: SmsTexts;
  /** The first provider, then the fallback. */
  private readonly routes: Route[];
  private readonly writer: SmsStatusWriter;
  /** What a try ends in, recorded: handed over, retry, failed, over every cap. */
  private readonly outcomes: SendOutcomes;
  /** A pump is scheduled for the next turn of the event loop (see pump). */
  private pumpLater: NodeJS.Immediate | null = null;
  /** Several nodes: renews this node's leases on the messages it holds, and takes over a dead node's. */
  private readonly keeper: LeaseKeeper<OutboundSms> | null;
  /** Held messages whose lease another node took (this node was frozen past it): dropped when they come up. */
  private readonly lost = new Set<string>();

  constructor(private readonly deps: SmsDispatcherDeps) {
    this.writer = new SmsStatusWriter({ store: deps.store });
    this.receipts = new ReceiptApplier({
      store: deps.store,
      clock: deps.clock,
      log: deps.log,
      record: (prev, update) => this.outcomes.record(prev, update),
      sendsInFlight: () => this.active.size,
    });
    this.queue = new SendQueue({ concurrency: deps.concurrency ?? 16, alarmReserve: deps.alarmReserve });
    this.gate = new SendGate({
      clock: deps.clock,
      breaker: deps.breaker,
      log: deps.log,
      keepTrying: deps.keepTrying,
      delayedAfterMs: deps.delayedAfterMs ?? 30_000,
      onProbeDue: () => this.pump(),
      onRetryDue: (msg) => {
        if (!this.running) return;
        this.queue.pushOldestFirst([msg]);
        this.pump();
      },
      onDelayed: (msg) => void this.announceDelay(msg.id),
    });
    this.routes = [{ provider: deps.provider, role: 'primary', gate: this.gate, consecutiveFailures: 0, lastError: null }];
    if (deps.fallback) {
      // Its own breaker; backoffs and the delay watch stay with the queue (the first gate).
      const gate = new SendGate({
        clock: deps.clock,
        breaker: deps.breaker,
        log: deps.log,
        delayedAfterMs: Infinity,
        onProbeDue: () => this.pump(),
        onRetryDue: () => undefined,
        onDelayed: () => undefined,
      });
      this.routes.push({ provider: deps.fallback, role: 'fallback', gate, consecutiveFailures: 0, lastError: null });
    }
    this.texts = new SmsTexts({ publicUrl: deps.publicUrl, catalogue: deps.catalogue });
    this.outcomes = new SendOutcomes({
      ...deps,
      writer: this.writer,
      receipts: this.receipts,
      texts: this.texts,
      gate: this.gate,
      running: () => this.running,
      recovered: () => this.recovered(),
    });
    const { leasing } = deps;
    this.keeper = leasing
      ? new LeaseKeeper({
          ...leasing,
          clock: deps.clock,
          log: deps.log,
          what: 'SMS',
          held: () => this.held,
          taken: (rows) => this.resume(rows),
          lost: (ids) => {
            for (const id of ids) if (this.held.has(id) && !this.active.has(id)) this.lost.add(id);
          },
        })
      : null;
  }

  /** Starts sending, beginning with messages a crash left queued or half sent. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    // Several nodes: only this node's own rows (from before a restart) and those no live node holds.
    const { leasing } = this.deps;
    this.resume(leasing ? await leasing.leases.claim({ mine: true, limit: null }) : await this.deps.store.sms.listUnsent());
    this.keeper?.start();
  }

  /** Messages left unsent by a crash, a stop, or a node that died: queued before the next send, oldest first. */
  private resume(unsent: readonly OutboundSms[]): void {
    if (!this.running) return;
    const resumed: OutboundSms[] = [];
    for (const msg of unsent) {
      if (this.held.has(msg.id)) continue;
      // A message left 'sending' may have reached the provider just before the crash; a duplicate page beats a lost one.
      this.deps.log.info({ sms: msg.id, status: msg.status, priority: msg.priority, attempts: msg.attempts }, 'resuming unsent SMS');
      this.hold(msg);
      resumed.push(msg);
    }
    // All queued before the first send, so a page left behind goes before the routine messages queued ahead of it.
    this.queue.pushOldestFirst(resumed);
    this.pump();
  }

  /** Stops taking new work, cancels retry timers and waits for provider calls in flight; unsent rows resume on the next start. */
  async stop(): Promise<void> {
    this.running = false;
    await this.keeper?.stop();
    for (const route of this.routes) route.gate.stop();
    this.queue.clear();
    if (this.pumpLater) clearImmediate(this.pumpLater);
    this.pumpLater = null;
    await Promise.allSettled([...this.active.values()]);
    await this.writer.flush();
    // What this node still held goes to another node now, not when its lease runs out.
    const unsent = [...this.held].filter((id) => !this.lost.has(id));
    await this.deps.leasing?.leases.release(unsent).catch((err: unknown) => {
      this.deps.log.error({ err: errorMessage(err) }, 'could not hand unsent SMS back; other nodes take them when their lease runs out');
    });
    this.held.clear();
    this.lost.clear();
  }

  /**
   * Persists the message (status `queued`), then sends it in the background; resolves once it is stored.
   * Called inside a transaction, the send waits for its COMMIT (and never happens if it rolls back), so a
   * message is on disk before it can reach the provider.
   */
  async enqueue(msg: NewOutboundSms): Promise<OutboundSms> {
    const now = this.deps.clock.now();
    const { intent, priority, ...fields } = msg;
    const row: OutboundSms = {
      ...fields,
      ...this.texts.stored(intent),
      priority,
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
    this.texts.hold(row.id, intent);
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
  handleStatusCallback(params: StatusCallbackParams): Promise<boolean> {
    return this.receipts.handleStatusCallback(params);
  }

  health(): SmsDispatcherHealth {
    return dispatcherHealth(this.routes, { waiting: this.queue.waiting, sending: this.active.size, backingOff: this.gate.backingOff });
  }

  /** Applies a delivery receipt by the provider's message id (any provider); false for an id no stored message has. */
  handleReceipt(sid: string, status: SmsStatus, errorCode: string | null): Promise<boolean> {
    return this.receipts.handleReceipt(sid, status, errorCode);
  }

  // ---- sending ---------------------------------------------------------------------------------

  private statusCallbackFor(provider: SmsProvider): string | null {
    // Only Twilio is told where to post; the domestic providers push to callback URLs set in their consoles.
    if (provider.name !== 'twilio') return null;
    return `${this.deps.publicUrl.replace(/\/+$/, '')}/webhooks/twilio/status`;
  }

  private admit(msg: OutboundSms): void {
    this.hold(msg);
    this.queue.push(msg);
    this.pump();
  }

  private hold(msg: OutboundSms): void {
    this.held.add(msg.id);
    // Queued while the provider is out: it will wait, so it is watched like one that failed.
    if (!this.gate.isClosed()) this.gate.watchDelay(msg);
  }

  /**
   * Starts one send now and the next on the following turn of the event loop. Building a request in the
   * SDK takes a few hundred microseconds of awaits; started together, an alarm's page, link and family
   * SMS would interleave and the first page would leave last. One per turn lets each request reach the
   * socket before the next is built: alarms first, each priority in the order queued (see SendQueue).
   */
  private pump(): void {
    if (!this.running || !this.queue.hasSendable()) return;
    // The first provider whose breaker lets a call through takes it. While every breaker is open nothing is sent:
    // messages stay queued, neither tried nor failed, until a probe (one at a time) finds a provider back.
    let permit: BreakerPermit | null = null;
    let index = 0;
    for (; index < this.routes.length && !permit; index++) permit = this.routes[index]?.gate.permit() ?? null;
    if (!permit) return;
    const msg = this.queue.take();
    if (!msg) {
      this.routes[index - 1]?.gate.release(permit);
      return;
    }
    this.launch(msg, index - 1, permit);
    if (this.queue.hasSendable() && !this.pumpLater && !permit.probe) {
      this.pumpLater = setImmediate(() => {
        this.pumpLater = null;
        this.pump();
      });
    }
  }

  /** The breaker closed again: messages waiting out a backoff go now too, oldest first, at the usual pace. */
  private recovered(): void {
    const released = this.gate.releaseBackoff();
    this.deps.log.info({ waiting: this.queue.waiting + released.length }, 'SMS provider answers again; circuit breaker closed');
    this.queue.pushOldestFirst(released);
    this.pump();
  }

  private launch(msg: OutboundSms, first: number, permit: BreakerPermit): void {
    const run = this.attempt(msg, first, permit)
      .catch((err: unknown) => {
        // Only storage trouble lands here; the row stays unsent and is resumed on the next start.
        this.deps.log.error({ err, sms: msg.id }, 'SMS attempt could not be recorded');
      })
      .finally(() => {
        this.active.delete(msg.id);
        this.queue.done(msg.id);
        if (!this.gate.isBackingOff(msg.id)) this.held.delete(msg.id);
        this.pump();
      });
    this.active.set(msg.id, run);
  }

  /**
   * One try of a message: through the provider at `first` (whose permit it holds), and when that one fails it or
   * would pass its per-recipient cap, through the next at once, without waiting out a backoff.
   */
  private async attempt(msg: OutboundSms, first: number, permit: BreakerPermit): Promise<void> {
    if (this.lost.delete(msg.id)) {
      // Another node took this message over while this one was frozen: it sends it; this node lets it go.
      this.gate.unwatch(msg.id);
      this.routes[first]?.gate.release(permit);
      this.deps.log.warn({ sms: msg.id }, 'SMS taken over by another node; not sent here');
      return;
    }
    const attempts = msg.attempts + 1;
    // Announced, not stored: the row is already durable as `queued` (or `sending` after a failed try), and a
    // crash before the provider's answer is stored resends it either way. The write would only delay the send.
    const sending: OutboundSms = { ...msg, status: 'sending', attempts, updatedAt: this.deps.clock.now() };
    if (msg.status !== 'sending') this.deps.bus.emit('smsStatusChanged', sending);
    const text = this.texts.forSending(msg);
    if (text === null) {
      this.gate.unwatch(msg.id);
      this.routes[first]?.gate.release(permit);
      await this.outcomes.unsendable(sending);
      return;
    }
    const { intent, body } = text;
    let failure: SmsSendError | null = null;
    const capped: string[] = [];
    for (let i = first; i < this.routes.length; i++) {
      const route = this.routes[i];
      const held = i === first ? permit : (route?.gate.permit() ?? null);
      if (!route || !held) continue;
      const cap = this.deps.caps?.exceeded(route.provider.name, msg) ?? null;
      if (cap) {
        route.gate.release(held);
        capped.push(`${route.provider.name}: ${cap.label}`);
        this.deps.log.warn(
          { sms: msg.id, provider: route.provider.name, cap: cap.label },
          'SMS would pass a provider cap; trying another way',
        );
        continue;
      }
      const started = performance.now();
      let result: SmsSendResult;
      try {
        result = await route.provider.send({
          id: msg.id,
          to: msg.to,
          body,
          intent,
          priority: msg.priority,
          statusCallback: this.statusCallbackFor(route.provider),
        });
      } catch (err) {
        failure =
          err instanceof SmsSendError
            ? err
            : new SmsSendError({ transient: true, providerCode: null, message: errorMessage(err), cause: err });
        this.troubled(route, held, failure);
        if (i + 1 < this.routes.length)
          this.deps.log.warn(
            { sms: msg.id, provider: route.provider.name, err: failure.message },
            'SMS provider failed; handing the message to the fallback at once',
          );
        continue;
      }
      await this.outcomes.handedOver(sending, route, held, result, { latencyMs: performance.now() - started, startedAt: started });
      return;
    }
    if (failure) await this.outcomes.failed(sending, attempts, failure);
    else await this.outcomes.overCap(sending, capped);
  }

  /** A failed call, counted against the provider's breaker when it says the provider is in trouble. */
  private troubled(route: Route, permit: BreakerPermit, err: SmsSendError): void {
    route.lastError = err.message;
    // A rejected message (bad number) says nothing against the provider's health: it answered. An outage does.
    if (err.transient) {
      route.consecutiveFailures++;
      if (route.gate.troubled(permit)) {
        this.deps.log.error({ provider: route.provider.name, err: err.message }, 'SMS provider failing; circuit breaker open');
        if (this.routes.every((r) => !r.gate.isClosed())) for (const waiting of this.queue.values()) this.gate.watchDelay(waiting);
      }
    } else if (route.gate.answered(permit)) {
      this.recovered();
    }
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
}
