// Look-ups by key asked in one turn of the event loop, answered together by one query: a reconnect storm's CONNECTs read their devices in a few statements instead of one each.

/** Keys one query asks for at most; a turn that asks for more sends several queries. */
export const LOOKUP_BATCH_KEYS = 1000;

interface Waiter<V> {
  resolve: (value: V | null) => void;
  reject: (err: unknown) => void;
}

/**
 * Collects the keys asked for until the event loop's check phase (setImmediate), then reads them with `readMany`,
 * which answers the keys it found. Each caller gets its key's value, or null when `readMany` did not answer it; a
 * failed read rejects every caller of that batch. A key asked twice in one batch is read once.
 */
export class BatchedLookup<V> {
  private pending: Map<string, Waiter<V>[]> | null = null;

  constructor(private readonly readMany: (keys: string[]) => Promise<Map<string, V>>) {}

  get(key: string): Promise<V | null> {
    return new Promise<V | null>((resolve, reject) => {
      let batch = this.pending;
      if (!batch || (batch.size >= LOOKUP_BATCH_KEYS && !batch.has(key))) {
        const fresh = new Map<string, Waiter<V>[]>();
        batch = fresh;
        this.pending = fresh;
        setImmediate(() => this.flush(fresh));
      }
      const waiters = batch.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else batch.set(key, [{ resolve, reject }]);
    });
  }

  private flush(batch: Map<string, Waiter<V>[]>): void {
    if (this.pending === batch) this.pending = null;
    // Async, so that a read that throws rejects its batch like one that fails.
    const read = async (): Promise<Map<string, V>> => this.readMany([...batch.keys()]);
    read().then(
      (found) => {
        for (const [key, waiters] of batch) for (const w of waiters) w.resolve(found.get(key) ?? null);
      },
      (err: unknown) => {
        for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
      },
    );
  }
}
