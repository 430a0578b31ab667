// Sign-in failures shared across gateway nodes (PostgreSQL): each node appends its own and folds in the others', so a guesser spread over nodes meets one lockout; no check ever waits on it.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { FailureLedgerRepo } from './repo.js';

/** A limiter whose failures are shared: it hands its own on, and takes other nodes' as if they had happened here. */
export interface SharedCounter {
  /** A failure seen by another node, at its time. Must not be handed on again. */
  note(key: string, at: number): void;
  /** Called once: from then on each failure the limiter counts itself is also given to `record`. */
  shareWith(record: (key: string, at: number) => void): void;
}

export interface SharedFailuresDeps {
  ledger: FailureLedgerRepo;
  clock: Clock;
  log: Logger;
  /** The longest window any attached limiter counts over: older entries are neither read nor kept. */
  windowMs: number;
  /** How often the other nodes' failures are read (default 1 s); a node's own failure also triggers a read. */
  pollMs?: number;
}

/** Ids this far below the highest one read are read again: a row numbered earlier may commit later than its successor. */
const REREAD_IDS = 1000;
const PAGE = 1000;
/** The ledger is pruned every this many reads (each node prunes; a delete that finds nothing costs nothing). */
const PRUNE_EVERY = 60;
/** Failures waiting to be written, at most; beyond it a flood is counted on this node only. */
const MAX_PENDING = 5000;

export class SharedFailures {
  /** This process's mark on its own entries (a restarted node is a new process; its old entries count as another's). */
  readonly node = randomUUID();
  private readonly counters = new Map<string, SharedCounter>();
  private cursor = 0;
  private readonly applied = new Set<number>();
  private writes: Promise<void> = Promise.resolve();
  private reading: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private reads = 0;
  private failedReads = 0;
  private pending = 0;
  private dropped = 0;
  private shared = 0;
  private received = 0;

  constructor(private readonly deps: SharedFailuresDeps) {}

  /** Shares a limiter's failures under `scope` (one limiter per scope). */
  attach(scope: string, counter: SharedCounter): void {
    if (this.counters.has(scope)) throw new Error(`a limiter is already shared under "${scope}"`);
    this.counters.set(scope, counter);
    counter.shareWith((key, at) => this.record(scope, key, at));
  }

  /** Reads the recent failures of every node, then keeps reading every pollMs. */
  async start(): Promise<void> {
    await this.read();
    this.timer = setInterval(() => void this.read(), this.deps.pollMs ?? 1000);
    this.timer.unref();
  }

  /** Stops reading and waits for the failures still being written. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.writes;
    await this.reading;
  }

  /** Failures this node wrote for the others, read from them, and could not share (a flood beyond MAX_PENDING). */
  stats(): { shared: number; received: number; dropped: number; pending: number } {
    return { shared: this.shared, received: this.received, dropped: this.dropped, pending: this.pending };
  }

  /** Writes are queued in order and never awaited by a sign-in: a database that is slow or down only delays the sharing. */
  private record(scope: string, key: string, at: number): void {
    // A flood of failures faster than the database takes them is still counted here; only its sharing is cut short.
    if (this.pending >= MAX_PENDING) {
      if (this.dropped++ % 1000 === 0)
        this.deps.log.warn({ dropped: this.dropped, pending: this.pending }, 'sign-in failures arrive faster than they can be shared');
      return;
    }
    this.pending++;
    this.writes = this.writes
      .then(async () => {
        await this.deps.ledger.append({ scope, key, at, node: this.node });
        this.shared++;
      })
      .catch((err: unknown) => this.deps.log.warn({ err, scope }, 'could not share a sign-in failure with the other nodes'))
      .then(() => {
        this.pending--;
        void this.read();
      });
  }

  /** One read of the other nodes' new failures (a read under way is joined rather than doubled). */
  read(): Promise<void> {
    this.reading ??= this.readAll().finally(() => (this.reading = null));
    return this.reading;
  }

  private async readAll(): Promise<void> {
    const notBefore = this.deps.clock.now() - this.deps.windowMs;
    try {
      let afterId = Math.max(0, this.cursor - REREAD_IDS);
      for (;;) {
        const rows = await this.deps.ledger.since({ afterId, notBefore, exceptNode: this.node, limit: PAGE });
        for (const { id, entry } of rows) {
          afterId = id;
          this.cursor = Math.max(this.cursor, id);
          if (this.applied.has(id)) continue;
          this.applied.add(id);
          this.counters.get(entry.scope)?.note(entry.key, entry.at);
          this.received++;
        }
        if (rows.length < PAGE) break;
      }
      for (const id of this.applied) if (id <= this.cursor - REREAD_IDS) this.applied.delete(id);
      if (this.failedReads > 0) this.deps.log.info({ failedReads: this.failedReads }, 'reading the other nodes’ sign-in failures again');
      this.failedReads = 0;
      if (++this.reads % PRUNE_EVERY === 0) await this.deps.ledger.prune(notBefore);
    } catch (err) {
      // Each node still counts its own failures; only the sum over nodes waits for the database.
      if (this.failedReads++ === 0) this.deps.log.warn({ err }, 'cannot read the other nodes’ sign-in failures; counting this node’s only');
    }
  }
}
