// SQLite store of when each device's last session started (see SessionStartRepo).
import type { SessionStartRepo } from '../../incidents/session-starts.js';
import type { SqliteDatabase } from './database.js';

export class SqliteSessionStartRepo implements SessionStartRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async swapStart(deviceId: string, at: number): Promise<number | null> {
    return this.sdb.write(
      () => {
        const row = this.sdb
          .stmt<[string], { started_at: number }>('SELECT started_at FROM device_session_starts WHERE device_id = ?')
          .get(deviceId);
        this.sdb
          .stmt(
            'INSERT INTO device_session_starts (device_id, started_at) VALUES (?, ?) ON CONFLICT(device_id) DO UPDATE SET started_at = excluded.started_at WHERE excluded.started_at >= device_session_starts.started_at',
          )
          .run(deviceId, at);
        return row ? row.started_at : null;
        // A start lost to a power cut only means the device may be told `resolved` once more: no sync of its own.
      },
      { durability: 'normal' },
    );
  }
}
