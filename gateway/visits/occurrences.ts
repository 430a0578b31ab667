// Pure occurrence logic: a plan's schedule expanded over a range, merged with what happened, each with its status.
import { expandSchedule, type Schedule } from './cron.js';
import { isoLocal } from '../core/time.js';
import { MINUTE_MS, type Occurrence, type OccurrenceRecord, type OccurrenceStatus, type OccurrenceView, type VisitPlan } from './types.js';

export interface StatusContext {
  now: number;
  timeZone: string;
  missedAfterMinutes: number;
}

/** Who does the occurrence starting at `start`: a reassignment keeps earlier occurrences with the former volunteer. */
export function volunteerAt(plan: VisitPlan, start: number): string {
  for (const former of plan.formerVolunteers) if (start < former.untilStart) return former.volunteer;
  return plan.volunteer;
}

/**
 * Paused or cancelled plans stop occurrences whose missed-visit moment had not passed yet, so an occurrence under
 * way without a check-in raises no alarm once a coordinator has stopped the visit.
 */
export function stoppedAt(plan: VisitPlan, start: number, missedAfterMinutes: number): boolean {
  const decisive = start + missedAfterMinutes * MINUTE_MS;
  if (plan.cancelledAt !== null && decisive > plan.cancelledAt) return true;
  const pauses = plan.pausedSince === null ? plan.pauses : [...plan.pauses, [plan.pausedSince, Infinity] as const];
  return pauses.some(([from, to]) => decisive > from && start < to);
}

export function statusOf(plan: VisitPlan, start: number, record: OccurrenceRecord | null, ctx: StatusContext): OccurrenceStatus {
  if (record && record.status !== 'scheduled') return record.status;
  if (stoppedAt(plan, start, ctx.missedAfterMinutes)) return 'cancelled';
  return ctx.now >= start + ctx.missedAfterMinutes * MINUTE_MS ? 'missed' : 'scheduled';
}

/**
 * The plan's occurrences with from <= start < to, ascending. Records whose start the schedule no longer
 * produces (the plan was changed after they happened) are kept: history does not move with an edit.
 */
export function occurrencesOf(
  plan: VisitPlan,
  schedule: Schedule | null,
  records: readonly OccurrenceRecord[],
  from: number,
  to: number,
  ctx: StatusContext,
): Occurrence[] {
  const lower = plan.createdAt === null ? from : Math.max(from, plan.createdAt);
  const starts = new Set(schedule ? expandSchedule(schedule, lower, to, ctx.timeZone) : []);
  const byStart = new Map<number, OccurrenceRecord>();
  for (const r of records) {
    if (r.visitId !== plan.id || r.start < from || r.start >= to) continue;
    byStart.set(r.start, r);
    starts.add(r.start);
  }
  return [...starts]
    .sort((a, b) => a - b)
    .map((start) => {
      const record = byStart.get(start) ?? null;
      return {
        plan,
        start,
        end: record?.end ?? start + plan.durationMinutes * MINUTE_MS,
        volunteer: record?.volunteerId ?? volunteerAt(plan, start),
        resident: record?.residentId ?? plan.resident,
        status: statusOf(plan, start, record, ctx),
        record,
      };
    });
}

export function toView(o: Occurrence, timeZone: string): OccurrenceView {
  const r = o.record;
  return {
    visit: o.plan.id,
    volunteer: o.volunteer,
    resident: o.resident,
    start: isoLocal(o.start, timeZone),
    end: isoLocal(o.end, timeZone),
    activity: o.plan.activity,
    status: o.status,
    checkedInAt: r?.checkedInAt != null ? isoLocal(r.checkedInAt, timeZone) : null,
    checkedOutAt: r?.checkedOutAt != null ? isoLocal(r.checkedOutAt, timeZone) : null,
    reassignedFrom: r?.reassignedFrom ?? null,
    hours: r && (r.checkedOutAt !== null || r.creditedHours !== 0) ? r.creditedHours : null,
  };
}

/** A fresh record for an occurrence, before something happens to it. */
export function blankRecord(o: Occurrence, now: number): OccurrenceRecord {
  return {
    visitId: o.plan.id,
    start: o.start,
    end: o.end,
    volunteerId: o.volunteer,
    residentId: o.resident,
    status: 'scheduled',
    reassignedFrom: null,
    checkedInAt: null,
    checkedOutAt: null,
    doorUnansweredAt: null,
    missedAt: null,
    cancelledAt: null,
    creditedHours: 0,
    note: null,
    updatedAt: now,
  };
}

/** The first pair of overlapping intervals, if any (each [start, end)). */
export function firstOverlap<T extends { start: number; end: number }>(items: readonly T[]): [T, T] | null {
  const sorted = [...items].sort((a, b) => a.start - b.start);
  let latest: T | undefined;
  for (const item of sorted) {
    if (latest && item.start < latest.end) return [latest, item];
    if (!latest || item.end > latest.end) latest = item;
  }
  return null;
}
