// Work held by one node of several under a renewable lease (unsent SMS, unplaced calls), and the keeper that renews and takes over.
import type { Clock, TimerHandle } from './clock.js';
import { errorMessage } from './errors.js';
import type { Logger } from './logger.js';

/** Rows of one kind of work in a shared database, each leased to the node that sends it. */
export interface WorkLeases<T> {
  /** This node's id in the leases (GATEWAY_NODE_ID). */
  readonly nodeId: string;
  /**
   * Leases to this node up to `limit` unfinished rows that no live node holds: never leased, or their lease ran out
   * (a dead or frozen node's). With `mine`, also the rows leased to this node id (its own, from before a restart).
   * `limit` null: all of them (at start-up).
   */
  claim(options: { mine: boolean; limit: number | null }): Promise<T[]>;
  /** Extends this node's lease on these rows; answers those among them it no longer holds (another node took them). */
  renew(ids: readonly string[]): Promise<string[]>;
  /** Lets go of these rows at once (this node is stopping): another node may take them without waiting out the lease. */
  release(ids: readonly string[]): Promise<void>;
}

/** A node's leased work, and how often it renews its leases and looks for abandoned work. */
export interface Leasing<T> {
  leases: WorkLeases<T>;
  renewEveryMs: number;
  takeOverEveryMs: number;
}

/** Says that shared work changed on another node (a timer was scheduled), so this node looks now rather than at its next poll. */
export interface ChangeFeed {
  /**
   * Starts listening; resolves after the first attempt, never waiting for a database that does not answer. `onChange`
   * is called for each notice, and with 'listening' each time the connection listens (again): the database answers,
   * and whatever was sent while it did not must be read.
   */
  start(onChange: (cause: 'notice' | 'listening') => void): Promise<void>;
  stop(): Promise<void>;
}

export interface LeaseKeeperDeps<T> {
  leases: WorkLeases<T>;
  clock: Clock;
  log: Logger;
  /** What the work is, for log lines ('SMS', 'call'). */
  what: string;
  /** The ids this node holds now (queued, in flight, or waiting to retry). */
  held: () => Iterable<string>;
  /** Rows taken over from a node that stopped renewing them. */
  taken: (rows: T[]) => void;
  /** Rows this node held whose lease another node took (this node was frozen past its lease): it must let them go. */
  lost: (ids: string[]) => void;
  renewEveryMs: number;
  takeOverEveryMs: number;
  /** Rows taken per look (default 200). */
  batch?: number;
}

/**
 * Renews this node's leases while it holds work, and takes over work whose lease ran out. A failed round (the
 * database away) is logged and tried again on the next tick: leases are long enough to outlast a few.
 */
export class LeaseKeeper<T> {
  private renewTimer: TimerHandle | null = null;
  private takeTimer: TimerHandle | null = null;
  private running = false;
  private readonly rounds = new Set<Promise<void>>();

  constructor(private readonly deps: LeaseKeeperDeps<T>) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.scheduleRenew();
    this.scheduleTakeOver();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.renewTimer?.cancel();
    this.takeTimer?.cancel();
    await Promise.allSettled([...this.rounds]);
  }

  /** One look for abandoned work now (also what each tick does). */
  takeOver(): Promise<void> {
    return this.track(async () => {
      const { leases, batch = 200 } = this.deps;
      for (;;) {
        const rows = await leases.claim({ mine: false, limit: batch });
        if (rows.length > 0) {
          this.deps.log.warn({ count: rows.length, node: leases.nodeId }, `taking over ${this.deps.what} whose lease ran out`);
          this.deps.taken(rows);
        }
        if (rows.length < batch || !this.running) return;
      }
    });
  }

  /** One renewal of every lease this node holds now (also what each tick does). */
  renew(): Promise<void> {
    return this.track(async () => {
      const ids = [...this.deps.held()];
      if (ids.length === 0) return;
      const lost = await this.deps.leases.renew(ids);
      if (lost.length > 0) {
        this.deps.log.warn({ ids: lost, node: this.deps.leases.nodeId }, `another node took over ${this.deps.what} this node held`);
        this.deps.lost(lost);
      }
    });
  }

  private scheduleRenew(): void {
    if (!this.running) return;
    this.renewTimer = this.deps.clock.setTimer(this.deps.renewEveryMs, () => {
      void this.renew().finally(() => this.scheduleRenew());
    });
  }

  private scheduleTakeOver(): void {
    if (!this.running) return;
    this.takeTimer = this.deps.clock.setTimer(this.deps.takeOverEveryMs, () => {
      void this.takeOver().finally(() => this.scheduleTakeOver());
    });
  }

  private track(work: () => Promise<void>): Promise<void> {
    const round = work()
      .catch((err: unknown) => {
        this.deps.log.error(
          { err: errorMessage(err), node: this.deps.leases.nodeId },
          `${this.deps.what} leases: a round failed; next tick tries again`,
        );
      })
      .finally(() => this.rounds.delete(round));
    this.rounds.add(round);
    return round;
  }
}
