// Slows repeated wrong CONNECTs per (address, device id) and bounds secret checks per address, without ever refusing a correct secret.
import type { Clock, TimerHandle } from '../core/clock.js';

export interface AuthLimits {
  /** Wrong attempts for one device id from one address within `windowMs` that cost nothing extra. */
  freeFailures: number;
  windowMs: number;
  /** Wait before the next check of that (address, device id) once past the free failures; doubles per failure up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * Failures from one address (any device id) within `windowMs` after which that address's secret checks run one at a
   * time, and its further failures are no longer recorded one by one.
   */
  addressFailures: number;
}

export const DEFAULT_AUTH_LIMITS: AuthLimits = {
  freeFailures: 5,
  windowMs: 10 * 60_000,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  addressFailures: 20,
};

/** Tracked keys at most; the least recently used go first, so made-up device ids cannot exhaust memory. */
const MAX_KEYS = 20_000;

interface PairState {
  failures: number[];
  /** No check of this pair starts before this time. */
  notBefore: number;
  /** The last attempt's turn: checks of one pair run one after another, so a burst cannot skip the delay. */
  turn: Promise<void>;
  queued: number;
}

interface AddressState {
  failures: number[];
  running: number;
  waiting: (() => void)[];
}

/** Whether to record a failure, with the slow-down it starts; quiet while the pair or the address is already slowed (no log flood). */
export type FailureNote = { quiet: true } | { quiet: false; slowDown: string | null };

export interface ThrottleDeps {
  clock: Clock;
  limits: AuthLimits;
}

export class AuthThrottle {
  private readonly pairs = new Map<string, PairState>();
  private readonly addresses = new Map<string, AddressState>();
  private readonly timers = new Set<{ handle: TimerHandle; wake: () => void }>();
  /** The other nodes' copy of each failure counted here (PostgreSQL clusters); null on one node. */
  private share: ((key: string, at: number) => void) | null = null;
  /** Bumped by stop(): an attempt that began before it gives up, one that begins after runs normally (the broker may start again). */
  private epoch = 0;

  constructor(private readonly deps: ThrottleDeps) {}

  /**
   * Waits for this attempt's turn: after the pair's delay, and for a free check slot of a slowed address.
   * Resolves with the function that gives the slot back, or null when the broker stopped meanwhile.
   */
  async admit(address: string, identity: string): Promise<(() => void) | null> {
    const key = pairKey(address, identity);
    const pair = this.touch(this.pairs, key, () => ({ failures: [], notBefore: 0, turn: Promise.resolve(), queued: 0 }));
    const previous = pair.turn;
    let done = (): void => undefined;
    pair.turn = new Promise<void>((resolve) => (done = resolve));
    pair.queued++;
    const epoch = this.epoch;
    const stopped = (): boolean => this.epoch !== epoch;
    await previous;
    for (let wait = pair.notBefore - this.deps.clock.now(); wait > 0 && !stopped(); wait = pair.notBefore - this.deps.clock.now()) {
      await this.sleep(wait);
    }
    const release = stopped() ? null : await this.slot(address, stopped);
    const finish = (): void => {
      pair.queued--;
      done();
      if (pair.queued === 0 && pair.failures.length === 0 && this.pairs.get(key) === pair) this.pairs.delete(key);
    };
    if (!release) {
      finish();
      return null;
    }
    return () => {
      release();
      finish();
    };
  }

  /** Counts a wrong attempt; says whether to record it, and the slow-down it starts, if any. */
  failed(address: string, identity: string): FailureNote {
    const now = this.deps.clock.now();
    const { addressFailures } = this.deps.limits;
    const { addr, pair, excess, delay } = this.count(address, identity, now);
    this.share?.(sharedKey(address, identity), now);

    const notes: string[] = [];
    if (excess === 1)
      notes.push(`${pair.failures.length} failures for this id from this address; its next checks wait ${delay / 1000} s and more`);
    if (addr.failures.length === addressFailures)
      notes.push(
        `${addressFailures} failures from this address; its checks now run one at a time, further failures are not recorded one by one`,
      );
    if (notes.length > 0) return { quiet: false, slowDown: notes.join('; ') };
    if (excess > 1 || addr.failures.length > addressFailures) return { quiet: true };
    return { quiet: false, slowDown: null };
  }

  /**
   * A wrong attempt another gateway node saw (at its time): counted like one seen here, so the pair's wait and the
   * address's turns hold across nodes; nothing is recorded or passed on for it.
   */
  note(address: string, identity: string, at: number): void {
    if (at <= this.deps.clock.now() - this.deps.limits.windowMs) return;
    this.count(address, identity, at);
  }

  /** From now on each failure counted here is also given to `record` (the other nodes' copy). */
  shareWith(record: (key: string, at: number) => void): void {
    this.share = record;
  }

  /** The counter as the node-sharing ledger sees it: one key per (address, device id). */
  get sharedCounter(): { note(key: string, at: number): void; shareWith(record: (key: string, at: number) => void): void } {
    return {
      note: (key, at) => {
        const pair = parseSharedKey(key);
        if (pair) this.note(pair[0], pair[1], at);
      },
      shareWith: (record) => this.shareWith(record),
    };
  }

  private count(address: string, identity: string, at: number): { addr: AddressState; pair: PairState; excess: number; delay: number } {
    const now = this.deps.clock.now();
    const addr = this.touch(this.addresses, address, () => ({ failures: [], running: 0, waiting: [] }));
    addr.failures = this.recent(addr.failures, now);
    addr.failures.push(at);
    const pair = this.touch(this.pairs, pairKey(address, identity), () => ({
      failures: [],
      notBefore: 0,
      turn: Promise.resolve(),
      queued: 0,
    }));
    pair.failures = this.recent(pair.failures, now);
    pair.failures.push(at);
    const excess = pair.failures.length - this.deps.limits.freeFailures;
    const delay = excess > 0 ? this.delayFor(excess) : 0;
    // The wait runs from the newest failure; one that arrives late from another node never shortens it.
    pair.notBefore = Math.max(pair.notBefore, Math.max(...pair.failures) + delay);
    return { addr, pair, excess, delay };
  }

  /** A correct secret clears its pair: the device's own failures (an old secret, say) must not slow its next reconnect. */
  succeeded(address: string, identity: string): void {
    const key = pairKey(address, identity);
    const pair = this.pairs.get(key);
    if (!pair) return;
    pair.failures = [];
    pair.notBefore = 0;
    if (pair.queued === 0) this.pairs.delete(key);
  }

  /** Milliseconds before the next check of this pair may start (0 when none is due). */
  delayOf(address: string, identity: string): number {
    const pair = this.pairs.get(pairKey(address, identity));
    return pair ? Math.max(0, pair.notBefore - this.deps.clock.now()) : 0;
  }

  /** True while the address's checks run one at a time. */
  isSlowed(address: string): boolean {
    const addr = this.addresses.get(address);
    return addr !== undefined && this.recent(addr.failures, this.deps.clock.now()).length >= this.deps.limits.addressFailures;
  }

  /** Attempts waiting for their turn (a pair delay or a slowed address's slot). */
  waiting(): number {
    let n = 0;
    for (const pair of this.pairs.values()) n += Math.max(0, pair.queued - 1);
    for (const addr of this.addresses.values()) n += addr.waiting.length;
    return n + this.timers.size;
  }

  /** Drops records that can no longer matter; call now and then. */
  sweep(): void {
    const now = this.deps.clock.now();
    for (const [key, pair] of this.pairs) {
      pair.failures = this.recent(pair.failures, now);
      if (pair.failures.length === 0 && pair.queued === 0 && pair.notBefore <= now) this.pairs.delete(key);
    }
    for (const [address, addr] of this.addresses) {
      addr.failures = this.recent(addr.failures, now);
      if (addr.failures.length === 0 && addr.running === 0 && addr.waiting.length === 0) this.addresses.delete(address);
    }
  }

  /** Lets every waiting attempt go (each is then refused), so a stopping broker is not held by a pending delay. */
  stop(): void {
    this.epoch++;
    for (const timer of this.timers) {
      timer.handle.cancel();
      timer.wake();
    }
    this.timers.clear();
    for (const addr of this.addresses.values()) for (const wake of addr.waiting.splice(0)) wake();
  }

  private delayFor(excess: number): number {
    const { baseDelayMs, maxDelayMs } = this.deps.limits;
    return Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(excess - 1, 30));
  }

  /** A slowed address gets one check at a time; any other runs its checks at once. */
  private async slot(address: string, stopped: () => boolean): Promise<(() => void) | null> {
    const addr = this.addresses.get(address);
    if (!addr) return () => undefined;
    if (this.isSlowed(address)) {
      while (addr.running > 0 && !stopped()) await new Promise<void>((resolve) => addr.waiting.push(resolve));
      if (stopped()) return null;
    }
    addr.running++;
    return () => {
      addr.running--;
      addr.waiting.shift()?.();
    };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = {
        handle: this.deps.clock.setTimer(ms, () => {
          this.timers.delete(timer);
          resolve();
        }),
        wake: resolve,
      };
      this.timers.add(timer);
    });
  }

  private recent(times: number[], now: number): number[] {
    return times.filter((t) => t > now - this.deps.limits.windowMs);
  }

  /** Gets or makes the entry and marks it most recently used, forgetting the least recently used beyond the cap. */
  private touch<T>(map: Map<string, T>, key: string, make: () => T): T {
    const entry = map.get(key) ?? make();
    map.delete(key);
    map.set(key, entry);
    while (map.size > MAX_KEYS) {
      const oldest = map.keys().next();
      if (oldest.done) break;
      map.delete(oldest.value);
    }
    return entry;
  }
}

function pairKey(address: string, identity: string): string {
  return `${address}\u0000${identity}`;
}

/** The ledger's key of a pair: JSON, because PostgreSQL text cannot hold the NUL that separates the in-memory key. */
function sharedKey(address: string, identity: string): string {
  return JSON.stringify([address, identity]);
}

function parseSharedKey(key: string): [string, string] | null {
  try {
    const parsed: unknown = JSON.parse(key);
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string')
      return [parsed[0], parsed[1]];
  } catch {
    // Not ours: a ledger entry written by something else under this scope is ignored.
  }
  return null;
}
