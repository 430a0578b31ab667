// Counts sign-in failures (or code requests) per key in a sliding window, refusing past a limit or only slowing down; in memory, so a restart forgets them.
import type { Clock } from '../core/clock.js';

export interface RateLimitRule {
  /** Events allowed within the window; the next one is refused. */
  max: number;
  windowMs: number;
}

export interface LimiterDeps {
  clock: Clock;
  rule: RateLimitRule;
  /** Keys tracked at most; the oldest are forgotten first, so a flood of made-up usernames cannot exhaust memory. */
  maxKeys?: number;
}

/**
 * One window of timestamps per key (`ip:…`, `user:…`, `phone:…`). In memory is enough for one gateway process:
 * a restart resets the counters, which an attacker cannot trigger, and the scrypt cost still bounds guessing.
 * Several nodes on PostgreSQL share each limiter's events through gateway/lockouts (note / shareWith).
 */
export class SlidingWindowLimiter {
  private readonly hits = new Map<string, number[]>();
  private share: ((key: string, at: number) => void) | null = null;

  constructor(protected readonly deps: LimiterDeps) {}

  /** Seconds until the key may try again, or 0 when it may now. */
  retryAfterSeconds(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.deps.rule.max) return 0;
    const oldest = recent[recent.length - this.deps.rule.max] ?? this.deps.clock.now();
    return Math.max(1, Math.ceil((oldest + this.deps.rule.windowMs - this.deps.clock.now()) / 1000));
  }

  record(key: string): void {
    const now = this.deps.clock.now();
    this.remember(key, now);
    this.share?.(key, now);
  }

  /** An event another gateway node counted (at its time): counted here too, in time order, and not passed on. */
  note(key: string, at: number): void {
    if (at <= this.deps.clock.now() - this.deps.rule.windowMs) return;
    this.remember(key, at);
  }

  /** From now on each event recorded here is also given to `record` (the other nodes' copy, on PostgreSQL). */
  shareWith(record: (key: string, at: number) => void): void {
    this.share = record;
  }

  private remember(key: string, at: number): void {
    const recent = this.recent(key);
    let i = recent.length;
    while (i > 0 && (recent[i - 1] ?? 0) > at) i--;
    recent.splice(i, 0, at);
    this.hits.delete(key);
    this.hits.set(key, recent);
    const cap = this.deps.maxKeys ?? 10_000;
    while (this.hits.size > cap) {
      const oldest = this.hits.keys().next();
      if (oldest.done) break;
      this.hits.delete(oldest.value);
    }
  }

  reset(key: string): void {
    this.hits.delete(key);
  }

  protected recent(key: string): number[] {
    const since = this.deps.clock.now() - this.deps.rule.windowMs;
    const list = (this.hits.get(key) ?? []).filter((t) => t > since);
    if (list.length === 0) this.hits.delete(key);
    return list;
  }
}

/** Past its free failures a key waits before its next try, and the wait doubles per failure up to a ceiling. */
export interface BackoffRule extends RateLimitRule {
  /** The first wait, once `max` failures happened within the window. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * Slows a key down instead of shutting it out: after `max` failures within the window its next try must wait, longer
 * after each further failure, but a try after the wait is always checked. Keyed per (address, account), this never
 * stops the right password from elsewhere, and from the same address it only delays it.
 */
export class BackoffLimiter extends SlidingWindowLimiter {
  constructor(private readonly backoff: { clock: Clock; rule: BackoffRule; maxKeys?: number }) {
    super(backoff);
  }

  override retryAfterSeconds(key: string): number {
    const recent = this.recent(key);
    const excess = recent.length - this.backoff.rule.max + 1;
    const last = recent[recent.length - 1];
    if (excess <= 0 || last === undefined) return 0;
    const { baseDelayMs, maxDelayMs } = this.backoff.rule;
    const until = last + Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(excess - 1, 30));
    const now = this.backoff.clock.now();
    return until > now ? Math.max(1, Math.ceil((until - now) / 1000)) : 0;
  }
}

/** What longestWait needs of a limiter. */
export interface Limiter {
  retryAfterSeconds(key: string): number;
  record(key: string): void;
}

/** The longest wait among several limiters and keys (0 when none is exhausted). */
export function longestWait(checks: [Limiter, string][]): number {
  return Math.max(0, ...checks.map(([limiter, key]) => limiter.retryAfterSeconds(key)));
}
