// PostgreSQL supervision repository: care tasks (one open per kind, resident and device), grouped outages, digest runs.
import type { CareTaskKind } from '../../core/types.js';
import type { CareTaskClose, SupervisionRepo } from '../../supervision/repo.js';
import type { CareTask, CareTaskFilter, Outage, OutageFilter } from '../../supervision/types.js';
import type { PgDatabase, PgParam } from './database.js';
import { type TaskRow, type OutageRow, toTask, toOutage } from '../rows/supervision.js';

const DEFAULT_LIMIT = 500;

/** WHERE clauses and their `$n` parameters, built up one filter at a time. */
function filters(): { where: string[]; params: PgParam[]; add: (column: string, value: string) => void; sql: () => string } {
  const where: string[] = [];
  const params: PgParam[] = [];
  return {
    where,
    params,
    add(column, value) {
      params.push(value);
      where.push(`${column} = $${params.length}`);
    },
    sql: () => (where.length ? `WHERE ${where.join(' AND ')}` : ''),
  };
}

export class PgSupervisionRepo implements SupervisionRepo {
  constructor(private readonly db: PgDatabase) {}

  async insertTask(t: CareTask): Promise<boolean> {
    // The partial unique index is the guard: two detectors (or nodes) racing to open the same task insert it once.
    const n = await this.db.run(
      `INSERT INTO care_tasks (id, kind, state, resident_id, device_id, device_key, community_id, worker_id, detail, opened_at,
         closed_at, closed_by, close_reason, close_note, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
       ON CONFLICT DO NOTHING`,
      [
        t.id,
        t.kind,
        t.state,
        t.residentId,
        t.deviceId,
        t.deviceId ?? '',
        t.communityId,
        t.workerId,
        t.detail ? JSON.stringify(t.detail) : null,
        t.openedAt,
        t.closedAt,
        t.closedBy,
        t.closeReason,
        t.closeNote,
        t.updatedAt,
      ],
    );
    return n === 1;
  }

  async getTask(id: string): Promise<CareTask | null> {
    const row = await this.db.one<TaskRow>('SELECT * FROM care_tasks WHERE id = $1', [id]);
    return row ? toTask(row) : null;
  }

  async findOpenTask(kind: CareTaskKind, residentId: string, deviceId: string | null): Promise<CareTask | null> {
    const row = await this.db.one<TaskRow>(
      "SELECT * FROM care_tasks WHERE kind = $1 AND resident_id = $2 AND device_key = $3 AND state = 'open'",
      [kind, residentId, deviceId ?? ''],
    );
    return row ? toTask(row) : null;
  }

  async closeTask(id: string, c: CareTaskClose): Promise<CareTask | null> {
    const row = await this.db.one<TaskRow>(
      `UPDATE care_tasks SET state = 'closed', closed_at = $2, closed_by = $3, close_reason = $4, close_note = $5, updated_at = $2
       WHERE id = $1 AND state = 'open' RETURNING *`,
      [id, c.at, c.by, c.reason, c.note],
    );
    return row ? toTask(row) : null;
  }

  async listTasks(f: CareTaskFilter): Promise<CareTask[]> {
    const q = filters();
    if (f.state) q.add('state', f.state);
    if (f.communityId) q.add('community_id', f.communityId);
    if (f.workerId) q.add('worker_id', f.workerId);
    q.params.push(f.limit ?? DEFAULT_LIMIT);
    const rows = await this.db.query<TaskRow>(
      `SELECT * FROM care_tasks ${q.sql()} ORDER BY opened_at DESC, id DESC LIMIT $${q.params.length}`,
      q.params,
    );
    return rows.map(toTask);
  }

  async listOpenTasks(): Promise<CareTask[]> {
    return (await this.db.query<TaskRow>("SELECT * FROM care_tasks WHERE state = 'open' ORDER BY opened_at, id")).map(toTask);
  }

  async insertOutage(o: Outage): Promise<boolean> {
    const n = await this.db.run(
      `INSERT INTO outages (id, place_kind, place_key, community_id, building, devices, opened_at, closed_at, summary, page, updated_at,
         closed_by, close_reason, close_note)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT DO NOTHING`,
      outageParams(o),
    );
    return n === 1;
  }

  async saveOutage(o: Outage): Promise<void> {
    // Only what changes over an outage's life: its place and opening stay as inserted.
    await this.db.run(
      `UPDATE outages SET devices = $2, closed_at = $3, summary = $4, page = $5, updated_at = $6, closed_by = $7, close_reason = $8, close_note = $9
       WHERE id = $1`,
      [
        o.id,
        JSON.stringify(o.devices),
        o.closedAt,
        o.summary,
        o.page ? JSON.stringify(o.page) : null,
        o.updatedAt,
        o.closedBy ?? null,
        o.closeReason ?? null,
        o.closeNote ?? null,
      ],
    );
  }

  async getOutage(id: string): Promise<Outage | null> {
    const row = await this.db.one<OutageRow>('SELECT * FROM outages WHERE id = $1', [id]);
    return row ? toOutage(row) : null;
  }

  async listOutages(f: OutageFilter): Promise<Outage[]> {
    const q = filters();
    if (f.state === 'open') q.where.push('closed_at IS NULL');
    if (f.state === 'closed') q.where.push('closed_at IS NOT NULL');
    if (f.communityId) q.add('community_id', f.communityId);
    q.params.push(f.limit ?? DEFAULT_LIMIT);
    const rows = await this.db.query<OutageRow>(
      `SELECT * FROM outages ${q.sql()} ORDER BY opened_at DESC, id DESC LIMIT $${q.params.length}`,
      q.params,
    );
    return rows.map(toOutage);
  }

  async listOpenOutages(): Promise<Outage[]> {
    return (await this.db.query<OutageRow>('SELECT * FROM outages WHERE closed_at IS NULL ORDER BY opened_at, id')).map(toOutage);
  }

  async claimDigestRun(key: string, at: number): Promise<boolean> {
    return (await this.db.run('INSERT INTO care_digest_runs (key, ran_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, at])) === 1;
  }

  async hasDigestRun(key: string): Promise<boolean> {
    return (await this.db.one<{ key: string }>('SELECT key FROM care_digest_runs WHERE key = $1', [key])) !== null;
  }

  async lastDigestRunAt(exceptPrefix: string): Promise<number | null> {
    // left(), not LIKE: a key may hold `_` (worker ids), a LIKE wildcard.
    const row = await this.db.one<{ at: number | null }>(
      'SELECT max(ran_at) AS at FROM care_digest_runs WHERE left(key, length($1)) <> $1',
      [exceptPrefix],
    );
    return row?.at ?? null;
  }
}

function outageParams(o: Outage): PgParam[] {
  return [
    o.id,
    o.place.kind,
    o.place.key,
    o.place.communityId,
    o.place.building,
    JSON.stringify(o.devices),
    o.openedAt,
    o.closedAt,
    o.summary,
    o.page ? JSON.stringify(o.page) : null,
    o.updatedAt,
    o.closedBy ?? null,
    o.closeReason ?? null,
    o.closeNote ?? null,
  ];
}
