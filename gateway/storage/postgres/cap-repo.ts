// PostgreSQL counters of the SMS providers' per-recipient caps, with an in-memory copy that answers the synchronous count.
import type { CapCountQuery, CapEntry, SmsCapRepo } from '../../notifiers/caps.js';
import type { PgDatabase } from './database.js';

interface CapRow {
  provider: string;
  phone: string;
  kind: string;
  content: string;
  sent_at: number;
}

/**
 * The caps are checked synchronously on the alarm path (no round trip before a page goes out), so the counts are
 * answered from a copy of the table held here: loaded at open, added to by every record. Messages counted by another
 * gateway node sharing the database are seen at the next load(); until then a cap errs towards one message too many,
 * never towards a page withheld.
 */
export class PgSmsCapRepo implements SmsCapRepo {
  /** Entries by provider and phone: a count looks at one recipient's messages only. */
  private entries = new Map<string, CapEntry[]>();

  constructor(private readonly db: PgDatabase) {}

  /** Reads the counters from the database (at open, and whenever a fresh view of other nodes' sends is wanted). */
  async load(): Promise<void> {
    const rows = await this.db.query<CapRow>('SELECT provider, phone, kind, content, sent_at FROM sms_cap_log ORDER BY sent_at');
    this.entries = new Map();
    for (const r of rows) {
      this.add({ provider: r.provider as CapEntry['provider'], phone: r.phone, kind: r.kind, content: r.content, sentAt: r.sent_at });
    }
  }

  private add(e: CapEntry): void {
    const key = keyOf(e.provider, e.phone);
    const list = this.entries.get(key);
    if (list) list.push(e);
    else this.entries.set(key, [e]);
  }

  count(q: CapCountQuery): number {
    let n = 0;
    for (const e of this.entries.get(keyOf(q.provider, q.phone)) ?? []) {
      if (e.sentAt <= q.since) continue;
      if (q.kind !== undefined && e.kind !== q.kind) continue;
      if (q.content !== undefined && e.content !== q.content) continue;
      n++;
    }
    return n;
  }

  async record(e: CapEntry): Promise<void> {
    // Counted here first: a caller checking the cap right after must see this message even before the INSERT returns.
    this.add({ ...e });
    // A count lost to a server crash errs towards one message too many, never one page too few: no WAL flush wait.
    await this.db.write(
      () =>
        this.db.run('INSERT INTO sms_cap_log (provider, phone, kind, content, sent_at) VALUES ($1, $2, $3, $4, $5)', [
          e.provider,
          e.phone,
          e.kind,
          e.content,
          e.sentAt,
        ]),
      { durability: 'normal' },
    );
  }

  async prune(before: number): Promise<void> {
    for (const [key, list] of this.entries) {
      const kept = list.filter((e) => e.sentAt > before);
      if (kept.length > 0) this.entries.set(key, kept);
      else this.entries.delete(key);
    }
    await this.db.write(() => this.db.run('DELETE FROM sms_cap_log WHERE sent_at <= $1', [before]), { durability: 'normal' });
  }
}

function keyOf(provider: string, phone: string): string {
  return `${provider}\u0000${phone}`;
}
