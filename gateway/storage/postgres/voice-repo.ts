// PostgreSQL storage of voice calls: each call with its outcome, and the per-number counts the providers' caps read.
import type { VoiceProviderName } from '../../notifiers/intent.js';
import type { CallChanges, CallStatus, VoiceCall, VoiceCallRepo } from '../../voice/repo.js';
import type { PgDatabase, PgParam } from './database.js';
import { leaseOptions, leaseSql, type PgLeaseOptions } from './leases.js';
import { type CallRow, COLUMNS, toCall } from '../rows/voice.js';

export class PgVoiceCallRepo implements VoiceCallRepo {
  /** Each call is stored leased to the node that stores it: that node places it, unless its lease runs out. */
  constructor(
    private readonly db: PgDatabase,
    private readonly lease: PgLeaseOptions = leaseOptions(),
  ) {}

  async create(c: VoiceCall): Promise<void> {
    await this.db.run(
      `INSERT INTO voice_calls (id, incident_id, step, to_phone, person_id, role, name, provider, provider_call_id, status, key_pressed, created_at, updated_at, ended_at, error,
         claimed_by, lease_until)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, ${leaseSql(16)})`,
      [
        c.id,
        c.incidentId,
        c.step,
        c.to,
        c.personId,
        c.role,
        c.name,
        c.provider,
        c.providerCallId,
        c.status,
        c.key,
        c.createdAt,
        c.updatedAt,
        c.endedAt,
        c.error,
        this.lease.nodeId,
        this.lease.leaseMs,
      ],
    );
  }

  async get(id: string): Promise<VoiceCall | null> {
    const row = await this.db.one<CallRow>('SELECT * FROM voice_calls WHERE id = $1', [id]);
    return row ? toCall(row) : null;
  }

  async getByProviderId(provider: VoiceProviderName, providerCallId: string): Promise<VoiceCall | null> {
    const row = await this.db.one<CallRow>('SELECT * FROM voice_calls WHERE provider = $1 AND provider_call_id = $2', [
      provider,
      providerCallId,
    ]);
    return row ? toCall(row) : null;
  }

  async transition(id: string, from: readonly CallStatus[], changes: CallChanges): Promise<boolean> {
    const params: PgParam[] = [id, [...from], changes.updatedAt];
    const sets = ['updated_at = $3'];
    for (const [key, column] of Object.entries(COLUMNS) as [Exclude<keyof CallChanges, 'updatedAt'>, string][]) {
      const value = changes[key];
      if (value === undefined) continue;
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    }
    const n = await this.db.run(`UPDATE voice_calls SET ${sets.join(', ')} WHERE id = $1 AND status = ANY($2::text[])`, params);
    return n === 1;
  }

  async listForIncident(incidentId: string): Promise<VoiceCall[]> {
    return (await this.db.query<CallRow>('SELECT * FROM voice_calls WHERE incident_id = $1 ORDER BY created_at, row_no', [incidentId])).map(
      toCall,
    );
  }

  async listUnplaced(): Promise<VoiceCall[]> {
    return (
      await this.db.query<CallRow>("SELECT * FROM voice_calls WHERE status IN ('queued', 'placing') ORDER BY created_at, row_no")
    ).map(toCall);
  }

  async countPlaced(provider: VoiceProviderName, phone: string, since: number): Promise<number> {
    const row = await this.db.one<{ n: number }>(
      'SELECT count(*) AS n FROM voice_call_counts WHERE provider = $1 AND phone = $2 AND placed_at >= $3',
      [provider, phone, since],
    );
    return row?.n ?? 0;
  }

  async recordPlaced(provider: VoiceProviderName, phone: string, at: number, pruneBefore: number): Promise<void> {
    await this.db.write(async () => {
      await this.db.run('DELETE FROM voice_call_counts WHERE placed_at < $1', [pruneBefore]);
      await this.db.run('INSERT INTO voice_call_counts (provider, phone, placed_at) VALUES ($1, $2, $3)', [provider, phone, at]);
    });
  }
}
