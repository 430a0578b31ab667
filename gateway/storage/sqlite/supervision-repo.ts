// SQLite supervision repository: care tasks (one open per kind, resident and device), grouped outages, digest runs.
import type { CareTaskKind } from '../../core/types.js';
import type { CareTaskClose, SupervisionRepo } from '../../supervision/repo.js';
import type { CareTask, CareTaskFilter, Outage, OutageFilter } from '../../supervision/types.js';
import type { SqliteDatabase } from './database.js';
import { type TaskRow, type OutageRow, toTask, toOutage } from '../rows/supervision.js';

const DEFAULT_LIMIT = 500;

export class SqliteSupervisionRepo implements SupervisionRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  private get db() {
    return this.sdb.db;
  }

  async insertTask(t: CareTask): Promise<boolean> {
    // The partial unique index is the guard: two detectors racing to open the same task insert it once.
    const res = await this.sdb.write(() =>
      this.db
        .prepare(
          `INSERT INTO care_tasks (id, kind, state, resident_id, device_id, device_key, community_id, worker_id, detail, opened_at,
             closed_at, closed_by, close_reason, close_note, updated_at)
           VALUES (@id, @kind, @state, @residentId, @deviceId, @deviceKey, @communityId, @workerId, @detail, @openedAt,
             @closedAt, @closedBy, @closeReason, @closeNote, @updatedAt)
           ON CONFLICT DO NOTHING`,
        )
        .run({ ...t, deviceKey: t.deviceId ?? '', detail: t.detail ? JSON.stringify(t.detail) : null }),
    );
    return res.changes === 1;
  }

  async getTask(id: string): Promise<CareTask | null> {
    const row = this.db.prepare<[string], TaskRow>('SELECT * FROM care_tasks WHERE id = ?').get(id);
    return row ? toTask(row) : null;
  }

  async findOpenTask(kind: CareTaskKind, residentId: string, deviceId: string | null): Promise<CareTask | null> {
    const row = this.db
      .prepare<[string, string, string], TaskRow>(
        "SELECT * FROM care_tasks WHERE kind = ? AND resident_id = ? AND device_key = ? AND state = 'open'",
      )
      .get(kind, residentId, deviceId ?? '');
    return row ? toTask(row) : null;
  }

  async closeTask(id: string, c: CareTaskClose): Promise<CareTask | null> {
    return this.sdb.write(() => {
      const res = this.db
        .prepare(
          `UPDATE care_tasks SET state = 'closed', closed_at = @at, closed_by = @by, close_reason = @reason, close_note = @note, updated_at = @at
           WHERE id = @id AND state = 'open'`,
        )
        .run({ id, ...c });
      if (res.changes !== 1) return null;
      const row = this.db.prepare<[string], TaskRow>('SELECT * FROM care_tasks WHERE id = ?').get(id);
      return row ? toTask(row) : null;
    });
  }

  async listTasks(f: CareTaskFilter): Promise<CareTask[]> {
    const where: string[] = [];
    const args: Record<string, string | number> = { limit: f.limit ?? DEFAULT_LIMIT };
    if (f.state) {
      where.push('state = @state');
      args.state = f.state;
    }
    if (f.communityId) {
      where.push('community_id = @communityId');
      args.communityId = f.communityId;
    }
    if (f.workerId) {
      where.push('worker_id = @workerId');
      args.workerId = f.workerId;
    }
    const sql = `SELECT * FROM care_tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC, id DESC LIMIT @limit`;
    return this.db.prepare<[Record<string, string | number>], TaskRow>(sql).all(args).map(toTask);
  }

  async listOpenTasks(): Promise<CareTask[]> {
    return this.db.prepare<[], TaskRow>("SELECT * FROM care_tasks WHERE state = 'open' ORDER BY opened_at, id").all().map(toTask);
  }

  async insertOutage(o: Outage): Promise<boolean> {
    const res = await this.sdb.write(() =>
      this.db
        .prepare(
          `INSERT INTO outages (id, place_kind, place_key, community_id, building, devices, opened_at, closed_at, summary, page, updated_at,
             closed_by, close_reason, close_note)
           VALUES (@id, @placeKind, @placeKey, @communityId, @building, @devices, @openedAt, @closedAt, @summary, @page, @updatedAt,
             @closedBy, @closeReason, @closeNote)
           ON CONFLICT DO NOTHING`,
        )
        .run(outageParams(o)),
    );
    return res.changes === 1;
  }

  async saveOutage(o: Outage): Promise<void> {
    await this.sdb.write(() =>
      this.db
        .prepare(
          `UPDATE outages SET devices = @devices, closed_at = @closedAt, summary = @summary, page = @page, updated_at = @updatedAt,
             closed_by = @closedBy, close_reason = @closeReason, close_note = @closeNote WHERE id = @id`,
        )
        .run(outageParams(o)),
    );
  }

  async getOutage(id: string): Promise<Outage | null> {
    const row = this.db.prepare<[string], OutageRow>('SELECT * FROM outages WHERE id = ?').get(id);
    return row ? toOutage(row) : null;
  }

  async listOutages(f: OutageFilter): Promise<Outage[]> {
    const where: string[] = [];
    const args: Record<string, string | number> = { limit: f.limit ?? DEFAULT_LIMIT };
    if (f.state === 'open') where.push('closed_at IS NULL');
    if (f.state === 'closed') where.push('closed_at IS NOT NULL');
    if (f.communityId) {
      where.push('community_id = @communityId');
      args.communityId = f.communityId;
    }
    const sql = `SELECT * FROM outages ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC, id DESC LIMIT @limit`;
    return this.db.prepare<[Record<string, string | number>], OutageRow>(sql).all(args).map(toOutage);
  }

  async listOpenOutages(): Promise<Outage[]> {
    return this.db.prepare<[], OutageRow>('SELECT * FROM outages WHERE closed_at IS NULL ORDER BY opened_at').all().map(toOutage);
  }

  async claimDigestRun(key: string, at: number): Promise<boolean> {
    const res = await this.sdb.write(() =>
      this.db.prepare('INSERT INTO care_digest_runs (key, ran_at) VALUES (?, ?) ON CONFLICT(key) DO NOTHING').run(key, at),
    );
    return res.changes === 1;
  }

  async hasDigestRun(key: string): Promise<boolean> {
    return this.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM care_digest_runs WHERE key = ?').get(key)?.n === 1;
  }

  async lastDigestRunAt(exceptPrefix: string): Promise<number | null> {
    // substr, not LIKE: a key may hold `_` (worker ids), a LIKE wildcard.
    const row = this.db
      .prepare<[string, string], { at: number | null }>(
        'SELECT max(ran_at) AS at FROM care_digest_runs WHERE substr(key, 1, length(?)) <> ?',
      )
      .get(exceptPrefix, exceptPrefix);
    return row?.at ?? null;
  }
}

function outageParams(o: Outage) {
  return {
    id: o.id,
    placeKind: o.place.kind,
    placeKey: o.place.key,
    communityId: o.place.communityId,
    building: o.place.building,
    devices: JSON.stringify(o.devices),
    openedAt: o.openedAt,
    closedAt: o.closedAt,
    summary: o.summary,
    page: o.page ? JSON.stringify(o.page) : null,
    updatedAt: o.updatedAt,
    closedBy: o.closedBy ?? null,
    closeReason: o.closeReason ?? null,
    closeNote: o.closeNote ?? null,
  };
}
