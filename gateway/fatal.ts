// The process's way out: a signal stops the gateway cleanly; an unhandled rejection or uncaught exception is logged at fatal, gets a bounded stop, and exits non-zero so the supervisor restarts the gateway from its durable state.
import type { Logger } from './core/logger.js';

/** Exit status after a fault nobody handled (EX_SOFTWARE); the supervisor restarts the process. */
export const FATAL_EXIT_CODE = 70;
/** How long the stop after a fault may take before the process exits anyway. */
export const DEFAULT_FATAL_STOP_MS = 5000;

type Fault = 'unhandledRejection' | 'uncaughtException';

/** The part of `process` the guard listens on. */
export interface ProcessEvents {
  on(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
  on(event: 'uncaughtException', listener: (err: Error) => void): unknown;
}

export interface ProcessGuard {
  /** An orderly stop (SIGINT/SIGTERM): exits 0 when the gateway has stopped, 1 if its stop failed. */
  shutdown(signal: string): void;
}

export interface ProcessGuardDeps {
  events: ProcessEvents;
  log: Logger;
  /** The gateway's ordinary stop: queued events are committed (and PUBACKed), the database closed. */
  stop: () => Promise<void>;
  exit: (code: number) => void;
  stopTimeoutMs?: number;
}

/**
 * Installs the handlers. After an unexpected throw the process's state is not trusted to keep taking alarms,
 * but every alarm PUBACKed so far is on disk, so the safe course is out and back in: the restart rebuilds
 * incidents, timers and pages from the database. The stop is tried first (events waiting for their group
 * commit still get recorded and acknowledged) but bounded, as a broken process may never finish it.
 */
export function installProcessGuard(deps: ProcessGuardDeps): ProcessGuard {
  const timeoutMs = deps.stopTimeoutMs ?? DEFAULT_FATAL_STOP_MS;
  let stopping: Promise<void> | null = null;
  let faulted = false;

  const stopOnce = (): Promise<void> => {
    stopping ??= deps.stop();
    return stopping;
  };

  const shutdown = (signal: string) => {
    if (stopping) return;
    deps.log.info({ signal }, 'stopping');
    stopOnce().then(
      () => {
        if (!faulted) deps.exit(0);
      },
      (err: unknown) => {
        deps.log.error({ err }, 'stop failed');
        if (!faulted) deps.exit(1);
      },
    );
  };

  const onFault = (kind: Fault, reason: unknown) => {
    const err = reason instanceof Error ? reason : new Error(`${kind} with a non-Error value: ${describeValue(reason)}`);
    if (faulted) {
      deps.log.fatal({ err, kind }, 'further fault while stopping');
      return;
    }
    faulted = true;
    deps.log.fatal(
      { err, kind, stopTimeoutMs: timeoutMs },
      'unhandled fault: stopping, for the supervisor to restart the gateway from its database',
    );
    const timer = setTimeout(() => {
      deps.log.fatal({ stopTimeoutMs: timeoutMs }, 'stop after a fault did not finish in time; exiting');
      deps.exit(FATAL_EXIT_CODE);
    }, timeoutMs);
    stopOnce().then(
      () => {
        clearTimeout(timer);
        deps.log.fatal('stopped after a fault; exiting');
        deps.exit(FATAL_EXIT_CODE);
      },
      (stopErr: unknown) => {
        clearTimeout(timer);
        deps.log.fatal({ err: stopErr }, 'stop after a fault failed; exiting');
        deps.exit(FATAL_EXIT_CODE);
      },
    );
  };

  deps.events.on('unhandledRejection', (reason) => onFault('unhandledRejection', reason));
  deps.events.on('uncaughtException', (err) => onFault('uncaughtException', err));
  return { shutdown };
}

function describeValue(value: unknown): string {
  try {
    return String(JSON.stringify(value)).slice(0, 200);
  } catch {
    return typeof value;
  }
}
