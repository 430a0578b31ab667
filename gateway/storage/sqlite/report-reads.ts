// SQLite implementation of the report read models (monthly report, SMS log): read-only queries over the recorded tables.
import type {
  ReportIncident,
  ReportReads,
  SmsLogEntry,
  SmsLogQuery,
  StoredDeviceState,
  VisitOutcomeCount,
} from '../../reports/read-model.js';
import type { SqliteDatabase } from './database.js';
import { type IncidentRow, type OutRow, type InRow, like, nameOf } from '../rows/reports.js';

type Param = string | number;

export class SqliteReportReads implements ReportReads {
  constructor(private readonly sdb: SqliteDatabase) {}

  async communities(): Promise<{ id: string; name: string }[]> {
    const rows = this.sdb.stmt<[], { id: string; doc: string }>('SELECT id, doc FROM communities ORDER BY id').all();
    return rows.map((r) => ({ id: r.id, name: nameOf(r.doc) ?? r.id }));
  }

  async incidentsOpened(from: number, to: number, community: string | null): Promise<ReportIncident[]> {
    // Incidents from before on_site_at existed carry their arrival only in the audit log.
    const sql = `SELECT i.id, i.community_id, i.type, i.state, i.opened_at, i.first_paged_at, i.acknowledged_at,
        COALESCE(i.on_site_at, (SELECT MIN(a.at) FROM audit_log a WHERE a.incident_id = i.id AND a.action = 'on_site')) AS on_site_at
      FROM incidents i WHERE i.opened_at >= ? AND i.opened_at < ? AND i.test = 0 ${community === null ? '' : 'AND i.community_id = ?'}`;
    const params: Param[] = community === null ? [from, to] : [from, to, community];
    return this.sdb
      .stmt<Param[], IncidentRow>(sql)
      .all(...params)
      .map((r) => ({
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
    return this.sdb
      .stmt<Param[], StoredDeviceState>(
        `SELECT d.id, h.state FROM devices d JOIN residents r ON r.id = d.resident_id LEFT JOIN device_health h ON h.device_id = d.id
         ${community === null ? '' : 'WHERE r.community_id = ?'}`,
      )
      .all(...(community === null ? [] : [community]));
  }

  async visitOutcomes(from: number, to: number, community: string | null): Promise<VisitOutcomeCount[]> {
    return this.sdb
      .stmt<Param[], VisitOutcomeCount>(
        `SELECT o.status, COUNT(*) AS count FROM visit_occurrences o JOIN residents r ON r.id = o.resident_id
         WHERE o.start_at >= ? AND o.start_at < ? ${community === null ? '' : 'AND r.community_id = ?'} GROUP BY o.status`,
      )
      .all(...(community === null ? [from, to] : [from, to, community]));
  }

  async outboxCount(): Promise<number> {
    return this.sdb.stmt<[], { n: number }>("SELECT COUNT(*) AS n FROM sms_messages WHERE provider = 'outbox'").get()?.n ?? 0;
  }

  async outbound(q: SmsLogQuery): Promise<SmsLogEntry[]> {
    const { where, params, add } = conditions();
    if (q.status) add('status = ?', q.status);
    if (q.purpose) add('purpose = ?', q.purpose);
    if (q.incident) add('incident_id = ?', q.incident);
    if (q.from !== undefined) add('created_at >= ?', q.from);
    if (q.to !== undefined) add('created_at < ?', q.to);
    if (q.q) add("(to_phone LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')", like(q.q), like(q.q));
    const sql = `SELECT * FROM sms_messages ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, rowid DESC LIMIT ?`;
    // Filters vary per request: a prepared-once statement per text would only fill the cache.
    return this.sdb.db
      .prepare<Param[], OutRow>(sql)
      .all(...params, q.limit)
      .map((r) => ({
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
    const { where, params, add } = conditions();
    if (q.incident) add('incident_id = ?', q.incident);
    if (q.from !== undefined) add('received_at >= ?', q.from);
    if (q.to !== undefined) add('received_at < ?', q.to);
    if (q.q) add("(from_phone LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')", like(q.q), like(q.q));
    const sql = `SELECT * FROM sms_inbound ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY received_at DESC, id DESC LIMIT ?`;
    return this.sdb.db
      .prepare<Param[], InRow>(sql)
      .all(...params, q.limit)
      .map((r) => ({
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

function conditions() {
  const where: string[] = [];
  const params: Param[] = [];
  const add = (clause: string, ...values: Param[]): void => {
    where.push(clause);
    params.push(...values);
  };
  return { where, params, add };
}
