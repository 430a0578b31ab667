// SQLite durable timers: escalation steps survive restarts, and a claim lets each key fire only once.
import type { DurableTimer, TimerRepo } from '../ports.js';
import type { SqliteDatabase } from './database.js';
import { toTimer, type TimerRow } from '../rows/timers.js';

export class SqliteTimerRepo implements TimerRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async schedule(t: DurableTimer): Promise<void> {
    await this.sdb.write(() =>
      this.sdb
        .stmt(
          "INSERT INTO timers (key, kind, incident_id, due_at, payload, state, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT(key) DO NOTHING",
        )
        .run(t.key, t.kind, t.incidentId, t.dueAt, JSON.stringify(t.payload), Date.now()),
    );
  }

  async scheduleAll(timers: DurableTimer[]): Promise<void> {
    for (const t of timers) await this.schedule(t);
  }

  async claim(key: string, at: number): Promise<boolean> {
    const res = await this.sdb.write(() =>
      this.sdb.stmt("UPDATE timers SET state = 'fired', fired_at = ? WHERE key = ? AND state = 'pending'").run(at, key),
    );
    return res.changes === 1;
  }

  /** One node holds the database: no other transaction can be claiming the timer, so this is claim. */
  claimDue(key: string, at: number): Promise<boolean> {
    return this.claim(key, at);
  }

  async cancelForIncident(incidentId: string, at: number): Promise<number> {
    const res = await this.sdb.write(() =>
      this.sdb.stmt("UPDATE timers SET state = 'cancelled', fired_at = ? WHERE incident_id = ? AND state = 'pending'").run(at, incidentId),
    );
    return res.changes;
  }

  async listPending(): Promise<DurableTimer[]> {
    return this.sdb
      .stmt<[], TimerRow>("SELECT key, kind, incident_id, due_at, payload FROM timers WHERE state = 'pending' ORDER BY due_at")
      .all()
      .map(toTimer);
  }

  async listDue(before: number, limit: number): Promise<DurableTimer[]> {
    return this.sdb
      .stmt<[number, number], TimerRow>(
        "SELECT key, kind, incident_id, due_at, payload FROM timers WHERE state = 'pending' AND due_at <= ? ORDER BY due_at, key LIMIT ?",
      )
      .all(before, limit)
      .map(toTimer);
  }
}
