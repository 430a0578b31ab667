// Counts sign-in failures (or code requests) per key in a sliding window; in memory, so a restart forgets them.
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
 */
export class SlidingWindowLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(private readonly deps: LimiterDeps) {}

  /** Seconds until the key may try again, or 0 when it may now. */
  retryAfterSeconds(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.deps.rule.max) return 0;
    const oldest = recent[recent.length - this.deps.rule.max] ?? this.deps.clock.now();
    return Math.max(1, Math.ceil((oldest + this.deps.rule.windowMs - this.deps.clock.now()) / 1000));
  }

  record(key: string): void {
    const recent = this.recent(key);
    recent.push(this.deps.clock.now());
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

  private recent(key: string): number[] {
    const since = this.deps.clock.now() - this.deps.rule.windowMs;
    const list = (this.hits.get(key) ?? []).filter((t) => t > since);
    if (list.length === 0) this.hits.delete(key);
    return list;
  }
}

/** The longest wait among several limiters and keys (0 when none is exhausted). */
export function longestWait(checks: [SlidingWindowLimiter, string][]): number {
  return Math.max(0, ...checks.map(([limiter, key]) => limiter.retryAfterSeconds(key)));
}
