// Dashboard accounts: users, their sessions, one-time SMS codes and the account audit log, as stored.
import type { Role } from '../access/roles.js';

export interface UserRecord {
  id: string;
  /** Lower-cased; null for accounts that only sign in by phone (workers, volunteers). */
  username: string | null;
  name: string;
  role: Role;
  /** A worker's community (from the registry); a duty officer tied to one station may have one too. */
  community: string | null;
  workerId: string | null;
  volunteerId: string | null;
  phone: string | null;
  /** `scrypt$N$r$p$salt$hash`; null when the account has no password (phone sign-in only). */
  passwordHash: string | null;
  disabledAt: number | null;
  createdAt: number;
  updatedAt: number;
  lastLoginAt: number | null;
}

/** What the dashboard is told about a user (GET /auth/me, the login answer). Never the hash. */
export interface PublicUser {
  id: string;
  name: string;
  role: Role;
  community?: string;
  workerId?: string;
  volunteerId?: string;
}

/** A user as the admin's user list shows it. */
export interface UserSummary extends PublicUser {
  username: string | null;
  /** Masked: the last four digits only. */
  phone: string | null;
  hasPassword: boolean;
  disabled: boolean;
  createdAt: number;
  lastLoginAt: number | null;
}

export interface SessionRecord {
  /** sha256 (hex) of the random id in the cookie. */
  idHash: string;
  userId: string;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
  /** Absolute end, whatever the activity. */
  expiresAt: number;
  revokedAt: number | null;
  ip: string | null;
}

export interface OtpRecord {
  id: number;
  phone: string;
  codeHash: string;
  salt: string;
  createdAt: number;
  expiresAt: number;
  attempts: number;
  usedAt: number | null;
}

export type AccountAction =
  'login' | 'otp_request' | 'otp_verify' | 'link_sign_in' | 'logout' | 'setup' | 'admin_bootstrap' | 'user_created' | 'user_disabled';

export interface AccountAuditEntry {
  id: number;
  at: number;
  action: AccountAction;
  outcome: 'success' | 'failure';
  /** The account acted on or signing in, when known. */
  userId: string | null;
  /** Username or phone as typed, redacted unless it names a real account (see redact.ts). */
  subject: string | null;
  ip: string | null;
  detail: Record<string, unknown> | null;
}

export type NewAccountAuditEntry = Omit<AccountAuditEntry, 'id'>;
