// Volunteer visits: plans, their occurrences, what happened at each, and the service-hours ledger.

/** A visit plan as the visit feature sees it: the registry's visit plus what coordinators did to it. */
export interface VisitPlan {
  id: string;
  volunteer: string;
  resident: string;
  /** Five-field cron in local time, or null for a one-off visit. */
  cron: string | null;
  /** One-off visit: local "YYYY-MM-DDTHH:MM"; null for a recurring one. */
  at: string | null;
  durationMinutes: number;
  activity: string;
  /** Created through the API at this time: no occurrences before it. Null for registry visits. */
  createdAt: number | null;
  /** Cancelled as a whole at this time (ms). */
  cancelledAt: number | null;
  /** Paused since this time; null while running. */
  pausedSince: number | null;
  /** Earlier pauses, as [from, to) in ms: their occurrences stay cancelled after a resume. */
  pauses: [number, number][];
  /** Volunteers before a reassignment: occurrences starting before `untilStart` stay theirs. Oldest first. */
  formerVolunteers: { volunteer: string; untilStart: number }[];
  updatedAt: number;
}

export type VisitPlanState = 'active' | 'paused' | 'cancelled';

export function planState(plan: VisitPlan): VisitPlanState {
  if (plan.cancelledAt !== null) return 'cancelled';
  return plan.pausedSince !== null ? 'paused' : 'active';
}

export const OCCURRENCE_STATUSES = ['scheduled', 'checked_in', 'done', 'missed', 'cancelled'] as const;
export type OccurrenceStatus = (typeof OCCURRENCE_STATUSES)[number];

/** What happened at one occurrence; only occurrences something happened to have one. Keyed by (visitId, start). */
export interface OccurrenceRecord {
  visitId: string;
  /** Scheduled start, ms since the epoch. */
  start: number;
  end: number;
  volunteerId: string;
  residentId: string;
  status: OccurrenceStatus;
  /** Set when a coordinator gave this one occurrence to someone else: no missed-visit alarm for it. */
  reassignedFrom: string | null;
  checkedInAt: number | null;
  checkedOutAt: number | null;
  /** The volunteer texted 没人 (nobody answered the door). */
  doorUnansweredAt: number | null;
  missedAt: number | null;
  cancelledAt: number | null;
  /** Hours credited to the ledger so far (check-out plus corrections). */
  creditedHours: number;
  note: string | null;
  updatedAt: number;
}

/** One occurrence of a plan, expanded from its schedule and merged with its record. */
export interface Occurrence {
  plan: VisitPlan;
  start: number;
  end: number;
  volunteer: string;
  resident: string;
  status: OccurrenceStatus;
  record: OccurrenceRecord | null;
}

/** An occurrence as the API shows it (the fields the HTTP API promises: visit, volunteer, resident, start, end, activity, status). */
export interface OccurrenceView {
  visit: string;
  volunteer: string;
  resident: string;
  /** ISO 8601 with the local offset, e.g. 2026-11-26T11:00:00+08:00. */
  start: string;
  end: string;
  activity: string;
  status: OccurrenceStatus;
  checkedInAt: string | null;
  checkedOutAt: string | null;
  reassignedFrom: string | null;
  hours: number | null;
}

export type LedgerKind = 'visit' | 'correction' | 'redemption';

export interface LedgerEntry {
  id: number;
  volunteerId: string;
  at: number;
  /** Local date the entry counts for ("YYYY-MM-DD"): the visit's day, or the day of a redemption. */
  serviceDate: string;
  kind: LedgerKind;
  visitId: string | null;
  occurrenceStart: number | null;
  /** Positive for service, negative for a correction downwards; 0 for redemptions. */
  hours: number;
  /** Earned (positive) or redeemed (negative). */
  points: number;
  note: string | null;
  actor: string;
}

export type NewLedgerEntry = Omit<LedgerEntry, 'id'>;

export interface VisitSettings {
  /** Local "HH:MM" of the evening reminder about tomorrow's visits. */
  reminderTime: string;
  /** An occurrence without a check-in this long after its start is missed. */
  missedAfterMinutes: number;
  /** A check-in is accepted from this long before the start. */
  checkInEarlyMinutes: number;
  /** Credited hours are capped at the scheduled duration plus this. */
  overtimeCapMinutes: number;
  pointsPerHour: number;
  /** A missed occurrence found later than this (e.g. after downtime) is recorded but nobody is alerted. */
  missedAlertWindowMinutes: number;
  /** Overlaps with the volunteer's other visits are checked this far ahead. */
  overlapHorizonDays: number;
  /** Longest range GET /api/visits answers, in days. */
  maxRangeDays: number;
}

export const DEFAULT_VISIT_SETTINGS: VisitSettings = {
  reminderTime: '19:00',
  missedAfterMinutes: 30,
  checkInEarlyMinutes: 60,
  overtimeCapMinutes: 30,
  pointsPerHour: 10,
  missedAlertWindowMinutes: 180,
  overlapHorizonDays: 56,
  maxRangeDays: 92,
};

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
