// SQLite store of the last level of bridged devices' state-style fields (see BridgeLevelRepo).
import type { BridgeLevel, BridgeLevelRepo } from '../../bridges/repo.js';
import type { SqliteDatabase } from './database.js';

export class SqliteBridgeLevelRepo implements BridgeLevelRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async listLevels(): Promise<BridgeLevel[]> {
    return this.sdb
      .stmt<[], { device_id: string; field: string; value: string }>(
        'SELECT device_id, field, value FROM bridge_levels ORDER BY device_id, field',
      )
      .all()
      .map((r) => ({ deviceId: r.device_id, field: r.field, value: r.value }));
  }

  async saveLevel(level: BridgeLevel, at: number): Promise<void> {
    await this.sdb.write(() =>
      this.sdb
        .stmt(
          'INSERT INTO bridge_levels (device_id, field, value, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(device_id, field) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
        )
        .run(level.deviceId, level.field, level.value, at),
    );
  }
}
