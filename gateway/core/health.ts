// How a part of the gateway reports its health to /healthz: one component's status, and the report over all of them.

export type ComponentStatus = 'up' | 'degraded' | 'down' | 'disabled';

export interface ComponentHealth {
  status: ComponentStatus;
  detail?: string;
  [key: string]: unknown;
}

export interface HealthReport {
  /** False when alarms cannot be taken or paged: /healthz answers 503. */
  alarmsOk: boolean;
  components: Record<string, ComponentHealth>;
  /** Active incidents nobody could be paged for. */
  unassignedIncidents: number;
}

/** What decides whether alarms can be taken and paged (/healthz answers 503 when not). */
export interface AlarmPathState {
  databaseUp: boolean;
  /** Consecutive failures of the signal processor to act on recorded signals. */
  signalFailures: number;
  /** Whether events can be committed (disk space, writes). */
  recording: boolean;
  /** The circuit state of each SMS provider in use. */
  smsProviders: readonly { state: string }[];
}

/**
 * Alarms are OK while the database answers, signals are acted on, events can be recorded and pages can go out. Every
 * provider's breaker open means they failed again and again: alarms are taken but nobody is paged, which is what 503
 * says. (Outbox mode is a choice made at start-up, named but not 503.)
 */
export function alarmsOk(s: AlarmPathState): boolean {
  const pagesStuck = s.smsProviders.every((p) => p.state !== 'closed');
  return s.databaseUp && s.signalFailures < 3 && s.recording && !pagesStuck;
}
