// What stands between the SMS queue and a provider: its circuit breaker, messages waiting out a backoff, and the
// watch that announces messages delayed too long.
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { OutboundSms } from '../core/types.js';
import { CircuitBreaker, type BreakerPermit, type CircuitBreakerHealth, type CircuitBreakerOptions } from './circuit-breaker.js';

export interface SendGateDeps {
  clock: Clock;
  breaker?: CircuitBreakerOptions;
  log: Logger;
  /** Whether a message that used up its attempts goes on trying (SmsDispatcherDeps.keepTrying). */
  keepTrying?: (msg: OutboundSms) => Promise<boolean>;
  /** How long after it was queued a message that has failed counts as delayed. */
  delayedAfterMs: number;
  /** The breaker's cooldown ended: a probe may go. */
  onProbeDue: () => void;
  /** A message's backoff ended: it may be tried again. */
  onRetryDue: (msg: OutboundSms) => void;
  /** A watched message reached its delay threshold (it may have been handed over since; the listener checks). */
  onDelayed: (msg: OutboundSms) => void;
}

/** The longest wait between two tries of one message, before jitter. */
export const MAX_BACKOFF_MS = 60_000;

/**
 * 0.5 s, 1 s, 2 s, 4 s, 8 s, 16 s, 32 s, then 60 s for as long as a message keeps trying; each spread ±20 % so retries
 * from many pages do not arrive in step.
 */
export function defaultBackoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * One per provider. A fallback provider slots in beside the first with a gate of its own: a send goes through the
 * first gate that gives a permit, so an outage of one provider moves the traffic instead of multiplying the retries.
 */
export class SendGate {
  private readonly breaker: CircuitBreaker;
  /** Messages waiting out their backoff, with the copy to send next. */
  private readonly backoff = new Map<string, { timer: TimerHandle; msg: OutboundSms }>();
  private readonly delayWatch = new Map<string, TimerHandle>();
  private probeTimer: TimerHandle | null = null;

  constructor(private readonly deps: SendGateDeps) {
    this.breaker = new CircuitBreaker(deps.clock, deps.breaker);
  }

  /** Leave for one provider call now, or null: then `onProbeDue` fires once a probe may go. */
  permit(): BreakerPermit | null {
    const permit = this.breaker.tryAcquire();
    if (permit) return permit;
    const wait = this.breaker.waitMs();
    // Infinity: a probe is on its way, and its answer decides.
    if (!this.probeTimer && wait !== Infinity) {
      this.probeTimer = this.deps.clock.setTimer(wait, () => {
        this.probeTimer = null;
        this.deps.onProbeDue();
      });
    }
    return null;
  }

  /** The provider answered. True when that closed an open breaker: the caller should `releaseBackoff`. */
  answered(permit: BreakerPermit): boolean {
    return this.breaker.succeeded(permit);
  }

  /** A transient failure. True when that opened the breaker. */
  troubled(permit: BreakerPermit): boolean {
    return this.breaker.failed(permit);
  }

  /** A permit not used after all (the message was over this provider's cap). */
  release(permit: BreakerPermit): void {
    this.breaker.release(permit);
  }

  isClosed(): boolean {
    return this.breaker.isClosed();
  }

  /** Asked only when a message has used up its attempts on transient failures. */
  async keepsTrying(msg: OutboundSms): Promise<boolean> {
    if (!this.deps.keepTrying) return false;
    try {
      return await this.deps.keepTrying(msg);
    } catch (err) {
      // Unable to tell whether it still matters: a late page beats a lost one.
      this.deps.log.error({ err, sms: msg.id }, 'could not tell whether an SMS must keep trying; it keeps trying');
      return true;
    }
  }

  /**
   * How long a message that just failed waits: its own backoff while the breaker is closed. While it is open, no
   * longer than until the next probe: the breaker does the pacing then, and a message sitting out a 60 s backoff
   * would leave nobody in the queue to probe with, so a provider that came back would go unnoticed for a minute.
   */
  retryDelay(backoffMs: number): number {
    if (this.breaker.isClosed()) return backoffMs;
    const wait = this.breaker.waitMs();
    return Math.min(backoffMs, Number.isFinite(wait) ? wait : this.breaker.cooldownMs);
  }

  retryLater(msg: OutboundSms, delayMs: number): void {
    const timer = this.deps.clock.setTimer(delayMs, () => {
      this.backoff.delete(msg.id);
      this.deps.onRetryDue(msg);
    });
    this.backoff.set(msg.id, { timer, msg });
  }

  isBackingOff(id: string): boolean {
    return this.backoff.has(id);
  }

  get backingOff(): number {
    return this.backoff.size;
  }

  /** Ends every backoff at once (the provider is back) and returns those messages, oldest first. */
  releaseBackoff(): OutboundSms[] {
    const out = [...this.backoff.values()].map(({ timer, msg }) => {
      timer.cancel();
      return msg;
    });
    this.backoff.clear();
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** From its first failure until it is handed over or given up, a message is watched for its delay threshold. */
  watchDelay(msg: OutboundSms): void {
    if (this.delayWatch.has(msg.id)) return;
    const due = msg.createdAt + this.deps.delayedAfterMs - this.deps.clock.now();
    const timer = this.deps.clock.setTimer(Math.max(0, due), () => {
      this.delayWatch.delete(msg.id);
      this.deps.onDelayed(msg);
    });
    this.delayWatch.set(msg.id, timer);
  }

  unwatch(id: string): void {
    this.delayWatch.get(id)?.cancel();
    this.delayWatch.delete(id);
  }

  health(): CircuitBreakerHealth {
    return this.breaker.health();
  }

  /** Cancels every timer; the messages stay unsent in the store and resume on the next start. */
  stop(): void {
    for (const { timer } of this.backoff.values()) timer.cancel();
    this.backoff.clear();
    for (const timer of this.delayWatch.values()) timer.cancel();
    this.delayWatch.clear();
    this.probeTimer?.cancel();
    this.probeTimer = null;
  }
}
