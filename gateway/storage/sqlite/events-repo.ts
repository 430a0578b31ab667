// SQLite event log: the durable record written before a PUBACK, with redelivery detection bounded by time and connection.
import type { EventRepo, NewEvent, RecordedBatch, StoredEvent } from '../ports.js';
import type { SqliteDatabase } from './database.js';
import { type EventRow, toEvent } from '../rows/events.js';

/** SQLite has no boolean column: `processed` is stored as 0 or 1. */
type SqliteEventRow = Omit<EventRow, 'processed'> & { processed: number };

function fromSqlite(r: SqliteEventRow): StoredEvent {
  return toEvent({ ...r, processed: r.processed === 1 });
}

export class SqliteEventRepo implements EventRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async recordBatch(events: NewEvent[], dedupeSinceMs: number): Promise<RecordedBatch> {
    // A seq alone proves nothing: a device whose counter restarted (battery change, reboot) sends seq 1 again, maybe
    // with the very same bytes. Only a resend on the same connection, or one the device itself flags DUP (after a
    // reconnect, e.g. to a gateway that crashed before its PUBACK), is the same message again.
    const seen = this.sdb.stmt<[string, number, string, number, number, string], { id: number }>(
      `SELECT id FROM events WHERE device_id = ? AND seq = ? AND payload_hash = ? AND received_at >= ?
         AND (? = 1 OR session = ?) LIMIT 1`,
    );
    const insert = this.sdb.stmt(
      'INSERT INTO events (device_id, seq, type, payload, payload_hash, device_ts, received_at, session) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    // An earlier message of the group counts as sent before, recorded or not (PostgreSQL's check is the same).
    const group = new Map<string, NewEvent[]>();
    const { result: ids, durable } = await this.sdb.transactionStaged(async () =>
      events.map((e) => {
        const d = e.delivery;
        const key = `${e.deviceId}\u0000${e.seq}`;
        const before = group.get(key) ?? [];
        if (before.length === 0) group.set(key, before);
        const sentBefore = (p: NewEvent): boolean =>
          p.payloadHash === e.payloadHash && (d?.dup === true || p.delivery?.session === d?.session);
        const redelivery =
          d !== undefined &&
          (before.some(sentBefore) || Boolean(seen.get(e.deviceId, e.seq, e.payloadHash, dedupeSinceMs, d.dup ? 1 : 0, d.session)));
        before.push(e);
        if (redelivery) return null;
        return Number(
          insert.run(e.deviceId, e.seq, e.type, e.payload, e.payloadHash, e.deviceTs, e.receivedAt, d?.session ?? null).lastInsertRowid,
        );
      }),
    );
    return { ids, durable };
  }

  async markProcessed(eventId: number): Promise<void> {
    await this.sdb.write(() => this.sdb.stmt('UPDATE events SET processed = 1 WHERE id = ?').run(eventId));
  }

  async markProcessedMany(eventIds: readonly number[]): Promise<void> {
    if (eventIds.length === 0) return;
    // One statement for the whole batch: the ids travel as one JSON array instead of one UPDATE per event.
    await this.sdb.write(() =>
      this.sdb.stmt('UPDATE events SET processed = 1 WHERE id IN (SELECT value FROM json_each(?))').run(JSON.stringify(eventIds)),
    );
  }

  async listUnprocessed(opts: { receivedBefore?: number; limit?: number } = {}): Promise<StoredEvent[]> {
    return this.sdb
      .stmt<[number | null, number | null, number], SqliteEventRow>(
        'SELECT * FROM events WHERE processed = 0 AND (? IS NULL OR received_at < ?) ORDER BY id LIMIT ?',
      )
      .all(opts.receivedBefore ?? null, opts.receivedBefore ?? null, opts.limit ?? -1)
      .map(fromSqlite);
  }

  async alreadyTaken(eventIds: readonly number[]): Promise<number[]> {
    if (eventIds.length === 0) return [];
    // One process writes this file: only what is already marked acted on is taken.
    return this.sdb
      .stmt<[string], { id: number }>('SELECT id FROM events WHERE id IN (SELECT value FROM json_each(?)) AND processed = 1')
      .all(JSON.stringify(eventIds))
      .map((r) => r.id);
  }

  async get(eventId: number): Promise<StoredEvent | null> {
    const row = this.sdb.stmt<[number], SqliteEventRow>('SELECT * FROM events WHERE id = ?').get(eventId);
    return row ? fromSqlite(row) : null;
  }
}
