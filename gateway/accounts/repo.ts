// The accounts repository port: users, sessions, one-time codes, the account audit log and one-off settings.
import type { AccountAuditEntry, NewAccountAuditEntry, OtpRecord, SessionRecord, UserRecord } from './types.js';

export interface AccountRepo {
  createUser(user: UserRecord): Promise<void>;
  updateUser(user: UserRecord): Promise<void>;
  getUser(id: string): Promise<UserRecord | null>;
  /** By lower-cased username. */
  getUserByUsername(username: string): Promise<UserRecord | null>;
  getUserByWorker(workerId: string): Promise<UserRecord | null>;
  getUserByVolunteer(volunteerId: string): Promise<UserRecord | null>;
  listUsers(): Promise<UserRecord[]>;
  /** Admins not disabled. */
  countActiveAdmins(): Promise<number>;

  createSession(session: SessionRecord): Promise<void>;
  getSession(idHash: string): Promise<SessionRecord | null>;
  touchSession(idHash: string, at: number): Promise<void>;
  /** True when this call revoked it (it existed and was not revoked already). */
  revokeSession(idHash: string, at: number): Promise<boolean>;
  revokeUserSessions(userId: string, at: number): Promise<number>;
  /** Deletes sessions past their absolute end or revoked before `before`. */
  pruneSessions(before: number): Promise<number>;

  /** Stores a new code and voids every earlier unused code of the phone, in one step. */
  replaceOtp(otp: Omit<OtpRecord, 'id'>): Promise<number>;
  /** The phone's newest code, used or not. */
  latestOtp(phone: string): Promise<OtpRecord | null>;
  /** Counts a wrong guess; false when the code had already reached `max` attempts (or was used). */
  countOtpAttempt(id: number, max: number): Promise<boolean>;
  /** Marks the code used; true only for the one caller that did (single use even under a race). */
  consumeOtp(id: number, at: number): Promise<boolean>;

  appendAudit(entry: NewAccountAuditEntry): Promise<AccountAuditEntry>;
  /** Newest first. */
  listAudit(limit: number): Promise<AccountAuditEntry[]>;

  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;
  /** Deletes the setting only if it still has `value`; true for the one caller that did. */
  takeSetting(key: string, value: string): Promise<boolean>;
}
