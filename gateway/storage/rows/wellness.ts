// Row shapes and row-to-domain mappers of wellness states, shared by the SQLite and PostgreSQL engines.
import type { SignSource } from '../../wellness/rules.js';
import type { WellnessState } from '../../wellness/repo.js';

export interface StateRow {
  resident_id: string;
  last_sign_at: number | null;
  last_sign_source: string | null;
  inactive_ms: number;
  counted_until: number;
  task_opened_at: number | null;
  paged_at: number | null;
}

export function toState(r: StateRow): WellnessState {
  return {
    residentId: r.resident_id,
    lastSignAt: r.last_sign_at,
    lastSignSource: r.last_sign_source as SignSource | null,
    inactiveMs: r.inactive_ms,
    countedUntil: r.counted_until,
    taskOpenedAt: r.task_opened_at,
    pagedAt: r.paged_at,
  };
}
