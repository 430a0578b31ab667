// The call step of escalation: a worker whose SMS page is unanswered is called; key 1 takes it, 2 passes it on, * repeats.
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import { newId } from '../core/ids.js';
import { LeaseKeeper, type Leasing } from '../core/leases.js';
import type { Logger } from '../core/logger.js';
import type { AuditEntry, Incident, OutboundSms, PlanResponder, Responder } from '../core/types.js';
import { callKey } from '../escalation/engine.js';
import type { DurableTimers } from '../escalation/timers.js';
import type { VoiceProvider } from '../notifiers/voice/port.js';
import { responderForStep } from '../paging/selection.js';
import type { DurableTimer, Store } from '../storage/ports.js';
import { CAP_MEMORY_MS, capReached } from './caps.js';
import { CallConversation, type CallAnswerIncidents } from './conversation.js';
import { OPEN_CALL_STATUSES, type VoiceCall } from './repo.js';
import { takenByOther } from './script.js';
import type { CallEnd, CallRef, CallTurn } from './turns.js';

/** What the call step needs of the incident state machine (gateway/incidents IncidentService). */
export interface CallIncidents extends CallAnswerIncidents {
  /** A call that did not reach the responder: on the timeline, and the next responder is paged at once. */
  advanceAfterCall(id: string, step: number, reason: string, detail: Record<string, unknown>): Promise<void>;
}

export interface CallEvents {
  incidentChanged: [Incident, AuditEntry];
}

export interface VoiceCallsDeps {
  store: Pick<Store, 'registry' | 'incidents' | 'sms' | 'voice' | 'transaction' | 'afterCommit'>;
  provider: VoiceProvider;
  incidents: CallIncidents;
  bus: EventBus<CallEvents>;
  clock: Clock;
  log: Logger;
  timeZone: string;
  webhookKey: string | null;
  /** The durable timers: a call placed instead of an SMS takes the place of the step's own call. */
  timers: Pick<DurableTimers, 'claimNow'>;
  /**
   * Several nodes on one database: each call not yet placed is leased to the node that places it, and this node takes
   * over calls whose node stopped renewing them. Without it (one node), resume() takes every unplaced call.
   */
  leasing?: Leasing<VoiceCall>;
}

const SYSTEM: Responder = { role: 'staff', id: null, name: 'system', phone: null };

export class VoiceCalls {
  /** The provider's last refusal, cleared by the next call it takes: /healthz shows it. */
  private lastError: { at: number; message: string } | null = null;
  /** Settles true once the gateway answers the provider's callbacks (see `callbacksReady`), false on stop. */
  private settleCallbacks: (ready: boolean) => void = () => undefined;
  private readonly callbacks = new Promise<boolean>((resolve) => {
    this.settleCallbacks = resolve;
  });

  /** Calls recorded and not yet handed to the provider, held by this node (their leases are renewed). */
  private readonly holding = new Set<string>();
  /** Held calls whose lease another node took while this one was frozen: not placed here. */
  private readonly lost = new Set<string>();
  private readonly keeper: LeaseKeeper<VoiceCall> | null;
  /** What a call says and what its keys do, once the phone answers. */
  private readonly conversation: CallConversation;

  constructor(private readonly deps: VoiceCallsDeps) {
    this.conversation = new CallConversation({
      store: deps.store,
      incidents: deps.incidents,
      clock: deps.clock,
      timeZone: deps.timeZone,
      provider: deps.provider.name,
      passOn: (call, reason, detail) => this.passOn(call, reason, detail),
    });
    this.keeper = deps.leasing
      ? new LeaseKeeper({
          ...deps.leasing,
          clock: deps.clock,
          log: deps.log,
          what: 'calls',
          held: () => this.holding,
          taken: (calls) => void this.resumeCalls(calls),
          lost: (ids) => ids.forEach((id) => this.lost.add(id)),
        })
      : null;
  }

  /** For /healthz: degraded while the provider's last answer was a refusal (calls then pass straight to the next responder). */
  health(): { status: 'up' | 'degraded'; provider: string; lastError: { at: number; message: string } | null; detail?: string } {
    const { name } = this.deps.provider;
    if (!this.lastError) return { status: 'up', provider: name, lastError: null };
    return {
      status: 'degraded',
      provider: name,
      lastError: this.lastError,
      detail: `voice provider ${name} refused the last call; unanswered pages pass to the next responder at once`,
    };
  }

  /**
   * A call recorded before a stop but not yet handed to the provider is placed now, if its incident still waits at
   * that step; one that may have reached the provider (`placing`) is not placed twice: it counts as failed and the
   * next responder is paged.
   */
  async resume(): Promise<void> {
    const { store, leasing } = this.deps;
    // Several nodes: only this node's own calls (from before a restart) and those no live node holds.
    await this.resumeCalls(leasing ? await leasing.leases.claim({ mine: true, limit: null }) : await store.voice.listUnplaced());
    this.keeper?.start();
  }

  /** Calls left unplaced by a stop, a crash, or a node that died (taken over): placed, passed on, or closed. */
  private async resumeCalls(calls: readonly VoiceCall[]): Promise<void> {
    const { store, clock } = this.deps;
    for (const call of calls) {
      const incident = await store.incidents.get(call.incidentId);
      const now = clock.now();
      if (!incident || incident.state !== 'open' || incident.step !== call.step) {
        await store.voice.transition(call.id, ['queued', 'placing'], { status: 'not_needed', endedAt: now, updatedAt: now });
      } else if (call.status === 'queued') {
        void this.place(call, incident);
      } else if (
        await store.voice.transition(call.id, ['placing'], {
          status: 'failed',
          error: 'the gateway stopped while placing the call',
          endedAt: now,
          updatedAt: now,
        })
      ) {
        void this.passOn(call, 'call_failed', { reason: 'the gateway stopped while placing the call' });
      }
    }
  }

  start(): void {
    // Someone took the incident while a call of it was ringing or playing: say so on that call.
    this.deps.bus.on(this, 'incidentChanged', async (incident) => {
      if (incident.state === 'acknowledged' && incident.acknowledgedBy) await this.announceTaken(incident.id, incident.acknowledgedBy);
    });
  }

  /**
   * The HTTP server now answers the provider's callbacks: calls recorded until then (resumed after a restart, or due
   * while the gateway was starting) are placed now. A call placed earlier could end before anyone listens for its
   * status callback, which providers do not send again; escalation would then wait for the step's timeout.
   */
  callbacksReady(): void {
    this.settleCallbacks(true);
  }

  async stop(): Promise<void> {
    this.deps.bus.removeAll(this);
    const unplaced = [...this.holding];
    // Calls still held stay queued in the store: the next start places them (resume), or another node at once.
    this.settleCallbacks(false);
    await this.keeper?.stop();
    await this.deps.leasing?.leases.release(unplaced).catch((err: unknown) => {
      this.deps.log.error(
        { err: errorMessage(err) },
        'could not hand unplaced calls back; other nodes take them when their lease runs out',
      );
    });
  }

  /**
   * The call timer of a step fired (inside the claiming transaction): the call is recorded now and placed after the
   * commit; a call a cap forbids is not placed, and the next responder is paged instead.
   */
  async onTimer(timer: DurableTimer): Promise<(() => void)[]> {
    const { store, clock, provider, timeZone } = this.deps;
    const step = Number(timer.payload.step);
    const incident = await store.incidents.get(timer.incidentId);
    if (!incident || incident.state !== 'open' || incident.step !== step) return [];
    const responder = responderForStep(incident.plan, step);
    if (!responder) return [];
    const now = clock.now();
    const capped = await capReached(store.voice, provider.name, responder.phone, now, timeZone);
    const call: VoiceCall = {
      ...this.newCall(incident, step, responder, now),
      status: capped ? 'capped' : 'queued',
      endedAt: capped ? now : null,
      error: capped,
    };
    await store.voice.create(call);
    if (capped) {
      return [() => void this.passOn(call, 'call_capped', { reason: capped })];
    }
    await this.audit(incident, 'call_queued', {
      call: call.id,
      step,
      to: call.to,
      name: call.name,
      role: call.role,
      provider: provider.name,
    });
    return [() => void this.place(call, incident)];
  }

  /**
   * An SMS page that no SMS provider may carry now (over their caps) goes as a call instead: the hook the SMS
   * dispatcher's `divert` calls. True when a call was queued for it (the SMS need not go); false when this page cannot
   * be called (not a responder's page, the incident moved on, or the voice provider is over its cap too).
   */
  async callInstead(page: OutboundSms, reason: string): Promise<boolean> {
    const { store, clock, provider, timeZone, timers } = this.deps;
    if (page.purpose !== 'page' || !page.incidentId || page.step === null || (page.role !== 'worker' && page.role !== 'duty_contact'))
      return false;
    const { incidentId, step } = page;
    const placed = await store.transaction(async () => {
      const incident = await store.incidents.get(incidentId);
      const responder = incident ? responderForStep(incident.plan, step) : null;
      if (!incident || incident.state !== 'open' || incident.step !== step || !responder || responder.phone !== page.to) return null;
      const now = clock.now();
      if (await capReached(store.voice, provider.name, page.to, now, timeZone)) return null;
      // This call replaces the page: the step's own call (a minute later) is not made as well.
      await timers.claimNow(callKey(incidentId, step));
      const call: VoiceCall = { ...this.newCall(incident, step, responder, now), status: 'queued' };
      await store.voice.create(call);
      await this.audit(incident, 'call_instead_of_sms', {
        call: call.id,
        step,
        to: call.to,
        name: call.name,
        provider: provider.name,
        reason,
      });
      return { call, incident };
    });
    if (!placed) return false;
    void this.place(placed.call, placed.incident);
    return true;
  }

  /** Places a recorded call; a provider that refuses it moves escalation on at once. */
  private async place(call: VoiceCall, incident: Incident): Promise<void> {
    this.holding.add(call.id);
    try {
      await this.placeHeld(call, incident);
    } finally {
      this.holding.delete(call.id);
      this.lost.delete(call.id);
    }
  }

  private async placeHeld(call: VoiceCall, incident: Incident): Promise<void> {
    const { store, clock, provider, log } = this.deps;
    if (!(await this.callbacks)) return;
    if (this.lost.has(call.id)) return;
    if (!(await store.voice.transition(call.id, ['queued'], { status: 'placing', updatedAt: clock.now() }))) return;
    try {
      const script = await this.conversation.scriptFor(incident);
      const placed = await provider.place({ id: call.id, to: call.to, text: script.text, params: script.params });
      const now = clock.now();
      this.lastError = null;
      await store.voice.recordPlaced(provider.name, call.to, now, now - CAP_MEMORY_MS);
      await store.voice.transition(call.id, ['placing'], { status: 'ringing', providerCallId: placed.providerCallId, updatedAt: now });
      // A fast provider may have reported the call before its id was stored: the id is set whatever the status.
      await store.voice.transition(call.id, OPEN_CALL_STATUSES, { providerCallId: placed.providerCallId, updatedAt: now });
      await this.audit(incident, 'call_placed', {
        call: call.id,
        step: call.step,
        to: call.to,
        name: call.name,
        provider: provider.name,
        providerCallId: placed.providerCallId,
      });
    } catch (err) {
      log.error({ err: errorMessage(err), call: call.id, incident: call.incidentId }, 'voice call not placed');
      this.lastError = { at: clock.now(), message: errorMessage(err) };
      if (
        await store.voice.transition(call.id, ['placing'], {
          status: 'failed',
          error: errorMessage(err),
          endedAt: clock.now(),
          updatedAt: clock.now(),
        })
      ) {
        await this.passOn(call, 'call_failed', { reason: errorMessage(err) });
      }
    }
  }

  /** WEBHOOK_KEY, which the unsigned callbacks of the provider must carry. */
  get webhookKey(): string | null {
    return this.deps.webhookKey;
  }

  /** What the call says when the phone answers (Twilio fetches it), or null for an unknown call. */
  answered(callId: string, providerCallId: string): Promise<CallTurn | null> {
    return this.conversation.answered(callId, providerCallId);
  }

  /** A key pressed on the call (1 takes it, 2 passes it on, any other replays the page): what the call says next. */
  keyPressed(ref: CallRef, key: string): Promise<CallTurn | null> {
    return this.conversation.keyPressed(ref, key);
  }

  /** The call ended; unless a key already decided it, escalation moves on at once. False for an unknown call. */
  ended(ref: CallRef, end: CallEnd, detail: Record<string, unknown> = {}): Promise<boolean> {
    return this.conversation.ended(ref, end, detail);
  }

  /** The phone is ringing, or was answered (providers that report it apart from fetching instructions). */
  progressed(ref: CallRef, to: 'ringing' | 'in_progress'): Promise<boolean> {
    return this.conversation.progressed(ref, to);
  }

  private async passOn(call: VoiceCall, reason: string, detail: Record<string, unknown>): Promise<void> {
    try {
      await this.deps.incidents.advanceAfterCall(call.incidentId, call.step, reason, {
        call: call.id,
        to: call.to,
        name: call.name,
        provider: call.provider,
        ...detail,
      });
    } catch (err) {
      // The step's ack timeout still stands behind this: the next responder is paged then at the latest.
      this.deps.log.error(
        { err: errorMessage(err), call: call.id, incident: call.incidentId },
        'could not move escalation on after a call',
      );
    }
  }

  private async announceTaken(incidentId: string, by: Responder): Promise<void> {
    const { store, provider, clock } = this.deps;
    for (const call of await store.voice.listForIncident(incidentId)) {
      if (!OPEN_CALL_STATUSES.includes(call.status) || call.to === by.phone) continue;
      if (
        !(await store.voice.transition(call.id, OPEN_CALL_STATUSES, { status: 'not_needed', endedAt: clock.now(), updatedAt: clock.now() }))
      )
        continue;
      if (call.providerCallId && provider.announce) await provider.announce(call.providerCallId, takenByOther(by.name));
    }
  }

  private newCall(incident: Incident, step: number, responder: PlanResponder, now: number): VoiceCall {
    return {
      id: newId('call', now),
      incidentId: incident.id,
      step,
      to: responder.phone,
      personId: responder.id,
      role: responder.role,
      name: responder.name,
      provider: this.deps.provider.name,
      providerCallId: null,
      status: 'queued',
      key: null,
      createdAt: now,
      updatedAt: now,
      endedAt: null,
      error: null,
    };
  }

  private async audit(incident: Incident, action: string, detail: Record<string, unknown>): Promise<void> {
    const entry = await this.deps.store.incidents.appendAudit({
      incidentId: incident.id,
      at: this.deps.clock.now(),
      action,
      actor: SYSTEM.name,
      channel: 'voice',
      detail,
    });
    this.deps.store.afterCommit(() => this.deps.bus.emit('incidentChanged', incident, entry));
  }
}
