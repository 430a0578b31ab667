// SQLite side of retention: deletes old raw events, rejections and inbound SMS ids in short transactions, walking the tables by id.
import type { EventType } from '../../core/types.js';
import type { PruneStep, RetentionRepo } from '../../retention/retention.js';
import type { SqliteDatabase } from './database.js';
import { type RejectionScanRow, scan } from '../rows/retention.js';

interface EventScanRow {
  id: number;
  type: string;
  received_at: number;
  processed: number;
}

export class SqliteRetentionRepo implements RetentionRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async pruneEvents(types: readonly EventType[], before: number, afterId: number, limit: number): Promise<PruneStep> {
    const prunable = new Set<string>(types);
    // Unsynced commit: a delete lost to a power cut is simply done again at the next run.
    return this.sdb.transaction(
      async () => {
        const rows = this.sdb
          .stmt<[number, number], EventScanRow>('SELECT id, type, received_at, processed FROM events WHERE id > ? ORDER BY id LIMIT ?')
          .all(afterId, limit);
        const { old, step } = scan(rows, afterId, before);
        const ids = old.filter((r) => prunable.has(r.type) && r.processed === 1).map((r) => r.id);
        if (ids.length === 0) return step;
        const deleted = this.sdb
          .stmt('DELETE FROM events WHERE id IN (SELECT value FROM json_each(?)) AND id NOT IN (SELECT event_id FROM incident_signals)')
          .run(JSON.stringify(ids)).changes;
        return { ...step, deleted };
      },
      { durability: 'normal' },
    );
  }

  async pruneInboundIds(before: number, limit: number): Promise<number> {
    return this.sdb.transaction(
      async () =>
        this.sdb
          .stmt('DELETE FROM sms_inbound_seen WHERE rowid IN (SELECT rowid FROM sms_inbound_seen WHERE received_at < ? LIMIT ?)')
          .run(before, limit).changes,
      { durability: 'normal' },
    );
  }

  async pruneRejections(before: number, afterId: number, limit: number): Promise<PruneStep> {
    return this.sdb.transaction(
      async () => {
        const rows = this.sdb
          .stmt<[number, number], RejectionScanRow>('SELECT id, received_at FROM rejections WHERE id > ? ORDER BY id LIMIT ?')
          .all(afterId, limit);
        const { old, step } = scan(rows, afterId, before);
        if (old.length === 0) return step;
        const deleted = this.sdb
          .stmt('DELETE FROM rejections WHERE id IN (SELECT value FROM json_each(?))')
          .run(JSON.stringify(old.map((r) => r.id))).changes;
        return { ...step, deleted };
      },
      { durability: 'normal' },
    );
  }
}
