// Row shapes and row-to-domain mappers of retention scans, shared by the SQLite and PostgreSQL engines.
import type { PruneStep } from '../../retention/retention.js';

export interface RejectionScanRow {
  id: number;
  received_at: number;
}

/** The rows received before `before`, up to the first younger one, which ends the scan. */
export function scan<R extends { id: number; received_at: number }>(
  rows: R[],
  afterId: number,
  before: number,
): { old: R[]; step: PruneStep } {
  const young = rows.findIndex((r) => r.received_at >= before);
  const old = young === -1 ? rows : rows.slice(0, young);
  const lastId = old.at(-1)?.id ?? afterId;
  return { old, step: { deleted: 0, lastId, done: young !== -1 || rows.length === 0 } };
}
