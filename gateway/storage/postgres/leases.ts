// PostgreSQL leases on unsent SMS and unplaced calls: each row is sent by the node that holds it; a survivor takes over rows whose lease ran out.
import { hostname } from 'node:os';
import type { WorkLeases } from '../../core/leases.js';
import type { OutboundSms } from '../../core/types.js';
import type { VoiceCall } from '../../voice/repo.js';
import { type CallRow, toCall } from '../rows/voice.js';
import { type SmsRow, toSms } from '../rows/sms.js';
import type { PgDatabase } from './database.js';

export interface PgLeaseOptions {
  /** GATEWAY_NODE_ID: the node whose rows these are. */
  nodeId: string;
  /** How long a row stays with its node without a renewal (the database's clock). */
  leaseMs: number;
}

export const DEFAULT_LEASE_MS = 15_000;

export function leaseOptions(options: Partial<PgLeaseOptions> = {}): PgLeaseOptions {
  return { nodeId: options.nodeId ?? hostname(), leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS };
}

/** SQL for "this node holds it for leaseMs from now", with the node at `$n` and the lease length at `$n+1`. */
export function leaseSql(n: number): string {
  return `$${n}, gateway_now_ms() + $${n + 1}`;
}

interface LeasedTable<T, R> {
  table: 'sms_messages' | 'voice_calls';
  /** The statuses of work not yet handed to a provider. */
  unfinished: readonly string[];
  /** Those a stopping node hands back: not one whose provider call may be under way in that node. */
  releasable: readonly string[];
  toItem: (row: R) => T;
}

class PgLeases<T, R extends object> implements WorkLeases<T> {
  readonly nodeId: string;

  constructor(
    private readonly db: PgDatabase,
    private readonly options: PgLeaseOptions,
    private readonly spec: LeasedTable<T, R>,
  ) {
    this.nodeId = options.nodeId;
  }

  async claim({ mine, limit }: { mine: boolean; limit: number | null }): Promise<T[]> {
    const { table, unfinished } = this.spec;
    // SKIP LOCKED: two survivors looking at once split the abandoned rows between them instead of waiting on each other.
    const rows = await this.db.query<R & { row_no: number }>(
      `UPDATE ${table} SET claimed_by = $1, lease_until = gateway_now_ms() + $2
       WHERE id IN (
         SELECT id FROM ${table}
         WHERE status = ANY($3::text[])
           AND (claimed_by IS NULL OR lease_until < gateway_now_ms() OR ($4 AND claimed_by = $1))
         ORDER BY created_at, row_no LIMIT $5
         FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [this.options.nodeId, this.options.leaseMs, [...unfinished], mine, limit],
    );
    rows.sort((a, b) => a.row_no - b.row_no);
    return rows.map((r) => this.spec.toItem(r));
  }

  async renew(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const { table } = this.spec;
    // Never waits on a row lock: a row another transaction holds (its status callback, its send being recorded) keeps
    // its lease until the next round, and is still this node's. Renewing many rows while waiting on one of them took
    // part in deadlocks with those transactions (one of them then failed: a status callback answered 500).
    const kept = await this.db.query<{ id: string }>(
      `WITH renewed AS (
         UPDATE ${table} SET lease_until = gateway_now_ms() + $3
         WHERE id IN (SELECT id FROM ${table} WHERE id = ANY($1::text[]) AND claimed_by = $2 FOR UPDATE SKIP LOCKED)
         RETURNING id)
       SELECT id FROM renewed
       UNION SELECT id FROM ${table} WHERE id = ANY($1::text[]) AND claimed_by = $2`,
      [[...ids], this.options.nodeId, this.options.leaseMs],
    );
    // A row gone (pruned) or leased to another node is no longer this node's to send.
    const mine = new Set(kept.map((r) => r.id));
    return ids.filter((id) => !mine.has(id));
  }

  async release(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.run(
      // A row another transaction holds is left to its lease running out rather than waited for.
      `UPDATE ${this.spec.table} SET claimed_by = NULL, lease_until = NULL
       WHERE id IN (SELECT id FROM ${this.spec.table}
                    WHERE id = ANY($1::text[]) AND claimed_by = $2 AND status = ANY($3::text[]) FOR UPDATE SKIP LOCKED)`,
      [[...ids], this.options.nodeId, [...this.spec.releasable]],
    );
  }
}

export class PgSmsLeases extends PgLeases<OutboundSms, SmsRow> {
  constructor(db: PgDatabase, options: PgLeaseOptions) {
    super(db, options, { table: 'sms_messages', unfinished: ['queued', 'sending'], releasable: ['queued', 'sending'], toItem: toSms });
  }
}

export class PgCallLeases extends PgLeases<VoiceCall, CallRow> {
  constructor(db: PgDatabase, options: PgLeaseOptions) {
    super(db, options, { table: 'voice_calls', unfinished: ['queued', 'placing'], releasable: ['queued'], toItem: toCall });
  }
}
