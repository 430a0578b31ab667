// PostgreSQL storage of the inactivity monitor: per-resident counts and the cursor into the event log.
import type { EventType } from '../../core/types.js';
import type { RecordedSign, WellnessRepo, WellnessState } from '../../wellness/repo.js';
import type { PgDatabase } from './database.js';
import { type StateRow, toState } from '../rows/wellness.js';

export class PgWellnessRepo implements WellnessRepo {
  constructor(private readonly db: PgDatabase) {}

  async list(): Promise<WellnessState[]> {
    return (await this.db.query<StateRow>('SELECT * FROM wellness_state ORDER BY resident_id')).map(toState);
  }

  async save(states: WellnessState[], eventCursor: number | null): Promise<void> {
    const now = Date.now();
    const last = [...new Map(states.map((s) => [s.residentId, s])).values()];
    await this.db.write(async () => {
      if (last.length > 0) {
        await this.db.run(
          `INSERT INTO wellness_state (resident_id, last_sign_at, last_sign_source, inactive_ms, counted_until, task_opened_at, paged_at, updated_at)
           SELECT r.*, $8::bigint FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[]) AS r
           ON CONFLICT (resident_id) DO UPDATE SET last_sign_at = excluded.last_sign_at, last_sign_source = excluded.last_sign_source,
             inactive_ms = excluded.inactive_ms, counted_until = excluded.counted_until, task_opened_at = excluded.task_opened_at,
             paged_at = excluded.paged_at, updated_at = excluded.updated_at`,
          [
            last.map((s) => s.residentId),
            last.map((s) => s.lastSignAt),
            last.map((s) => s.lastSignSource),
            last.map((s) => Math.round(s.inactiveMs)),
            last.map((s) => s.countedUntil),
            last.map((s) => s.taskOpenedAt),
            last.map((s) => s.pagedAt),
            now,
          ],
        );
      }
      if (eventCursor !== null) {
        await this.db.run(
          'INSERT INTO wellness_cursor (id, event_id) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET event_id = greatest(wellness_cursor.event_id, excluded.event_id)',
          [eventCursor],
        );
      }
    });
  }

  async remove(residentIds: string[]): Promise<void> {
    if (residentIds.length === 0) return;
    await this.db.run('DELETE FROM wellness_state WHERE resident_id = ANY($1::text[])', [residentIds]);
  }

  async residentsStamp(): Promise<string> {
    const row = await this.db.one<{ n: number; at: number | null }>('SELECT count(*) AS n, max(updated_at) AS at FROM residents');
    return `${row?.n ?? 0}:${row?.at ?? 0}`;
  }

  async eventCursor(): Promise<number | null> {
    return (await this.db.one<{ event_id: number }>('SELECT event_id FROM wellness_cursor WHERE id = 1'))?.event_id ?? null;
  }

  async lastEventId(): Promise<number> {
    return (await this.db.one<{ id: number | null }>('SELECT max(id) AS id FROM events'))?.id ?? 0;
  }

  async signsAfter(afterId: number, types: readonly EventType[]): Promise<{ signs: RecordedSign[]; lastEventId: number }> {
    const lastEventId = Math.max(afterId, await this.lastEventId());
    if (types.length === 0) return { signs: [], lastEventId };
    // Per resident, the latest sign in the range (and its type).
    const rows = await this.db.query<{ resident_id: string; type: string; received_at: number }>(
      `SELECT DISTINCT ON (d.resident_id) d.resident_id, e.type, e.received_at
         FROM events e JOIN devices d ON d.id = e.device_id
        WHERE e.id > $1 AND e.id <= $2 AND e.type = ANY($3::text[])
        ORDER BY d.resident_id, e.received_at DESC, e.id DESC`,
      [afterId, lastEventId, types],
    );
    return { signs: rows.map((r) => ({ residentId: r.resident_id, type: r.type as EventType, receivedAt: r.received_at })), lastEventId };
  }
}
