// PostgreSQL event log: the durable record written before a PUBACK, one COMMIT per group, redeliveries told apart as in SQLite.
import type { EventRepo, NewEvent, RecordedBatch, StoredEvent } from '../ports.js';
import { prepared, type PgDatabase } from './database.js';
import { type EventRow, toEvent } from '../rows/events.js';

/** What recording a group answers: the group's rows (1-based) that were new, and the ids they were given, both ascending. */
interface RecordedRow {
  fresh: (number | string)[] | null;
  ids: (number | string)[] | null;
}

/** First key of the per-device advisory locks taken while a group is checked and inserted. */
const DEVICE_LOCK_SPACE = 0x45_56;

// The alarm path's statements, prepared once per connection (database.ts: prepared).
const LOCK_DEVICES = prepared(
  'care_events_lock_devices',
  'SELECT pg_advisory_xact_lock($1, k) FROM (SELECT hashtext(d) AS k FROM unnest($2::text[]) AS d ORDER BY 1) AS keys',
);
/**
 * The group's redelivery check and insert in one statement. A message with a connection ($8, null for none) is a
 * redelivery when the same device sent the same seq and bytes before, on the same connection or flagged DUP ($9):
 * as an event recorded within the window ($10), or earlier in this group. The others are inserted in the group's order.
 */
const RECORD_EVENTS = prepared(
  'care_events_record',
  `WITH batch AS MATERIALIZED (
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::boolean[])
       WITH ORDINALITY AS t(device_id, seq, type, payload, payload_hash, device_ts, received_at, session, dup, n)
   ), fresh AS MATERIALIZED (
     SELECT b.* FROM batch b
      WHERE b.session IS NULL
         OR NOT EXISTS (SELECT 1 FROM events e
                         WHERE e.device_id = b.device_id AND e.seq = b.seq AND e.received_at >= $10
                           AND e.payload_hash = b.payload_hash AND (b.dup OR e.session = b.session))
        AND NOT EXISTS (SELECT 1 FROM batch p
                         WHERE p.n < b.n AND p.device_id = b.device_id AND p.seq = b.seq
                           AND p.payload_hash = b.payload_hash AND (b.dup OR p.session = b.session))
   ), inserted AS (
     INSERT INTO events (device_id, seq, type, payload, payload_hash, device_ts, received_at, session)
     SELECT device_id, seq, type, payload, payload_hash, device_ts, received_at, session FROM fresh ORDER BY n
     RETURNING id
   )
   SELECT (SELECT array_agg(n ORDER BY n) FROM fresh) AS fresh, (SELECT array_agg(id ORDER BY id) FROM inserted) AS ids`,
);
const MARK_PROCESSED = prepared('care_events_processed', 'UPDATE events SET processed = true WHERE id = ANY($1::bigint[])');
const ALREADY_TAKEN = prepared(
  'care_events_taken',
  `WITH free AS (SELECT id FROM events WHERE id = ANY($1::bigint[]) AND NOT processed FOR UPDATE SKIP LOCKED)
   SELECT id FROM events WHERE id = ANY($1::bigint[]) AND id NOT IN (SELECT id FROM free)`,
);

export class PgEventRepo implements EventRepo {
  constructor(private readonly db: PgDatabase) {}

  async recordBatch(events: NewEvent[], dedupeSinceMs: number): Promise<RecordedBatch> {
    if (events.length === 0) return { ids: [], durable: Promise.resolve() };
    // Two nodes may take the same redelivery at once (a device that reconnected elsewhere): each device's check and
    // insert run one at a time, in a fixed order so two groups never wait on each other. BEGIN, the locks and the check
    // with the insert leave together (the server takes the locks before it runs the check behind them); the COMMIT goes
    // once they are answered. Sent with them, a network cut that healed after this node gave up on the group (its
    // device then sent it again, flagged DUP, maybe to another node) would deliver a whole transaction that commits
    // late, without the locks held meanwhile that make the resend wait and find it: the same alarm recorded twice.
    // The COMMIT waits for the WAL flush (synchronous_commit on): once it returns the group is on disk, so `durable` is
    // already settled and the PUBACKs may go.
    const devices = [...new Set(events.map((e) => e.deviceId))].sort();
    const ids = await this.db.transaction(async () => {
      await this.db.send(LOCK_DEVICES, [DEVICE_LOCK_SPACE, devices]);
      const row = await this.db.one<RecordedRow>(RECORD_EVENTS, [
        events.map((e) => e.deviceId),
        events.map((e) => e.seq),
        events.map((e) => e.type),
        events.map((e) => e.payload),
        events.map((e) => e.payloadHash),
        events.map((e) => e.deviceTs),
        events.map((e) => e.receivedAt),
        events.map((e) => e.delivery?.session ?? null),
        events.map((e) => e.delivery?.dup === true),
        dedupeSinceMs,
      ]);
      // bigint arrays arrive as text; identity values are handed out in the order the rows are inserted (ORDER BY n).
      const fresh = new Set((row?.fresh ?? []).map(Number));
      const inserted = (row?.ids ?? []).map(Number);
      // Checked before the COMMIT: a group whose ids cannot be told apart is rolled back and left unacknowledged.
      if (inserted.length !== fresh.size) throw new Error(`recorded ${inserted.length} events for ${fresh.size} new ones`);
      let next = 0;
      return events.map((_, i) => (fresh.has(i + 1) ? (inserted[next++] ?? null) : null));
    });
    return { ids, durable: Promise.resolve() };
  }

  async markProcessed(eventId: number): Promise<void> {
    await this.db.run('UPDATE events SET processed = true WHERE id = $1', [eventId]);
  }

  async markProcessedMany(eventIds: readonly number[]): Promise<void> {
    if (eventIds.length === 0) return;
    await this.db.send(MARK_PROCESSED, [eventIds]);
  }

  async listUnprocessed(opts: { receivedBefore?: number; limit?: number } = {}): Promise<StoredEvent[]> {
    const rows = await this.db.query<EventRow>(
      'SELECT * FROM events WHERE NOT processed AND ($1::bigint IS NULL OR received_at < $1) ORDER BY id LIMIT $2',
      [opts.receivedBefore ?? null, opts.limit ?? null],
    );
    return rows.map(toEvent);
  }

  async alreadyTaken(eventIds: readonly number[]): Promise<number[]> {
    if (eventIds.length === 0) return [];
    // SKIP LOCKED: a row another node's transaction holds is being acted on there; waiting for it would only
    // serialize the nodes, and if that transaction fails the row is unprocessed again for the next sweep.
    // One round trip: the recorded events this transaction could not lock as unprocessed are the taken ones.
    const taken = await this.db.query<{ id: number }>(ALREADY_TAKEN, [eventIds]);
    return taken.map((r) => r.id);
  }

  async get(eventId: number): Promise<StoredEvent | null> {
    const row = await this.db.one<EventRow>('SELECT * FROM events WHERE id = $1', [eventId]);
    return row ? toEvent(row) : null;
  }
}
