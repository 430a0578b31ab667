// SQLite storage of voice calls: each call with its outcome, and the per-number counts the providers' caps read.
import type { VoiceProviderName } from '../../notifiers/intent.js';
import type { CallChanges, CallStatus, VoiceCall, VoiceCallRepo } from '../../voice/repo.js';
import type { SqliteDatabase } from './database.js';
import { type CallRow, COLUMNS, toCall } from '../rows/voice.js';

export class SqliteVoiceCallRepo implements VoiceCallRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async create(c: VoiceCall): Promise<void> {
    await this.sdb.write(() =>
      this.sdb
        .stmt(
          `INSERT INTO voice_calls (id, incident_id, step, to_phone, person_id, role, name, provider, provider_call_id, status, key_pressed, created_at, updated_at, ended_at, error)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
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
        ),
    );
  }

  async get(id: string): Promise<VoiceCall | null> {
    const row = this.sdb.stmt<[string], CallRow>('SELECT * FROM voice_calls WHERE id = ?').get(id);
    return row ? toCall(row) : null;
  }

  async getByProviderId(provider: VoiceProviderName, providerCallId: string): Promise<VoiceCall | null> {
    const row = this.sdb
      .stmt<[string, string], CallRow>('SELECT * FROM voice_calls WHERE provider = ? AND provider_call_id = ?')
      .get(provider, providerCallId);
    return row ? toCall(row) : null;
  }

  async transition(id: string, from: readonly CallStatus[], changes: CallChanges): Promise<boolean> {
    const sets = ['updated_at = ?'];
    const values: (string | number | null)[] = [changes.updatedAt];
    for (const [key, column] of Object.entries(COLUMNS) as [Exclude<keyof CallChanges, 'updatedAt'>, string][]) {
      const value = changes[key];
      if (value === undefined) continue;
      sets.push(`${column} = ?`);
      values.push(value);
    }
    const marks = from.map(() => '?').join(', ');
    const res = await this.sdb.write(() =>
      this.sdb.db.prepare(`UPDATE voice_calls SET ${sets.join(', ')} WHERE id = ? AND status IN (${marks})`).run(...values, id, ...from),
    );
    return res.changes === 1;
  }

  async listForIncident(incidentId: string): Promise<VoiceCall[]> {
    return this.sdb
      .stmt<[string], CallRow>('SELECT * FROM voice_calls WHERE incident_id = ? ORDER BY created_at, rowid')
      .all(incidentId)
      .map(toCall);
  }

  async listUnplaced(): Promise<VoiceCall[]> {
    return this.sdb
      .stmt<[], CallRow>("SELECT * FROM voice_calls WHERE status IN ('queued', 'placing') ORDER BY created_at, rowid")
      .all()
      .map(toCall);
  }

  async countPlaced(provider: VoiceProviderName, phone: string, since: number): Promise<number> {
    const row = this.sdb
      .stmt<[string, string, number], { n: number }>(
        'SELECT count(*) AS n FROM voice_call_counts WHERE provider = ? AND phone = ? AND placed_at >= ?',
      )
      .get(provider, phone, since);
    return row?.n ?? 0;
  }

  async recordPlaced(provider: VoiceProviderName, phone: string, at: number, pruneBefore: number): Promise<void> {
    await this.sdb.write(() => {
      this.sdb.stmt('DELETE FROM voice_call_counts WHERE placed_at < ?').run(pruneBefore);
      this.sdb.stmt('INSERT INTO voice_call_counts (provider, phone, placed_at) VALUES (?, ?, ?)').run(provider, phone, at);
    });
  }
}
