// PostgreSQL accounts: dashboard users, hashed sessions, one-time SMS codes and the account audit log.
import type { AccountRepo } from '../../accounts/repo.js';
import type { AccountAuditEntry, NewAccountAuditEntry, OtpRecord, SessionRecord, UserRecord } from '../../accounts/types.js';
import type { PgDatabase, PgParam } from './database.js';
import { type UserRow, type SessionRow, type OtpRow, type AuditRow, toUser, toSession, toOtp, toAudit } from '../rows/accounts.js';

const SETTINGS_PREFIX = 'accounts.';

function userParams(u: UserRecord): PgParam[] {
  return [
    u.id,
    u.username,
    u.name,
    u.role,
    u.community,
    u.workerId,
    u.volunteerId,
    u.phone,
    u.passwordHash,
    u.disabledAt,
    u.createdAt,
    u.updatedAt,
    u.lastLoginAt,
  ];
}

export class PgAccountRepo implements AccountRepo {
  constructor(private readonly db: PgDatabase) {}

  async createUser(u: UserRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO users (id, username, name, role, community_id, worker_id, volunteer_id, phone, password_hash, disabled_at, created_at, updated_at, last_login_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      userParams(u),
    );
  }

  async updateUser(u: UserRecord): Promise<void> {
    await this.db.run(
      `UPDATE users SET username = $2, name = $3, role = $4, community_id = $5, worker_id = $6, volunteer_id = $7, phone = $8,
         password_hash = $9, disabled_at = $10, updated_at = $11, last_login_at = $12
       WHERE id = $1`,
      [
        u.id,
        u.username,
        u.name,
        u.role,
        u.community,
        u.workerId,
        u.volunteerId,
        u.phone,
        u.passwordHash,
        u.disabledAt,
        u.updatedAt,
        u.lastLoginAt,
      ],
    );
  }

  async getUser(id: string): Promise<UserRecord | null> {
    return this.oneUser('SELECT * FROM users WHERE id = $1', id);
  }

  async getUserByUsername(username: string): Promise<UserRecord | null> {
    return this.oneUser('SELECT * FROM users WHERE username = $1', username);
  }

  async getUserByWorker(workerId: string): Promise<UserRecord | null> {
    return this.oneUser('SELECT * FROM users WHERE worker_id = $1', workerId);
  }

  async getUserByVolunteer(volunteerId: string): Promise<UserRecord | null> {
    return this.oneUser('SELECT * FROM users WHERE volunteer_id = $1', volunteerId);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.db.query<UserRow>('SELECT * FROM users ORDER BY created_at, row_no')).map(toUser);
  }

  async countActiveAdmins(): Promise<number> {
    return (await this.db.one<{ n: number }>("SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled_at IS NULL"))?.n ?? 0;
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, revoked_at, ip)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [s.idHash, s.userId, s.csrfToken, s.createdAt, s.lastSeenAt, s.expiresAt, s.revokedAt, s.ip],
    );
  }

  async getSession(idHash: string): Promise<SessionRecord | null> {
    const row = await this.db.one<SessionRow>('SELECT * FROM sessions WHERE id_hash = $1', [idHash]);
    return row ? toSession(row) : null;
  }

  async touchSession(idHash: string, at: number): Promise<void> {
    await this.db.run('UPDATE sessions SET last_seen_at = greatest(last_seen_at, $1) WHERE id_hash = $2', [at, idHash]);
  }

  async revokeSession(idHash: string, at: number): Promise<boolean> {
    return (await this.db.run('UPDATE sessions SET revoked_at = $1 WHERE id_hash = $2 AND revoked_at IS NULL', [at, idHash])) === 1;
  }

  async revokeUserSessions(userId: string, at: number): Promise<number> {
    return this.db.run('UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL', [at, userId]);
  }

  async pruneSessions(before: number): Promise<number> {
    return this.db.run('DELETE FROM sessions WHERE expires_at < $1 OR (revoked_at IS NOT NULL AND revoked_at < $1)', [before]);
  }

  async replaceOtp(o: Omit<OtpRecord, 'id'>): Promise<number> {
    return this.db.write(async () => {
      // An older code still in someone's inbox stops working the moment a new one is asked for.
      await this.db.run('UPDATE otp_codes SET used_at = $1 WHERE phone = $2 AND used_at IS NULL', [o.createdAt, o.phone]);
      await this.db.run('DELETE FROM otp_codes WHERE expires_at < $1', [o.createdAt - 24 * 3600_000]);
      const row = await this.db.one<{ id: number }>(
        `INSERT INTO otp_codes (phone, code_hash, salt, created_at, expires_at, attempts, used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
        [o.phone, o.codeHash, o.salt, o.createdAt, o.expiresAt, o.attempts, o.usedAt],
      );
      return row?.id ?? 0;
    });
  }

  async latestOtp(phone: string): Promise<OtpRecord | null> {
    const row = await this.db.one<OtpRow>('SELECT * FROM otp_codes WHERE phone = $1 ORDER BY id DESC LIMIT 1', [phone]);
    return row ? toOtp(row) : null;
  }

  async countOtpAttempt(id: number, max: number): Promise<boolean> {
    const n = await this.db.run('UPDATE otp_codes SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2 AND used_at IS NULL', [
      id,
      max,
    ]);
    return n === 1;
  }

  async consumeOtp(id: number, at: number): Promise<boolean> {
    return (await this.db.run('UPDATE otp_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL', [at, id])) === 1;
  }

  async appendAudit(e: NewAccountAuditEntry): Promise<AccountAuditEntry> {
    const row = await this.db.one<{ id: number }>(
      'INSERT INTO account_audit (at, action, outcome, user_id, subject, ip, detail) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
      [e.at, e.action, e.outcome, e.userId, e.subject, e.ip, e.detail ? JSON.stringify(e.detail) : null],
    );
    return { ...e, id: row?.id ?? 0 };
  }

  async listAudit(limit: number): Promise<AccountAuditEntry[]> {
    return (await this.db.query<AuditRow>('SELECT * FROM account_audit ORDER BY at DESC, id DESC LIMIT $1', [limit])).map(toAudit);
  }

  async getSetting(key: string): Promise<string | null> {
    return (await this.db.one<{ value: string }>('SELECT value FROM settings WHERE key = $1', [SETTINGS_PREFIX + key]))?.value ?? null;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.db.run('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [
      SETTINGS_PREFIX + key,
      value,
    ]);
  }

  async takeSetting(key: string, value: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM settings WHERE key = $1 AND value = $2', [SETTINGS_PREFIX + key, value])) === 1;
  }

  private async oneUser(sql: string, param: string): Promise<UserRecord | null> {
    const row = await this.db.one<UserRow>(sql, [param]);
    return row ? toUser(row) : null;
  }
}
