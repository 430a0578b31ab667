// PostgreSQL store of the last level of bridged devices' state-style fields (see BridgeLevelRepo).
import type { BridgeLevel, BridgeLevelRepo } from '../../bridges/repo.js';
import type { PgDatabase } from './database.js';

export class PgBridgeLevelRepo implements BridgeLevelRepo {
  constructor(private readonly db: PgDatabase) {}

  async listLevels(): Promise<BridgeLevel[]> {
    const rows = await this.db.query<{ device_id: string; field: string; value: string }>(
      'SELECT device_id, field, value FROM bridge_levels ORDER BY device_id, field',
    );
    return rows.map((r) => ({ deviceId: r.device_id, field: r.field, value: r.value }));
  }

  async saveLevel(level: BridgeLevel, at: number): Promise<void> {
    await this.db.run(
      'INSERT INTO bridge_levels (device_id, field, value, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (device_id, field) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
      [level.deviceId, level.field, level.value, at],
    );
  }
}
