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
