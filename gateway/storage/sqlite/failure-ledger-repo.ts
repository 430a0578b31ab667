// SQLite copy of the shared sign-in failure ledger: one node never needs it (its limiters are in memory), but the data means the same on both engines.
import type { FailureEntry, FailureLedgerRepo, LedgerRow } from '../../lockouts/repo.js';
import type { SqliteDatabase } from './database.js';
import type { FailureRow as Row } from '../rows/failures.js';

export class SqliteFailureLedgerRepo implements FailureLedgerRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async append(e: FailureEntry): Promise<void> {
    // A failure lost to a power cut only forgets one wrong guess: no disk sync.
    await this.sdb.write(
      () => this.sdb.stmt('INSERT INTO auth_failures (scope, key, at, node) VALUES (?, ?, ?, ?)').run(e.scope, e.key, e.at, e.node),
      { durability: 'normal' },
    );
  }

  async since(q: { afterId: number; notBefore: number; exceptNode: string; limit: number }): Promise<LedgerRow[]> {
    const rows = this.sdb
      .stmt<[number, number, string, number], Row>(
        'SELECT id, scope, key, at, node FROM auth_failures WHERE id > ? AND at > ? AND node <> ? ORDER BY id LIMIT ?',
      )
      .all(q.afterId, q.notBefore, q.exceptNode, q.limit);
    return rows.map((r) => ({ id: r.id, entry: { scope: r.scope, key: r.key, at: r.at, node: r.node } }));
  }

  async prune(before: number): Promise<number> {
    const result = await this.sdb.write(() => this.sdb.stmt('DELETE FROM auth_failures WHERE at <= ?').run(before), {
      durability: 'normal',
    });
    return result.changes;
  }
}
