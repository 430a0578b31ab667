// Visit plans for coordinators: list occurrences, create, change, pause, resume, cancel and reassign, each input checked first.
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import { ID_PATTERN } from '../registry/schema.js';
import type { Store } from '../storage/ports.js';
import { parseSchedule, type Schedule } from './cron.js';
import { blankRecord, occurrencesOf, toView } from './occurrences.js';
import {
  addDays,
  daysBetween,
  isoLocal,
  localDate,
  localParts,
  parseDate,
  parseInstant,
  startOfDay,
  type CivilDate,
} from '../core/time.js';
import {
  DAY_MS,
  MINUTE_MS,
  planState,
  type Occurrence,
  type OccurrenceView,
  type VisitPlan,
  type VisitPlanState,
  type VisitSettings,
} from './types.js';

export interface VisitCoreDeps {
  store: Pick<Store, 'registry' | 'visits' | 'transaction'>;
  clock: Clock;
  log: Logger;
  timeZone: string;
  settings: VisitSettings;
}

export interface NewVisitInput {
  id?: string;
  volunteer: string;
  resident: string;
  cron?: string;
  at?: string;
  durationMinutes: number;
  activity: string;
}

export type VisitPatch = Partial<Omit<NewVisitInput, 'id'>>;

export interface OccurrenceQuery {
  from: string;
  to: string;
  volunteer?: string;
  resident?: string;
  community?: string;
}

export interface VisitPlanView extends Pick<VisitPlan, 'id' | 'volunteer' | 'resident' | 'cron' | 'at' | 'durationMinutes' | 'activity'> {
  state: VisitPlanState;
  /** Start of the next occurrence that will take place, within the overlap horizon. */
  next: string | null;
}

export function badRequest(message: string): GatewayError {
  return new GatewayError('GW_ERR_BAD_REQUEST', message);
}

const MAX_DURATION_MINUTES = 24 * 60;

export class VisitSchedule {
  /** Plans already warned about (by id and schedule), so a per-minute sweep does not repeat the warning. */
  private readonly warned = new Set<string>();

  constructor(private readonly deps: VisitCoreDeps) {}

  /** GET /api/visits: occurrences of local days from..to (inclusive), filtered. */
  async list(q: OccurrenceQuery): Promise<OccurrenceView[]> {
    const from = parseDate(q.from);
    const to = parseDate(q.to);
    if (!from) throw badRequest(`from must be a date "YYYY-MM-DD", got "${q.from}"`);
    if (!to) throw badRequest(`to must be a date "YYYY-MM-DD", got "${q.to}"`);
    const days = daysBetween(from, to) + 1;
    if (days < 1) throw badRequest('to must not be before from');
    if (days > this.deps.settings.maxRangeDays)
      throw badRequest(`the range spans ${days} days; at most ${this.deps.settings.maxRangeDays} days per request`);
    const { timeZone } = this.deps;
    let list = await this.occurrencesBetween(startOfDay(from, timeZone), startOfDay(addDays(to, 1), timeZone));
    if (q.volunteer) list = list.filter((o) => o.volunteer === q.volunteer);
    if (q.resident) list = list.filter((o) => o.resident === q.resident);
    if (q.community) {
      const inCommunity = new Set(
        (await this.deps.store.registry.listResidents()).filter((r) => r.community === q.community).map((r) => r.id),
      );
      list = list.filter((o) => inCommunity.has(o.resident));
    }
    return list.map((o) => toView(o, timeZone));
  }

  /** Every plan's occurrences starting in [from, to), by start then visit id. */
  async occurrencesBetween(from: number, to: number, plans?: VisitPlan[]): Promise<Occurrence[]> {
    const all = plans ?? (await this.deps.store.visits.listPlans());
    const records = await this.deps.store.visits.listRecords(from, to);
    const out: Occurrence[] = [];
    for (const plan of all) out.push(...occurrencesOf(plan, this.scheduleOf(plan), records, from, to, this.statusContext()));
    return out.sort((a, b) => a.start - b.start || (a.plan.id < b.plan.id ? -1 : a.plan.id > b.plan.id ? 1 : 0));
  }

  /** One occurrence by its plan and start, or a 400 naming what is wrong. */
  async occurrence(visitId: string, startText: string): Promise<Occurrence> {
    const plan = await this.plan(visitId);
    const start = parseInstant(startText, this.deps.timeZone);
    if (start === null) throw badRequest(`start must be a local "YYYY-MM-DDTHH:MM" or an ISO 8601 time, got "${startText}"`);
    const found = await this.occurrencesBetween(start, start + 1, [plan]);
    const occurrence = found[0];
    if (!occurrence) throw badRequest(`visit ${visitId} has no occurrence starting at ${isoLocal(start, this.deps.timeZone)}`);
    return occurrence;
  }

  async plan(id: string): Promise<VisitPlan> {
    const plan = await this.deps.store.visits.getPlan(id);
    if (!plan) throw new GatewayError('GW_ERR_NOT_FOUND', `visit ${id} not found`);
    return plan;
  }

  async view(id: string): Promise<VisitPlanView> {
    return this.viewOf(await this.plan(id));
  }

  async create(input: NewVisitInput): Promise<VisitPlanView> {
    return this.deps.store.transaction(async () => {
      const now = this.deps.clock.now();
      const id = input.id ?? newId('vis', now);
      if (!ID_PATTERN.test(id)) throw badRequest(`id "${id}" must be 1-64 characters from A-Z a-z 0-9 _ . : -`);
      if (await this.deps.store.visits.getPlan(id)) throw badRequest(`visit ${id} already exists`);
      const plan: VisitPlan = {
        id,
        volunteer: input.volunteer,
        resident: input.resident,
        cron: input.cron ?? null,
        at: input.at ?? null,
        durationMinutes: input.durationMinutes,
        activity: input.activity,
        createdAt: now,
        cancelledAt: null,
        pausedSince: null,
        pauses: [],
        formerVolunteers: [],
        updatedAt: now,
      };
      await this.validate(plan);
      await this.deps.store.visits.savePlan(plan);
      this.deps.log.info({ visit: id, volunteer: plan.volunteer, resident: plan.resident }, 'visit created');
      return this.viewOf(plan);
    });
  }

  /** Changes the definition; a new volunteer takes the occurrences from now on (reassignment). */
  async update(id: string, patch: VisitPatch): Promise<VisitPlanView> {
    return this.deps.store.transaction(async () => {
      const old = await this.plan(id);
      if (old.cancelledAt !== null) throw badRequest(`visit ${id} is cancelled`);
      if (patch.cron !== undefined && patch.at !== undefined) throw badRequest('give either cron (recurring) or at (one-off), not both');
      const now = this.deps.clock.now();
      const plan: VisitPlan = {
        ...old,
        volunteer: patch.volunteer ?? old.volunteer,
        resident: patch.resident ?? old.resident,
        cron: patch.cron !== undefined ? patch.cron : patch.at !== undefined ? null : old.cron,
        at: patch.at !== undefined ? patch.at : patch.cron !== undefined ? null : old.at,
        durationMinutes: patch.durationMinutes ?? old.durationMinutes,
        activity: patch.activity ?? old.activity,
        updatedAt: now,
      };
      const reassigned = plan.volunteer !== old.volunteer;
      if (reassigned) {
        // Occurrences already decided (past their missed-visit moment) stay with the former volunteer.
        const untilStart = now - this.deps.settings.missedAfterMinutes * MINUTE_MS;
        plan.formerVolunteers = [
          ...old.formerVolunteers.filter((f) => f.untilStart < untilStart),
          { volunteer: old.volunteer, untilStart },
        ];
      }
      await this.validate(plan);
      if (reassigned) await this.markReassigned(old, plan, now);
      await this.deps.store.visits.savePlan(plan);
      this.deps.log.info({ visit: id, fields: Object.keys(patch), reassigned }, 'visit changed');
      return this.viewOf(plan);
    });
  }

  async pause(id: string): Promise<VisitPlanView> {
    return this.changeState(id, 'pause', (plan, now) => {
      if (plan.pausedSince !== null) throw badRequest(`visit ${id} is already paused`);
      return { ...plan, pausedSince: now };
    });
  }

  async resume(id: string): Promise<VisitPlanView> {
    return this.changeState(id, 'resume', (plan, now) => {
      if (plan.pausedSince === null) throw badRequest(`visit ${id} is not paused`);
      return { ...plan, pausedSince: null, pauses: [...plan.pauses, [plan.pausedSince, now]] };
    });
  }

  async cancel(id: string): Promise<VisitPlanView> {
    return this.changeState(id, 'cancel', (plan, now) => ({ ...plan, cancelledAt: now }));
  }

  async cancelOccurrence(visitId: string, startText: string, note?: string): Promise<OccurrenceView> {
    return this.deps.store.transaction(async () => {
      const o = await this.occurrence(visitId, startText);
      if (o.status === 'checked_in' || o.status === 'done')
        throw badRequest(`that occurrence is already ${o.status === 'done' ? 'done' : 'checked in'}`);
      if (o.status === 'cancelled') throw badRequest('that occurrence is already cancelled');
      const now = this.deps.clock.now();
      const record = {
        ...(o.record ?? blankRecord(o, now)),
        status: 'cancelled' as const,
        cancelledAt: now,
        note: note ?? null,
        updatedAt: now,
      };
      await this.deps.store.visits.saveRecord(record);
      return toView({ ...o, status: 'cancelled', record }, this.deps.timeZone);
    });
  }

  /** Gives one occurrence to another volunteer; it raises no missed-visit alarm (they may learn of it late). */
  async reassignOccurrence(visitId: string, startText: string, volunteerId: string): Promise<OccurrenceView> {
    return this.deps.store.transaction(async () => {
      const o = await this.occurrence(visitId, startText);
      if (o.status !== 'scheduled') throw badRequest(`only a scheduled occurrence can be reassigned; this one is ${o.status}`);
      if (o.volunteer === volunteerId) throw badRequest(`volunteer ${volunteerId} already does that occurrence`);
      await this.requireVolunteer(volunteerId);
      const theirs = (await this.occurrencesBetween(o.start - DAY_MS, o.end + DAY_MS)).filter(
        (x) => x.volunteer === volunteerId && x.status !== 'cancelled' && x.start < o.end && o.start < x.end,
      );
      const clash = theirs[0];
      if (clash)
        throw badRequest(`volunteer ${volunteerId} already has visit ${clash.plan.id} at ${isoLocal(clash.start, this.deps.timeZone)}`);
      const now = this.deps.clock.now();
      const base = o.record ?? blankRecord(o, now);
      const record = { ...base, volunteerId, reassignedFrom: base.reassignedFrom ?? o.volunteer, updatedAt: now };
      await this.deps.store.visits.saveRecord(record);
      return toView({ ...o, volunteer: volunteerId, record }, this.deps.timeZone);
    });
  }

  scheduleOf(plan: VisitPlan): Schedule | null {
    const parsed = parseSchedule(plan, this.deps.timeZone);
    if (parsed.ok) return parsed.schedule;
    const key = `${plan.id}|${plan.cron ?? ''}|${plan.at ?? ''}`;
    if (!this.warned.has(key)) {
      this.warned.add(key);
      this.deps.log.warn({ visit: plan.id, error: parsed.error }, 'visit has no usable schedule; it has no occurrences');
    }
    return null;
  }

  statusContext() {
    return { now: this.deps.clock.now(), timeZone: this.deps.timeZone, missedAfterMinutes: this.deps.settings.missedAfterMinutes };
  }

  private async changeState(id: string, what: string, change: (plan: VisitPlan, now: number) => VisitPlan): Promise<VisitPlanView> {
    return this.deps.store.transaction(async () => {
      const old = await this.plan(id);
      if (old.cancelledAt !== null) throw badRequest(`visit ${id} is cancelled`);
      const now = this.deps.clock.now();
      const plan = { ...change(old, now), updatedAt: now };
      if (planState(plan) === 'active') await this.checkOverlap(plan);
      await this.deps.store.visits.savePlan(plan);
      this.deps.log.info({ visit: id, action: what }, 'visit state changed');
      return this.viewOf(plan);
    });
  }

  private async validate(plan: VisitPlan): Promise<void> {
    const parsed = parseSchedule(plan, this.deps.timeZone);
    if (!parsed.ok) throw badRequest(parsed.error);
    const d = plan.durationMinutes;
    if (!Number.isInteger(d) || d < 1 || d > MAX_DURATION_MINUTES)
      throw badRequest(`durationMinutes must be a whole number from 1 to ${MAX_DURATION_MINUTES}`);
    if (plan.activity.trim() === '') throw badRequest('activity must not be empty');
    await this.requireVolunteer(plan.volunteer);
    if (!(await this.deps.store.registry.getResident(plan.resident))) throw badRequest(`unknown resident ${plan.resident}`);
    if (planState(plan) === 'active') await this.checkOverlap(plan);
  }

  private async requireVolunteer(id: string): Promise<void> {
    const known = (await this.deps.store.registry.listVolunteers()).some((v) => v.id === id);
    if (!known) throw badRequest(`unknown volunteer ${id}`);
  }

  /** No two of a volunteer's occurrences in the coming weeks may overlap (this plan's own included). */
  private async checkOverlap(plan: VisitPlan): Promise<void> {
    const now = this.deps.clock.now();
    const to = now + this.deps.settings.overlapHorizonDays * DAY_MS;
    const others = (await this.deps.store.visits.listPlans()).filter((p) => p.id !== plan.id && planState(p) === 'active');
    const all = await this.occurrencesBetween(now, to, [plan, ...others]);
    const live = all.filter((o) => o.volunteer === plan.volunteer && o.status !== 'cancelled');
    const mine = live.filter((o) => o.plan.id === plan.id);
    const tz = this.deps.timeZone;
    for (let i = 1; i < mine.length; i++) {
      const [a, b] = [mine[i - 1], mine[i]];
      if (a && b && b.start < a.end)
        throw badRequest(`occurrences of this visit overlap each other: ${isoLocal(a.start, tz)} lasts past ${isoLocal(b.start, tz)}`);
    }
    for (const m of mine) {
      const clash = live.find((o) => o.plan.id !== plan.id && o.start < m.end && m.start < o.end);
      if (clash) {
        throw badRequest(
          `overlaps visit ${clash.plan.id} of volunteer ${plan.volunteer}: ${isoLocal(m.start, tz)} (${plan.durationMinutes} min) meets ${isoLocal(clash.start, tz)}–${isoLocal(clash.end, tz)}`,
        );
      }
    }
  }

  /**
   * Occurrences the former volunteer may already have been reminded of (today's, and tomorrow's once the evening
   * reminder went out) go to the new one marked as reassigned, so a late handover raises no missed-visit alarm.
   */
  private async markReassigned(old: VisitPlan, plan: VisitPlan, now: number): Promise<void> {
    const tz = this.deps.timeZone;
    const today: CivilDate = localDate(now, tz);
    const reminded = localParts(now, tz).hour * 60 + localParts(now, tz).minute >= reminderMinutes(this.deps.settings.reminderTime);
    const until = startOfDay(addDays(today, reminded ? 2 : 1), tz);
    const from = now - this.deps.settings.missedAfterMinutes * MINUTE_MS;
    for (const o of await this.occurrencesBetween(from, until, [old])) {
      if (o.status !== 'scheduled' || (o.record && o.record.volunteerId !== old.volunteer)) continue;
      const base = o.record ?? blankRecord(o, now);
      await this.deps.store.visits.saveRecord({ ...base, volunteerId: plan.volunteer, reassignedFrom: old.volunteer, updatedAt: now });
    }
  }

  private async viewOf(plan: VisitPlan): Promise<VisitPlanView> {
    const now = this.deps.clock.now();
    const upcoming = await this.occurrencesBetween(now, now + this.deps.settings.overlapHorizonDays * DAY_MS, [plan]);
    const next = upcoming.find((o) => o.status === 'scheduled');
    return {
      id: plan.id,
      volunteer: plan.volunteer,
      resident: plan.resident,
      cron: plan.cron,
      at: plan.at,
      durationMinutes: plan.durationMinutes,
      activity: plan.activity,
      state: planState(plan),
      next: next ? isoLocal(next.start, this.deps.timeZone) : null,
    };
  }
}

/** Minutes after local midnight of a "HH:MM". */
export function reminderMinutes(hhmmText: string): number {
  const [h, m] = hhmmText.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}
