// PostgreSQL SMS log: every outbound message with its delivery status, and every inbound reply.
import type { InboundSms, OutboundSms } from '../../core/types.js';
import type { RecentPage } from '../../paging/reply-codes.js';
import type { SmsRepo, SmsStatusUpdate } from '../ports.js';
import type { PgDatabase, PgParam } from './database.js';
import { leaseOptions, leaseSql, type PgLeaseOptions } from './leases.js';
import { type SmsRow, toSms } from '../rows/sms.js';

export class PgSmsRepo implements SmsRepo {
  /** Each message is stored leased to the node that stores it: that node sends it, unless its lease runs out. */
  constructor(
    private readonly db: PgDatabase,
    private readonly lease: PgLeaseOptions = leaseOptions(),
  ) {}

  async insert(m: OutboundSms): Promise<void> {
    // Sent, not waited for, inside a transaction (a page's rows ride with the next statement; its send waits for the COMMIT).
    await this.db.send(
      `INSERT INTO sms_messages (id, to_phone, body, purpose, incident_id, step, role, person_id, context, intent, priority, status, provider,
         provider_sid, attempts, error_code, error, created_at, sent_at, updated_at, claimed_by, lease_until)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, ${leaseSql(21)})`,
      [
        m.id,
        m.to,
        m.body,
        m.purpose,
        m.incidentId,
        m.step,
        m.role,
        m.personId,
        m.context ? JSON.stringify(m.context) : null,
        m.intent ? JSON.stringify(m.intent) : null,
        m.priority,
        m.status,
        m.provider,
        m.providerSid,
        m.attempts,
        m.errorCode,
        m.error,
        m.createdAt,
        m.sentAt,
        m.updatedAt,
        this.lease.nodeId,
        this.lease.leaseMs,
      ],
    );
  }

  async update(id: string, u: SmsStatusUpdate): Promise<OutboundSms | null> {
    const params: PgParam[] = [id, u.status, u.at];
    const sets = ['status = $2', 'updated_at = $3'];
    const set = (column: string, value: PgParam): void => {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    };
    if (u.providerSid !== undefined) set('provider_sid', u.providerSid);
    if (u.provider !== undefined) set('provider', u.provider);
    if (u.attempts !== undefined) set('attempts', u.attempts);
    if (u.errorCode !== undefined) set('error_code', u.errorCode);
    if (u.error !== undefined) set('error', u.error);
    if (u.sentAt !== undefined) set('sent_at', u.sentAt);
    const row = await this.db.one<SmsRow>(`UPDATE sms_messages SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, params);
    return row ? toSms(row) : null;
  }

  async get(id: string): Promise<OutboundSms | null> {
    return this.first('SELECT * FROM sms_messages WHERE id = $1', [id]);
  }

  async getBySid(providerSid: string): Promise<OutboundSms | null> {
    return this.first('SELECT * FROM sms_messages WHERE provider_sid = $1', [providerSid]);
  }

  async listForIncident(incidentId: string): Promise<OutboundSms[]> {
    return this.all('SELECT * FROM sms_messages WHERE incident_id = $1 ORDER BY created_at, row_no', [incidentId]);
  }

  async listUnsent(): Promise<OutboundSms[]> {
    return this.all("SELECT * FROM sms_messages WHERE status IN ('queued', 'sending') ORDER BY created_at, row_no");
  }

  async listAwaitingReceipt(provider: string, since: number, limit: number): Promise<OutboundSms[]> {
    return this.all(
      `SELECT * FROM sms_messages WHERE provider = $1 AND status IN ('accepted', 'sent') AND sent_at >= $2 AND provider_sid IS NOT NULL
       ORDER BY sent_at, row_no LIMIT $3`,
      [provider, since, limit],
    );
  }

  async latestWithContextTo(phone: string): Promise<OutboundSms | null> {
    return this.first(
      'SELECT * FROM sms_messages WHERE to_phone = $1 AND context IS NOT NULL ORDER BY created_at DESC, row_no DESC LIMIT 1',
      [phone],
    );
  }

  async list(limit: number): Promise<OutboundSms[]> {
    return this.all('SELECT * FROM sms_messages ORDER BY created_at DESC, row_no DESC LIMIT $1', [limit]);
  }

  async recordInbound(sms: InboundSms, handledAs: string, incidentId: string | null): Promise<void> {
    await this.db.run(
      'INSERT INTO sms_inbound (from_phone, body, provider_sid, received_at, handled_as, incident_id) VALUES ($1, $2, $3, $4, $5, $6)',
      [sms.from, sms.body, sms.providerSid, sms.receivedAt, handledAs, incidentId],
    );
  }

  async claimInbound(provider: string, messageId: string, at: number): Promise<boolean> {
    const n = await this.db.run(
      'INSERT INTO sms_inbound_seen (provider, message_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [provider, messageId, at],
    );
    return n === 1;
  }

  async releaseInbound(provider: string, messageId: string): Promise<void> {
    await this.db.run('DELETE FROM sms_inbound_seen WHERE provider = $1 AND message_id = $2', [provider, messageId]);
  }

  async recentPagesTo(phone: string, since: number): Promise<RecentPage[]> {
    const rows = await this.db.query<SmsRow & { answered_at: number | null }>(
      `SELECT m.*, a.answered_at FROM sms_messages m
       LEFT JOIN page_answers a ON a.phone = m.to_phone AND a.incident_id = m.incident_id
       WHERE m.to_phone = $1 AND m.purpose = 'page' AND m.created_at >= $2 AND m.incident_id IS NOT NULL
       ORDER BY m.created_at DESC, m.row_no DESC LIMIT 100`,
      [phone, since],
    );
    return rows.map((r) => ({ sms: toSms(r), answeredAt: r.answered_at }));
  }

  /**
   * The reply codes of the same pages as recentPagesTo (same order and limit), newest first; pages without a code are
   * left out. Only the two fields are read: the pager asks this for every page on the alarm path.
   */
  async recentReplyCodesTo(phone: string, since: number): Promise<{ incidentId: string; replyCode: string }[]> {
    const rows = await this.db.query<{ incident_id: string; reply_code: string }>(
      `SELECT incident_id, reply_code FROM (
         SELECT m.incident_id, m.created_at, m.row_no,
                CASE WHEN m.context::jsonb ->> 'kind' = 'incident' AND jsonb_typeof(m.context::jsonb -> 'replyCode') = 'string'
                     THEN m.context::jsonb ->> 'replyCode' END AS reply_code
         FROM sms_messages m
         WHERE m.to_phone = $1 AND m.purpose = 'page' AND m.created_at >= $2 AND m.incident_id IS NOT NULL
         ORDER BY m.created_at DESC, m.row_no DESC LIMIT 100) AS pages
       WHERE reply_code <> ''
       ORDER BY created_at DESC, row_no DESC`,
      [phone, since],
    );
    return rows.map((r) => ({ incidentId: r.incident_id, replyCode: r.reply_code }));
  }

  async markAnswered(phone: string, incidentId: string, at: number): Promise<void> {
    await this.db.run(
      `INSERT INTO page_answers (phone, incident_id, answered_at) VALUES ($1, $2, $3)
       ON CONFLICT (phone, incident_id) DO UPDATE SET answered_at = greatest(page_answers.answered_at, excluded.answered_at)`,
      [phone, incidentId, at],
    );
  }

  private async first(sql: string, params: PgParam[]): Promise<OutboundSms | null> {
    const row = await this.db.one<SmsRow>(sql, params);
    return row ? toSms(row) : null;
  }

  private async all(sql: string, params: PgParam[] = []): Promise<OutboundSms[]> {
    return (await this.db.query<SmsRow>(sql, params)).map(toSms);
  }
}
