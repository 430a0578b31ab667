// PostgreSQL job slots: a scheduled job's slot runs on one node, under the job's advisory lock, and is recorded once.
import type { SlotOutcome, SlotRun, SlotStore } from '../../core/jobs.js';
import type { PgDatabase } from './database.js';

/** First key of the jobs' two-key advisory locks ('SLOT'); the second is hashtext(job). Apart from the migration lock's key space. */
const SLOT_LOCK_SPACE = 0x534c_4f54;
/** Slot records older than this are deleted as new ones are written (a job running every minute writes 1,440 a day). */
const KEEP_MS = 8 * 24 * 60 * 60 * 1000;

export interface JobSlotRecord {
  job: string;
  slotAt: number;
  node: string;
  ranAt: number;
}

interface SlotRow {
  job: string;
  slot_at: number;
  node: string;
  ran_at: number;
}

export class PgJobSlots implements SlotStore {
  constructor(private readonly db: PgDatabase) {}

  /**
   * The lock is per job, not per slot: a slow run of one slot also keeps the next from starting on another node
   * before it ends. A try-lock: a node that does not get it answers 'busy' at once and never queues behind the job.
   */
  runSlot<T>(slot: SlotRun, work: () => Promise<T>): Promise<SlotOutcome<T>> {
    return slot.mode === 'atomic' ? this.atomic(slot, work) : this.idempotent(slot, work);
  }

  /** The slot's record, or null when it has not run (tests, /healthz). */
  async get(job: string, slotAt: number): Promise<JobSlotRecord | null> {
    const row = await this.db.one<SlotRow>('SELECT * FROM job_slots WHERE job = $1 AND slot_at = $2', [job, slotAt]);
    return row ? { job: row.job, slotAt: row.slot_at, node: row.node, ranAt: row.ran_at } : null;
  }

  /**
   * Lock, check, work and record in one transaction: the work's repository calls join it. The transaction-level lock
   * ends with the transaction, also when the node dies (the server ends its session), and then nothing is recorded.
   */
  private atomic<T>(slot: SlotRun, work: () => Promise<T>): Promise<SlotOutcome<T>> {
    if (this.db.inTransaction()) throw new Error(`job ${slot.job}: an atomic slot must not run inside another transaction`);
    return this.db.transaction(async (): Promise<SlotOutcome<T>> => {
      const lock = await this.db.one<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok', [
        SLOT_LOCK_SPACE,
        slot.job,
      ]);
      if (!lock?.ok) return { ran: false, why: 'busy' };
      if (await this.recorded(slot)) return { ran: false, why: 'done' };
      const value = await work();
      await this.record(slot);
      return { ran: true, value };
    });
  }

  /**
   * A session lock on a connection of its own, held while the work runs on the pool in its own short transactions;
   * the slot is recorded when the work ends. A node that dies mid-slot loses its session and with it the lock.
   */
  private idempotent<T>(slot: SlotRun, work: () => Promise<T>): Promise<SlotOutcome<T>> {
    return this.db.session(async (client): Promise<SlotOutcome<T>> => {
      const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [SLOT_LOCK_SPACE, slot.job]);
      if (!lock.rows[0]?.ok) return { ran: false, why: 'busy' };
      try {
        if (await this.recorded(slot)) return { ran: false, why: 'done' };
        const value = await work();
        await this.record(slot);
        return { ran: true, value };
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [SLOT_LOCK_SPACE, slot.job]);
      }
    });
  }

  private async recorded(slot: SlotRun): Promise<boolean> {
    return (await this.db.one('SELECT 1 AS one FROM job_slots WHERE job = $1 AND slot_at = $2', [slot.job, slot.slotAt])) !== null;
  }

  private async record(slot: SlotRun): Promise<void> {
    await this.db.run('INSERT INTO job_slots (job, slot_at, node, ran_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
      slot.job,
      slot.slotAt,
      slot.node,
      slot.at,
    ]);
    await this.db.run('DELETE FROM job_slots WHERE job = $1 AND slot_at < $2', [slot.job, slot.slotAt - KEEP_MS]);
  }
}
