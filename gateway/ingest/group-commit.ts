// Group commit: items submitted close together are written in one durable transaction, so fsyncs stay few under load.

export interface GroupCommitOptions {
  /** Flush as soon as this many items wait. */
  maxBatch: number;
  /** Flush at most this long after the first item of a group arrived; 0: at the end of the current event-loop turn. */
  maxDelayMs: number;
}

// No fixed wait: an alarm on an idle gateway is committed at once; under load, commits batch while one runs.
// maxBatch 1024: the fsync of a commit blocks the event loop (~5-10 ms) whatever the group's size, while an
// insert costs ~10 µs, so a whole turn's arrivals (a thousand devices) share one fsync instead of four.
export const DEFAULT_GROUP_COMMIT: GroupCommitOptions = { maxBatch: 1024, maxDelayMs: 0 };

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitDeps<T, R> {
  options: GroupCommitOptions;
  /** Writes one group; returns one result per item, in order. A throw fails every item of the group. */
  commit: (items: T[]) => Promise<R[]>;
}

/**
 * Collects items and commits them in groups: one commit runs at a time, and whatever arrives while it
 * runs forms the next group, which starts as soon as the running one ends (the classic group commit).
 * The delay timer is a real timer on purpose: it batches I/O and is no part of domain time.
 */
export class GroupCommitter<T, R> {
  private queue: Waiting<T, R>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private inFlight: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly deps: GroupCommitDeps<T, R>) {}

  get pending(): number {
    return this.queue.length;
  }

  /** Resolves with the item's result once its group is committed; rejects if that commit failed. */
  submit(item: T): Promise<R> {
    if (this.closed) return Promise.reject(new Error('group commit is closed'));
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.deps.options.maxBatch) this.kick();
      else if (!this.timer && !this.immediate && !this.inFlight) this.schedule();
    });
  }

  /** Commits everything queued, waits for it, and refuses new items afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /** Commits everything queued now and waits for it; new items are still taken. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight) {
      if (!this.inFlight) this.kick();
      await this.inFlight;
    }
  }

  /**
   * An idle committer starts at the end of this turn of the event loop (everything that arrived in the
   * same read joins the group), or after maxDelayMs when one is set. While a commit runs, arrivals wait
   * for it and form the next group, so load batches by itself without adding latency when idle.
   */
  private schedule(): void {
    const delay = this.deps.options.maxDelayMs;
    if (delay > 0) this.timer = setTimeout(() => this.kick(), delay);
    else this.immediate = setImmediate(() => this.kick());
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.immediate) {
      clearImmediate(this.immediate);
      this.immediate = null;
    }
    // A running commit picks the queue up when it ends.
    if (this.inFlight || this.queue.length === 0) return;
    this.inFlight = this.run().finally(() => {
      this.inFlight = null;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async run(): Promise<void> {
    const group = this.queue.splice(0, this.deps.options.maxBatch);
    let results: R[];
    try {
      results = await this.deps.commit(group.map((w) => w.item));
    } catch (err) {
      for (const w of group) w.reject(err);
      return;
    }
    if (results.length !== group.length) {
      const err = new Error(`commit returned ${results.length} results for ${group.length} items`);
      for (const w of group) w.reject(err);
      return;
    }
    results.forEach((r, i) => group[i]?.resolve(r));
  }
}
