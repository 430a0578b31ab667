// Dashboard sessions: a random id in the cookie, only its sha256 in SQLite, idle and absolute expiry, server-side revocation.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { AccountRepo } from './repo.js';
import type { SessionRecord, UserRecord } from './types.js';

export interface SessionLifetimes {
  /** No request for this long ends the session (default 12 h). */
  idleMs: number;
  /** The session ends this long after sign-in whatever the activity (default 7 days). */
  absoluteMs: number;
  /** last_seen is written at most this often, so a busy dashboard does not write on every request (default 60 s). */
  touchEveryMs: number;
}

export const DEFAULT_LIFETIMES: SessionLifetimes = { idleMs: 12 * 3600_000, absoluteMs: 7 * 24 * 3600_000, touchEveryMs: 60_000 };

export interface NewSession {
  /** The cookie value: 32 random bytes, base64url. Shown once, never stored. */
  id: string;
  csrfToken: string;
  record: SessionRecord;
}

export interface ActiveSession {
  session: SessionRecord;
  user: UserRecord;
}

export interface SessionStoreDeps {
  repo: AccountRepo;
  clock: Clock;
  lifetimes?: Partial<SessionLifetimes>;
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export function hashSessionId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

/** Equal-time comparison of two tokens of any length. */
export function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

export class SessionStore {
  readonly lifetimes: SessionLifetimes;

  constructor(private readonly deps: SessionStoreDeps) {
    this.lifetimes = { ...DEFAULT_LIFETIMES, ...deps.lifetimes };
  }

  async create(user: UserRecord, ip: string | null): Promise<NewSession> {
    const now = this.deps.clock.now();
    const id = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const record: SessionRecord = {
      idHash: hashSessionId(id),
      userId: user.id,
      csrfToken,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.lifetimes.absoluteMs,
      revokedAt: null,
      ip,
    };
    await this.deps.repo.createSession(record);
    await this.deps.repo.pruneSessions(now - this.lifetimes.idleMs);
    return { id, csrfToken, record };
  }

  /** The live session behind a cookie value (and its enabled user), or null; a hit refreshes its idle timer. */
  async resolve(id: string): Promise<ActiveSession | null> {
    if (!SESSION_ID.test(id)) return null;
    const session = await this.deps.repo.getSession(hashSessionId(id));
    if (!session || !this.isLive(session)) return null;
    const user = await this.deps.repo.getUser(session.userId);
    if (!user || user.disabledAt !== null) return null;
    const now = this.deps.clock.now();
    if (now - session.lastSeenAt >= this.lifetimes.touchEveryMs) {
      await this.deps.repo.touchSession(session.idHash, now);
      session.lastSeenAt = now;
    }
    return { session, user };
  }

  /** Seconds the cookie should live: until the absolute end, which the browser need not outlast. */
  cookieMaxAgeSeconds(session: SessionRecord): number {
    return Math.max(0, Math.floor((session.expiresAt - this.deps.clock.now()) / 1000));
  }

  /** Revokes the session behind a cookie value; true when there was a live one. */
  async revoke(id: string): Promise<SessionRecord | null> {
    if (!SESSION_ID.test(id)) return null;
    const idHash = hashSessionId(id);
    const session = await this.deps.repo.getSession(idHash);
    if (!session) return null;
    const revoked = await this.deps.repo.revokeSession(idHash, this.deps.clock.now());
    return revoked ? session : null;
  }

  private isLive(s: SessionRecord): boolean {
    const now = this.deps.clock.now();
    return s.revokedAt === null && now < s.expiresAt && now - s.lastSeenAt < this.lifetimes.idleMs;
  }
}
