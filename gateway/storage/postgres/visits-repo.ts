// PostgreSQL visit repository: plans over the registry's visits table plus their controls, occurrence records, ledger, job runs.
import type { VisitRepo } from '../../visits/repo.js';
import type { LedgerEntry, NewLedgerEntry, OccurrenceRecord, VisitPlan } from '../../visits/types.js';
import type { PgDatabase, PgParam } from './database.js';
import { type PlanRow, type RecordRow, type LedgerRow, parseObject, toPlan, toRecord, toLedger } from '../rows/visits.js';

const PLAN_SELECT = `
  SELECT v.id, v.doc, v.updated_at, c.created_at, c.cancelled_at, c.paused_since, c.pauses, c.former_volunteers,
         c.updated_at AS controls_updated_at
  FROM visits v LEFT JOIN visit_controls c ON c.visit_id = v.id`;

const RECORD_INSERT = `
  INSERT INTO visit_occurrences (visit_id, start_at, end_at, volunteer_id, resident_id, status, reassigned_from, checked_in_at,
    checked_out_at, door_unanswered_at, missed_at, cancelled_at, credited_hours, note, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`;

function recordParams(r: OccurrenceRecord, status: string = r.status): PgParam[] {
  return [
    r.visitId,
    r.start,
    r.end,
    r.volunteerId,
    r.residentId,
    status,
    r.reassignedFrom,
    r.checkedInAt,
    r.checkedOutAt,
    r.doorUnansweredAt,
    r.missedAt,
    r.cancelledAt,
    r.creditedHours,
    r.note,
    r.updatedAt,
  ];
}

export class PgVisitRepo implements VisitRepo {
  constructor(private readonly db: PgDatabase) {}

  async listPlans(): Promise<VisitPlan[]> {
    return (await this.db.query<PlanRow>(`${PLAN_SELECT} ORDER BY v.id`)).flatMap((r) => toPlan(r) ?? []);
  }

  async getPlan(id: string): Promise<VisitPlan | null> {
    const row = await this.db.one<PlanRow>(`${PLAN_SELECT} WHERE v.id = $1`, [id]);
    return row ? toPlan(row) : null;
  }

  async savePlan(plan: VisitPlan): Promise<void> {
    await this.db.write(async () => {
      // FOR UPDATE: two saves of one plan merge into the document one after the other, not from the same old copy.
      const existing = await this.db.one<{ doc: string }>('SELECT doc FROM visits WHERE id = $1 FOR UPDATE', [plan.id]);
      const doc: Record<string, unknown> = existing ? parseObject(existing.doc) : {};
      Object.assign(doc, {
        id: plan.id,
        volunteer: plan.volunteer,
        resident: plan.resident,
        durationMinutes: plan.durationMinutes,
        activity: plan.activity,
      });
      // Exactly one of cron / at, so the registry's reading of the document stays unambiguous.
      delete doc.cron;
      delete doc.at;
      if (plan.cron !== null) doc.cron = plan.cron;
      if (plan.at !== null) doc.at = plan.at;
      await this.db.run(
        `INSERT INTO visits (id, volunteer_id, resident_id, doc, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET volunteer_id = excluded.volunteer_id, resident_id = excluded.resident_id, doc = excluded.doc, updated_at = excluded.updated_at`,
        [plan.id, plan.volunteer, plan.resident, JSON.stringify(doc), plan.updatedAt],
      );
      await this.db.run(
        `INSERT INTO visit_controls (visit_id, created_at, cancelled_at, paused_since, pauses, former_volunteers, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (visit_id) DO UPDATE SET created_at = excluded.created_at, cancelled_at = excluded.cancelled_at,
           paused_since = excluded.paused_since, pauses = excluded.pauses, former_volunteers = excluded.former_volunteers,
           updated_at = excluded.updated_at`,
        [
          plan.id,
          plan.createdAt,
          plan.cancelledAt,
          plan.pausedSince,
          JSON.stringify(plan.pauses),
          JSON.stringify(plan.formerVolunteers),
          plan.updatedAt,
        ],
      );
    });
  }

  async listRecords(from: number, to: number): Promise<OccurrenceRecord[]> {
    const rows = await this.db.query<RecordRow>(
      'SELECT * FROM visit_occurrences WHERE start_at >= $1 AND start_at < $2 ORDER BY start_at, visit_id',
      [from, to],
    );
    return rows.map(toRecord);
  }

  async getRecord(visitId: string, start: number): Promise<OccurrenceRecord | null> {
    const row = await this.db.one<RecordRow>('SELECT * FROM visit_occurrences WHERE visit_id = $1 AND start_at = $2', [visitId, start]);
    return row ? toRecord(row) : null;
  }

  async listCheckedIn(volunteerId: string): Promise<OccurrenceRecord[]> {
    const rows = await this.db.query<RecordRow>(
      "SELECT * FROM visit_occurrences WHERE volunteer_id = $1 AND status = 'checked_in' ORDER BY start_at",
      [volunteerId],
    );
    return rows.map(toRecord);
  }

  async saveRecord(record: OccurrenceRecord): Promise<void> {
    await this.db.run(
      `${RECORD_INSERT} ON CONFLICT (visit_id, start_at) DO UPDATE SET end_at = excluded.end_at, volunteer_id = excluded.volunteer_id,
         resident_id = excluded.resident_id, status = excluded.status, reassigned_from = excluded.reassigned_from,
         checked_in_at = excluded.checked_in_at, checked_out_at = excluded.checked_out_at,
         door_unanswered_at = excluded.door_unanswered_at, missed_at = excluded.missed_at, cancelled_at = excluded.cancelled_at,
         credited_hours = excluded.credited_hours, note = excluded.note, updated_at = excluded.updated_at`,
      recordParams(record),
    );
  }

  async claimMissed(record: OccurrenceRecord): Promise<boolean> {
    const n = await this.db.run(
      `${RECORD_INSERT} ON CONFLICT (visit_id, start_at) DO UPDATE SET status = 'missed', missed_at = excluded.missed_at, updated_at = excluded.updated_at
       WHERE visit_occurrences.status = 'scheduled' AND visit_occurrences.reassigned_from IS NULL AND visit_occurrences.door_unanswered_at IS NULL`,
      recordParams(record, 'missed'),
    );
    return n === 1;
  }

  async addLedgerEntry(e: NewLedgerEntry): Promise<LedgerEntry> {
    const row = await this.db.one<{ id: number }>(
      `INSERT INTO volunteer_ledger (volunteer_id, at, service_date, kind, visit_id, occurrence_start, hours, points, note, actor)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
      [e.volunteerId, e.at, e.serviceDate, e.kind, e.visitId, e.occurrenceStart, e.hours, e.points, e.note, e.actor],
    );
    return { ...e, id: row?.id ?? 0 };
  }

  async listLedger(volunteerId: string): Promise<LedgerEntry[]> {
    return (await this.db.query<LedgerRow>('SELECT * FROM volunteer_ledger WHERE volunteer_id = $1 ORDER BY id', [volunteerId])).map(
      toLedger,
    );
  }

  async listLedgerForMonth(month: string): Promise<LedgerEntry[]> {
    return (
      await this.db.query<LedgerRow>('SELECT * FROM volunteer_ledger WHERE substr(service_date, 1, 7) = $1 ORDER BY id', [month])
    ).map(toLedger);
  }

  async claimRun(key: string, at: number): Promise<boolean> {
    return (await this.db.run('INSERT INTO visit_job_runs (key, ran_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, at])) === 1;
  }

  async hasRun(key: string): Promise<boolean> {
    return (await this.db.one<{ key: string }>('SELECT key FROM visit_job_runs WHERE key = $1', [key])) !== null;
  }
}
