// Retention: once a day, prunes raw device events (heartbeat, motion, low battery), the rejection log and the ids of inbound SMS past their age, in small batches.
import type { Clock, TimerHandle } from '../core/clock.js';
import type { JobRunner } from '../core/jobs.js';
import type { Logger } from '../core/logger.js';
import type { EventType } from '../core/types.js';

/** One batch of a prune: rows deleted, the last id looked at, and whether the scan reached rows too young to prune. */
export interface PruneStep {
  deleted: number;
  lastId: number;
  done: boolean;
}

/** What the retention job needs of the store. Ids grow with arrival time, so a scan by id meets the oldest rows first. */
export interface RetentionRepo {
  /**
   * Looks at up to `limit` events after `afterId`, and deletes those of `types` received before `before` that were acted
   * on and belong to no incident. Stops at the first event received at or after `before`.
   */
  pruneEvents(types: readonly EventType[], before: number, afterId: number, limit: number): Promise<PruneStep>;
  /** The same for the rejection log. */
  pruneRejections(before: number, afterId: number, limit: number): Promise<PruneStep>;
  /**
   * Deletes up to `limit` ids of inbound SMS (kept to drop a provider's retries and replays) received before `before`;
   * answers how many. A reply that old is refused by the reply window anyway.
   */
  pruneInboundIds(before: number, limit: number): Promise<number>;
}

export interface RetentionDeps {
  repo: RetentionRepo;
  clock: Clock;
  log: Logger;
  /** Raw events and rejections older than this many days are pruned. */
  retentionDays: number;
  /** Rows looked at per transaction (default 500: a few milliseconds, so an alarm never waits long behind one). */
  batchSize?: number;
  /** First run this long after start (default 10 minutes: start-up and the replay of unprocessed events come first). */
  firstRunAfterMs?: number;
  /** Nodes sharing one database: each day's run happens on one of them (default: every run here). */
  slots?: JobRunner;
}

export interface RetentionRun {
  before: number;
  events: number;
  rejections: number;
  inboundIds: number;
}

/**
 * Alarm events (sos, fall, cancel), incidents, their audit, pages and security events are records a care provider keeps;
 * they are never pruned here. What goes is the bulk: signs of life and battery levels, and why messages were refused.
 */
export const PRUNED_EVENT_TYPES: readonly EventType[] = ['heartbeat', 'motion', 'low_battery'];

const DAY_MS = 24 * 60 * 60 * 1000;
const DEFAULT_BATCH = 500;
const DEFAULT_FIRST_RUN_MS = 10 * 60 * 1000;

export class RetentionJob {
  private timer: TimerHandle | null = null;
  private running: Promise<RetentionRun | null> | null = null;
  private last: RetentionRun | null = null;
  private started = false;
  /** Set by stop(): a run under way ends after its current batch. */
  private closing = false;

  constructor(private readonly deps: RetentionDeps) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.closing = false;
    this.schedule(this.deps.firstRunAfterMs ?? DEFAULT_FIRST_RUN_MS);
  }

  async stop(): Promise<void> {
    this.started = false;
    this.closing = true;
    this.timer?.cancel();
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** Waits for a run under way (tests, shutdown). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** The last finished run (null before the first). */
  get lastRun(): RetentionRun | null {
    return this.last;
  }

  /**
   * Prunes everything older than the retention age now; one run at a time. Across nodes, one run per UTC day: the
   * others resolve with null. Deleting what is old is safe to repeat, so a node dying mid-run leaves it to a retry.
   */
  runOnce(): Promise<RetentionRun | null> {
    this.running ??= this.slotted().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** The next run is set before this one starts, so a slow or failed run never stops the daily rhythm. */
  private schedule(ms: number): void {
    this.timer = this.deps.clock.setTimer(ms, () => {
      if (this.closing) return;
      this.schedule(DAY_MS);
      this.runOnce().catch((err: unknown) => this.deps.log.error({ err }, 'retention run failed; tried again tomorrow'));
    });
  }

  private async slotted(): Promise<RetentionRun | null> {
    const { slots, clock } = this.deps;
    if (!slots) return this.run();
    const now = clock.now();
    const outcome = await slots.run('retention', now - (now % DAY_MS), () => this.run(), { mode: 'idempotent', retryBusyMs: 10 * 60_000 });
    return outcome.ran ? outcome.value : null;
  }

  private async run(): Promise<RetentionRun> {
    const { repo, clock, log, retentionDays } = this.deps;
    const before = clock.now() - retentionDays * DAY_MS;
    const limit = this.deps.batchSize ?? DEFAULT_BATCH;
    const events = await this.drain((afterId) => repo.pruneEvents(PRUNED_EVENT_TYPES, before, afterId, limit));
    const rejections = await this.drain((afterId) => repo.pruneRejections(before, afterId, limit));
    let inboundIds = 0;
    for (let n = limit; n === limit && !this.closing;) {
      n = await repo.pruneInboundIds(before, limit);
      inboundIds += n;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const result = { before, events, rejections, inboundIds };
    this.last = result;
    log.info(
      { before: new Date(before).toISOString(), events, rejections, inboundIds },
      'retention: old device events, rejections and inbound SMS ids pruned',
    );
    return result;
  }

  /** Runs batches until the scan reaches young rows, yielding to the event loop between them. */
  private async drain(step: (afterId: number) => Promise<PruneStep>): Promise<number> {
    let afterId = 0;
    let deleted = 0;
    while (!this.closing) {
      const s = await step(afterId);
      deleted += s.deleted;
      if (s.done || s.lastId === afterId) break;
      afterId = s.lastId;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return deleted;
  }
}
