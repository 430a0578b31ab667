// Row shapes of incidents and their audit log, and the incident row mapper, shared by the SQLite and PostgreSQL engines.
import type { EscalationPlan, Incident, IncidentState, IncidentType, Responder } from '../../core/types.js';

export interface AuditRow {
  id: number;
  incident_id: string;
  at: number;
  action: string;
  actor: string;
  channel: string;
  detail: string | null;
}

/** An incidents row with its flags already booleans; each engine reads its own column types into it. */
export interface IncidentRow {
  id: string;
  code: string;
  resident_id: string;
  community_id: string;
  type: string;
  state: string;
  step: number;
  unassigned: boolean;
  plan: string;
  opened_at: number;
  first_paged_at: number | null;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  resolved_at: number | null;
  cancelled_at: number | null;
  signal_count: number;
  last_signal_at: number;
  next_step_at: number | null;
  on_site_at: number | null;
  on_site_by: string | null;
  test: boolean;
}

export function toIncident(r: IncidentRow): Incident {
  return {
    id: r.id,
    code: r.code,
    residentId: r.resident_id,
    communityId: r.community_id,
    type: r.type as IncidentType,
    state: r.state as IncidentState,
    step: r.step,
    unassigned: r.unassigned,
    plan: JSON.parse(r.plan) as EscalationPlan,
    openedAt: r.opened_at,
    firstPagedAt: r.first_paged_at,
    acknowledgedAt: r.acknowledged_at,
    acknowledgedBy: r.acknowledged_by ? (JSON.parse(r.acknowledged_by) as Responder) : null,
    resolvedAt: r.resolved_at,
    cancelledAt: r.cancelled_at,
    signalCount: r.signal_count,
    lastSignalAt: r.last_signal_at,
    nextStepAt: r.next_step_at,
    onSiteAt: r.on_site_at,
    onSiteBy: r.on_site_by ? (JSON.parse(r.on_site_by) as Responder) : null,
    ...(r.test ? { test: true } : {}),
  };
}
