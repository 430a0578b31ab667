// PostgreSQL event log: the durable record written before a PUBACK, one COMMIT per group, redeliveries told apart as in SQLite.
import type { EventRepo, NewEvent, RecordedBatch, StoredEvent } from '../ports.js';
import { prepared, type PgDatabase } from './database.js';
import { type EventRow, toEvent } from '../rows/events.js';

interface SeenRow {
  device_id: string;
  seq: number;
  payload_hash: string;
  session: string | null;
}

/** First key of the per-device advisory locks taken while a group is checked and inserted. */
const DEVICE_LOCK_SPACE = 0x45_56;

// The alarm path's statements, prepared once per connection (database.ts: prepared).
const LOCK_DEVICES = prepared(
  'care_events_lock_devices',
  'SELECT pg_advisory_xact_lock($1, k) FROM (SELECT hashtext(d) AS k FROM unnest($2::text[]) AS d ORDER BY 1) AS keys',
);
const SEEN = prepared(
  'care_events_seen',
  `SELECT e.device_id, e.seq, e.payload_hash, e.session FROM events e
     JOIN unnest($1::text[], $2::bigint[]) AS c(device_id, seq) ON e.device_id = c.device_id AND e.seq = c.seq
    WHERE e.received_at >= $3`,
);
const INSERT_EVENTS = prepared(
  'care_events_insert',
  `INSERT INTO events (device_id, seq, type, payload, payload_hash, device_ts, received_at, session)
   SELECT device_id, seq, type, payload, payload_hash, device_ts, received_at, session
     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[])
       WITH ORDINALITY AS t(device_id, seq, type, payload, payload_hash, device_ts, received_at, session, n)
    ORDER BY n
   RETURNING id`,
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
    // The COMMIT waits for the WAL flush (synchronous_commit on): once it returns the group is on disk, so `durable`
    // is already settled and the PUBACKs may go.
    const ids = await this.db.transaction(async () => {
      const devices = [...new Set(events.map((e) => e.deviceId))].sort();
      // Two nodes may take the same redelivery at once (a device that reconnected elsewhere): each device's check
      // and insert run one at a time, in a fixed order so two groups never wait on each other.
      // Sent, not waited for: the server takes the locks before it runs the check sent behind them.
      await this.db.send(LOCK_DEVICES, [DEVICE_LOCK_SPACE, devices]);
      const earlier = await this.seen(events, dedupeSinceMs);
      const fresh: NewEvent[] = [];
      const isRedelivery = events.map((e) => {
        const d = e.delivery;
        // A seq alone proves nothing (a device whose counter restarted sends seq 1 again): only a resend on the same
        // connection, or one the device flags DUP, is the same message again.
        const same = (r: SeenRow): boolean =>
          r.device_id === e.deviceId &&
          r.seq === e.seq &&
          r.payload_hash === e.payloadHash &&
          (d?.dup === true || r.session === d?.session);
        const redelivery = d !== undefined && earlier.some(same);
        if (!redelivery) {
          fresh.push(e);
          earlier.push({ device_id: e.deviceId, seq: e.seq, payload_hash: e.payloadHash, session: d?.session ?? null });
        }
        return redelivery;
      });
      const inserted = await this.insert(fresh);
      let next = 0;
      return isRedelivery.map((r) => (r ? null : (inserted[next++] ?? null)));
    });
    return { ids, durable: Promise.resolve() };
  }

  /** Rows of the window that could make one of `events` a redelivery. */
  private async seen(events: NewEvent[], since: number): Promise<SeenRow[]> {
    const candidates = events.filter((e) => e.delivery !== undefined);
    if (candidates.length === 0) return [];
    return this.db.query<SeenRow>(SEEN, [candidates.map((e) => e.deviceId), candidates.map((e) => e.seq), since]);
  }

  /** One multi-row INSERT for the group; ids in input order. */
  private async insert(events: NewEvent[]): Promise<number[]> {
    if (events.length === 0) return [];
    const rows = await this.db.query<{ id: number }>(INSERT_EVENTS, [
      events.map((e) => e.deviceId),
      events.map((e) => e.seq),
      events.map((e) => e.type),
      events.map((e) => e.payload),
      events.map((e) => e.payloadHash),
      events.map((e) => e.deviceTs),
      events.map((e) => e.receivedAt),
      events.map((e) => e.delivery?.session ?? null),
    ]);
    // Identity values are handed out in the order the rows are inserted, which ORDER BY n fixes.
    return rows.map((r) => r.id).sort((a, b) => a - b);
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
