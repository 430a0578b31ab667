// PostgreSQL durable timers: a claim is one conditional UPDATE, so across connections and nodes each key fires once.
import type { DurableTimer, TimerRepo } from '../ports.js';
import { prepared, type PgDatabase } from './database.js';
import { toTimer, type TimerRow } from '../rows/timers.js';

/** The NOTIFY channel of newly scheduled timers: the other nodes arm them at once instead of at their next poll. */
export const TIMER_CHANNEL = 'care_timers';

// The alarm path's statements, prepared once per connection (database.ts: prepared).
const SCHEDULE = prepared(
  'care_timers_schedule',
  `INSERT INTO timers (key, kind, incident_id, due_at, payload, state, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6)
   ON CONFLICT (key) DO NOTHING`,
);
// A step's timers (the next step, the voice call, the family's page) in one statement, from parallel arrays.
const SCHEDULE_ALL = prepared(
  'care_timers_schedule_all',
  `INSERT INTO timers (key, kind, incident_id, due_at, payload, state, created_at)
   SELECT key, kind, incident_id, due_at, payload, 'pending', $6
     FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[]) AS t(key, kind, incident_id, due_at, payload)
   ON CONFLICT (key) DO NOTHING`,
);
// A second claimer blocks on the row lock, then re-reads the row: state is no longer 'pending', it updates nothing.
const CLAIM = prepared('care_timers_claim', "UPDATE timers SET state = 'fired', fired_at = $1 WHERE key = $2 AND state = 'pending'");
// SKIP LOCKED: a row another node is firing now is passed over, not waited for; if that node's transaction rolls
// back (or the server ends it, frozen), the row is pending again and the next poll arms it.
const CLAIM_DUE = prepared(
  'care_timers_claim_due',
  `UPDATE timers SET state = 'fired', fired_at = $1
   WHERE key = (SELECT key FROM timers WHERE key = $2 AND state = 'pending' FOR UPDATE SKIP LOCKED)`,
);

export class PgTimerRepo implements TimerRepo {
  constructor(private readonly db: PgDatabase) {}

  async schedule(t: DurableTimer): Promise<void> {
    // Its answer is not read: it rides with the next statement waited for.
    await this.db.send(SCHEDULE, [t.key, t.kind, t.incidentId, t.dueAt, JSON.stringify(t.payload), Date.now()]);
    this.announce(t.key);
  }

  async scheduleAll(timers: DurableTimer[]): Promise<void> {
    if (timers.length === 0) return;
    if (timers.length === 1) return this.schedule(timers[0]!);
    await this.db.send(SCHEDULE_ALL, [
      timers.map((t) => t.key),
      timers.map((t) => t.kind),
      timers.map((t) => t.incidentId),
      timers.map((t) => t.dueAt),
      timers.map((t) => JSON.stringify(t.payload)),
      Date.now(),
    ]);
    this.announce(timers[0]!.key);
  }

  /**
   * Tells the other nodes once the timers have committed, and never if the transaction rolls back: a NOTIFY of its own
   * on the pool (they read the table on any notice; the key only names it in the server's log). Not a NOTIFY inside
   * the transaction: that takes the server's one lock ordering every notifying commit of the database, and holds it
   * through the COMMIT's WAL flush, so the nodes' alarm transactions committed one after the other, each waiting for
   * the flushes (and the scheduling) of the others. A notice lost with this process, dead right after its COMMIT, is
   * made up by the other nodes' next poll.
   */
  private announce(key: string): void {
    this.db.afterCommit(() => {
      void this.db
        .channel(TIMER_CHANNEL)
        .then((channel) => this.db.broadcast(channel, key))
        .catch((err: unknown) => this.db.reportConnectionProblem(err instanceof Error ? err : new Error(String(err))));
    });
  }

  async claim(key: string, at: number): Promise<boolean> {
    return (await this.db.run(CLAIM, [at, key])) === 1;
  }

  async claimDue(key: string, at: number): Promise<boolean> {
    const n = await this.db.run(CLAIM_DUE, [at, key]);
    return n === 1;
  }

  async cancelForIncident(incidentId: string, at: number): Promise<number> {
    return this.db.run("UPDATE timers SET state = 'cancelled', fired_at = $1 WHERE incident_id = $2 AND state = 'pending'", [
      at,
      incidentId,
    ]);
  }

  async listPending(): Promise<DurableTimer[]> {
    const rows = await this.db.query<TimerRow>(
      "SELECT key, kind, incident_id, due_at, payload FROM timers WHERE state = 'pending' ORDER BY due_at, key",
    );
    return rows.map(toTimer);
  }

  async listDue(before: number, limit: number): Promise<DurableTimer[]> {
    const rows = await this.db.query<TimerRow>(
      "SELECT key, kind, incident_id, due_at, payload FROM timers WHERE state = 'pending' AND due_at <= $1 ORDER BY due_at, key LIMIT $2",
      [before, limit],
    );
    return rows.map(toTimer);
  }
}
