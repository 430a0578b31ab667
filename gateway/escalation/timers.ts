// Durable timers: stored before they are armed, restored at start (overdue ones fire at once), claimed so each fires once.
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { ChangeFeed } from '../core/leases.js';
import type { Logger } from '../core/logger.js';
import type { DurableTimer, Store } from '../storage/ports.js';

/** Handles a due timer inside the claiming transaction; what it returns runs after the commit. */
export type TimerHandler = (timer: DurableTimer) => Promise<(() => void)[]>;

export interface DurableTimersDeps {
  store: Pick<Store, 'timers' | 'transaction'>;
  clock: Clock;
  log: Logger;
  /** Delay before a timer whose handler failed is tried again. */
  retryMs?: number;
  /**
   * Several nodes on one database: each node also arms the timers the others scheduled, from the shared table, so a
   * step whose node died still fires. Every node that arms a timer races for it; the claim lets exactly one run it.
   */
  shared?: SharedTimers;
}

export interface SharedTimers {
  /** How often the table is read for timers due soon (also what catches a notice missed while reconnecting). */
  pollMs: number;
  /** How far ahead a read arms timers (default three polls), so a timer is armed before it falls due. */
  horizonMs?: number;
  /** Notices of timers scheduled on other nodes: read the table now rather than at the next poll. */
  changes?: ChangeFeed;
  /** Timers armed per read (default 500). */
  batch?: number;
}

export class DurableTimers {
  private readonly armed = new Map<string, TimerHandle>();
  private handler: TimerHandler | null = null;
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Keys whose claiming transaction runs now on this node: a read of the table must not arm them again. */
  private readonly firing = new Set<string>();
  /** Timers whose last firing failed (the database was away, say), armed again for a retry. */
  private readonly retrying = new Set<string>();
  /** The next read also fires the due timers waiting for a retry. */
  private retryNow = false;
  private pollTimer: TimerHandle | null = null;
  /** A read of the shared table is running; `readAgain`: a notice came meanwhile, so read once more after it. */
  private reading: Promise<void> | null = null;
  private readAgain = false;

  constructor(private readonly deps: DurableTimersDeps) {}

  /** The one handler of due timers; it runs inside the transaction that claims the timer. */
  setHandler(handler: TimerHandler): void {
    this.handler = handler;
  }

  async start(): Promise<void> {
    this.running = true;
    for (const timer of await this.deps.store.timers.listPending()) this.arm(timer);
    const { shared } = this.deps;
    if (!shared) return;
    // The notices connection listening again means the database answers again: timers that failed while it was away
    // (due during an outage) fire now, not a retry interval later.
    await shared.changes?.start((cause) => void this.readShared(cause === 'listening'));
    this.schedulePoll(shared);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.pollTimer?.cancel();
    this.pollTimer = null;
    await this.deps.shared?.changes?.stop();
    await this.reading;
    for (const h of this.armed.values()) h.cancel();
    this.armed.clear();
    this.retrying.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Arms the pending timers of the shared table that fall due within the horizon and that this node neither has armed
   * nor is firing: those other nodes scheduled, and those whose claim a dead or frozen node's transaction lost.
   */
  readShared(retryFailed = false): Promise<void> {
    if (retryFailed) this.retryNow = true;
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    const run = (async () => {
      do {
        this.readAgain = false;
        await this.armDue();
      } while (this.readAgain && this.running);
    })()
      .catch((err: unknown) => {
        this.deps.log.error({ err: errorMessage(err) }, 'could not read the shared timers; the next poll tries again');
      })
      .finally(() => {
        this.reading = null;
      });
    this.reading = run;
    return run;
  }

  private async armDue(): Promise<void> {
    const { shared, clock, store } = this.deps;
    if (!shared || !this.running) return;
    const horizon = shared.horizonMs ?? 3 * shared.pollMs;
    const retryNow = this.retryNow;
    this.retryNow = false;
    const due = await store.timers.listDue(clock.now() + horizon, shared.batch ?? 500).catch((err: unknown) => {
      // The database answered the listening connection but not this read (still starting up): the next read retries.
      if (retryNow) this.retryNow = true;
      throw err;
    });
    for (const timer of due) {
      if (this.firing.has(timer.key)) continue;
      if (!this.armed.has(timer.key) || (retryNow && this.retrying.has(timer.key))) this.arm(timer);
    }
  }

  private schedulePoll(shared: SharedTimers): void {
    if (!this.running) return;
    this.pollTimer = this.deps.clock.setTimer(shared.pollMs, () => {
      void this.readShared().finally(() => this.schedulePoll(shared));
    });
  }

  /** Stores the timer (in the caller's transaction, if any) and arms it. */
  async schedule(timer: DurableTimer): Promise<void> {
    await this.deps.store.timers.schedule(timer);
    this.arm(timer);
  }

  /**
   * Stores several timers in one write (in the caller's transaction). `armed` ones are armed as schedule does;
   * `recorded` ones are not: the caller fires them with fireNow once its transaction has committed (armed inside the
   * transaction, one could fire before the commit and find no row to claim). If the caller never gets that far (the
   * process dies), a restart or another node's read of the table fires them.
   */
  async scheduleAll(timers: { recorded: DurableTimer[]; armed: DurableTimer[] }): Promise<void> {
    await this.deps.store.timers.scheduleAll([...timers.recorded, ...timers.armed]);
    for (const t of timers.armed) this.arm(t);
  }

  /** Fires a recorded timer now, in its own claiming transaction; resolves when it ran, was taken elsewhere, or failed (then it retries). */
  fireNow(timer: DurableTimer): Promise<void> {
    if (this.firing.has(timer.key)) return Promise.resolve();
    this.armed.get(timer.key)?.cancel();
    return this.fire(timer);
  }

  async cancelForIncident(incidentId: string): Promise<void> {
    await this.deps.store.timers.cancelForIncident(incidentId, this.deps.clock.now());
    for (const [key, handle] of this.armed) {
      if (key.startsWith(`${incidentId}:`)) {
        handle.cancel();
        this.armed.delete(key);
        this.retrying.delete(key);
      }
    }
  }

  /**
   * Claims the timer now (inside the caller's transaction) instead of waiting for it:
   * true when this caller took it, false when it had already fired or been cancelled.
   */
  async claimNow(key: string): Promise<boolean> {
    const claimed = await this.deps.store.timers.claim(key, this.deps.clock.now());
    this.armed.get(key)?.cancel();
    this.armed.delete(key);
    this.retrying.delete(key);
    return claimed;
  }

  armedCount(): number {
    return this.armed.size;
  }

  private arm(timer: DurableTimer): void {
    if (!this.running) return;
    this.armed.get(timer.key)?.cancel();
    const delay = Math.max(0, timer.dueAt - this.deps.clock.now());
    this.armed.set(
      timer.key,
      this.deps.clock.setTimer(delay, () => void this.fire(timer)),
    );
  }

  private fire(timer: DurableTimer): Promise<void> {
    this.armed.delete(timer.key);
    this.retrying.delete(timer.key);
    this.firing.add(timer.key);
    const run = this.deps.store
      .transaction(async () => {
        // Another node firing the same timer now holds its row: this one passes at once instead of queueing behind it.
        if (!(await this.deps.store.timers.claimDue(timer.key, this.deps.clock.now()))) return [];
        if (!this.handler) throw new Error('no timer handler registered');
        return this.handler(timer);
      })
      .then((afterCommit) => {
        for (const fn of afterCommit) fn();
      })
      .catch((err: unknown) => {
        // The claim rolled back with the failure, so the timer is still pending: try again shortly.
        this.deps.log.error({ err, timer: timer.key }, 'durable timer failed; retrying');
        if (this.running) {
          this.retrying.add(timer.key);
          this.armed.set(
            timer.key,
            this.deps.clock.setTimer(this.deps.retryMs ?? 5000, () => void this.fire(timer)),
          );
        }
      })
      .finally(() => {
        this.inFlight.delete(run);
        this.firing.delete(timer.key);
      });
    this.inFlight.add(run);
    return run;
  }
}
