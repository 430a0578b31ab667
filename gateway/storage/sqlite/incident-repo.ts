// SQLite incidents, their linked signals and the append-only audit log.
import type { AuditChannel, AuditEntry, Incident, Responder } from '../../core/types.js';
import type { IncidentFilter, IncidentRepo } from '../ports.js';
import type { SqliteDatabase } from './database.js';
import { type AuditRow, type IncidentRow, toIncident } from '../rows/incidents.js';

/** SQLite has no boolean column (flags are 0 or 1), and rows read through an older column list lack the later columns. */
type SqliteIncidentRow = Omit<IncidentRow, 'unassigned' | 'on_site_at' | 'on_site_by' | 'test'> & {
  unassigned: number;
  /** Migration 6. */
  on_site_at?: number | null;
  on_site_by?: string | null;
  /** Migration 60. */
  test?: number;
};

function fromSqlite(r: SqliteIncidentRow): Incident {
  return toIncident({
    ...r,
    unassigned: r.unassigned === 1,
    on_site_at: r.on_site_at ?? null,
    on_site_by: r.on_site_by ?? null,
    test: r.test === 1,
  });
}

const COLUMNS =
  'id, code, resident_id, community_id, type, state, step, unassigned, plan, opened_at, first_paged_at, acknowledged_at, acknowledged_by, resolved_at, cancelled_at, signal_count, last_signal_at, next_step_at, test';
const VALUES =
  '@id, @code, @residentId, @communityId, @type, @state, @step, @unassigned, @plan, @openedAt, @firstPagedAt, @acknowledgedAt, @acknowledgedBy, @resolvedAt, @cancelledAt, @signalCount, @lastSignalAt, @nextStepAt, @test';

const UPDATE_SQL = `UPDATE incidents SET ${COLUMNS.split(', ')
  .filter((c) => c !== 'id')
  .map((c) => `${c} = @${camel(c)}`)
  .join(', ')} WHERE id = @id`;

export class SqliteIncidentRepo implements IncidentRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async create(incident: Incident): Promise<void> {
    await this.sdb.write(() => this.sdb.stmt(`INSERT INTO incidents (${COLUMNS}) VALUES (${VALUES})`).run(toParams(incident)));
  }

  async update(incident: Incident): Promise<void> {
    await this.sdb.write(() => this.sdb.stmt(UPDATE_SQL).run(toParams(incident)));
  }

  async get(id: string): Promise<Incident | null> {
    const row = this.sdb.stmt<[string], SqliteIncidentRow>('SELECT * FROM incidents WHERE id = ?').get(id);
    return row ? fromSqlite(row) : null;
  }

  async getByCode(code: string): Promise<Incident | null> {
    const row = this.sdb.stmt<[string], SqliteIncidentRow>('SELECT * FROM incidents WHERE code = ?').get(code);
    return row ? fromSqlite(row) : null;
  }

  async findActiveForResident(residentId: string): Promise<Incident | null> {
    const row = this.sdb
      .stmt<[string], SqliteIncidentRow>(
        "SELECT * FROM incidents WHERE resident_id = ? AND state IN ('pending', 'open', 'acknowledged') LIMIT 1",
      )
      .get(residentId);
    return row ? fromSqlite(row) : null;
  }

  async list(filter: IncidentFilter): Promise<Incident[]> {
    const where: string[] = [];
    const params: Record<string, string | number> = { limit: filter.limit ?? 500 };
    if (filter.state) {
      where.push('state = @state');
      params.state = filter.state;
    }
    if (filter.residentId) {
      where.push('resident_id = @residentId');
      params.residentId = filter.residentId;
    }
    if (filter.communityId) {
      where.push('community_id = @communityId');
      params.communityId = filter.communityId;
    }
    const sql = `SELECT * FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC, id DESC LIMIT @limit`;
    return this.sdb.stmt<[Record<string, string | number>], SqliteIncidentRow>(sql).all(params).map(fromSqlite);
  }

  async listActive(): Promise<Incident[]> {
    return this.sdb
      .stmt<[], SqliteIncidentRow>("SELECT * FROM incidents WHERE state IN ('pending', 'open', 'acknowledged') ORDER BY opened_at")
      .all()
      .map(fromSqlite);
  }

  async countUnassigned(): Promise<number> {
    const row = this.sdb
      .stmt<[], { n: number }>(
        "SELECT count(*) AS n FROM incidents WHERE state IN ('pending', 'open', 'acknowledged') AND unassigned = 1 AND test = 0",
      )
      .get();
    return row?.n ?? 0;
  }

  /** Records the arrival once: false when the incident is unknown or already has an on-site time. */
  async markOnSite(id: string, at: number, by: Responder): Promise<boolean> {
    const res = await this.sdb.write(() =>
      this.sdb
        .stmt('UPDATE incidents SET on_site_at = ?, on_site_by = ? WHERE id = ? AND on_site_at IS NULL')
        .run(at, JSON.stringify(by), id),
    );
    return res.changes === 1;
  }

  async linkSignal(incidentId: string, eventId: number): Promise<void> {
    await this.sdb.write(() =>
      this.sdb.stmt('INSERT OR IGNORE INTO incident_signals (incident_id, event_id) VALUES (?, ?)').run(incidentId, eventId),
    );
  }

  async appendAudit(e: Omit<AuditEntry, 'id'>): Promise<AuditEntry> {
    return this.sdb.write(() => this.insertAudit(e));
  }

  async appendAudits(entries: Omit<AuditEntry, 'id'>[]): Promise<AuditEntry[]> {
    return this.sdb.write(() => entries.map((e) => this.insertAudit(e)));
  }

  // One write, done when called (inside a transaction, before the caller's next statement): a caller may leave the
  // promise for after the commit (ports.ts).
  async updateWithAudits(incident: Incident, entries: Omit<AuditEntry, 'id'>[]): Promise<AuditEntry[]> {
    return this.sdb.write(() => {
      this.sdb.stmt(UPDATE_SQL).run(toParams(incident));
      return entries.map((e) => this.insertAudit(e));
    });
  }

  private insertAudit(e: Omit<AuditEntry, 'id'>): AuditEntry {
    const res = this.sdb
      .stmt('INSERT INTO audit_log (incident_id, at, action, actor, channel, detail) VALUES (?, ?, ?, ?, ?, ?)')
      .run(e.incidentId, e.at, e.action, e.actor, e.channel, e.detail ? JSON.stringify(e.detail) : null);
    return { ...e, id: Number(res.lastInsertRowid) };
  }

  async listAudit(incidentId: string): Promise<AuditEntry[]> {
    return this.sdb
      .stmt<[string], AuditRow>('SELECT * FROM audit_log WHERE incident_id = ? ORDER BY id')
      .all(incidentId)
      .map((r) => ({
        id: r.id,
        incidentId: r.incident_id,
        at: r.at,
        action: r.action,
        actor: r.actor,
        channel: r.channel as AuditChannel,
        detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
      }));
  }
}

function camel(column: string): string {
  return column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function toParams(i: Incident): Record<string, string | number | null> {
  return {
    id: i.id,
    code: i.code,
    residentId: i.residentId,
    communityId: i.communityId,
    type: i.type,
    state: i.state,
    step: i.step,
    unassigned: i.unassigned ? 1 : 0,
    plan: JSON.stringify(i.plan),
    openedAt: i.openedAt,
    firstPagedAt: i.firstPagedAt,
    acknowledgedAt: i.acknowledgedAt,
    acknowledgedBy: i.acknowledgedBy ? JSON.stringify(i.acknowledgedBy) : null,
    resolvedAt: i.resolvedAt,
    cancelledAt: i.cancelledAt,
    signalCount: i.signalCount,
    lastSignalAt: i.lastSignalAt,
    nextStepAt: i.nextStepAt,
    test: i.test === true ? 1 : 0,
  };
}
