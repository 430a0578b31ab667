// The gateway's lifecycle: named steps started in order and stopped in reverse, each stop isolated from the others.
import type { Logger } from '../core/logger.js';

/** One part's place in the start-up order; a step may only start (a load, a handler) or only stop (the database). */
export interface LifecycleStep {
  name: string;
  start?(): void | Promise<unknown>;
  stop?(): void | Promise<unknown>;
}

/** Thrown by stop() after every step has had its turn, when one or more of them failed to stop. */
export class StopFailures extends AggregateError {
  constructor(
    readonly failed: string[],
    errors: unknown[],
  ) {
    super(errors, `parts failed to stop: ${failed.join(', ')}`);
    this.name = 'StopFailures';
  }
}

export class Lifecycle {
  constructor(
    private readonly steps: readonly LifecycleStep[],
    private readonly log: Logger,
  ) {}

  /** Starts each step in order; a step that throws ends start-up there (the caller then stops the gateway). */
  async start(): Promise<void> {
    for (const step of this.steps) await step.start?.();
  }

  /**
   * Stops every step in reverse order, whether or not it started (each part's stop tolerates that). A step that
   * throws is logged by name and the rest still stop, so the database is always closed; the failures are thrown
   * together at the end, so a shutdown never reports success it did not have.
   */
  async stop(): Promise<void> {
    const failed: string[] = [];
    const errors: unknown[] = [];
    for (const step of [...this.steps].reverse()) {
      if (!step.stop) continue;
      try {
        await step.stop();
      } catch (err) {
        this.log.error({ err, step: step.name }, `${step.name} failed to stop; stopping the rest`);
        failed.push(step.name);
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new StopFailures(failed, errors);
  }
}
