// SQLite test-press repository: test windows (their audit record), the presses taken as tests, and the test incidents of each window.
import type { TestPress, TestPressRepo, TestWindow, TestWindowEnd } from '../../test-presses/types.js';
import type { SqliteDatabase } from './database.js';
import { type WindowRow, toWindow } from '../rows/test-presses.js';

// A window covers `at` when it started by then, runs past it, and was not ended by hand before it.
const COVERS = 'started_at <= @at AND ends_at > @at AND (ended_at IS NULL OR ended_at > @at)';

export class SqliteTestPressRepo implements TestPressRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async insertWindow(w: TestWindow): Promise<void> {
    await this.sdb.write(() =>
      this.sdb
        .stmt(
          `INSERT INTO test_windows (id, scope_kind, device_id, community_id, building, started_at, ends_at, started_by, ended_at, ended_by, end_reason, note)
           VALUES (@id, @scopeKind, @deviceId, @communityId, @building, @startedAt, @endsAt, @startedBy, @endedAt, @endedBy, @endReason, @note)`,
        )
        .run({
          id: w.id,
          scopeKind: w.scope.kind,
          deviceId: w.scope.kind === 'device' ? w.scope.deviceId : null,
          communityId: w.communityId,
          building: w.scope.kind === 'building' ? w.scope.building : null,
          startedAt: w.startedAt,
          endsAt: w.endsAt,
          startedBy: w.startedBy,
          endedAt: w.endedAt,
          endedBy: w.endedBy,
          endReason: w.endReason,
          note: w.note,
        }),
    );
  }

  async getWindow(id: string): Promise<TestWindow | null> {
    const row = this.sdb.stmt<[string], WindowRow>('SELECT * FROM test_windows WHERE id = ?').get(id);
    return row ? toWindow(row) : null;
  }

  async endWindow(id: string, at: number, by: string, reason: TestWindowEnd): Promise<TestWindow | null> {
    const res = await this.sdb.write(() =>
      this.sdb
        .stmt('UPDATE test_windows SET ended_at = ?, ended_by = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL')
        .run(at, by, reason, id),
    );
    return res.changes === 1 ? this.getWindow(id) : null;
  }

  async listRunning(): Promise<TestWindow[]> {
    return this.sdb.stmt<[], WindowRow>('SELECT * FROM test_windows WHERE ended_at IS NULL ORDER BY started_at').all().map(toWindow);
  }

  async listWindows(filter: { communityId?: string; limit: number }): Promise<TestWindow[]> {
    const where = filter.communityId === undefined ? '' : 'WHERE community_id = @communityId';
    return this.sdb
      .stmt<[Record<string, string | number>], WindowRow>(
        `SELECT * FROM test_windows ${where} ORDER BY started_at DESC, id DESC LIMIT @limit`,
      )
      .all({ limit: filter.limit, ...(filter.communityId === undefined ? {} : { communityId: filter.communityId }) })
      .map(toWindow);
  }

  async windowAt(deviceId: string, communityId: string, building: string | null, at: number): Promise<TestWindow | null> {
    const byDevice = this.sdb
      .stmt<[{ deviceId: string; at: number }], WindowRow>(
        `SELECT * FROM test_windows WHERE device_id = @deviceId AND ${COVERS} ORDER BY started_at DESC LIMIT 1`,
      )
      .get({ deviceId, at });
    if (byDevice) return toWindow(byDevice);
    if (building === null) return null;
    const byBuilding = this.sdb
      .stmt<[{ communityId: string; building: string; at: number }], WindowRow>(
        `SELECT * FROM test_windows WHERE community_id = @communityId AND building = @building AND ${COVERS} ORDER BY started_at DESC LIMIT 1`,
      )
      .get({ communityId, building, at });
    return byBuilding ? toWindow(byBuilding) : null;
  }

  async recordPress(p: TestPress): Promise<void> {
    await this.sdb.write(() =>
      this.sdb
        .stmt('INSERT OR IGNORE INTO test_presses (event_id, device_id, resident_id, window_id, incident_id, at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(p.eventId, p.deviceId, p.residentId, p.windowId, p.incidentId, p.at),
    );
  }

  async lastPressByDevice(): Promise<Map<string, number>> {
    const rows = this.sdb
      .stmt<[], { device_id: string; at: number }>('SELECT device_id, MAX(at) AS at FROM test_presses GROUP BY device_id')
      .all();
    return new Map(rows.map((r) => [r.device_id, r.at]));
  }

  async activeIncidentsOf(windowId: string): Promise<string[]> {
    return this.sdb
      .stmt<[string], { id: string }>(
        `SELECT i.id FROM test_incidents t JOIN incidents i ON i.id = t.incident_id
         WHERE t.window_id = ? AND i.state IN ('pending', 'open', 'acknowledged') ORDER BY i.opened_at`,
      )
      .all(windowId)
      .map((r) => r.id);
  }

  async linkIncident(windowId: string, incidentId: string): Promise<void> {
    await this.sdb.write(() =>
      this.sdb.stmt('INSERT OR IGNORE INTO test_incidents (window_id, incident_id) VALUES (?, ?)').run(windowId, incidentId),
    );
  }
}
