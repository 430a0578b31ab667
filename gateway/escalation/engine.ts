// Escalation: runs step n of an incident's frozen plan, then arms step n+1 for when nobody has acknowledged.
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { ACTIVE_STATES, type AuditEntry, type EscalationSettings, type Incident, type OutboundSms, type Resident } from '../core/types.js';
import type { Pager } from '../paging/pager.js';
import { buildEscalationPlan, responderForStep } from '../paging/selection.js';
import type { DurableTimer, Store } from '../storage/ports.js';
import type { DurableTimers } from './timers.js';

export interface EscalationDeps {
  store: Pick<Store, 'registry' | 'incidents'>;
  timers: DurableTimers;
  pager: Pager;
  clock: Clock;
  log: Logger;
  timeZone: string;
  /**
   * Voice calls are on: a worker or duty contact whose page is unanswered this many seconds later is called (the
   * plan's own `voiceAfterSeconds`, frozen from the registry, wins). Undefined: no calls.
   */
  voiceAfterSeconds?: number;
  /** Called after each step with the incident as it now stands (inside the transaction). */
  onStep?: (incident: Incident, pages: OutboundSms[]) => void;
}

export function stepKey(incidentId: string, step: number): string {
  return `${incidentId}:step:${step}`;
}

/** The call of step n's responder, armed with the step and cancelled with the incident's other timers. */
/** The deferred family page of step n (step 1 of a newly opened incident); cancelled with the incident's other timers. */
export function familyKey(incidentId: string, step: number): string {
  return `${incidentId}:family:${step}`;
}

export function callKey(incidentId: string, step: number): string {
  return `${incidentId}:call:${step}`;
}

/** What a step did: the incident as it left it, the family's page left to the caller, and its audit entries. */
export interface StepDone {
  updated: Incident;
  familyLater: DurableTimer | null;
  /**
   * The step's own entry and the caller's `before` ones, with their ids: settled once the transaction has committed
   * (the write is not waited for inside it), for what is announced then. Rejects if the transaction fails.
   */
  trail: Promise<{ entry: AuditEntry; before: AuditEntry[] }>;
}

export class EscalationEngine {
  constructor(private readonly deps: EscalationDeps) {}

  /**
   * Pages the responder of `step` (and the family on step 1), records it and arms the next step.
   * Call inside a transaction, with the step's timer already claimed.
   */
  async runStep(incident: Incident, step: number, reason: string): Promise<Incident> {
    return (await this.step(incident, step, reason, {})).updated;
  }

  /**
   * Step 1 of an incident that has just opened (call inside the opening transaction, with step 1's timer claimed).
   * The responder is paged here; the family's pages wait for a `family_page` timer recorded here and due now, so the
   * responder's page commits without waiting for theirs. The caller fires that timer (`familyLater`) after its commit;
   * if this process dies first, a restart or another node fires it. With nobody to page, the family is paged here.
   * `resident`: the row the caller already read; `fresh`: the incident was created in this transaction; `before`: the
   * caller's audit entries, written ahead of the step's own in the same insert (in `trail`, with their ids, as `before`).
   */
  async openStep(
    incident: Incident,
    reason: string,
    opts: { resident?: Resident; fresh?: boolean; before?: Omit<AuditEntry, 'id'>[] } = {},
  ): Promise<StepDone> {
    return this.step(incident, 1, reason, { ...opts, deferFamily: true });
  }

  /**
   * The deferred family page of step 1 (its timer claimed by the caller): pages the family as step 1 would have,
   * naming step 1's responder from the incident's plan as it stood then. Not for a resolved or cancelled incident:
   * resolving one pages its family first while this is still due.
   */
  async pageDeferredFamily(incident: Incident): Promise<AuditEntry | null> {
    if (!ACTIVE_STATES.includes(incident.state) || incident.test === true) return null;
    const resident = await this.deps.store.registry.getResident(incident.residentId);
    if (!resident) throw new Error(`resident ${incident.residentId} of incident ${incident.id} is not in the registry`);
    const pages = await this.deps.pager.pageFamily(incident, resident, responderForStep(incident.plan, 1), 1);
    if (pages.length === 0) return null;
    // Its own entry: the trail shows when the family was paged, and the change announced for it is a new one (a
    // repeated `paged` would count the first page twice in the incident metrics and telemetry).
    return this.deps.store.incidents.appendAudit({
      incidentId: incident.id,
      at: this.deps.clock.now(),
      action: 'family_paged',
      actor: 'system',
      channel: 'system',
      detail: { step: 1, family: resident.family.length, pages: pages.length },
    });
  }

  private async step(
    incident: Incident,
    step: number,
    reason: string,
    opts: { resident?: Resident; fresh?: boolean; deferFamily?: boolean; before?: Omit<AuditEntry, 'id'>[] },
  ): Promise<StepDone> {
    const { store, clock, pager } = this.deps;
    const now = clock.now();
    const resident = opts.resident ?? (await store.registry.getResident(incident.residentId));
    if (!resident) throw new Error(`resident ${incident.residentId} of incident ${incident.id} is not in the registry`);

    let plan = incident.plan;
    let before = opts.before ?? [];
    const written: AuditEntry[] = [];
    if (plan.responders.length === 0) {
      // The caller's entries go first, ahead of the re-plan's own.
      if (before.length > 0) written.push(...(await store.incidents.appendAudits(before)));
      before = [];
      // Nobody was on duty when the plan froze: look again at every step rather than page no one forever.
      plan = await this.replan(incident, resident, now);
    }
    const responder = responderForStep(plan, step);
    const pages: OutboundSms[] = [];
    if (responder) pages.push(...(await pager.pageResponder(incident, resident, responder, step, { fresh: opts.fresh === true })));
    // The family hears at once; with no worker or station to page, they are paged again every round. A test press
    // never reaches the family, and never escalates: an unanswered test page is itself the finding.
    const test = incident.test === true;
    const familyPaged = !test && (step === 1 || !responder);
    let familyLater: DurableTimer | null = null;
    if (familyPaged && opts.deferFamily === true && responder && pages.length > 0 && resident.family.length > 0) {
      familyLater = {
        key: familyKey(incident.id, step),
        kind: 'family_page',
        incidentId: incident.id,
        dueAt: now,
        payload: { step },
      };
    } else if (familyPaged) {
      pages.push(...(await pager.pageFamily(incident, resident, responder, step)));
    }

    const nextStepAt = test ? null : now + plan.ackTimeoutSeconds * 1000;
    const updated: Incident = {
      ...incident,
      plan,
      step,
      firstPagedAt: incident.firstPagedAt ?? (pages.length > 0 ? now : null),
      nextStepAt,
      unassigned: pages.length === 0,
    };
    // The row and the step's entry (after the caller's) in one write, not waited for: their ids are read after the commit.
    const entries = store.incidents.updateWithAudits(updated, [
      ...before,
      {
        incidentId: incident.id,
        at: now,
        action: pages.length > 0 ? 'paged' : 'unassigned',
        actor: 'system',
        channel: 'system',
        detail: {
          step,
          reason,
          responder: responder ? { role: responder.role, id: responder.id, name: responder.name } : null,
          family: familyPaged ? resident.family.length : 0,
          nextStepAt,
          ...(test ? { test: true } : {}),
        },
      },
    ]);
    const trail = entries.then((all) => ({ entry: all.at(-1)!, before: [...written, ...all.slice(0, -1)] }));
    // Its failure is the transaction's, thrown by its COMMIT: a caller whose transaction failed never reads it.
    trail.catch(() => undefined);
    // The step's timers in one write: the family's page (fired by the caller after its commit, so not armed here), the
    // next step and the voice call.
    const armed: DurableTimer[] = [];
    if (nextStepAt !== null) {
      armed.push({
        key: stepKey(incident.id, step + 1),
        kind: 'escalation_step',
        incidentId: incident.id,
        dueAt: nextStepAt,
        payload: { step: step + 1 },
      });
    }
    const callAfter =
      test || this.deps.voiceAfterSeconds === undefined ? undefined : (plan.voiceAfterSeconds ?? this.deps.voiceAfterSeconds);
    // A call due at or after the step's timeout would come after escalation has moved on: it is not armed.
    if (responder && callAfter !== undefined && callAfter < plan.ackTimeoutSeconds) {
      armed.push({
        key: callKey(incident.id, step),
        kind: 'voice_call',
        incidentId: incident.id,
        dueAt: now + callAfter * 1000,
        payload: { step },
      });
    }
    await this.deps.timers.scheduleAll({ recorded: familyLater ? [familyLater] : [], armed });
    this.deps.onStep?.(updated, pages);
    return { updated, familyLater, trail };
  }

  /** A due escalation timer: page the next responder if the incident is still waiting for one. */
  async onTimer(timer: DurableTimer): Promise<Incident | null> {
    const incident = await this.deps.store.incidents.get(timer.incidentId);
    const step = Number(timer.payload.step);
    if (!incident || incident.state !== 'open' || step !== incident.step + 1) return null;
    return this.runStep(incident, step, 'ack_timeout');
  }

  /**
   * Pages the next responder now (a decline, or a failed delivery), if the incident is still at `fromStep`.
   * Call inside a transaction. Returns null when someone else already moved it on.
   */
  async advanceNow(incident: Incident, fromStep: number, reason: string): Promise<Incident | null> {
    if (incident.state !== 'open' || incident.step !== fromStep) return null;
    // Never wrap around early: at the end of a round the ack timeout decides, or one failing phone would loop.
    const n = incident.plan.responders.length;
    if (n === 0 || fromStep % n === 0) return null;
    if (!(await this.deps.timers.claimNow(stepKey(incident.id, fromStep + 1)))) return null;
    return this.runStep(incident, fromStep + 1, reason);
  }

  /** The registry's settings with what the plan froze kept as it was. */
  private async frozenSettings(incident: Incident): Promise<EscalationSettings> {
    const { voiceAfterSeconds: _current, ...current } = await this.deps.store.registry.escalationSettings();
    const { ackTimeoutSeconds, fallCancelSeconds, voiceAfterSeconds } = incident.plan;
    return { ...current, ackTimeoutSeconds, fallCancelSeconds, ...(voiceAfterSeconds !== undefined ? { voiceAfterSeconds } : {}) };
  }

  private async replan(incident: Incident, resident: Resident, now: number): Promise<Incident['plan']> {
    const { registry } = this.deps.store;
    const plan = buildEscalationPlan({
      resident,
      community: await registry.getCommunity(resident.community),
      workers: await registry.listWorkers(),
      settings: { ...(await this.frozenSettings(incident)) },
      now,
      timeZone: this.deps.timeZone,
    });
    if (plan.responders.length > 0) {
      await this.deps.store.incidents.appendAudit({
        incidentId: incident.id,
        at: now,
        action: 'plan_replanned',
        actor: 'system',
        channel: 'system',
        detail: { responders: plan.responders.map((r) => ({ role: r.role, id: r.id })) },
      });
    }
    return { ...plan, family: incident.plan.family };
  }
}
