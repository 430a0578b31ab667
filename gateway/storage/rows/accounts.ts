// Row shapes and row-to-domain mappers of user accounts, sessions, one-time codes and the audit trail, shared by the SQLite and PostgreSQL engines.
import type { AccountAction, AccountAuditEntry, OtpRecord, SessionRecord, UserRecord } from '../../accounts/types.js';
import { ROLES, type Role } from '../../access/roles.js';

export interface UserRow {
  id: string;
  username: string | null;
  name: string;
  role: string;
  community_id: string | null;
  worker_id: string | null;
  volunteer_id: string | null;
  phone: string | null;
  password_hash: string | null;
  disabled_at: number | null;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
}

export interface SessionRow {
  id_hash: string;
  user_id: string;
  csrf_token: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  revoked_at: number | null;
  ip: string | null;
}

export interface OtpRow {
  id: number;
  phone: string;
  code_hash: string;
  salt: string;
  created_at: number;
  expires_at: number;
  attempts: number;
  used_at: number | null;
}

export interface AuditRow {
  id: number;
  at: number;
  action: string;
  outcome: string;
  user_id: string | null;
  subject: string | null;
  ip: string | null;
  detail: string | null;
}

export function asRole(role: string): Role {
  // A row written by a newer version with a role this one does not know gets the least rights.
  return (ROLES as readonly string[]).includes(role) ? (role as Role) : 'volunteer';
}

export function toUser(r: UserRow): UserRecord {
  return {
    id: r.id,
    username: r.username,
    name: r.name,
    role: asRole(r.role),
    community: r.community_id,
    workerId: r.worker_id,
    volunteerId: r.volunteer_id,
    phone: r.phone,
    passwordHash: r.password_hash,
    disabledAt: r.disabled_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastLoginAt: r.last_login_at,
  };
}

export function toSession(r: SessionRow): SessionRecord {
  return {
    idHash: r.id_hash,
    userId: r.user_id,
    csrfToken: r.csrf_token,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    ip: r.ip,
  };
}

export function toOtp(r: OtpRow): OtpRecord {
  return {
    id: r.id,
    phone: r.phone,
    codeHash: r.code_hash,
    salt: r.salt,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    attempts: r.attempts,
    usedAt: r.used_at,
  };
}

export function toAudit(r: AuditRow): AccountAuditEntry {
  return {
    id: r.id,
    at: r.at,
    action: r.action as AccountAction,
    outcome: r.outcome === 'success' ? 'success' : 'failure',
    userId: r.user_id,
    subject: r.subject,
    ip: r.ip,
    detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
  };
}
