// SQLite SMS log: every outbound message with its delivery status, and every inbound reply.
import type { InboundSms, OutboundSms } from '../../core/types.js';
import type { PageReplyCode, RecentPage } from '../../paging/reply-codes.js';
import type { SmsRepo, SmsStatusUpdate } from '../ports.js';
import type { SqliteDatabase } from './database.js';
import { type SmsRow, toSms } from '../rows/sms.js';

export class SqliteSmsRepo implements SmsRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async insert(m: OutboundSms): Promise<void> {
    await this.sdb.write(() =>
      this.sdb
        .stmt(
          `INSERT INTO sms_messages (id, to_phone, body, purpose, incident_id, step, role, person_id, context, intent, priority, status, provider, provider_sid, attempts, error_code, error, created_at, sent_at, updated_at)
           VALUES (@id, @to, @body, @purpose, @incidentId, @step, @role, @personId, @context, @intent, @priority, @status, @provider, @providerSid, @attempts, @errorCode, @error, @createdAt, @sentAt, @updatedAt)`,
        )
        .run({ ...m, context: m.context ? JSON.stringify(m.context) : null, intent: m.intent ? JSON.stringify(m.intent) : null }),
    );
  }

  async update(id: string, u: SmsStatusUpdate): Promise<OutboundSms | null> {
    const sets = ['status = @status', 'updated_at = @at'];
    if (u.providerSid !== undefined) sets.push('provider_sid = @providerSid');
    if (u.provider !== undefined) sets.push('provider = @provider');
    if (u.attempts !== undefined) sets.push('attempts = @attempts');
    if (u.errorCode !== undefined) sets.push('error_code = @errorCode');
    if (u.error !== undefined) sets.push('error = @error');
    if (u.sentAt !== undefined) sets.push('sent_at = @sentAt');
    await this.sdb.write(() =>
      this.sdb.stmt(`UPDATE sms_messages SET ${sets.join(', ')} WHERE id = @id`).run({
        id,
        status: u.status,
        at: u.at,
        providerSid: u.providerSid ?? null,
        provider: u.provider ?? null,
        attempts: u.attempts ?? 0,
        errorCode: u.errorCode ?? null,
        error: u.error ?? null,
        sentAt: u.sentAt ?? null,
      }),
    );
    return this.get(id);
  }

  async get(id: string): Promise<OutboundSms | null> {
    const row = this.sdb.stmt<[string], SmsRow>('SELECT * FROM sms_messages WHERE id = ?').get(id);
    return row ? toSms(row) : null;
  }

  async getBySid(providerSid: string): Promise<OutboundSms | null> {
    const row = this.sdb.stmt<[string], SmsRow>('SELECT * FROM sms_messages WHERE provider_sid = ?').get(providerSid);
    return row ? toSms(row) : null;
  }

  async listForIncident(incidentId: string): Promise<OutboundSms[]> {
    return this.sdb
      .stmt<[string], SmsRow>('SELECT * FROM sms_messages WHERE incident_id = ? ORDER BY created_at, rowid')
      .all(incidentId)
      .map(toSms);
  }

  async listUnsent(): Promise<OutboundSms[]> {
    return this.sdb
      .stmt<[], SmsRow>("SELECT * FROM sms_messages WHERE status IN ('queued', 'sending') ORDER BY created_at, rowid")
      .all()
      .map(toSms);
  }

  /** Messages this provider took (accepted or sent) since `since` and has not reported on yet, oldest first. */
  async listAwaitingReceipt(provider: string, since: number, limit: number): Promise<OutboundSms[]> {
    return this.sdb
      .stmt<[string, number, number], SmsRow>(
        "SELECT * FROM sms_messages WHERE provider = ? AND status IN ('accepted', 'sent') AND sent_at >= ? AND provider_sid IS NOT NULL ORDER BY sent_at, rowid LIMIT ?",
      )
      .all(provider, since, limit)
      .map(toSms);
  }

  async latestWithContextTo(phone: string): Promise<OutboundSms | null> {
    const row = this.sdb
      .stmt<[string], SmsRow>(
        'SELECT * FROM sms_messages WHERE to_phone = ? AND context IS NOT NULL ORDER BY created_at DESC, rowid DESC LIMIT 1',
      )
      .get(phone);
    return row ? toSms(row) : null;
  }

  async list(limit: number): Promise<OutboundSms[]> {
    return this.sdb.stmt<[number], SmsRow>('SELECT * FROM sms_messages ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit).map(toSms);
  }

  async recordInbound(sms: InboundSms, handledAs: string, incidentId: string | null): Promise<void> {
    await this.sdb.write(() =>
      this.sdb
        .stmt('INSERT INTO sms_inbound (from_phone, body, provider_sid, received_at, handled_as, incident_id) VALUES (?, ?, ?, ?, ?, ?)')
        .run(sms.from, sms.body, sms.providerSid, sms.receivedAt, handledAs, incidentId),
    );
  }

  async claimInbound(provider: string, messageId: string, at: number): Promise<boolean> {
    const result = await this.sdb.write(() =>
      this.sdb
        .stmt('INSERT OR IGNORE INTO sms_inbound_seen (provider, message_id, received_at) VALUES (?, ?, ?)')
        .run(provider, messageId, at),
    );
    return result.changes === 1;
  }

  async releaseInbound(provider: string, messageId: string): Promise<void> {
    await this.sdb.write(() =>
      this.sdb.stmt('DELETE FROM sms_inbound_seen WHERE provider = ? AND message_id = ?').run(provider, messageId),
    );
  }

  async recentPagesTo(phone: string, since: number): Promise<RecentPage[]> {
    return this.sdb
      .stmt<[string, number], SmsRow & { answered_at: number | null }>(
        `SELECT m.*, a.answered_at FROM sms_messages m
         LEFT JOIN page_answers a ON a.phone = m.to_phone AND a.incident_id = m.incident_id
         WHERE m.to_phone = ? AND m.purpose = 'page' AND m.created_at >= ? AND m.incident_id IS NOT NULL
         ORDER BY m.created_at DESC, m.rowid DESC LIMIT 100`,
      )
      .all(phone, since)
      .map((r) => ({ sms: toSms(r), answeredAt: r.answered_at }));
  }

  async recentReplyCodesTo(phone: string, since: number): Promise<PageReplyCode[]> {
    // The same pages as recentPagesTo (same index, order and limit), but only the code is read out of the context:
    // no row is turned into a whole message. Empty codes are left out, as a page without one names no incident.
    return this.sdb
      .stmt<[string, number], { incident_id: string; reply_code: string | null }>(
        `SELECT incident_id, reply_code FROM (
           SELECT m.incident_id,
                  CASE WHEN json_extract(m.context, '$.kind') = 'incident' THEN json_extract(m.context, '$.replyCode') END AS reply_code
           FROM sms_messages m
           WHERE m.to_phone = ? AND m.purpose = 'page' AND m.created_at >= ? AND m.incident_id IS NOT NULL
           ORDER BY m.created_at DESC, m.rowid DESC LIMIT 100)
         WHERE typeof(reply_code) = 'text' AND reply_code <> ''`,
      )
      .all(phone, since)
      .flatMap((r) => (r.reply_code === null ? [] : [{ incidentId: r.incident_id, replyCode: r.reply_code }]));
  }

  async markAnswered(phone: string, incidentId: string, at: number): Promise<void> {
    await this.sdb.write(() =>
      this.sdb
        .stmt(
          `INSERT INTO page_answers (phone, incident_id, answered_at) VALUES (?, ?, ?)
           ON CONFLICT (phone, incident_id) DO UPDATE SET answered_at = max(answered_at, excluded.answered_at)`,
        )
        .run(phone, incidentId, at),
    );
  }
}
