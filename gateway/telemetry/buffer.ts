// A bounded FIFO on a ring of fixed size: O(1) push that drops the oldest item when full, batch take, and put-back at the front.

/** T must not include undefined: an empty slot is undefined. */
export class BoundedQueue<T extends object | string | number> {
  private readonly slots: (T | undefined)[];
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
    this.slots = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Appends; when full, the oldest item makes room. Returns how many items were dropped (0 or 1). */
  push(item: T): number {
    if (this.size === this.capacity) {
      this.slots[this.head] = item;
      this.head = (this.head + 1) % this.capacity;
      return 1;
    }
    this.slots[(this.head + this.size) % this.capacity] = item;
    this.size++;
    return 0;
  }

  /** Removes and returns up to `n` of the oldest items, oldest first. */
  take(n: number): T[] {
    const count = Math.min(n, this.size);
    const out: T[] = [];
    for (let i = 0; i < count; i++) {
      const item = this.slots[this.head];
      if (item !== undefined) out.push(item);
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
    }
    this.size -= count;
    return out;
  }

  /**
   * Puts items taken earlier back in front of everything queued since (they are older). What does not fit
   * is dropped from the oldest end, i.e. from the start of `items`. Returns how many were dropped.
   */
  putBack(items: readonly T[]): number {
    const room = this.capacity - this.size;
    const dropped = Math.max(0, items.length - room);
    for (let i = items.length - 1; i >= dropped; i--) {
      this.head = (this.head - 1 + this.capacity) % this.capacity;
      this.slots[this.head] = items[i];
      this.size++;
    }
    return dropped;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.head = 0;
    this.size = 0;
  }
}
