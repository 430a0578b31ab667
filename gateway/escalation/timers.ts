// Durable timers: stored before they are armed, restored at start (overdue ones fire at once), claimed so each fires once.
import type { Clock, TimerHandle } from '../core/clock.js';
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
}

export class DurableTimers {
  private readonly armed = new Map<string, TimerHandle>();
  private handler: TimerHandler | null = null;
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: DurableTimersDeps) {}

  /** The one handler of due timers; it runs inside the transaction that claims the timer. */
  setHandler(handler: TimerHandler): void {
    this.handler = handler;
  }

  async start(): Promise<void> {
    this.running = true;
    for (const timer of await this.deps.store.timers.listPending()) this.arm(timer);
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const h of this.armed.values()) h.cancel();
    this.armed.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Stores the timer (in the caller's transaction, if any) and arms it. */
  async schedule(timer: DurableTimer): Promise<void> {
    await this.deps.store.timers.schedule(timer);
    this.arm(timer);
  }

  async cancelForIncident(incidentId: string): Promise<void> {
    await this.deps.store.timers.cancelForIncident(incidentId, this.deps.clock.now());
    for (const [key, handle] of this.armed) {
      if (key.startsWith(`${incidentId}:`)) {
        handle.cancel();
        this.armed.delete(key);
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
      this.deps.clock.setTimer(delay, () => this.fire(timer)),
    );
  }

  private fire(timer: DurableTimer): void {
    this.armed.delete(timer.key);
    const run = this.deps.store
      .transaction(async () => {
        if (!(await this.deps.store.timers.claim(timer.key, this.deps.clock.now()))) return [];
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
          this.armed.set(
            timer.key,
            this.deps.clock.setTimer(this.deps.retryMs ?? 5000, () => this.fire(timer)),
          );
        }
      })
      .finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
  }
}
