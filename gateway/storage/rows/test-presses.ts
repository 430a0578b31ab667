// Row shapes and row-to-domain mappers of test-press windows, shared by the SQLite and PostgreSQL engines.
import type { TestScope, TestWindow } from '../../test-presses/types.js';

export interface WindowRow {
  id: string;
  scope_kind: string;
  device_id: string | null;
  community_id: string;
  building: string | null;
  started_at: number;
  ends_at: number;
  started_by: string;
  ended_at: number | null;
  ended_by: string | null;
  end_reason: string | null;
  note: string | null;
}

export function toScope(r: WindowRow): TestScope {
  if (r.scope_kind === 'device' && r.device_id !== null) return { kind: 'device', deviceId: r.device_id };
  return { kind: 'building', communityId: r.community_id, building: r.building ?? '' };
}

export function toWindow(r: WindowRow): TestWindow {
  return {
    id: r.id,
    scope: toScope(r),
    communityId: r.community_id,
    startedAt: r.started_at,
    endsAt: r.ends_at,
    startedBy: r.started_by,
    endedAt: r.ended_at,
    endedBy: r.ended_by,
    endReason: r.end_reason === 'expired' || r.end_reason === 'ended_by_hand' ? r.end_reason : null,
    note: r.note,
  };
}
