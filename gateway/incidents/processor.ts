// Feeds recorded signals to the incident service in bursts; a failure is retried, never dropped, and signals left over by a crash are replayed at start.
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Signal } from '../core/types.js';
import type { Store } from '../storage/ports.js';
import { signalFromStored } from '../ingest/signal.js';
import { INFORMATIONAL, type IncidentService } from './service.js';

/** Events one sweep takes up at most; the next sweep takes the rest. */
const ADOPT_LIMIT = 500;

export interface SignalProcessorDeps {
  store: Pick<Store, 'registry' | 'events'>;
  service: Pick<IncidentService, 'handleSignals' | 'familyPagesDone'>;
  clock: Clock;
  log: Logger;
  /** Signals per transaction (default 1000): everyday events cost a row update each, so big batches are cheap. */
  maxBatch?: number;
  /**
   * Alarm signals (those rules act on) per transaction (default 32): each opens an incident and pages, about
   * a millisecond of work, and none of a batch's incidents is visible (nor its SMS sent) until the batch commits.
   */
  maxAlarmsPerBatch?: number;
  retryMs?: number;
  /**
   * Several nodes on one database: every `everyMs` this node also takes up events any node recorded more than
   * `afterMs` ago and nobody has acted on yet, so the alarms a node acknowledged just before it died (or that wait
   * in the queue of a node that lags) are still acted on. The event's row lock decides who acts, once.
   */
  adopt?: { everyMs: number; afterMs: number };
}

export class SignalProcessor {
  private queue: Signal[] = [];
  private draining: Promise<void> | null = null;
  private retry: TimerHandle | null = null;
  private failures = 0;
  private stopped = true;
  /** Event ids queued or being acted on here, so a sweep does not queue them twice. */
  private readonly pending = new Set<number>();
  private sweepTimer: TimerHandle | null = null;
  private sweeping: Promise<void> | null = null;

  constructor(private readonly deps: SignalProcessorDeps) {}

  /** Replays signals that were recorded (and acknowledged to the device) but not acted on before a crash. */
  async start(): Promise<number> {
    this.stopped = false;
    const replay: Signal[] = [];
    for (const e of await this.deps.store.events.listUnprocessed()) {
      const device = await this.deps.store.registry.getDevice(e.deviceId);
      if (!device) {
        this.deps.log.error(
          { deviceId: e.deviceId, eventId: e.id },
          'recorded event of a device no longer in the registry; left unprocessed',
        );
        continue;
      }
      const signal = signalFromStored(e, device);
      if (!signal) {
        this.deps.log.error(
          { deviceId: e.deviceId, eventId: e.id },
          'recorded event no longer decodes for its device kind; left unprocessed',
        );
        continue;
      }
      replay.push(signal);
    }
    if (replay.length > 0) {
      this.deps.log.warn({ count: replay.length }, 'replaying recorded signals that were not acted on before the last stop');
      this.submit(...replay);
    }
    this.armSweep();
    return replay.length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.retry?.cancel();
    this.sweepTimer?.cancel();
    this.sweepTimer = null;
    await this.sweeping;
    await this.draining;
    await this.deps.service.familyPagesDone();
  }

  submit(...signals: Signal[]): void {
    for (const s of signals) this.pending.add(s.eventId);
    this.queue.push(...signals);
    this.kick();
  }

  /** One sweep for events nobody acted on (see `adopt`); resolves when they are queued here. */
  async adoptStale(): Promise<number> {
    const { adopt } = this.deps;
    if (!adopt) return 0;
    const stale = await this.deps.store.events.listUnprocessed({
      receivedBefore: this.deps.clock.now() - adopt.afterMs,
      limit: ADOPT_LIMIT,
    });
    const adopted: Signal[] = [];
    for (const e of stale) {
      if (this.pending.has(e.id)) continue;
      const device = await this.deps.store.registry.getDevice(e.deviceId);
      const signal = device ? signalFromStored(e, device) : null;
      // What start() would refuse (a device gone from the registry) is left for it, and its log line.
      if (signal) adopted.push(signal);
    }
    if (adopted.length > 0) {
      this.deps.log.warn({ count: adopted.length }, 'acting on recorded signals no node acted on in time (a node stopped, or lags)');
      this.submit(...adopted);
    }
    return adopted.length;
  }

  private armSweep(): void {
    const { adopt } = this.deps;
    if (!adopt || this.stopped) return;
    this.sweepTimer = this.deps.clock.setTimer(adopt.everyMs, () => {
      this.sweepTimer = null;
      this.sweeping = this.adoptStale()
        .then(
          () => undefined,
          (err: unknown) => this.deps.log.error({ err }, 'could not look for signals nobody acted on; will look again'),
        )
        .finally(() => {
          this.sweeping = null;
          this.armSweep();
        });
    });
  }

  /** Signals waiting, and consecutive failed attempts (for /healthz). */
  backlog(): { queued: number; failures: number } {
    return { queued: this.queue.length, failures: this.failures };
  }

  /** Resolves once everything submitted so far has been acted on (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
    await this.deps.service.familyPagesDone();
  }

  private kick(): void {
    if (this.draining || this.retry || this.stopped) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.queue.length > 0 && !this.retry) this.kick();
    });
  }

  /** How many queued signals the next transaction takes: up to maxBatch, but no more than maxAlarmsPerBatch alarms. */
  private batchLength(): number {
    const max = Math.min(this.queue.length, this.deps.maxBatch ?? 1000);
    const maxAlarms = this.deps.maxAlarmsPerBatch ?? 32;
    let alarms = 0;
    for (let i = 0; i < max; i++) {
      const signal = this.queue[i];
      if (signal && !INFORMATIONAL.has(signal.type) && ++alarms > maxAlarms) return Math.max(1, i);
    }
    return max;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.stopped) {
      const batch = this.queue.splice(0, this.batchLength());
      try {
        await this.deps.service.handleSignals(batch);
        this.failures = 0;
        for (const s of batch) this.pending.delete(s.eventId);
      } catch (err) {
        // One bad signal must not hold back the others: take them one at a time, and keep what fails for a retry.
        const failed: Signal[] = [];
        for (const signal of batch) {
          try {
            await this.deps.service.handleSignals([signal]);
            this.pending.delete(signal.eventId);
          } catch (one) {
            failed.push(signal);
            this.deps.log.error(
              { err: one, eventId: signal.eventId, deviceId: signal.deviceId, type: signal.type },
              'signal could not be acted on; will retry',
            );
          }
        }
        if (failed.length > 0) {
          this.failures++;
          this.queue.unshift(...failed);
          const delay = Math.min(30_000, (this.deps.retryMs ?? 1000) * 2 ** Math.min(this.failures - 1, 5));
          this.retry = this.deps.clock.setTimer(delay, () => {
            this.retry = null;
            this.kick();
          });
          if (batch.length > 1) this.deps.log.error({ err }, 'signal batch failed');
          return;
        }
      }
    }
  }
}
