// PostgreSQL implementation of the report read models (monthly report, SMS log): read-only queries over the recorded tables.
import type {
  ReportIncident,
  ReportReads,
  SmsLogEntry,
  SmsLogQuery,
  StoredDeviceState,
  VisitOutcomeCount,
} from '../../reports/read-model.js';
import type { PgDatabase, PgParam } from './database.js';
import { type IncidentRow, type OutRow, type InRow, like, nameOf } from '../rows/reports.js';

export class PgReportReads implements ReportReads {
  constructor(private readonly db: PgDatabase) {}

  async communities(): Promise<{ id: string; name: string }[]> {
    const rows = await this.db.query<{ id: string; doc: string }>('SELECT id, doc FROM communities ORDER BY id');
    return rows.map((r) => ({ id: r.id, name: nameOf(r.doc) ?? r.id }));
  }

  async incidentsOpened(from: number, to: number, community: string | null): Promise<ReportIncident[]> {
    // Incidents carried over from before on_site_at existed hold their arrival only in the audit log.
    const rows = await this.db.query<IncidentRow>(
      `SELECT i.id, i.community_id, i.type, i.state, i.opened_at, i.first_paged_at, i.acknowledged_at,
         COALESCE(i.on_site_at, (SELECT min(a.at) FROM audit_log a WHERE a.incident_id = i.id AND a.action = 'on_site')) AS on_site_at
       FROM incidents i WHERE i.opened_at >= $1 AND i.opened_at < $2 AND NOT i.test ${community === null ? '' : 'AND i.community_id = $3'}
       ORDER BY i.opened_at, i.id`,
      community === null ? [from, to] : [from, to, community],
    );
    return rows.map((r) => ({
      id: r.id,
      communityId: r.community_id,
      type: r.type,
      state: r.state,
      openedAt: r.opened_at,
      firstPagedAt: r.first_paged_at,
      acknowledgedAt: r.acknowledged_at,
      onSiteAt: r.on_site_at,
    }));
  }

  async deviceStates(community: string | null): Promise<StoredDeviceState[]> {
    return this.db.query<StoredDeviceState>(
      `SELECT d.id, h.state FROM devices d JOIN residents r ON r.id = d.resident_id LEFT JOIN device_health h ON h.device_id = d.id
       ${community === null ? '' : 'WHERE r.community_id = $1'} ORDER BY d.id`,
      community === null ? [] : [community],
    );
  }

  async visitOutcomes(from: number, to: number, community: string | null): Promise<VisitOutcomeCount[]> {
    return this.db.query<VisitOutcomeCount>(
      `SELECT o.status, count(*) AS count FROM visit_occurrences o JOIN residents r ON r.id = o.resident_id
       WHERE o.start_at >= $1 AND o.start_at < $2 ${community === null ? '' : 'AND r.community_id = $3'} GROUP BY o.status ORDER BY o.status`,
      community === null ? [from, to] : [from, to, community],
    );
  }

  async outboxCount(): Promise<number> {
    return (await this.db.one<{ n: number }>("SELECT count(*) AS n FROM sms_messages WHERE provider = 'outbox'"))?.n ?? 0;
  }

  async outbound(q: SmsLogQuery): Promise<SmsLogEntry[]> {
    const c = conditions();
    if (q.status) c.add('status = ?', q.status);
    if (q.purpose) c.add('purpose = ?', q.purpose);
    if (q.incident) c.add('incident_id = ?', q.incident);
    if (q.from !== undefined) c.add('created_at >= ?', q.from);
    if (q.to !== undefined) c.add('created_at < ?', q.to);
    if (q.q) c.add("(to_phone LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')", like(q.q), like(q.q));
    const limit = c.param(q.limit);
    const rows = await this.db.query<OutRow>(
      `SELECT * FROM sms_messages ${c.where()} ORDER BY created_at DESC, row_no DESC LIMIT ${limit}`,
      c.params,
    );
    return rows.map((r) => ({
      direction: 'out',
      id: r.id,
      phone: r.to_phone,
      body: r.body,
      at: r.created_at,
      status: r.status,
      purpose: r.purpose,
      incidentId: r.incident_id,
      role: r.role,
      provider: r.provider,
      notSent: r.provider === 'outbox',
      sentAt: r.sent_at,
      errorCode: r.error_code,
      error: r.error,
      attempts: r.attempts,
    }));
  }

  async inbound(q: SmsLogQuery): Promise<SmsLogEntry[]> {
    const c = conditions();
    if (q.incident) c.add('incident_id = ?', q.incident);
    if (q.from !== undefined) c.add('received_at >= ?', q.from);
    if (q.to !== undefined) c.add('received_at < ?', q.to);
    if (q.q) c.add("(from_phone LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')", like(q.q), like(q.q));
    const limit = c.param(q.limit);
    const rows = await this.db.query<InRow>(
      `SELECT * FROM sms_inbound ${c.where()} ORDER BY received_at DESC, id DESC LIMIT ${limit}`,
      c.params,
    );
    return rows.map((r) => ({
      direction: 'in',
      id: `in-${r.id}`,
      phone: r.from_phone,
      body: r.body,
      at: r.received_at,
      status: 'received',
      purpose: r.handled_as,
      incidentId: r.incident_id,
      role: null,
      provider: null,
      notSent: false,
      sentAt: null,
      errorCode: null,
      error: null,
      attempts: null,
    }));
  }
}

/** WHERE clauses written with `?`, numbered `$n` as they are added. */
function conditions() {
  const clauses: string[] = [];
  const params: PgParam[] = [];
  const param = (value: string | number): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const add = (clause: string, ...values: (string | number)[]): void => {
    let i = 0;
    clauses.push(clause.replace(/\?/g, () => param(values[i++] ?? '')));
  };
  return { params, param, add, where: () => (clauses.length ? `WHERE ${clauses.join(' AND ')}` : '') };
}
