// PostgreSQL side of retention: deletes old raw events, rejections and inbound SMS ids in short transactions, walking the tables by id.
import type { EventType } from '../../core/types.js';
import type { PruneStep, RetentionRepo } from '../../retention/retention.js';
import type { PgDatabase } from './database.js';
import { type RejectionScanRow, scan } from '../rows/retention.js';

interface EventScanRow {
  id: number;
  type: string;
  received_at: number;
  processed: boolean;
}

export class PgRetentionRepo implements RetentionRepo {
  constructor(private readonly db: PgDatabase) {}

  async pruneEvents(types: readonly EventType[], before: number, afterId: number, limit: number): Promise<PruneStep> {
    const prunable = new Set<string>(types);
    // No WAL flush wait: a delete lost to a server crash is simply done again at the next run.
    return this.db.transaction(
      async () => {
        const rows = await this.db.query<EventScanRow>(
          'SELECT id, type, received_at, processed FROM events WHERE id > $1 ORDER BY id LIMIT $2',
          [afterId, limit],
        );
        const { old, step } = scan(rows, afterId, before);
        const ids = old.filter((r) => prunable.has(r.type) && r.processed).map((r) => r.id);
        if (ids.length === 0) return step;
        const deleted = await this.db.run(
          'DELETE FROM events e WHERE e.id = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM incident_signals s WHERE s.event_id = e.id)',
          [ids],
        );
        return { ...step, deleted };
      },
      { durability: 'normal' },
    );
  }

  async pruneInboundIds(before: number, limit: number): Promise<number> {
    return this.db.transaction(
      () =>
        this.db.run(
          `DELETE FROM sms_inbound_seen WHERE (provider, message_id) IN
             (SELECT provider, message_id FROM sms_inbound_seen WHERE received_at < $1 LIMIT $2)`,
          [before, limit],
        ),
      { durability: 'normal' },
    );
  }

  async pruneRejections(before: number, afterId: number, limit: number): Promise<PruneStep> {
    return this.db.transaction(
      async () => {
        const rows = await this.db.query<RejectionScanRow>('SELECT id, received_at FROM rejections WHERE id > $1 ORDER BY id LIMIT $2', [
          afterId,
          limit,
        ]);
        const { old, step } = scan(rows, afterId, before);
        if (old.length === 0) return step;
        const deleted = await this.db.run('DELETE FROM rejections WHERE id = ANY($1::bigint[])', [old.map((r) => r.id)]);
        return { ...step, deleted };
      },
      { durability: 'normal' },
    );
  }
}
