// SQLite storage of the inactivity monitor: per-resident counts and the cursor into the event log.
import type { EventType } from '../../core/types.js';
import type { RecordedSign, WellnessRepo, WellnessState } from '../../wellness/repo.js';
import type { SqliteDatabase } from './database.js';
import { type StateRow, toState } from '../rows/wellness.js';

export class SqliteWellnessRepo implements WellnessRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async list(): Promise<WellnessState[]> {
    return this.sdb.db.prepare<[], StateRow>('SELECT * FROM wellness_state ORDER BY resident_id').all().map(toState);
  }

  async save(states: WellnessState[], eventCursor: number | null): Promise<void> {
    const db = this.sdb.db;
    await this.sdb.write(() => {
      const upsert = db.prepare(
        `INSERT INTO wellness_state (resident_id, last_sign_at, last_sign_source, inactive_ms, counted_until, task_opened_at, paged_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(resident_id) DO UPDATE SET last_sign_at = excluded.last_sign_at, last_sign_source = excluded.last_sign_source,
           inactive_ms = excluded.inactive_ms, counted_until = excluded.counted_until, task_opened_at = excluded.task_opened_at,
           paged_at = excluded.paged_at, updated_at = excluded.updated_at`,
      );
      const now = Date.now();
      for (const s of states) {
        upsert.run(s.residentId, s.lastSignAt, s.lastSignSource, Math.round(s.inactiveMs), s.countedUntil, s.taskOpenedAt, s.pagedAt, now);
      }
      if (eventCursor !== null) {
        db.prepare(
          'INSERT INTO wellness_cursor (id, event_id) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET event_id = max(event_id, excluded.event_id)',
        ).run(eventCursor);
      }
    });
  }

  async remove(residentIds: string[]): Promise<void> {
    if (residentIds.length === 0) return;
    await this.sdb.write(() => {
      const del = this.sdb.db.prepare('DELETE FROM wellness_state WHERE resident_id = ?');
      for (const id of residentIds) del.run(id);
    });
  }

  async residentsStamp(): Promise<string> {
    const row = this.sdb.db
      .prepare<[], { n: number; at: number | null }>('SELECT count(*) AS n, max(updated_at) AS at FROM residents')
      .get();
    return `${row?.n ?? 0}:${row?.at ?? 0}`;
  }

  async eventCursor(): Promise<number | null> {
    return this.sdb.db.prepare<[], { event_id: number }>('SELECT event_id FROM wellness_cursor WHERE id = 1').get()?.event_id ?? null;
  }

  async lastEventId(): Promise<number> {
    return this.sdb.db.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM events').get()?.id ?? 0;
  }

  async signsAfter(afterId: number, types: readonly EventType[]): Promise<{ signs: RecordedSign[]; lastEventId: number }> {
    const db = this.sdb.db;
    const lastEventId = Math.max(afterId, await this.lastEventId());
    if (types.length === 0) return { signs: [], lastEventId };
    // A range scan of the primary key: after a normal stop this is the last minute of events at most.
    // SQLite fills the bare column `type` from the row that holds the max().
    const rows = db
      .prepare<unknown[], { resident_id: string; type: string; received_at: number }>(
        `SELECT d.resident_id AS resident_id, e.type AS type, max(e.received_at) AS received_at
           FROM events e JOIN devices d ON d.id = e.device_id
          WHERE e.id > ? AND e.id <= ? AND e.type IN (${types.map(() => '?').join(', ')})
          GROUP BY d.resident_id`,
      )
      .all(afterId, lastEventId, ...types);
    return { signs: rows.map((r) => ({ residentId: r.resident_id, type: r.type as EventType, receivedAt: r.received_at })), lastEventId };
  }
}
