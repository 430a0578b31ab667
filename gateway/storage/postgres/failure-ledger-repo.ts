// PostgreSQL ledger of sign-in failures that every gateway node appends to and reads the others' from (gateway/lockouts/shared.ts).
import type { FailureEntry, FailureLedgerRepo, LedgerRow } from '../../lockouts/repo.js';
import type { PgDatabase } from './database.js';
import type { FailureRow as Row } from '../rows/failures.js';

export class PgFailureLedgerRepo implements FailureLedgerRepo {
  constructor(private readonly db: PgDatabase) {}

  async append(e: FailureEntry): Promise<void> {
    // A failure lost to a server crash only forgets one wrong guess: no WAL flush wait.
    await this.db.write(
      () => this.db.run('INSERT INTO auth_failures (scope, key, at, node) VALUES ($1, $2, $3, $4)', [e.scope, e.key, e.at, e.node]),
      { durability: 'normal' },
    );
  }

  async since(q: { afterId: number; notBefore: number; exceptNode: string; limit: number }): Promise<LedgerRow[]> {
    const rows = await this.db.query<Row>(
      'SELECT id, scope, key, at, node FROM auth_failures WHERE id > $1 AND at > $2 AND node <> $3 ORDER BY id LIMIT $4',
      [q.afterId, q.notBefore, q.exceptNode, q.limit],
    );
    return rows.map((r) => ({ id: r.id, entry: { scope: r.scope, key: r.key, at: r.at, node: r.node } }));
  }

  async prune(before: number): Promise<number> {
    return this.db.write(() => this.db.run('DELETE FROM auth_failures WHERE at <= $1', [before]), { durability: 'normal' });
  }
}
