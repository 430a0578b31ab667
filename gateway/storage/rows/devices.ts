// Row shapes and row-to-domain mappers of device health and security rows, shared by the SQLite and PostgreSQL engines.
import type { DeviceHealth, DeviceState } from '../../core/types.js';

export interface HealthRow {
  device_id: string;
  state: string;
  last_seen: number | null;
  battery: number | null;
  rssi: number | null;
  last_status_at: number | null;
  remote_address: string | null;
  last_rejection: string | null;
  rejected_count: number;
}

export function toHealth(r: HealthRow): DeviceHealth {
  return {
    deviceId: r.device_id,
    state: r.state as DeviceState,
    lastSeen: r.last_seen,
    battery: r.battery,
    rssi: r.rssi,
    lastStatusAt: r.last_status_at,
    remoteAddress: r.remote_address,
    lastRejection: r.last_rejection ? (JSON.parse(r.last_rejection) as DeviceHealth['lastRejection']) : null,
    rejectedCount: r.rejected_count,
  };
}

export interface SecurityRow {
  at: number;
  kind: string;
  device_id: string | null;
  client_id: string | null;
  remote_address: string | null;
  detail: string;
}
