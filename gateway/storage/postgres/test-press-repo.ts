// PostgreSQL test-press repository: test windows (their audit record), the presses taken as tests, and the test incidents of each window.
import type { TestPress, TestPressRepo, TestWindow, TestWindowEnd } from '../../test-presses/types.js';
import type { PgDatabase } from './database.js';
import { type WindowRow, toWindow } from '../rows/test-presses.js';

/** A window covers `at` ($n) when it started by then, runs past it, and was not ended by hand before it. */
const covers = (at: string): string => `started_at <= ${at} AND ends_at > ${at} AND (ended_at IS NULL OR ended_at > ${at})`;

export class PgTestPressRepo implements TestPressRepo {
  constructor(private readonly db: PgDatabase) {}

  async insertWindow(w: TestWindow): Promise<void> {
    await this.db.run(
      `INSERT INTO test_windows (id, scope_kind, device_id, community_id, building, started_at, ends_at, started_by, ended_at, ended_by, end_reason, note)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        w.id,
        w.scope.kind,
        w.scope.kind === 'device' ? w.scope.deviceId : null,
        w.communityId,
        w.scope.kind === 'building' ? w.scope.building : null,
        w.startedAt,
        w.endsAt,
        w.startedBy,
        w.endedAt,
        w.endedBy,
        w.endReason,
        w.note,
      ],
    );
  }

  async getWindow(id: string): Promise<TestWindow | null> {
    const row = await this.db.one<WindowRow>('SELECT * FROM test_windows WHERE id = $1', [id]);
    return row ? toWindow(row) : null;
  }

  async endWindow(id: string, at: number, by: string, reason: TestWindowEnd): Promise<TestWindow | null> {
    const row = await this.db.one<WindowRow>(
      'UPDATE test_windows SET ended_at = $1, ended_by = $2, end_reason = $3 WHERE id = $4 AND ended_at IS NULL RETURNING *',
      [at, by, reason, id],
    );
    return row ? toWindow(row) : null;
  }

  async listRunning(): Promise<TestWindow[]> {
    return (await this.db.query<WindowRow>('SELECT * FROM test_windows WHERE ended_at IS NULL ORDER BY started_at, id')).map(toWindow);
  }

  async listWindows(filter: { communityId?: string; limit: number }): Promise<TestWindow[]> {
    const rows =
      filter.communityId === undefined
        ? await this.db.query<WindowRow>('SELECT * FROM test_windows ORDER BY started_at DESC, id DESC LIMIT $1', [filter.limit])
        : await this.db.query<WindowRow>('SELECT * FROM test_windows WHERE community_id = $2 ORDER BY started_at DESC, id DESC LIMIT $1', [
            filter.limit,
            filter.communityId,
          ]);
    return rows.map(toWindow);
  }

  async windowAt(deviceId: string, communityId: string, building: string | null, at: number): Promise<TestWindow | null> {
    // One round trip for what were two look-ups: a window naming the device wins; else the newest covering its building.
    const row = await this.db.one<WindowRow>(
      `SELECT * FROM test_windows
        WHERE (device_id = $1 OR ($3::text IS NOT NULL AND community_id = $2 AND building = $3)) AND ${covers('$4')}
        ORDER BY (device_id IS NOT DISTINCT FROM $1) DESC, started_at DESC LIMIT 1`,
      [deviceId, communityId, building, at],
    );
    return row ? toWindow(row) : null;
  }

  async recordPress(p: TestPress): Promise<void> {
    await this.db.run(
      'INSERT INTO test_presses (event_id, device_id, resident_id, window_id, incident_id, at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING',
      [p.eventId, p.deviceId, p.residentId, p.windowId, p.incidentId, p.at],
    );
  }

  async lastPressByDevice(): Promise<Map<string, number>> {
    const rows = await this.db.query<{ device_id: string; at: number }>(
      'SELECT device_id, max(at) AS at FROM test_presses GROUP BY device_id',
    );
    return new Map(rows.map((r) => [r.device_id, r.at]));
  }

  async activeIncidentsOf(windowId: string): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      `SELECT i.id FROM test_incidents t JOIN incidents i ON i.id = t.incident_id
       WHERE t.window_id = $1 AND i.state IN ('pending', 'open', 'acknowledged') ORDER BY i.opened_at, i.id`,
      [windowId],
    );
    return rows.map((r) => r.id);
  }

  async linkIncident(windowId: string, incidentId: string): Promise<void> {
    await this.db.run('INSERT INTO test_incidents (window_id, incident_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [windowId, incidentId]);
  }
}
