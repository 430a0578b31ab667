// Scheduled jobs across nodes: each slot of a job (its name and the time it stands for) runs on one node only.
import type { Clock, TimerHandle } from './clock.js';
import { errorMessage } from './errors.js';
import type { Logger } from './logger.js';

/**
 * 'atomic': the job's writes and the slot's record commit in one transaction, so a node that dies mid-slot leaves
 * neither and the slot runs again elsewhere. For jobs of a few short writes (digests, reminders, missed visits).
 * 'idempotent': the job runs outside any transaction (long jobs in batches, or work queued on other parts); the
 * record is written when it ends. A node that dies mid-slot leaves no record, and the job, safe to repeat, runs again.
 */
export type SlotMode = 'atomic' | 'idempotent';

/** 'done': the slot was recorded by an earlier run; 'busy': another node holds the job right now. */
export type SlotOutcome<T> = { ran: true; value: T } | { ran: false; why: 'done' | 'busy' };

export interface SlotRun {
  job: string;
  /** The time the slot stands for (ms): its scheduled time, or the start of its minute or day. */
  slotAt: number;
  node: string;
  mode: SlotMode;
  /** When it runs (ms), recorded with the slot. */
  at: number;
}

/** What a shared database offers: the job's lock (held while the slot runs, gone with the session) and the slot records. */
export interface SlotStore {
  runSlot<T>(slot: SlotRun, work: () => Promise<T>): Promise<SlotOutcome<T>>;
}

export interface SlotOptions {
  mode?: SlotMode;
  /**
   * When the job is busy on another node, try again this often (ms) until the slot is recorded or 30 minutes pass:
   * the other node may die mid-slot and leave it unrecorded. Off for jobs that run every minute anyway.
   */
  retryBusyMs?: number;
}

/** How the scheduled features run a slot: on a shared database once across the nodes, alone on every trigger. */
export interface JobRunner {
  run<T>(job: string, slotAt: number, work: () => Promise<T>, options?: SlotOptions): Promise<SlotOutcome<T>>;
}

/** A single node (SQLite): every trigger runs its job, exactly as before clusters existed. */
export const everyTriggerRuns: JobRunner = {
  run: async (_job, _slotAt, work) => ({ ran: true, value: await work() }),
};

const RETRY_FOR_MS = 30 * 60_000;

export interface SlotJobsDeps {
  /** null: one node, no shared slots (everyTriggerRuns). */
  store: SlotStore | null;
  node: string;
  clock: Clock;
  log: Logger;
}

export class SlotJobs implements JobRunner {
  private readonly retries = new Set<TimerHandle>();
  private stopped = false;

  constructor(private readonly deps: SlotJobsDeps) {}

  get shared(): boolean {
    return this.deps.store !== null;
  }

  async run<T>(job: string, slotAt: number, work: () => Promise<T>, options: SlotOptions = {}): Promise<SlotOutcome<T>> {
    const { store, node, clock, log } = this.deps;
    if (!store) return everyTriggerRuns.run(job, slotAt, work);
    const mode = options.mode ?? 'atomic';
    const outcome = await store.runSlot({ job, slotAt, node, mode, at: clock.now() }, work);
    if (outcome.ran) log.debug({ job, slot: new Date(slotAt).toISOString() }, 'job slot ran on this node');
    else if (outcome.why === 'busy' && options.retryBusyMs) this.retryLater(job, slotAt, work, options, clock.now() + RETRY_FOR_MS);
    return outcome;
  }

  /** Cancels the retries of busy slots (at shutdown). */
  stop(): void {
    this.stopped = true;
    for (const t of this.retries) t.cancel();
    this.retries.clear();
  }

  private retryLater<T>(job: string, slotAt: number, work: () => Promise<T>, options: SlotOptions, until: number): void {
    const { clock, log } = this.deps;
    const every = options.retryBusyMs ?? 60_000;
    if (this.stopped || clock.now() + every > until) return;
    const timer = clock.setTimer(every, () => {
      this.retries.delete(timer);
      if (this.stopped || !this.deps.store) return;
      const slot = { job, slotAt, node: this.deps.node, mode: options.mode ?? 'atomic', at: clock.now() };
      this.deps.store.runSlot(slot, work).then(
        (outcome) => {
          if (outcome.ran) log.info({ job, slot: new Date(slotAt).toISOString() }, 'job slot left unfinished by another node ran here');
          else if (outcome.why === 'busy') this.retryLater(job, slotAt, work, options, until);
        },
        (err: unknown) => log.error({ err: errorMessage(err), job }, 'job slot retry failed'),
      );
    });
    this.retries.add(timer);
  }
}

/** The start of the minute of `at`: the slot of a job triggered every minute, or by a cron at a set minute. */
export function minuteSlot(at: number): number {
  return at - (at % 60_000);
}
