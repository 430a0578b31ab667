// Look-ups by key asked in one turn of the event loop, or while the previous read was under way, answered together by one query: a reconnect storm's CONNECTs read their devices in a few statements instead of one each.

/** Keys one query asks for at most; more wait for the next query. */
export const LOOKUP_BATCH_KEYS = 1000;

interface Waiter<V> {
  resolve: (value: V | null) => void;
  reject: (err: unknown) => void;
}

/**
 * Collects the keys asked for until the event loop's check phase (setImmediate), then reads them with `readMany`,
 * which answers the keys it found. One read is under way at a time: keys asked meanwhile wait for it and go in the
 * next, so the batches grow with the load (a storm's CONNECTs arrive a few per turn) while a lone look-up costs one
 * turn. Each caller gets its key's value, or null when `readMany` did not answer it; a failed read rejects every caller
 * of that batch. A key asked twice in one batch is read once.
 */
export class BatchedLookup<V> {
  private pending = new Map<string, Waiter<V>[]>();
  private scheduled = false;
  private reading = false;

  constructor(private readonly readMany: (keys: string[]) => Promise<Map<string, V>>) {}

  get(key: string): Promise<V | null> {
    return new Promise<V | null>((resolve, reject) => {
      const waiters = this.pending.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.reading || this.pending.size === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.readNext();
    });
  }

  private readNext(): void {
    const batch = new Map<string, Waiter<V>[]>();
    for (const [key, waiters] of this.pending) {
      if (batch.size === LOOKUP_BATCH_KEYS) break;
      batch.set(key, waiters);
    }
    for (const key of batch.keys()) this.pending.delete(key);
    if (batch.size === 0) return;
    this.reading = true;
    // Async, so that a read that throws rejects its batch like one that fails.
    const read = async (): Promise<Map<string, V>> => this.readMany([...batch.keys()]);
    read()
      .then(
        (found) => {
          for (const [key, waiters] of batch) for (const w of waiters) w.resolve(found.get(key) ?? null);
        },
        (err: unknown) => {
          for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
        },
      )
      .finally(() => {
        this.reading = false;
        this.schedule();
      });
  }
}
