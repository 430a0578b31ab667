// SQLite accounts: dashboard users, hashed sessions, one-time SMS codes and the account audit log.
import type { AccountRepo } from '../../accounts/repo.js';
import type { AccountAuditEntry, NewAccountAuditEntry, OtpRecord, SessionRecord, UserRecord } from '../../accounts/types.js';
import type { SqliteDatabase } from './database.js';
import { type UserRow, type SessionRow, type OtpRow, type AuditRow, toUser, toSession, toOtp, toAudit } from '../rows/accounts.js';

const SETTINGS_PREFIX = 'accounts.';

export class SqliteAccountRepo implements AccountRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async createUser(u: UserRecord): Promise<void> {
    await this.sdb.write(() =>
      this.sdb.db
        .prepare(
          `INSERT INTO users (id, username, name, role, community_id, worker_id, volunteer_id, phone, password_hash, disabled_at, created_at, updated_at, last_login_at)
           VALUES (@id, @username, @name, @role, @community, @workerId, @volunteerId, @phone, @passwordHash, @disabledAt, @createdAt, @updatedAt, @lastLoginAt)`,
        )
        .run(u),
    );
  }

  async updateUser(u: UserRecord): Promise<void> {
    await this.sdb.write(() =>
      this.sdb.db
        .prepare(
          `UPDATE users SET username = @username, name = @name, role = @role, community_id = @community, worker_id = @workerId,
             volunteer_id = @volunteerId, phone = @phone, password_hash = @passwordHash, disabled_at = @disabledAt,
             updated_at = @updatedAt, last_login_at = @lastLoginAt
           WHERE id = @id`,
        )
        .run(u),
    );
  }

  async getUser(id: string): Promise<UserRecord | null> {
    return this.oneUser('SELECT * FROM users WHERE id = ?', id);
  }

  async getUserByUsername(username: string): Promise<UserRecord | null> {
    return this.oneUser('SELECT * FROM users WHERE username = ?', username);
  }

  async getUserByWorker(workerId: string): Promise<UserRecord | null> {
    return this.oneUser('SELECT * FROM users WHERE worker_id = ?', workerId);
  }

  async getUserByVolunteer(volunteerId: string): Promise<UserRecord | null> {
    return this.oneUser('SELECT * FROM users WHERE volunteer_id = ?', volunteerId);
  }

  async listUsers(): Promise<UserRecord[]> {
    return this.sdb.db.prepare<[], UserRow>('SELECT * FROM users ORDER BY created_at, rowid').all().map(toUser);
  }

  async countActiveAdmins(): Promise<number> {
    return (
      this.sdb.db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled_at IS NULL").get()?.n ?? 0
    );
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.sdb.write(() =>
      this.sdb.db
        .prepare(
          `INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, revoked_at, ip)
           VALUES (@idHash, @userId, @csrfToken, @createdAt, @lastSeenAt, @expiresAt, @revokedAt, @ip)`,
        )
        .run(s),
    );
  }

  async getSession(idHash: string): Promise<SessionRecord | null> {
    const row = this.sdb.db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE id_hash = ?').get(idHash);
    return row ? toSession(row) : null;
  }

  async touchSession(idHash: string, at: number): Promise<void> {
    await this.sdb.write(() =>
      this.sdb.db.prepare('UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?) WHERE id_hash = ?').run(at, idHash),
    );
  }

  async revokeSession(idHash: string, at: number): Promise<boolean> {
    const r = await this.sdb.write(() =>
      this.sdb.db.prepare('UPDATE sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL').run(at, idHash),
    );
    return r.changes === 1;
  }

  async revokeUserSessions(userId: string, at: number): Promise<number> {
    const r = await this.sdb.write(() =>
      this.sdb.db.prepare('UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL').run(at, userId),
    );
    return r.changes;
  }

  async pruneSessions(before: number): Promise<number> {
    const r = await this.sdb.write(() =>
      this.sdb.db
        .prepare('DELETE FROM sessions WHERE expires_at < @before OR (revoked_at IS NOT NULL AND revoked_at < @before)')
        .run({ before }),
    );
    return r.changes;
  }

  async replaceOtp(o: Omit<OtpRecord, 'id'>): Promise<number> {
    return this.sdb.write(() => {
      // An older code still in someone's inbox stops working the moment a new one is asked for.
      this.sdb.db.prepare('UPDATE otp_codes SET used_at = ? WHERE phone = ? AND used_at IS NULL').run(o.createdAt, o.phone);
      this.sdb.db.prepare('DELETE FROM otp_codes WHERE expires_at < ?').run(o.createdAt - 24 * 3600_000);
      const r = this.sdb.db
        .prepare(
          `INSERT INTO otp_codes (phone, code_hash, salt, created_at, expires_at, attempts, used_at)
           VALUES (@phone, @codeHash, @salt, @createdAt, @expiresAt, @attempts, @usedAt)`,
        )
        .run(o);
      return Number(r.lastInsertRowid);
    });
  }

  async latestOtp(phone: string): Promise<OtpRecord | null> {
    const row = this.sdb.db.prepare<[string], OtpRow>('SELECT * FROM otp_codes WHERE phone = ? ORDER BY id DESC LIMIT 1').get(phone);
    return row ? toOtp(row) : null;
  }

  async countOtpAttempt(id: number, max: number): Promise<boolean> {
    const r = await this.sdb.write(() =>
      this.sdb.db.prepare('UPDATE otp_codes SET attempts = attempts + 1 WHERE id = ? AND attempts < ? AND used_at IS NULL').run(id, max),
    );
    return r.changes === 1;
  }

  async consumeOtp(id: number, at: number): Promise<boolean> {
    const r = await this.sdb.write(() =>
      this.sdb.db.prepare('UPDATE otp_codes SET used_at = ? WHERE id = ? AND used_at IS NULL').run(at, id),
    );
    return r.changes === 1;
  }

  async appendAudit(e: NewAccountAuditEntry): Promise<AccountAuditEntry> {
    const id = await this.sdb.write(() =>
      Number(
        this.sdb.db
          .prepare(
            'INSERT INTO account_audit (at, action, outcome, user_id, subject, ip, detail) VALUES (@at, @action, @outcome, @userId, @subject, @ip, @detail)',
          )
          .run({ ...e, detail: e.detail ? JSON.stringify(e.detail) : null }).lastInsertRowid,
      ),
    );
    return { ...e, id };
  }

  async listAudit(limit: number): Promise<AccountAuditEntry[]> {
    return this.sdb.db.prepare<[number], AuditRow>('SELECT * FROM account_audit ORDER BY at DESC, id DESC LIMIT ?').all(limit).map(toAudit);
  }

  async getSetting(key: string): Promise<string | null> {
    return (
      this.sdb.db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(SETTINGS_PREFIX + key)?.value ?? null
    );
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.sdb.write(() =>
      this.sdb.db
        .prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
        .run(SETTINGS_PREFIX + key, value),
    );
  }

  async takeSetting(key: string, value: string): Promise<boolean> {
    const r = await this.sdb.write(() =>
      this.sdb.db.prepare('DELETE FROM settings WHERE key = ? AND value = ?').run(SETTINGS_PREFIX + key, value),
    );
    return r.changes === 1;
  }

  private oneUser(sql: string, param: string): UserRecord | null {
    const row = this.sdb.db.prepare<[string], UserRow>(sql).get(param);
    return row ? toUser(row) : null;
  }
}
