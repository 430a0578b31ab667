// A circuit breaker per SMS provider: stops sends to a provider that keeps failing, and probes it for recovery.
import type { Clock } from '../core/clock.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Transient failures in a row that open the breaker (default 5). */
  failureThreshold?: number;
  /** How long an open breaker waits before one probe send may test the provider (default 10 s). */
  cooldownMs?: number;
}

export interface CircuitBreakerHealth {
  state: BreakerState;
  /** Transient failures in a row since the provider last answered. */
  consecutiveFailures: number;
  /** When the breaker last opened; null while closed. */
  openedAt: number | null;
  /** When the next probe may go (open), or null (closed, or a probe is on its way). */
  nextProbeAt: number | null;
  /** Times the breaker opened since start. */
  opened: number;
}

/** Leave to make one provider call: a probe is the single call a half-open breaker lets through. */
export interface BreakerPermit {
  readonly probe: boolean;
}

export const DEFAULT_FAILURE_THRESHOLD = 5;
export const DEFAULT_COOLDOWN_MS = 10_000;

const NORMAL: BreakerPermit = { probe: false };

/**
 * Without it, a provider outage in an alarm storm turned every queued SMS into a stream of doomed requests (hundreds a
 * second). Open, it lets nothing through until the cooldown ends; then exactly one probe goes, and its answer closes
 * the breaker or opens it for another cooldown. Any answer from the provider, even a refusal of one message (a bad
 * number), proves it is up; only transient failures (timeouts, network errors, 429, 5xx) count against it.
 */
export class CircuitBreaker {
  private state: BreakerState = 'closed';
  private failures = 0;
  private openedAt: number | null = null;
  private probing = false;
  private opened = 0;

  constructor(
    private readonly clock: Clock,
    private readonly options: CircuitBreakerOptions = {},
  ) {}

  /** A permit for one provider call now, or null: the call must wait (see `waitMs`). */
  tryAcquire(): BreakerPermit | null {
    if (this.state === 'closed') return NORMAL;
    if (this.probing || this.waitMs() > 0) return null;
    this.state = 'half-open';
    this.probing = true;
    return { probe: true };
  }

  /** How long until a probe may go: 0 when closed or due, Infinity while a probe is on its way. */
  waitMs(): number {
    if (this.state === 'closed') return 0;
    if (this.probing) return Infinity;
    return Math.max(0, (this.openedAt ?? 0) + this.cooldownMs - this.clock.now());
  }

  /** The provider answered (accepted or refused the message). Returns true when that closed an open breaker. */
  succeeded(permit: BreakerPermit): boolean {
    if (permit.probe) this.probing = false;
    this.failures = 0;
    if (this.state === 'closed') return false;
    this.state = 'closed';
    this.openedAt = null;
    return true;
  }

  /** The call failed in a way that says the provider is in trouble. Returns true when that opened the breaker. */
  failed(permit: BreakerPermit): boolean {
    if (permit.probe) this.probing = false;
    this.failures++;
    if (this.state === 'closed' && this.failures < (this.options.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD)) return false;
    // A failed probe, or a send started before the breaker opened: the cooldown starts again from now.
    const wasClosed = this.state === 'closed';
    this.state = 'open';
    this.openedAt = this.clock.now();
    if (wasClosed) this.opened++;
    return wasClosed;
  }

  /** A permit given back unused (the message went another way): a probe lets the next one go. */
  release(permit: BreakerPermit): void {
    if (!permit.probe) return;
    this.probing = false;
    if (this.state === 'half-open') this.state = 'open';
  }

  isClosed(): boolean {
    return this.state === 'closed';
  }

  health(): CircuitBreakerHealth {
    const wait = this.waitMs();
    return {
      state: this.state,
      consecutiveFailures: this.failures,
      openedAt: this.openedAt,
      nextProbeAt: this.state === 'closed' || wait === Infinity ? null : this.clock.now() + wait,
      opened: this.opened,
    };
  }

  get cooldownMs(): number {
    return this.options.cooldownMs ?? DEFAULT_COOLDOWN_MS;
  }
}
