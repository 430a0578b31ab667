// Row shape of durable timers and its mapping, shared by the SQLite and PostgreSQL engines.
import type { DurableTimer, TimerKind } from '../ports.js';

export interface TimerRow {
  key: string;
  kind: string;
  incident_id: string;
  due_at: number;
  payload: string;
}

export function toTimer(r: TimerRow): DurableTimer {
  return {
    key: r.key,
    kind: r.kind as TimerKind,
    incidentId: r.incident_id,
    dueAt: r.due_at,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
  };
}
