// The incident state machine: signals open, join or cancel incidents; people acknowledge and resolve them; every change is audited.
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import { newCode, newId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import {
  ACTIVE_STATES,
  type AuditChannel,
  type AuditEntry,
  type EscalationSettings,
  type Incident,
  type IncidentState,
  type IncidentType,
  type OutboundSms,
  type Resident,
  type Responder,
  type Signal,
} from '../core/types.js';
import type { EscalationEngine } from '../escalation/engine.js';
import { familyKey, stepKey } from '../escalation/engine.js';
import type { DurableTimers } from '../escalation/timers.js';
import type { Pager } from '../paging/pager.js';
import { buildEscalationPlan } from '../paging/selection.js';
import { decide } from '../rules/rules.js';
import { isPress, recordTestPress, testWindowOf } from './test-press.js';
import type { DurableTimer, Durability, Store } from '../storage/ports.js';

export interface IncidentEvents {
  incidentChanged: [Incident, AuditEntry];
}

export type DeviceCommand = { type: 'alarm_received' | 'responder_assigned' | 'resolved'; incident: string; [key: string]: unknown };

export interface DeviceCommands {
  publishCommand(deviceId: string, command: DeviceCommand): Promise<void>;
}

/**
 * Where an alarm's time goes on its way to its first page (the slow-alarm log, metrics/slow-alarms.ts). Each call only
 * notes the time: it is cheap and never throws.
 */
export interface AlarmStageMarks {
  /** These signals left the processor's queue for handleSignals. */
  taken(signals: readonly Signal[]): void;
  /** Their transaction began its work. */
  began(signals: readonly Signal[]): void;
  /** The signal opened this incident and paged its first step in the transaction. */
  opened(signal: Signal, incidentId: string): void;
  /** Their transaction committed: called before any SMS it enqueued starts. */
  committed(signals: readonly Signal[]): void;
}

export interface IncidentServiceDeps {
  store: Pick<Store, 'registry' | 'events' | 'incidents' | 'sms' | 'testPresses' | 'transaction' | 'afterCommit'>;
  bus: EventBus<IncidentEvents>;
  clock: Clock;
  log: Logger;
  timeZone: string;
  timers: DurableTimers;
  engine: EscalationEngine;
  pager: Pager;
  commands: DeviceCommands;
  /**
   * How the transaction that acts on signals commits (default `normal`). `normal` only where the database ends with
   * this process (SQLite): a restart replays the events it lost. Where the database can crash under a running node
   * (PostgreSQL), `full`: that node never restarts to replay them, and the pages sent after the commit must not
   * outlive the rows that say they were sent (a recovered server would open the incident afresh, page its first step
   * again, and restart its escalation clock from zero).
   */
  signalsDurability?: Durability;
  /** Notes the instants of each alarm's way to its first page (ALARM_SLOW_LOG_MS); none: nothing is noted. */
  stages?: AlarmStageMarks;
}

const FALL_WINDOW = 'fall_window';
/** Signal types rules.decide() ignores whatever the resident's incident state (kept in step with rules/rules.ts; a test checks it). */
export const INFORMATIONAL: ReadonlySet<Signal['type']> = new Set(['motion', 'heartbeat', 'low_battery']);

/** Effects that must wait until the transaction has committed (MQTT commands, bus events). */
type AfterCommit = (() => void)[];
/** Family pages recorded as timers due now in the transaction that opened an incident: fired once it has committed. */
type FamilyLater = DurableTimer[];
/** What a signal's decision reads (signalReads). */
interface SignalReads {
  active: Incident | null;
  settings: EscalationSettings;
  resident: Resident | null;
  testWindow: { id: string } | null;
}
/** The `created` entry of an incident created open, written with its `opened` and step 1's `paged` ones. */
type CreatedEntry = { by: Responder; channel: AuditChannel; detail: Record<string, unknown> };
type AuditItem = { incident: Incident; action: string; by: Responder; channel: AuditChannel; detail: Record<string, unknown> };

export class IncidentService {
  /**
   * Family pages fired after the batch that opened their incidents committed, not finished yet, by resident: the next
   * batch goes on without them, but one with another alarm of the same resident waits, so each incident's changes
   * keep their order.
   */
  private readonly familyPending = new Map<string, Promise<void>>();

  constructor(private readonly deps: IncidentServiceDeps) {}

  /**
   * Acts on recorded signals and marks them processed, all in one transaction. On SQLite its commit is not synced
   * (`normal`): everything in it derives from events that are synced already and stay unprocessed until
   * this commit is on disk, so a power loss that takes it away replays them on start (a page may go out
   * twice; none is lost), and a process crash loses nothing at all. That keeps an fsync off the alarm path.
   * On PostgreSQL it is synced (see signalsDurability).
   */
  async handleSignals(signals: Signal[]): Promise<void> {
    const after: AfterCommit = [];
    const family: FamilyLater = [];
    // An alarm may reach two nodes (one replaying or adopting what another recorded): whoever holds its event
    // acts on it, once; the other skips it. Everyday events are left out: acting on one twice changes nothing.
    const alarms = signals.filter((s) => !INFORMATIONAL.has(s.type)).map((s) => s.eventId);
    const { stages } = this.deps;
    if (alarms.length > 0) stages?.taken(signals);
    await this.familyPagesOf(signals);
    const paging = new Set<string>();
    await this.deps.store.transaction(
      async () => {
        if (stages && alarms.length > 0) {
          stages.began(signals);
          // Queued first, so it runs at the COMMIT before the pages' sends, which were queued after it.
          this.deps.store.afterCommit(() => stages.committed(signals));
        }
        // The first alarm's reads go with the check of which alarms another node holds (one round trip on PostgreSQL):
        // nothing is written before them either way. A later alarm's reads follow the writes of those before it.
        const first = signals.find((s) => !INFORMATIONAL.has(s.type));
        const [takenIds, firstReads] = await Promise.all([
          this.deps.store.events.alreadyTaken(alarms),
          first ? this.signalReads(first) : null,
        ]);
        const taken = new Set(takenIds);
        const mine = taken.size === 0 ? signals : signals.filter((s) => !taken.has(s.eventId));
        for (const signal of mine) {
          // Everyday events (motion, heartbeat) are the bulk under load and no rule acts on them: no reads for them.
          if (INFORMATIONAL.has(signal.type)) continue;
          const before = family.length;
          await this.applySignal(signal, after, family, signal === first && firstReads ? firstReads : await this.signalReads(signal));
          if (family.length > before) paging.add(signal.residentId);
        }
        await this.deps.store.events.markProcessedMany(mine.map((s) => s.eventId));
      },
      // Only a batch that may page needs its commit synced: one of everyday events only opens nothing, and a crash
      // that takes its commit away leaves them unprocessed, to be marked again.
      { durability: alarms.length > 0 ? (this.deps.signalsDurability ?? 'normal') : 'normal' },
    );
    // The pages' SMS requests start as this transaction commits; device commands and bus events (live
    // feed, telemetry, metrics) wait one turn of the event loop so they do not hold those requests up.
    if (after.length > 0) setImmediate(() => this.runAfterCommit(after));
    // The family's pages go in a transaction of their own, after the responder's page has committed and left, while
    // the next batch of alarms goes on: each is a durable timer (family_page) already committed, so one that fails
    // or never runs (the process ends) is retried by the timers, or fired by a restart or another node.
    if (family.length > 0) this.pageFamiliesLater(family, paging);
  }

  /** Resolves once every family page started so far has run (or failed, to be retried by its timer). */
  async familyPagesDone(): Promise<void> {
    while (this.familyPending.size > 0) await Promise.all(this.familyPending.values());
  }

  /** Waits for the family pages still running for the residents of these alarms (none for everyday events). */
  private async familyPagesOf(signals: Signal[]): Promise<void> {
    if (this.familyPending.size === 0) return;
    const waits = new Set<Promise<void>>();
    for (const s of signals) {
      const pending = INFORMATIONAL.has(s.type) ? undefined : this.familyPending.get(s.residentId);
      if (pending) waits.add(pending);
    }
    if (waits.size > 0) await Promise.all(waits);
  }

  private pageFamiliesLater(family: FamilyLater, residents: ReadonlySet<string>): void {
    const run = this.pageFamiliesNow(family).catch((err: unknown) => {
      this.deps.log.error({ err }, 'family pages could not be started; their timers retry them');
    });
    for (const r of residents) this.familyPending.set(r, run);
    void run.finally(() => {
      for (const r of residents) if (this.familyPending.get(r) === run) this.familyPending.delete(r);
    });
  }

  /** Fires the deferred family pages now (each in its own claiming transaction); a failure retries on the timer. */
  private async pageFamiliesNow(family: FamilyLater): Promise<void> {
    await Promise.all(family.map((timer) => this.deps.timers.fireNow(timer)));
  }

  private runAfterCommit(after: AfterCommit): void {
    for (const fn of after) {
      try {
        fn();
      } catch (err) {
        this.effectFailed(err);
      }
    }
  }

  private effectFailed(err: unknown): void {
    this.deps.log.error({ err }, 'an effect of a committed incident change failed');
  }

  /**
   * An alarm raised by a person rather than a device (a volunteer at an unanswered door), or by the inactivity
   * monitor: opens an incident and pages at once, or joins the resident's active one.
   */
  async raiseForResident(
    residentId: string,
    type: 'door_unanswered' | 'inactivity',
    by: Responder,
    channel: AuditChannel,
    detail: Record<string, unknown>,
  ): Promise<Incident> {
    const after: AfterCommit = [];
    const family: FamilyLater = [];
    const incident = await this.deps.store.transaction(async () => {
      let active = await this.deps.store.incidents.findActiveForResident(residentId);
      // A real alarm never joins a weekly test: the test ends and the alarm opens on its own.
      if (active?.test === true) {
        await this.endTest(active.id, `a real alarm (${type})`, after);
        active = null;
      }
      if (active) {
        await this.audit(active, 'alarm_joined', by, channel, { alarm: type, ...detail }, after);
        return active;
      }
      const resident = await this.deps.store.registry.getResident(residentId);
      if (!resident) throw new GatewayError('GW_ERR_UNKNOWN_RESIDENT', `resident ${residentId} is not in the registry`);
      const now = this.deps.clock.now();
      const created = await this.createIncident(resident, type, now, now, false, 'open');
      const createdEntry = { by, channel, detail: { alarm: type, ...detail } };
      await this.openAndPage(created, by.name, channel, type, after, family, { resident, fresh: true, created: createdEntry });
      return (await this.deps.store.incidents.get(created.id)) ?? created;
    });
    for (const fn of after) fn();
    await this.pageFamiliesNow(family);
    return incident;
  }

  /** Handles a due durable timer inside the claiming transaction; returns the effects to run after commit. */
  async onTimer(timer: DurableTimer): Promise<AfterCommit> {
    const after: AfterCommit = [];
    await this.timerStep(timer, after);
    return after;
  }

  private async timerStep(timer: DurableTimer, after: AfterCommit): Promise<void> {
    switch (timer.kind) {
      case 'fall_cancel_window': {
        const incident = await this.deps.store.incidents.get(timer.incidentId);
        if (!incident || incident.state !== 'pending') return;
        const family: FamilyLater = [];
        await this.openAndPage(incident, 'system', 'system', 'fall not cancelled in time', after, family);
        for (const t of family) after.push(() => void this.deps.timers.fireNow(t));
        return;
      }
      case 'family_page': {
        const incident = await this.deps.store.incidents.get(timer.incidentId);
        if (!incident) return;
        const entry = await this.deps.engine.pageDeferredFamily(incident);
        // The board and the live feed show the incident's pages: tell them the family's are out.
        if (entry) after.push(() => this.deps.bus.emit('incidentChanged', incident, entry));
        return;
      }
      case 'escalation_step': {
        const updated = await this.deps.engine.onTimer(timer);
        if (updated) after.push(() => this.emitLatest(updated));
        return;
      }
      case 'voice_call':
        // Handled by the call step (gateway/voice) when voice calls are on; without them there is nothing to do.
        return;
    }
  }

  async acknowledge(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident> {
    const after: AfterCommit = [];
    const result = await this.deps.store.transaction(async () => {
      const incident = await this.require(id);
      if (incident.state !== 'open' && incident.state !== 'pending') {
        throw new GatewayError('GW_ERR_INVALID_TRANSITION', invalidMessage(incident, 'acknowledged'), {
          state: incident.state,
          acknowledgedBy: incident.acknowledgedBy?.name ?? null,
        });
      }
      const now = this.deps.clock.now();
      await this.familyFirst(incident, after);
      await this.deps.timers.cancelForIncident(id);
      const updated = await this.transition(incident, 'acknowledged', by, channel, { note: note ?? null }, after, {
        acknowledgedAt: now,
        acknowledgedBy: by,
        nextStepAt: null,
        unassigned: false,
      });
      const resident = await this.deps.store.registry.getResident(incident.residentId);
      if (resident) await this.deps.pager.notifyTaken(updated, resident, by, await this.deps.store.sms.listForIncident(id));
      this.command(updated, { type: 'responder_assigned', incident: id, responder: by.name, role: by.role }, after);
      return updated;
    });
    for (const fn of after) fn();
    return result;
  }

  async resolve(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident> {
    const after: AfterCommit = [];
    const result = await this.deps.store.transaction(async () => {
      const incident = await this.require(id);
      if (incident.state === 'resolved' || incident.state === 'cancelled') {
        throw new GatewayError('GW_ERR_INVALID_TRANSITION', invalidMessage(incident, 'resolved'), { state: incident.state });
      }
      await this.familyFirst(incident, after);
      await this.deps.timers.cancelForIncident(id);
      const updated = await this.transition(incident, 'resolved', by, channel, { note: note ?? null }, after, {
        resolvedAt: this.deps.clock.now(),
        nextStepAt: null,
      });
      const resident = await this.deps.store.registry.getResident(incident.residentId);
      if (resident) await this.deps.pager.notifyResolved(updated, resident);
      this.command(updated, { type: 'resolved', incident: id, outcome: 'resolved' }, after);
      return updated;
    });
    for (const fn of after) fn();
    return result;
  }

  /**
   * "已到达": the responder is with the resident. Only after an acknowledgement (someone must have taken it), recorded
   * once for time-to-attend; the same person tapping again is not an error, anyone else after them is told who was first.
   */
  async markOnSite(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident> {
    const after: AfterCommit = [];
    const result = await this.deps.store.transaction(async () => {
      const incident = await this.require(id);
      if (incident.onSiteAt && incident.onSiteBy && sameResponder(incident.onSiteBy, by)) return incident;
      if (incident.state !== 'acknowledged' || incident.onSiteAt) {
        const why = incident.onSiteAt ? `${incident.onSiteBy?.name ?? 'someone'} is already on site` : `it is ${incident.state}`;
        throw new GatewayError('GW_ERR_INVALID_TRANSITION', `incident ${id} cannot be marked on site: ${why}`, {
          state: incident.state,
          onSiteBy: incident.onSiteBy?.name ?? null,
        });
      }
      const now = this.deps.clock.now();
      await this.deps.store.incidents.markOnSite(id, now, by);
      const updated: Incident = { ...incident, onSiteAt: now, onSiteBy: by };
      await this.audit(updated, 'on_site', by, channel, { note: note ?? null }, after);
      return updated;
    });
    for (const fn of after) fn();
    return result;
  }

  /** "2" from the paged responder: page the next one now instead of waiting for the timeout. */
  async decline(id: string, by: Responder, channel: AuditChannel, pagedAtStep: number | null): Promise<Incident> {
    const after: AfterCommit = [];
    const result = await this.deps.store.transaction(async () => {
      const incident = await this.require(id);
      await this.audit(incident, 'declined', by, channel, { step: pagedAtStep }, after);
      if (pagedAtStep === null) return incident;
      const advanced = await this.deps.engine.advanceNow(incident, pagedAtStep, 'declined');
      if (advanced) after.push(() => this.emitLatest(advanced));
      return advanced ?? incident;
    });
    for (const fn of after) fn();
    return result;
  }

  /**
   * A call to the paged responder ended without an answer (busy, no answer, answered with no key, failed, or over a
   * provider's cap): it goes on the timeline, and the next responder is paged now instead of at the timeout.
   */
  async advanceAfterCall(id: string, step: number, reason: string, detail: Record<string, unknown>): Promise<void> {
    const after: AfterCommit = [];
    await this.deps.store.transaction(async () => {
      const incident = await this.deps.store.incidents.get(id);
      if (!incident) return;
      await this.audit(incident, reason, { role: 'staff', id: null, name: 'system', phone: null }, 'voice', { step, ...detail }, after);
      const advanced = await this.deps.engine.advanceNow(incident, step, reason);
      if (advanced) after.push(() => this.emitLatest(advanced));
    });
    for (const fn of after) fn();
  }

  /**
   * A page could not be delivered: it goes on the timeline (and so on the board), and a responder's page moves on to
   * the next responder without waiting for the timeout. A family page has nobody to move on to: the duty officer phones.
   */
  async onPageFailed(msg: OutboundSms): Promise<void> {
    if (msg.purpose !== 'page' || !msg.incidentId || msg.step === null) return;
    const { incidentId, step } = msg;
    const after: AfterCommit = [];
    await this.deps.store.transaction(async () => {
      const incident = await this.deps.store.incidents.get(incidentId);
      if (!incident) return;
      const detail = { step, status: msg.status, errorCode: msg.errorCode, sms: msg.id, to: msg.to, pagedRole: msg.role, error: msg.error };
      await this.audit(incident, 'page_failed', { role: 'staff', id: null, name: 'system', phone: null }, 'system', detail, after);
      if (msg.role === 'family') return;
      const advanced = await this.deps.engine.advanceNow(incident, step, 'delivery_failed');
      if (advanced) after.push(() => this.emitLatest(advanced));
    });
    for (const fn of after) fn();
  }

  /**
   * Taken or resolved before the follow-up transaction paged the family: they are paged here first (what step 1 would
   * have told them), so they hear of the alarm before they hear who is coming or that it is over, and never twice.
   */
  private async familyFirst(incident: Incident, after: AfterCommit): Promise<void> {
    if (incident.state !== 'open' || incident.test === true) return;
    if (!(await this.deps.timers.claimNow(familyKey(incident.id, 1)))) return;
    const entry = await this.deps.engine.pageDeferredFamily(incident);
    if (entry) after.push(() => this.deps.bus.emit('incidentChanged', incident, entry));
  }

  /**
   * What a signal's decision reads: its resident's active incident, the escalation settings, and for a press its
   * resident and test window. Independent reads, asked at once: a store that pipelines (PostgreSQL) answers them in one
   * round trip.
   */
  private async signalReads(signal: Signal): Promise<SignalReads> {
    const { store } = this.deps;
    const [active, settings, { resident, testWindow }] = await Promise.all([
      store.incidents.findActiveForResident(signal.residentId),
      store.registry.escalationSettings(),
      this.pressContext(signal),
    ]);
    return { active, settings, resident, testWindow };
  }

  private async applySignal(signal: Signal, after: AfterCommit, family: FamilyLater, reads: SignalReads): Promise<void> {
    const { store, clock } = this.deps;
    const { active, settings, resident, testWindow } = reads;
    const decision = decide(signal, active, settings, { inTestWindow: testWindow !== null });
    const actor = `device:${signal.deviceId}`;
    switch (decision.kind) {
      case 'open': {
        const owner = resident ?? (await store.registry.getResident(signal.residentId));
        if (!owner) throw new Error(`resident ${signal.residentId} of device ${signal.deviceId} is not in the registry`);
        if (decision.endsTest) await this.endTest(decision.endsTest, 'a real alarm from the resident', after);
        const now = clock.now();
        // An alarm that opens at once is stored open: the row ends as the UPDATE to `open` would leave it, one round trip
        // sooner. The audit trail and the live feed still see it created pending, then opened.
        const stored = decision.state === 'open' ? 'open' : 'pending';
        const incident = await this.createIncident(owner, decision.type, now, signal.receivedAt, decision.test, stored);
        const plan = incident.plan;
        await store.incidents.linkSignal(incident.id, signal.eventId);
        const created = {
          signal: signal.type,
          eventId: signal.eventId,
          deviceId: signal.deviceId,
          ...(decision.test && testWindow ? { test: true, testWindow: testWindow.id } : {}),
        };
        if (testWindow) await recordTestPress(store, signal, testWindow.id, incident.id, decision.test);
        const createdEntry = { by: deviceResponder(signal.deviceId), channel: 'device' as const, detail: created };
        if (decision.state === 'open') {
          // Its `created` and `opened` entries are written together, in one statement.
          await this.openAndPage(incident, actor, 'device', signal.type, after, family, {
            resident: owner,
            fresh: true,
            created: createdEntry,
          });
          this.deps.stages?.opened(signal, incident.id);
        } else {
          await this.audit(incident, 'created', createdEntry.by, createdEntry.channel, created, after);
          const dueAt = now + plan.fallCancelSeconds * 1000;
          await this.deps.timers.schedule({
            key: `${incident.id}:${FALL_WINDOW}`,
            kind: 'fall_cancel_window',
            incidentId: incident.id,
            dueAt,
            payload: {},
          });
          const pending = { ...incident, nextStepAt: dueAt };
          await store.incidents.update(pending);
          this.command(
            pending,
            { type: 'alarm_received', incident: incident.id, state: 'pending', cancelWithinSeconds: plan.fallCancelSeconds },
            after,
          );
        }
        return;
      }
      case 'join': {
        const incident = await this.require(decision.incidentId);
        const joined = { ...incident, signalCount: incident.signalCount + 1, lastSignalAt: signal.receivedAt };
        await store.incidents.update(joined);
        await store.incidents.linkSignal(incident.id, signal.eventId);
        await this.audit(
          joined,
          'signal_joined',
          deviceResponder(signal.deviceId),
          'device',
          { signal: signal.type, eventId: signal.eventId, deviceId: signal.deviceId },
          after,
        );
        if (testWindow) await recordTestPress(store, signal, testWindow.id, incident.id, incident.test === true);
        if (decision.openNow) {
          await this.deps.timers.claimNow(`${incident.id}:${FALL_WINDOW}`);
          await this.openAndPage(joined, actor, 'device', `${signal.type} during the fall cancel window`, after, family, {
            ...(resident ? { resident } : {}),
          });
        }
        return;
      }
      case 'cancel': {
        const incident = await this.require(decision.incidentId);
        await this.deps.timers.cancelForIncident(incident.id);
        const cancelled = await this.transition(
          incident,
          'cancelled',
          deviceResponder(signal.deviceId),
          'device',
          { reason: 'false alarm: cancelled before anyone was paged' },
          after,
          {
            cancelledAt: clock.now(),
            nextStepAt: null,
          },
        );
        this.command(cancelled, { type: 'resolved', incident: incident.id, outcome: 'cancelled' }, after);
        return;
      }
      case 'cancel_after_page': {
        const incident = await this.require(decision.incidentId);
        await this.audit(
          incident,
          'resident_cancel_after_page',
          deviceResponder(signal.deviceId),
          'device',
          { note: 'responders were already paged; a person must stand the response down' },
          after,
        );
        return;
      }
      case 'ignore':
        return;
    }
  }

  /**
   * A press's resident (read once per signal: the test window, the new incident and its first step all use it) and the
   * test window it falls in; neither for other signals.
   */
  private async pressContext(signal: Signal): Promise<{ resident: Resident | null; testWindow: { id: string } | null }> {
    if (!isPress(signal)) return { resident: null, testWindow: null };
    const resident = await this.deps.store.registry.getResident(signal.residentId);
    return { resident, testWindow: resident ? await testWindowOf(this.deps.store, signal, resident) : null };
  }

  /**
   * A test window closed (ran out, or ended by hand): its test incidents still active are resolved as tests, recording
   * whether the worker answered. Returns the incidents closed.
   */
  async endTests(windowId: string, reason: string): Promise<string[]> {
    const after: AfterCommit = [];
    const closed = await this.deps.store.transaction(async () => {
      const ids = await this.deps.store.testPresses.activeIncidentsOf(windowId);
      for (const id of ids) await this.endTest(id, reason, after);
      return ids;
    });
    for (const fn of after) fn();
    return closed;
  }

  /** Resolves a test incident (inside the caller's transaction); a real one is never touched. */
  private async endTest(id: string, reason: string, after: AfterCommit): Promise<void> {
    const incident = await this.deps.store.incidents.get(id);
    if (!incident || incident.test !== true || !ACTIVE_STATES.includes(incident.state)) return;
    await this.deps.timers.cancelForIncident(id);
    const answered = incident.acknowledgedBy
      ? { answeredBy: incident.acknowledgedBy.name, answeredAt: incident.acknowledgedAt }
      : { answeredBy: null };
    const ended = await this.transition(
      incident,
      'resolved',
      { role: 'staff', id: null, name: 'system', phone: null },
      'system',
      { test: true, reason: `test ended: ${reason}`, ...answered },
      after,
      {
        resolvedAt: this.deps.clock.now(),
        nextStepAt: null,
      },
    );
    this.command(ended, { type: 'resolved', incident: id, outcome: 'test_ended' }, after);
  }

  /**
   * Stores a new incident with its escalation plan frozen now; a test's plan names no family, so none is ever told.
   * Returns it pending (as its `created` entry shows it); `stored`: the state its row is written with ('open' when
   * openAndPage follows at once in this transaction).
   */
  private async createIncident(
    resident: Resident,
    type: IncidentType,
    now: number,
    openedAt: number,
    test = false,
    stored: 'pending' | 'open' = 'pending',
  ): Promise<Incident> {
    const { store } = this.deps;
    const built = buildEscalationPlan({
      resident,
      community: await store.registry.getCommunity(resident.community),
      workers: await store.registry.listWorkers(),
      settings: await store.registry.escalationSettings(),
      now,
      timeZone: this.deps.timeZone,
    });
    const plan = test ? { ...built, family: [] } : built;
    const incident: Incident = {
      id: newId('inc', now),
      code: newCode(),
      residentId: resident.id,
      communityId: resident.community,
      type,
      state: 'pending',
      step: 0,
      unassigned: false,
      plan,
      openedAt,
      firstPagedAt: null,
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedAt: null,
      cancelledAt: null,
      signalCount: type === 'door_unanswered' || type === 'inactivity' ? 0 : 1,
      lastSignalAt: openedAt,
      nextStepAt: null,
      ...(test ? { test: true } : {}),
    };
    await store.incidents.create({ ...incident, state: stored });
    return incident;
  }

  /**
   * Opens the incident and pages step 1's responder; the family's step-1 pages are left to `family`, fired after the
   * commit. `fresh`: created in this transaction (no page of it exists yet); `resident`: the row already read.
   */
  private async openAndPage(
    incident: Incident,
    actor: string,
    channel: AuditChannel,
    reason: string,
    after: AfterCommit,
    family: FamilyLater,
    opts: { resident?: Resident; fresh?: boolean; created?: CreatedEntry } = {},
  ): Promise<void> {
    const by: Responder = { role: 'staff', id: null, name: actor, phone: null };
    let opened: Incident;
    // Created open in this transaction (the row already says so): its `created` and `opened` entries are written with
    // step 1's `paged` one, in one insert.
    let before: AuditItem[] = [];
    if (opts.created) {
      opened = { ...incident, state: 'open' };
      const c = opts.created;
      before = [
        { incident, action: 'created', by: c.by, channel: c.channel, detail: c.detail },
        { incident: opened, action: 'opened', by, channel, detail: { from: incident.state, reason } },
      ];
    } else {
      opened = await this.transition(incident, 'open', by, channel, { reason }, after, {});
    }
    // Step 1 runs now; its key is claimed so a restart cannot run it a second time. An incident created in this
    // transaction has no timer yet (its id is new and uncommitted, seen by no other node): no claim, one round trip less.
    if (opts.fresh !== true) await this.deps.timers.claimNow(stepKey(incident.id, 1));
    const now = this.deps.clock.now();
    const {
      updated: paged,
      familyLater,
      trail,
    } = await this.deps.engine.openStep(opened, 'opened', {
      ...(opts.resident ? { resident: opts.resident } : {}),
      ...(opts.fresh ? { fresh: true } : {}),
      before: before.map((item) => this.entryOf(item, now)),
    });
    if (familyLater) family.push(familyLater);
    // The entries' ids come with the COMMIT's answer: announced in order once it is in, this step's own entry last (not
    // the latest one when the commit is done: the family's may follow it at once).
    after.push(() => {
      trail
        .then(({ before: written, entry }) => {
          before.forEach(({ incident: of }, i) => this.deps.bus.emit('incidentChanged', of, written[i]!));
          this.deps.bus.emit('incidentChanged', paged, entry);
        })
        .catch((err: unknown) => this.effectFailed(err));
    });
    this.command(paged, { type: 'alarm_received', incident: incident.id, state: 'open' }, after);
  }

  private async transition(
    incident: Incident,
    to: IncidentState,
    by: Responder,
    channel: AuditChannel,
    detail: Record<string, unknown>,
    after: AfterCommit,
    changes: Partial<Incident>,
  ): Promise<Incident> {
    const updated: Incident = { ...incident, ...changes, state: to };
    await this.deps.store.incidents.update(updated);
    await this.audit(updated, to === 'open' ? 'opened' : to, by, channel, { from: incident.state, ...detail }, after);
    return updated;
  }

  private entryOf({ incident, action, by, channel, detail }: AuditItem, at: number): Omit<AuditEntry, 'id'> {
    return {
      incidentId: incident.id,
      at,
      action,
      actor: by.id ? `${by.role}:${by.id}` : by.name,
      channel,
      detail: { ...detail, by: by.name, role: by.role },
    };
  }

  private async audit(
    incident: Incident,
    action: string,
    by: Responder,
    channel: AuditChannel,
    detail: Record<string, unknown>,
    after: AfterCommit,
  ): Promise<AuditEntry> {
    const entry = await this.deps.store.incidents.appendAudit(
      this.entryOf({ incident, action, by, channel, detail }, this.deps.clock.now()),
    );
    after.push(() => this.deps.bus.emit('incidentChanged', incident, entry));
    return entry;
  }

  private emitLatest(incident: Incident): void {
    void this.deps.store.incidents
      .listAudit(incident.id)
      .then((entries) => {
        const last = entries.at(-1);
        if (last) this.deps.bus.emit('incidentChanged', incident, last);
      })
      // The database went away after the commit: the dashboards miss this change until their next read, nothing more.
      .catch((err: unknown) => this.deps.log.warn({ err, incident: incident.id }, 'incident change not announced'));
  }

  private command(incident: Incident, command: DeviceCommand, after: AfterCommit): void {
    after.push(() => {
      void this.deps.store.registry
        .listDevicesOfResident(incident.residentId)
        .then(async (devices) => {
          for (const d of devices) {
            await this.deps.commands.publishCommand(d.id, command).catch((err: unknown) => {
              this.deps.log.warn({ err, deviceId: d.id, command: command.type }, 'device command not delivered');
            });
          }
        })
        // The database went away just after the commit (a crash): unhandled, this rejection would stop the node. The
        // devices get the incident's state when they next start a session (the resync), so a warning is enough.
        .catch((err: unknown) => {
          this.deps.log.warn(
            { err, resident: incident.residentId, command: command.type },
            'device command not sent: devices not readable',
          );
        });
    });
  }

  private async require(id: string): Promise<Incident> {
    const incident = await this.deps.store.incidents.get(id);
    if (!incident) throw new GatewayError('GW_ERR_INCIDENT_NOT_FOUND', `incident ${id} not found`);
    return incident;
  }
}

function deviceResponder(deviceId: string): Responder {
  return { role: 'staff', id: null, name: `device:${deviceId}`, phone: null };
}

function sameResponder(a: Responder, b: Responder): boolean {
  return a.id !== null ? a.id === b.id && a.role === b.role : a.name === b.name;
}

function invalidMessage(incident: Incident, to: IncidentState): string {
  const by = incident.acknowledgedBy ? ` by ${incident.acknowledgedBy.name}` : '';
  return `incident ${incident.id} is ${incident.state}${incident.state === 'acknowledged' ? by : ''}; it cannot be ${to}`;
}
