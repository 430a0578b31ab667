// Row shapes and row-to-domain mappers of care tasks and outages, shared by the SQLite and PostgreSQL engines.
import type { CareTaskKind } from '../../core/types.js';
import type {
  CareTask,
  CareTaskState,
  Outage,
  OutageCloseReason,
  OutageDevice,
  OutagePage,
  OutagePlaceKind,
} from '../../supervision/types.js';

export interface TaskRow {
  id: string;
  kind: string;
  state: string;
  resident_id: string;
  device_id: string | null;
  community_id: string;
  worker_id: string | null;
  detail: string | null;
  opened_at: number;
  closed_at: number | null;
  closed_by: string | null;
  close_reason: string | null;
  close_note: string | null;
  updated_at: number;
}

export interface OutageRow {
  id: string;
  place_kind: string;
  place_key: string;
  community_id: string;
  building: string | null;
  devices: string;
  opened_at: number;
  closed_at: number | null;
  summary: string | null;
  page: string | null;
  updated_at: number;
  closed_by: string | null;
  close_reason: string | null;
  close_note: string | null;
}

export function toTask(r: TaskRow): CareTask {
  return {
    id: r.id,
    kind: r.kind as CareTaskKind,
    state: r.state as CareTaskState,
    residentId: r.resident_id,
    deviceId: r.device_id,
    communityId: r.community_id,
    workerId: r.worker_id,
    detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
    openedAt: r.opened_at,
    closedAt: r.closed_at,
    closedBy: r.closed_by,
    closeReason: r.close_reason,
    closeNote: r.close_note,
    updatedAt: r.updated_at,
  };
}

export function toOutage(r: OutageRow): Outage {
  return {
    id: r.id,
    place: { kind: r.place_kind as OutagePlaceKind, key: r.place_key, communityId: r.community_id, building: r.building },
    devices: JSON.parse(r.devices) as OutageDevice[],
    openedAt: r.opened_at,
    closedAt: r.closed_at,
    summary: r.summary,
    page: r.page ? (JSON.parse(r.page) as OutagePage) : null,
    // Outages closed before close reasons were recorded (carried over from older installations) closed by recovery or merge.
    closedBy: r.closed_by ?? (r.closed_at !== null ? 'system' : null),
    closeReason:
      (r.close_reason as OutageCloseReason | null) ??
      (r.closed_at !== null ? (r.summary?.includes(': merged into ') ? 'merged' : 'recovered') : null),
    closeNote: r.close_note,
    updatedAt: r.updated_at,
  };
}
