// Feeds recorded signals to the incident service in bursts; a failure is retried, never dropped, and signals left over by a crash are replayed at start.
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Signal } from '../core/types.js';
import type { Store } from '../storage/ports.js';
import { signalFromStored } from '../ingest/signal.js';
import type { IncidentService } from './service.js';

export interface SignalProcessorDeps {
  store: Store;
  service: IncidentService;
  clock: Clock;
  log: Logger;
  maxBatch?: number;
  retryMs?: number;
}

export class SignalProcessor {
  private queue: Signal[] = [];
  private draining: Promise<void> | null = null;
  private retry: TimerHandle | null = null;
  private failures = 0;
  private stopped = true;

  constructor(private readonly deps: SignalProcessorDeps) {}

  /** Replays signals that were recorded (and acknowledged to the device) but not acted on before a crash. */
  async start(): Promise<number> {
    this.stopped = false;
    const replay: Signal[] = [];
    for (const e of await this.deps.store.events.listUnprocessed()) {
      const device = await this.deps.store.registry.getDevice(e.deviceId);
      if (!device) {
        this.deps.log.error({ deviceId: e.deviceId, eventId: e.id }, 'recorded event of a device no longer in the registry; left unprocessed');
        continue;
      }
      const signal = signalFromStored(e, device);
      if (!signal) {
        this.deps.log.error({ deviceId: e.deviceId, eventId: e.id }, 'recorded event no longer decodes for its device kind; left unprocessed');
        continue;
      }
      replay.push(signal);
    }
    if (replay.length > 0) {
      this.deps.log.warn({ count: replay.length }, 'replaying recorded signals that were not acted on before the last stop');
      this.submit(...replay);
    }
    return replay.length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.retry?.cancel();
    await this.draining;
  }

  submit(...signals: Signal[]): void {
    this.queue.push(...signals);
    this.kick();
  }

  /** Signals waiting, and consecutive failed attempts (for /healthz). */
  backlog(): { queued: number; failures: number } {
    return { queued: this.queue.length, failures: this.failures };
  }

  /** Resolves once everything submitted so far has been acted on (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private kick(): void {
    if (this.draining || this.retry || this.stopped) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.queue.length > 0 && !this.retry) this.kick();
    });
  }

  private async drain(): Promise<void> {
    const max = this.deps.maxBatch ?? 200;
    while (this.queue.length > 0 && !this.stopped) {
      const batch = this.queue.splice(0, max);
      try {
        await this.deps.service.handleSignals(batch);
        this.failures = 0;
      } catch (err) {
        // One bad signal must not hold back the others: take them one at a time, and keep what fails for a retry.
        const failed: Signal[] = [];
        for (const signal of batch) {
          try {
            await this.deps.service.handleSignals([signal]);
          } catch (one) {
            failed.push(signal);
            this.deps.log.error({ err: one, eventId: signal.eventId, deviceId: signal.deviceId, type: signal.type }, 'signal could not be acted on; will retry');
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
