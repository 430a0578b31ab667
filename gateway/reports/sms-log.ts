// The SMS log for the dashboard: every message sent and received, newest first, with filters; outbox messages marked as not sent.
import type { SqliteDatabase } from '../storage/sqlite/database.js';

export interface SmsLogQuery {
  direction?: 'in' | 'out';
  status?: string;
  purpose?: string;
  /** Phone number or text fragment. */
  q?: string;
  incident?: string;
  /** Instants (ms), [from, to). */
  from?: number;
  to?: number;
  limit: number;
}

export interface SmsLogEntry {
  direction: 'out' | 'in';
  id: string;
  /** The other party: the recipient of an outbound message, the sender of an inbound one. */
  phone: string;
  body: string;
  at: number;
  /** Outbound: the delivery status; inbound: `received`. */
  status: string;
  /** Outbound: why it was sent (page, notice…); inbound: how the reply was handled (ack, visit_check_in…). */
  purpose: string;
  incidentId: string | null;
  role: string | null;
  provider: string | null;
  /** True for a message kept in the local outbox: it never left the gateway. */
  notSent: boolean;
  sentAt: number | null;
  errorCode: string | null;
  error: string | null;
  attempts: number | null;
}

interface OutRow {
  id: string;
  to_phone: string;
  body: string;
  purpose: string;
  incident_id: string | null;
  role: string | null;
  status: string;
  provider: string;
  attempts: number;
  error_code: string | null;
  error: string | null;
  created_at: number;
  sent_at: number | null;
}

interface InRow {
  id: number;
  from_phone: string;
  body: string;
  received_at: number;
  handled_as: string;
  incident_id: string | null;
}

export class SmsLogReader {
  constructor(private readonly deps: { database: SqliteDatabase }) {}

  list(q: SmsLogQuery): SmsLogEntry[] {
    const out = q.direction === 'in' ? [] : this.outbound(q);
    const inbound = q.direction === 'out' || (q.status !== undefined && q.status !== 'received') ? [] : this.inbound(q);
    return [...out, ...inbound].sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1)).slice(0, q.limit);
  }

  /** Outbound messages in the outbox (never sent), for the warning above the log. */
  outboxCount(): number {
    return this.deps.database.stmt<[], { n: number }>("SELECT COUNT(*) AS n FROM sms_messages WHERE provider = 'outbox'").get()?.n ?? 0;
  }

  private outbound(q: SmsLogQuery): SmsLogEntry[] {
    const { where, params, add } = conditions();
    if (q.status) add('status = ?', q.status);
    if (q.purpose) add('purpose = ?', q.purpose);
    if (q.incident) add('incident_id = ?', q.incident);
    if (q.from !== undefined) add('created_at >= ?', q.from);
    if (q.to !== undefined) add('created_at < ?', q.to);
    if (q.q) add("(to_phone LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')", like(q.q), like(q.q));
    const sql = `SELECT * FROM sms_messages ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, rowid DESC LIMIT ?`;
    // Filters vary per request: a prepared-once statement per text would only fill the cache.
    return this.deps.database.db
      .prepare<(string | number)[], OutRow>(sql)
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

  private inbound(q: SmsLogQuery): SmsLogEntry[] {
    if (q.purpose) return [];
    const { where, params, add } = conditions();
    if (q.incident) add('incident_id = ?', q.incident);
    if (q.from !== undefined) add('received_at >= ?', q.from);
    if (q.to !== undefined) add('received_at < ?', q.to);
    if (q.q) add("(from_phone LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')", like(q.q), like(q.q));
    const sql = `SELECT * FROM sms_inbound ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY received_at DESC, id DESC LIMIT ?`;
    return this.deps.database.db
      .prepare<(string | number)[], InRow>(sql)
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
  const params: (string | number)[] = [];
  const add = (clause: string, ...values: (string | number)[]): void => {
    where.push(clause);
    params.push(...values);
  };
  return { where, params, add };
}

/** A LIKE pattern matching the text anywhere, with % and _ taken literally. */
function like(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
