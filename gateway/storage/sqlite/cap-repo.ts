// SQLite counters of the SMS providers' per-recipient caps: one row per message a capped provider took.
import type { CapCountQuery, CapEntry, SmsCapRepo } from '../../notifiers/caps.js';
import type { SqliteDatabase } from './database.js';

export class SqliteSmsCapRepo implements SmsCapRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  count(q: CapCountQuery): number {
    const where = ['provider = @provider', 'phone = @phone', 'sent_at > @since'];
    if (q.kind !== undefined) where.push('kind = @kind');
    if (q.content !== undefined) where.push('content = @content');
    const row = this.sdb
      .stmt<[Record<string, string | number>], { n: number }>(`SELECT count(*) AS n FROM sms_cap_log WHERE ${where.join(' AND ')}`)
      .get({
        provider: q.provider,
        phone: q.phone,
        since: q.since,
        ...(q.kind !== undefined ? { kind: q.kind } : {}),
        ...(q.content !== undefined ? { content: q.content } : {}),
      });
    return row?.n ?? 0;
  }

  async record(e: CapEntry): Promise<void> {
    // A count lost to a power cut errs towards one message too many, never one page too few: no disk sync here.
    await this.sdb.write(
      () =>
        this.sdb
          .stmt('INSERT INTO sms_cap_log (provider, phone, kind, content, sent_at) VALUES (?, ?, ?, ?, ?)')
          .run(e.provider, e.phone, e.kind, e.content, e.sentAt),
      { durability: 'normal' },
    );
  }

  async prune(before: number): Promise<void> {
    await this.sdb.write(() => this.sdb.stmt('DELETE FROM sms_cap_log WHERE sent_at <= ?').run(before), { durability: 'normal' });
  }
}
