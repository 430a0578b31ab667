// SQLite repositories for device health, rejected messages and security events.
import type { DeviceHealth, Rejection, SecurityEvent, SecurityEventKind } from '../../core/types.js';
import type { DeviceHealthRepo, SecurityEventRepo } from '../ports.js';
import type { SqliteDatabase } from './database.js';
import { type HealthRow, toHealth, type SecurityRow } from '../rows/devices.js';

export class SqliteDeviceHealthRepo implements DeviceHealthRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async get(deviceId: string): Promise<DeviceHealth | null> {
    return this.read(deviceId);
  }

  /** The same, synchronously: for readers that look up many devices one by one (the dashboard's lists). */
  read(deviceId: string): DeviceHealth | null {
    const row = this.sdb.stmt<[string], HealthRow>('SELECT * FROM device_health WHERE device_id = ?').get(deviceId);
    return row ? toHealth(row) : null;
  }

  async list(): Promise<DeviceHealth[]> {
    return this.sdb.stmt<[], HealthRow>('SELECT * FROM device_health ORDER BY device_id').all().map(toHealth);
  }

  async save(records: DeviceHealth[]): Promise<void> {
    if (records.length === 0) return;
    const stmt = this.sdb.stmt(
      `INSERT INTO device_health (device_id, state, last_seen, battery, rssi, last_status_at, remote_address, last_rejection, rejected_count)
       VALUES (@deviceId, @state, @lastSeen, @battery, @rssi, @lastStatusAt, @remoteAddress, @lastRejection, @rejectedCount)
       ON CONFLICT(device_id) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen, battery = excluded.battery,
         rssi = excluded.rssi, last_status_at = excluded.last_status_at, remote_address = excluded.remote_address,
         last_rejection = excluded.last_rejection, rejected_count = excluded.rejected_count
       WHERE coalesce(excluded.last_seen, -1) >= coalesce(device_health.last_seen, -1)`,
    );
    await this.sdb.transaction(async () => {
      for (const r of records) {
        stmt.run({ ...r, lastRejection: r.lastRejection ? JSON.stringify(r.lastRejection) : null });
      }
    });
  }

  async recordRejection(r: Rejection): Promise<void> {
    await this.sdb.write(() =>
      this.sdb
        .stmt('INSERT INTO rejections (device_id, topic, reason, detail, payload_excerpt, received_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(r.deviceId, r.topic, r.reason, r.detail, r.payloadExcerpt, r.receivedAt),
    );
  }
}

export class SqliteSecurityEventRepo implements SecurityEventRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async record(e: SecurityEvent): Promise<void> {
    await this.sdb.write(() =>
      this.sdb
        .stmt('INSERT INTO security_events (at, kind, device_id, client_id, remote_address, detail) VALUES (?, ?, ?, ?, ?, ?)')
        .run(e.at, e.kind, e.deviceId, e.clientId, e.remoteAddress, e.detail),
    );
  }

  async list(limit: number): Promise<SecurityEvent[]> {
    return this.sdb
      .stmt<[number], SecurityRow>('SELECT * FROM security_events ORDER BY id DESC LIMIT ?')
      .all(limit)
      .map((r) => ({
        at: r.at,
        kind: r.kind as SecurityEventKind,
        deviceId: r.device_id,
        clientId: r.client_id,
        remoteAddress: r.remote_address,
        detail: r.detail,
      }));
  }
}
