// SQLite visit repository: plans over the registry's visits table plus their controls, occurrence records, ledger, job runs.
import type { VisitRepo } from '../../visits/repo.js';
import type { LedgerEntry, NewLedgerEntry, OccurrenceRecord, VisitPlan } from '../../visits/types.js';
import type { SqliteDatabase } from './database.js';
import { type PlanRow, type RecordRow, type LedgerRow, parseObject, toPlan, toRecord, toLedger } from '../rows/visits.js';

const PLAN_SELECT = `
  SELECT v.id, v.doc, v.updated_at, c.created_at, c.cancelled_at, c.paused_since, c.pauses, c.former_volunteers,
         c.updated_at AS controls_updated_at
  FROM visits v LEFT JOIN visit_controls c ON c.visit_id = v.id`;

const RECORD_UPSERT = `
  INSERT INTO visit_occurrences (visit_id, start_at, end_at, volunteer_id, resident_id, status, reassigned_from, checked_in_at,
    checked_out_at, door_unanswered_at, missed_at, cancelled_at, credited_hours, note, updated_at)
  VALUES (@visitId, @start, @end, @volunteerId, @residentId, @status, @reassignedFrom, @checkedInAt, @checkedOutAt,
    @doorUnansweredAt, @missedAt, @cancelledAt, @creditedHours, @note, @updatedAt)`;

export class SqliteVisitRepo implements VisitRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  private get db() {
    return this.sdb.db;
  }

  async listPlans(): Promise<VisitPlan[]> {
    return this.db
      .prepare<[], PlanRow>(`${PLAN_SELECT} ORDER BY v.id`)
      .all()
      .flatMap((r) => toPlan(r) ?? []);
  }

  async getPlan(id: string): Promise<VisitPlan | null> {
    const row = this.db.prepare<[string], PlanRow>(`${PLAN_SELECT} WHERE v.id = ?`).get(id);
    return row ? toPlan(row) : null;
  }

  async savePlan(plan: VisitPlan): Promise<void> {
    await this.sdb.write(() => {
      const existing = this.db.prepare<[string], { doc: string }>('SELECT doc FROM visits WHERE id = ?').get(plan.id);
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
      this.db
        .prepare(
          `INSERT INTO visits (id, volunteer_id, resident_id, doc, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET volunteer_id = excluded.volunteer_id, resident_id = excluded.resident_id, doc = excluded.doc, updated_at = excluded.updated_at`,
        )
        .run(plan.id, plan.volunteer, plan.resident, JSON.stringify(doc), plan.updatedAt);
      this.db
        .prepare(
          `INSERT INTO visit_controls (visit_id, created_at, cancelled_at, paused_since, pauses, former_volunteers, updated_at)
           VALUES (@id, @createdAt, @cancelledAt, @pausedSince, @pauses, @formerVolunteers, @updatedAt)
           ON CONFLICT(visit_id) DO UPDATE SET created_at = excluded.created_at, cancelled_at = excluded.cancelled_at,
             paused_since = excluded.paused_since, pauses = excluded.pauses, former_volunteers = excluded.former_volunteers,
             updated_at = excluded.updated_at`,
        )
        .run({
          id: plan.id,
          createdAt: plan.createdAt,
          cancelledAt: plan.cancelledAt,
          pausedSince: plan.pausedSince,
          pauses: JSON.stringify(plan.pauses),
          formerVolunteers: JSON.stringify(plan.formerVolunteers),
          updatedAt: plan.updatedAt,
        });
    });
  }

  async listRecords(from: number, to: number): Promise<OccurrenceRecord[]> {
    return this.db
      .prepare<[number, number], RecordRow>(
        'SELECT * FROM visit_occurrences WHERE start_at >= ? AND start_at < ? ORDER BY start_at, visit_id',
      )
      .all(from, to)
      .map(toRecord);
  }

  async getRecord(visitId: string, start: number): Promise<OccurrenceRecord | null> {
    const row = this.db
      .prepare<[string, number], RecordRow>('SELECT * FROM visit_occurrences WHERE visit_id = ? AND start_at = ?')
      .get(visitId, start);
    return row ? toRecord(row) : null;
  }

  async listCheckedIn(volunteerId: string): Promise<OccurrenceRecord[]> {
    return this.db
      .prepare<[string], RecordRow>("SELECT * FROM visit_occurrences WHERE volunteer_id = ? AND status = 'checked_in' ORDER BY start_at")
      .all(volunteerId)
      .map(toRecord);
  }

  async saveRecord(record: OccurrenceRecord): Promise<void> {
    await this.sdb.write(() =>
      this.db
        .prepare(
          `${RECORD_UPSERT} ON CONFLICT(visit_id, start_at) DO UPDATE SET end_at = excluded.end_at, volunteer_id = excluded.volunteer_id,
             resident_id = excluded.resident_id, status = excluded.status, reassigned_from = excluded.reassigned_from,
             checked_in_at = excluded.checked_in_at, checked_out_at = excluded.checked_out_at,
             door_unanswered_at = excluded.door_unanswered_at, missed_at = excluded.missed_at, cancelled_at = excluded.cancelled_at,
             credited_hours = excluded.credited_hours, note = excluded.note, updated_at = excluded.updated_at`,
        )
        .run(record),
    );
  }

  async claimMissed(record: OccurrenceRecord): Promise<boolean> {
    const res = await this.sdb.write(() =>
      this.db
        .prepare(
          `${RECORD_UPSERT} ON CONFLICT(visit_id, start_at) DO UPDATE SET status = 'missed', missed_at = excluded.missed_at, updated_at = excluded.updated_at
           WHERE visit_occurrences.status = 'scheduled' AND visit_occurrences.reassigned_from IS NULL AND visit_occurrences.door_unanswered_at IS NULL`,
        )
        .run({ ...record, status: 'missed' }),
    );
    return res.changes === 1;
  }

  async addLedgerEntry(e: NewLedgerEntry): Promise<LedgerEntry> {
    const res = await this.sdb.write(() =>
      this.db
        .prepare(
          `INSERT INTO volunteer_ledger (volunteer_id, at, service_date, kind, visit_id, occurrence_start, hours, points, note, actor)
           VALUES (@volunteerId, @at, @serviceDate, @kind, @visitId, @occurrenceStart, @hours, @points, @note, @actor)`,
        )
        .run(e),
    );
    return { ...e, id: Number(res.lastInsertRowid) };
  }

  async listLedger(volunteerId: string): Promise<LedgerEntry[]> {
    return this.db
      .prepare<[string], LedgerRow>('SELECT * FROM volunteer_ledger WHERE volunteer_id = ? ORDER BY id')
      .all(volunteerId)
      .map(toLedger);
  }

  async listLedgerForMonth(month: string): Promise<LedgerEntry[]> {
    return this.db
      .prepare<[string], LedgerRow>('SELECT * FROM volunteer_ledger WHERE substr(service_date, 1, 7) = ? ORDER BY id')
      .all(month)
      .map(toLedger);
  }

  async claimRun(key: string, at: number): Promise<boolean> {
    const res = await this.sdb.write(() =>
      this.db.prepare('INSERT INTO visit_job_runs (key, ran_at) VALUES (?, ?) ON CONFLICT(key) DO NOTHING').run(key, at),
    );
    return res.changes === 1;
  }

  async hasRun(key: string): Promise<boolean> {
    return this.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM visit_job_runs WHERE key = ?').get(key)?.n === 1;
  }
}
