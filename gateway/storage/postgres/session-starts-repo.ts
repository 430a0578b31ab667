// PostgreSQL store of when each device's last session started (see SessionStartRepo).
import type { SessionStartRepo } from '../../incidents/session-starts.js';
import type { PgDatabase } from './database.js';

export class PgSessionStartRepo implements SessionStartRepo {
  constructor(private readonly db: PgDatabase) {}

  async swapStart(deviceId: string, at: number): Promise<number | null> {
    // One statement reads the old value and writes the new one; a start lost to a server crash only means the device
    // may be told `resolved` once more, so no WAL flush wait.
    return this.db.write(
      async () => {
        const [row] = await this.db.query<{ previous: string | number | null }>(
          `WITH old AS (SELECT started_at FROM device_session_starts WHERE device_id = $1),
                up AS (INSERT INTO device_session_starts (device_id, started_at) VALUES ($1, $2)
                       ON CONFLICT (device_id) DO UPDATE SET started_at = excluded.started_at
                       WHERE excluded.started_at >= device_session_starts.started_at)
           SELECT (SELECT started_at FROM old) AS previous`,
          [deviceId, at],
        );
        return row?.previous === null || row?.previous === undefined ? null : Number(row.previous);
      },
      { durability: 'normal' },
    );
  }
}
