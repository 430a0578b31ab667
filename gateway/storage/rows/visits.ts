// Row shapes and row-to-domain mappers of visit plans, occurrence records and the ledger, shared by the SQLite and PostgreSQL engines.
import type { LedgerEntry, LedgerKind, OccurrenceRecord, OccurrenceStatus, VisitPlan } from '../../visits/types.js';

export interface PlanRow {
  id: string;
  doc: string;
  updated_at: number;
  created_at: number | null;
  cancelled_at: number | null;
  paused_since: number | null;
  pauses: string | null;
  former_volunteers: string | null;
  controls_updated_at: number | null;
}

export interface RecordRow {
  visit_id: string;
  start_at: number;
  end_at: number;
  volunteer_id: string;
  resident_id: string;
  status: string;
  reassigned_from: string | null;
  checked_in_at: number | null;
  checked_out_at: number | null;
  door_unanswered_at: number | null;
  missed_at: number | null;
  cancelled_at: number | null;
  credited_hours: number;
  note: string | null;
  updated_at: number;
}

export interface LedgerRow {
  id: number;
  volunteer_id: string;
  at: number;
  service_date: string;
  kind: string;
  visit_id: string | null;
  occurrence_start: number | null;
  hours: number;
  points: number;
  note: string | null;
  actor: string;
}

export function parseObject(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...value } : {};
}

export function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** A visit document that lacks the basics (never written by the registry or the API) is left out, not guessed at. */
export function toPlan(r: PlanRow): VisitPlan | null {
  const doc = parseObject(r.doc);
  const volunteer = str(doc.volunteer);
  const resident = str(doc.resident);
  const duration = doc.durationMinutes;
  if (!volunteer || !resident || typeof duration !== 'number') return null;
  return {
    id: r.id,
    volunteer,
    resident,
    cron: str(doc.cron),
    at: str(doc.at),
    durationMinutes: duration,
    activity: str(doc.activity) ?? '',
    createdAt: r.created_at,
    cancelledAt: r.cancelled_at,
    pausedSince: r.paused_since,
    pauses: parsePauses(r.pauses),
    formerVolunteers: parseFormer(r.former_volunteers),
    updatedAt: Math.max(r.updated_at, r.controls_updated_at ?? 0),
  };
}

export function parsePauses(text: string | null): [number, number][] {
  const value: unknown = text ? JSON.parse(text) : [];
  if (!Array.isArray(value)) return [];
  return value.flatMap((p: unknown): [number, number][] =>
    Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number' ? [[p[0], p[1]]] : [],
  );
}

export function parseFormer(text: string | null): VisitPlan['formerVolunteers'] {
  const value: unknown = text ? JSON.parse(text) : [];
  if (!Array.isArray(value)) return [];
  return value.flatMap((f: unknown) => {
    if (typeof f !== 'object' || f === null || !('volunteer' in f) || !('untilStart' in f)) return [];
    const { volunteer, untilStart } = f;
    return typeof volunteer === 'string' && typeof untilStart === 'number' ? [{ volunteer, untilStart }] : [];
  });
}

export function toStatus(s: string): OccurrenceStatus {
  switch (s) {
    case 'checked_in':
    case 'done':
    case 'missed':
    case 'cancelled':
      return s;
    default:
      return 'scheduled';
  }
}

export function toRecord(r: RecordRow): OccurrenceRecord {
  return {
    visitId: r.visit_id,
    start: r.start_at,
    end: r.end_at,
    volunteerId: r.volunteer_id,
    residentId: r.resident_id,
    status: toStatus(r.status),
    reassignedFrom: r.reassigned_from,
    checkedInAt: r.checked_in_at,
    checkedOutAt: r.checked_out_at,
    doorUnansweredAt: r.door_unanswered_at,
    missedAt: r.missed_at,
    cancelledAt: r.cancelled_at,
    creditedHours: r.credited_hours,
    note: r.note,
    updatedAt: r.updated_at,
  };
}

export function toLedgerKind(k: string): LedgerKind {
  return k === 'correction' || k === 'redemption' ? k : 'visit';
}

export function toLedger(r: LedgerRow): LedgerEntry {
  return {
    id: r.id,
    volunteerId: r.volunteer_id,
    at: r.at,
    serviceDate: r.service_date,
    kind: toLedgerKind(r.kind),
    visitId: r.visit_id,
    occurrenceStart: r.occurrence_start,
    hours: r.hours,
    points: r.points,
    note: r.note,
    actor: r.actor,
  };
}
