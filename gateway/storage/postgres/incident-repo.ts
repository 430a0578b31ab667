// PostgreSQL incidents, their linked signals and the append-only audit log.
import type { AuditChannel, AuditEntry, Incident, Responder } from '../../core/types.js';
import type { IncidentFilter, IncidentRepo } from '../ports.js';
import { prepared, type PgDatabase, type PgParam } from './database.js';
import { type AuditRow, type IncidentRow, toIncident } from '../rows/incidents.js';

const COLUMNS = [
  'id',
  'code',
  'resident_id',
  'community_id',
  'type',
  'state',
  'step',
  'unassigned',
  'plan',
  'opened_at',
  'first_paged_at',
  'acknowledged_at',
  'acknowledged_by',
  'resolved_at',
  'cancelled_at',
  'signal_count',
  'last_signal_at',
  'next_step_at',
  'test',
] as const;

// The alarm path's statements, prepared once per connection (database.ts: prepared).
const INSERT_SQL = prepared(
  'care_incidents_insert',
  `INSERT INTO incidents (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`,
);
const UPDATE_TEXT = `UPDATE incidents SET ${COLUMNS.slice(1)
  .map((c, i) => `${c} = $${i + 2}`)
  .join(', ')} WHERE id = $1`;
const UPDATE_SQL = prepared('care_incidents_update', UPDATE_TEXT);
const LINK_SIGNAL = prepared(
  'care_incident_signals_insert',
  'INSERT INTO incident_signals (incident_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
);
const APPEND_AUDIT = prepared(
  'care_audit_insert',
  'INSERT INTO audit_log (incident_id, at, action, actor, channel, detail) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
);
/** Several audit entries from parallel arrays starting at parameter `from`, inserted in the order given. */
function insertAuditsText(from: number): string {
  const p = (k: number): string => `$${from + k}`;
  return `INSERT INTO audit_log (incident_id, at, action, actor, channel, detail)
    SELECT incident_id, at, action, actor, channel, detail
      FROM unnest(${p(0)}::text[], ${p(1)}::bigint[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::text[], ${p(5)}::text[])
        WITH ORDINALITY AS t(incident_id, at, action, actor, channel, detail, n)
     ORDER BY n
    RETURNING id`;
}
const APPEND_AUDITS = prepared('care_audit_insert_all', insertAuditsText(1));
// The incident's UPDATE (parameters 1..COLUMNS) and its entries (the arrays after them) in one statement.
const UPDATE_WITH_AUDITS = prepared(
  'care_audit_insert_with_update',
  `WITH updated AS (${UPDATE_TEXT}) ${insertAuditsText(COLUMNS.length + 1)}`,
);
const ACTIVE = "state IN ('pending', 'open', 'acknowledged')";

export class PgIncidentRepo implements IncidentRepo {
  constructor(private readonly db: PgDatabase) {}

  async create(incident: Incident): Promise<void> {
    // Nothing reads its answer: inside the opening transaction it rides with the next statement waited for.
    await this.db.send(INSERT_SQL, toParams(incident));
  }

  async update(incident: Incident): Promise<void> {
    await this.db.run(UPDATE_SQL, toParams(incident));
  }

  async get(id: string): Promise<Incident | null> {
    const row = await this.db.one<IncidentRow>('SELECT * FROM incidents WHERE id = $1', [id]);
    return row ? toIncident(row) : null;
  }

  async getByCode(code: string): Promise<Incident | null> {
    const row = await this.db.one<IncidentRow>('SELECT * FROM incidents WHERE code = $1', [code]);
    return row ? toIncident(row) : null;
  }

  async findActiveForResident(residentId: string): Promise<Incident | null> {
    const row = await this.db.one<IncidentRow>(`SELECT * FROM incidents WHERE resident_id = $1 AND ${ACTIVE} LIMIT 1`, [residentId]);
    return row ? toIncident(row) : null;
  }

  async list(filter: IncidentFilter): Promise<Incident[]> {
    const where: string[] = [];
    const params: PgParam[] = [];
    const add = (clause: string, value: string): void => {
      params.push(value);
      where.push(`${clause} = $${params.length}`);
    };
    if (filter.state) add('state', filter.state);
    if (filter.residentId) add('resident_id', filter.residentId);
    if (filter.communityId) add('community_id', filter.communityId);
    params.push(filter.limit ?? 500);
    const sql = `SELECT * FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC, id DESC LIMIT $${params.length}`;
    return (await this.db.query<IncidentRow>(sql, params)).map(toIncident);
  }

  async listActive(): Promise<Incident[]> {
    return (await this.db.query<IncidentRow>(`SELECT * FROM incidents WHERE ${ACTIVE} ORDER BY opened_at, id`)).map(toIncident);
  }

  async countUnassigned(): Promise<number> {
    const row = await this.db.one<{ n: number }>(`SELECT count(*)::int AS n FROM incidents WHERE ${ACTIVE} AND unassigned AND NOT test`);
    return row?.n ?? 0;
  }

  async markOnSite(id: string, at: number, by: Responder): Promise<boolean> {
    const n = await this.db.run('UPDATE incidents SET on_site_at = $1, on_site_by = $2 WHERE id = $3 AND on_site_at IS NULL', [
      at,
      JSON.stringify(by),
      id,
    ]);
    return n === 1;
  }

  async linkSignal(incidentId: string, eventId: number): Promise<void> {
    await this.db.send(LINK_SIGNAL, [incidentId, eventId]);
  }

  async appendAudit(e: Omit<AuditEntry, 'id'>): Promise<AuditEntry> {
    const row = await this.db.one<{ id: number }>(APPEND_AUDIT, [
      e.incidentId,
      e.at,
      e.action,
      e.actor,
      e.channel,
      e.detail ? JSON.stringify(e.detail) : null,
    ]);
    return { ...e, id: row?.id ?? 0 };
  }

  async appendAudits(entries: Omit<AuditEntry, 'id'>[]): Promise<AuditEntry[]> {
    if (entries.length === 0) return [];
    if (entries.length === 1) return [await this.appendAudit(entries[0]!)];
    return this.insertAudits(entries);
  }

  async updateWithAudits(incident: Incident, entries: Omit<AuditEntry, 'id'>[]): Promise<AuditEntry[]> {
    if (entries.length === 0) {
      await this.update(incident);
      return [];
    }
    return this.insertAudits(entries, incident);
  }

  /** One INSERT of the entries; with `incident`, its row's UPDATE rides along as a data-modifying CTE (one round trip). */
  private async insertAudits(entries: Omit<AuditEntry, 'id'>[], incident?: Incident): Promise<AuditEntry[]> {
    const columns: PgParam[] = [
      entries.map((e) => e.incidentId),
      entries.map((e) => e.at),
      entries.map((e) => e.action),
      entries.map((e) => e.actor),
      entries.map((e) => e.channel),
      entries.map((e) => (e.detail ? JSON.stringify(e.detail) : null)),
    ];
    // Sent, not waited for: the ids are read with the transaction's next answer (ports.ts: IncidentRepo).
    const rows = await (incident
      ? this.db.sendForRows<{ id: number | string }>(UPDATE_WITH_AUDITS, [...toParams(incident), ...columns])
      : this.db.sendForRows<{ id: number | string }>(APPEND_AUDITS, columns));
    // The serial hands out ids in the order of the rows inserted; RETURNING's order is not promised, so they are sorted.
    const ids = rows.map((r) => Number(r.id)).sort((a, b) => a - b);
    return entries.map((e, i) => ({ ...e, id: ids[i] ?? 0 }));
  }

  async listAudit(incidentId: string): Promise<AuditEntry[]> {
    const rows = await this.db.query<AuditRow>('SELECT * FROM audit_log WHERE incident_id = $1 ORDER BY id', [incidentId]);
    return rows.map((r) => ({
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

function toParams(i: Incident): PgParam[] {
  return [
    i.id,
    i.code,
    i.residentId,
    i.communityId,
    i.type,
    i.state,
    i.step,
    i.unassigned,
    JSON.stringify(i.plan),
    i.openedAt,
    i.firstPagedAt,
    i.acknowledgedAt,
    i.acknowledgedBy ? JSON.stringify(i.acknowledgedBy) : null,
    i.resolvedAt,
    i.cancelledAt,
    i.signalCount,
    i.lastSignalAt,
    i.nextStepAt,
    i.test === true,
  ];
}
