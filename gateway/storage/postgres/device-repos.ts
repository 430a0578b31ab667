// PostgreSQL repositories for device health, rejected messages and security events.
import type { DeviceHealth, Rejection, SecurityEvent, SecurityEventKind } from '../../core/types.js';
import type { DeviceHealthRepo, SecurityEventRepo } from '../ports.js';
import type { PgDatabase } from './database.js';
import { type HealthRow, toHealth, type SecurityRow } from '../rows/devices.js';

export class PgDeviceHealthRepo implements DeviceHealthRepo {
  constructor(private readonly db: PgDatabase) {}

  async get(deviceId: string): Promise<DeviceHealth | null> {
    const row = await this.db.one<HealthRow>('SELECT * FROM device_health WHERE device_id = $1', [deviceId]);
    return row ? toHealth(row) : null;
  }

  async list(): Promise<DeviceHealth[]> {
    return (await this.db.query<HealthRow>('SELECT * FROM device_health ORDER BY device_id')).map(toHealth);
  }

  async save(records: DeviceHealth[]): Promise<void> {
    if (records.length === 0) return;
    // One statement for the batch; a device named twice keeps its last record, as the SQLite loop of upserts does.
    // Newest last_seen wins: nodes flush on their own rhythm, and one that heard a device earlier (before it moved to
    // another node) must not write its older record over the newer one. Equal last_seen still writes: the offline
    // timeout changes the state, not the last message.
    const last = [...new Map(records.map((r) => [r.deviceId, r])).values()];
    await this.db.run(
      `INSERT INTO device_health (device_id, state, last_seen, battery, rssi, last_status_at, remote_address, last_rejection, rejected_count)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::int[], $6::bigint[], $7::text[], $8::text[], $9::int[])
       ON CONFLICT (device_id) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen, battery = excluded.battery,
         rssi = excluded.rssi, last_status_at = excluded.last_status_at, remote_address = excluded.remote_address,
         last_rejection = excluded.last_rejection, rejected_count = excluded.rejected_count
       WHERE coalesce(excluded.last_seen, -1) >= coalesce(device_health.last_seen, -1)`,
      [
        last.map((r) => r.deviceId),
        last.map((r) => r.state),
        last.map((r) => r.lastSeen),
        last.map((r) => r.battery),
        last.map((r) => r.rssi),
        last.map((r) => r.lastStatusAt),
        last.map((r) => r.remoteAddress),
        last.map((r) => (r.lastRejection ? JSON.stringify(r.lastRejection) : null)),
        last.map((r) => r.rejectedCount),
      ],
    );
  }

  async recordRejection(r: Rejection): Promise<void> {
    await this.db.run(
      'INSERT INTO rejections (device_id, topic, reason, detail, payload_excerpt, received_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [r.deviceId, r.topic, r.reason, r.detail, r.payloadExcerpt, r.receivedAt],
    );
  }
}

export class PgSecurityEventRepo implements SecurityEventRepo {
  constructor(private readonly db: PgDatabase) {}

  async record(e: SecurityEvent): Promise<void> {
    await this.db.run(
      'INSERT INTO security_events (at, kind, device_id, client_id, remote_address, detail) VALUES ($1, $2, $3, $4, $5, $6)',
      [e.at, e.kind, e.deviceId, e.clientId, e.remoteAddress, e.detail],
    );
  }

  async list(limit: number): Promise<SecurityEvent[]> {
    const rows = await this.db.query<SecurityRow>('SELECT * FROM security_events ORDER BY id DESC LIMIT $1', [limit]);
    return rows.map((r) => ({
      at: r.at,
      kind: r.kind as SecurityEventKind,
      deviceId: r.device_id,
      clientId: r.client_id,
      remoteAddress: r.remote_address,
      detail: r.detail,
    }));
  }
}
