// Dashboard accounts assembled: the first admin, password and phone-code sign-in with rate limits, sessions, users, the audit log.
import { createHash, randomBytes } from 'node:crypto';
import { addressBlock } from '../core/address.js';
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { Caller } from '../access/caller.js';
import type { SmsQueue } from '../paging/pager.js';
import type { RegistryRepo } from '../storage/ports.js';
import { OtpCodes, type OtpSettings, type PhoneOwner } from './otp.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './passwords.js';
import { BackoffLimiter, longestWait, SlidingWindowLimiter, type BackoffRule, type Limiter, type RateLimitRule } from './rate-limit.js';
import { maskPhone, redactUnknownUsername } from './redact.js';
import type { AccountRepo } from './repo.js';
import type { SharedFailures } from '../lockouts/shared.js';
import { SessionStore, type ActiveSession, type SessionLifetimes } from './sessions.js';
import type { AccountAction, AccountAuditEntry, PublicUser, UserRecord, UserSummary } from './types.js';
import { callerOf, checkName, normaliseUsername, publicUser, UserAdmin, type NewUserInput } from './users.js';

export interface AccountLimits {
  /**
   * Failed sign-ins per (client address, username or phone): 5 within 15 min are free, then each try from that address
   * for that account waits 15 s, doubling up to 5 min. Never per account alone: a stranger's guesses must not shut the
   * admin out, and the right password from another address is always checked.
   */
  perSubject: RateLimitRule & Partial<Pick<BackoffRule, 'baseDelayMs' | 'maxDelayMs'>>;
  /** Failed sign-ins per client address, any account (default 20 within 15 min, then waits from 5 s up to 1 min: a station's officers may share one address). */
  perIp: RateLimitRule & Partial<Pick<BackoffRule, 'baseDelayMs' | 'maxDelayMs'>>;
  /** Code requests per phone (default 3 per 15 min) and per address (default 10): the gateway is no SMS cannon. */
  otpPerPhone: RateLimitRule;
  otpPerIp: RateLimitRule;
}

const WINDOW = 15 * 60_000;
const SUBJECT_BACKOFF: BackoffRule = { max: 5, windowMs: WINDOW, baseDelayMs: 15_000, maxDelayMs: 5 * 60_000 };
const IP_BACKOFF: BackoffRule = { max: 20, windowMs: WINDOW, baseDelayMs: 5_000, maxDelayMs: 60_000 };
export const DEFAULT_LIMITS: AccountLimits = {
  perSubject: SUBJECT_BACKOFF,
  perIp: IP_BACKOFF,
  otpPerPhone: { max: 3, windowMs: WINDOW },
  otpPerIp: { max: 10, windowMs: WINDOW },
};

export interface AccountServiceDeps {
  store: { accounts: AccountRepo; registry: RegistryRepo; transaction<T>(work: () => Promise<T>): Promise<T> };
  /** The outbound SMS queue (the gateway's SmsDispatcher) for sign-in codes. */
  sms: SmsQueue;
  clock: Clock;
  log: Logger;
  /** PUBLIC_URL: the setup link, and whether cookies are Secure (https). */
  publicUrl: string;
  /** ADMIN_USERNAME + ADMIN_PASSWORD: created at start while no active admin exists. */
  admin?: { username: string; password: string } | null;
  limits?: Partial<AccountLimits>;
  sessions?: Partial<SessionLifetimes>;
  otp?: Partial<OtpSettings>;
  /** Key of the codes' HMAC (see OtpDeps.key); default: random per process. */
  otpKey?: Buffer;
  /** Several nodes on PostgreSQL: the limiters' events shared with the other nodes; absent, each node counts alone. */
  sharedFailures?: Pick<SharedFailures, 'attach'> | null;
}

/** Who is asking, for the audit log and the per-address limits. */
export interface ClientInfo {
  ip: string | null;
}

export interface SignedIn {
  user: PublicUser;
  /** The cookie value (the session id); only its hash is stored. */
  sessionId: string;
  csrfToken: string;
  maxAgeSeconds: number;
}

/** What the HTTP layer uses (gateway/http/session). */
export type AccountApi = Pick<
  AccountService,
  | 'needsSetup'
  | 'setup'
  | 'login'
  | 'requestOtp'
  | 'verifyOtp'
  | 'signInVolunteerByLink'
  | 'resolve'
  | 'logout'
  | 'listUsers'
  | 'createUser'
  | 'disableUser'
  | 'auditLog'
>;

const SETUP_KEY = 'setup_token';

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function rateLimited(retryAfterSeconds: number): GatewayError {
  return new GatewayError('GW_ERR_RATE_LIMITED', `too many attempts, try again in ${retryAfterSeconds} s`, { retryAfterSeconds });
}

export class AccountService {
  readonly sessions: SessionStore;
  readonly users: UserAdmin;
  private readonly otp: OtpCodes;
  private readonly limits: AccountLimits;
  private readonly failures: { subject: BackoffLimiter; ip: BackoffLimiter };
  private readonly otpRequests: { phone: SlidingWindowLimiter; ip: SlidingWindowLimiter };
  /** Compared against when the username is unknown, so a miss costs the same time as a wrong password. */
  private decoyHash: Promise<string> | null = null;
  private setupUrl: string | null = null;

  constructor(private readonly deps: AccountServiceDeps) {
    const { store, clock } = deps;
    this.limits = { ...DEFAULT_LIMITS, ...deps.limits };
    this.sessions = new SessionStore({ repo: store.accounts, clock, lifetimes: deps.sessions });
    this.otp = new OtpCodes({
      repo: store.accounts,
      registry: store.registry,
      sms: deps.sms,
      clock,
      log: deps.log,
      settings: deps.otp,
      key: deps.otpKey,
    });
    this.users = new UserAdmin({
      repo: store.accounts,
      registry: store.registry,
      clock,
      audit: async (action, userId, by, subject) => {
        await this.audit(action, 'success', { userId, subject, ip: null, detail: { by: by.userId ?? by.kind, byName: by.name } });
      },
    });
    const limiter = (rule: RateLimitRule) => new SlidingWindowLimiter({ clock, rule });
    // A caller may give only the count and window; the waits then keep their defaults.
    const backoff = (rule: AccountLimits['perSubject'], defaults: BackoffRule) =>
      new BackoffLimiter({ clock, rule: { ...defaults, ...rule } });
    this.failures = { subject: backoff(this.limits.perSubject, SUBJECT_BACKOFF), ip: backoff(this.limits.perIp, IP_BACKOFF) };
    this.otpRequests = { phone: limiter(this.limits.otpPerPhone), ip: limiter(this.limits.otpPerIp) };
    const shared = deps.sharedFailures;
    if (shared) {
      shared.attach('login_subject', this.failures.subject);
      shared.attach('login_ip', this.failures.ip);
      shared.attach('otp_phone', this.otpRequests.phone);
      shared.attach('otp_ip', this.otpRequests.ip);
    }
  }

  /** Makes sure an admin can exist: from ADMIN_USERNAME/ADMIN_PASSWORD, else a one-time setup link (see setupLink()). */
  async start(): Promise<void> {
    const repo = this.deps.store.accounts;
    await repo.pruneSessions(this.deps.clock.now() - this.sessions.lifetimes.idleMs);
    if ((await repo.countActiveAdmins()) > 0) return;
    const admin = this.deps.admin;
    if (admin) {
      await this.bootstrapAdmin(admin.username, admin.password);
      return;
    }
    // A new token at every start while nobody has set up: only its hash is stored, so an old printed link stops working.
    const token = randomBytes(32).toString('base64url');
    await repo.setSetting(SETUP_KEY, sha256(token));
    this.setupUrl = `${this.deps.publicUrl.replace(/\/+$/, '')}/#/setup?token=${token}`;
    this.deps.log.warn('no dashboard admin yet: open the one-time setup link printed at start (or set ADMIN_USERNAME and ADMIN_PASSWORD)');
  }

  async stop(): Promise<void> {
    this.setupUrl = null;
  }

  /** The one-time setup link while no admin exists (print it at start), else null. */
  setupLink(): string | null {
    return this.setupUrl;
  }

  async needsSetup(): Promise<boolean> {
    return (await this.deps.store.accounts.countActiveAdmins()) === 0;
  }

  async setup(input: { token: string; username: string; password: string; name: string }, client: ClientInfo): Promise<SignedIn> {
    this.refuseIfLimited([[this.failures.ip, `ip:${addressBlock(client.ip)}`]]);
    const repo = this.deps.store.accounts;
    if (!(await this.needsSetup())) throw new GatewayError('GW_ERR_CONFLICT', 'the gateway already has an admin; sign in instead');
    // Everything that can be wrong with the form is checked before the token is spent.
    const username = normaliseUsername(input.username);
    const name = checkName(input.name);
    checkPasswordPolicy(input.password);
    if (await repo.getUserByUsername(username)) throw new GatewayError('GW_ERR_CONFLICT', `username "${username}" is taken`);
    const passwordHash = await hashPassword(input.password);
    const user = await this.deps.store.transaction(async () => {
      if (!(await repo.takeSetting(SETUP_KEY, sha256(input.token)))) return null;
      const created = this.newUser({ username, name, role: 'admin', passwordHash });
      await repo.createUser(created);
      return created;
    });
    if (!user) {
      this.failures.ip.record(`ip:${addressBlock(client.ip)}`);
      await this.audit('setup', 'failure', { userId: null, subject: username, ip: client.ip, detail: { reason: 'bad_token' } });
      throw new GatewayError('GW_ERR_SETUP_TOKEN');
    }
    this.setupUrl = null;
    await this.audit('setup', 'success', { userId: user.id, subject: username, ip: client.ip, detail: null });
    return this.signIn(user, client);
  }

  async login(usernameInput: string, password: string, client: ClientInfo): Promise<SignedIn> {
    const username = usernameInput.trim().toLowerCase();
    const subjectKey = `user:${addressBlock(client.ip)}:${username}`;
    const keys: [Limiter, string][] = [
      [this.failures.ip, `ip:${addressBlock(client.ip)}`],
      [this.failures.subject, subjectKey],
    ];
    const user = await this.deps.store.accounts.getUserByUsername(username);
    const subject = user ? username : redactUnknownUsername(usernameInput);
    const wait = longestWait(keys);
    if (wait > 0) {
      await this.audit('login', 'failure', { userId: user?.id ?? null, subject, ip: client.ip, detail: { reason: 'rate_limited' } });
      throw rateLimited(wait);
    }
    const hash = user?.passwordHash ?? (await this.decoy());
    const matches = await verifyPassword(password, hash);
    const ok = matches && user !== null && user.passwordHash !== null && user.disabledAt === null;
    if (!ok || !user) {
      for (const [limiter, key] of keys) limiter.record(key);
      const reason = !user ? 'unknown_user' : user.disabledAt !== null ? 'disabled' : 'wrong_password';
      await this.audit('login', 'failure', { userId: user?.id ?? null, subject, ip: client.ip, detail: { reason } });
      throw new GatewayError('GW_ERR_BAD_CREDENTIALS');
    }
    this.failures.subject.reset(subjectKey);
    await this.audit('login', 'success', { userId: user.id, subject, ip: client.ip, detail: { method: 'password' } });
    return this.signIn(user, client);
  }

  /** Sends a code when the phone is a registry worker's or volunteer's; says nothing either way. */
  async requestOtp(phoneInput: string, client: ClientInfo): Promise<void> {
    const { phone, owner } = await this.otp.owner(phoneInput);
    const keys: [Limiter, string][] = [
      [this.otpRequests.ip, `ip:${addressBlock(client.ip)}`],
      [this.otpRequests.phone, `phone:${phone}`],
    ];
    const wait = longestWait(keys);
    if (wait > 0) {
      await this.audit('otp_request', 'failure', {
        userId: null,
        subject: maskPhone(phone),
        ip: client.ip,
        detail: { reason: 'rate_limited' },
      });
      throw rateLimited(wait);
    }
    for (const [limiter, key] of keys) limiter.record(key);
    if (owner) await this.otp.send(phone, owner);
    await this.audit('otp_request', owner ? 'success' : 'failure', {
      userId: null,
      subject: maskPhone(phone),
      ip: client.ip,
      detail: owner ? { person: personId(owner) } : { reason: 'unknown_phone' },
    });
  }

  async verifyOtp(phoneInput: string, code: string, client: ClientInfo): Promise<SignedIn> {
    const { phone, owner } = await this.otp.owner(phoneInput);
    const subject = maskPhone(phone);
    const subjectKey = `phone:${addressBlock(client.ip)}:${phone}`;
    const keys: [Limiter, string][] = [
      [this.failures.ip, `ip:${addressBlock(client.ip)}`],
      [this.failures.subject, subjectKey],
    ];
    const wait = longestWait(keys);
    if (wait > 0) {
      await this.audit('otp_verify', 'failure', { userId: null, subject, ip: client.ip, detail: { reason: 'rate_limited' } });
      throw rateLimited(wait);
    }
    const check = await this.otp.check(phone, code);
    const user = check === 'ok' && owner ? await this.linkUser(owner) : null;
    if (!user || user.disabledAt !== null) {
      for (const [limiter, key] of keys) limiter.record(key);
      const reason = check !== 'ok' ? check : !owner ? 'unknown_phone' : 'disabled';
      await this.audit('otp_verify', 'failure', { userId: user?.id ?? null, subject, ip: client.ip, detail: { reason } });
      throw new GatewayError('GW_ERR_BAD_OTP', check === 'expired' ? 'the code has expired; ask for a new one' : undefined);
    }
    this.failures.subject.reset(subjectKey);
    await this.audit('otp_verify', 'success', { userId: user.id, subject, ip: client.ip, detail: { method: 'sms_code' } });
    return this.signIn(user, client);
  }

  /**
   * Signs in a registry volunteer whose signed SMS link (the visit reminder's) was already verified by the caller.
   * The link is the credential, like the incident page's: it names one volunteer and expires with her visit day.
   */
  async signInVolunteerByLink(volunteerId: string, client: ClientInfo): Promise<SignedIn> {
    const volunteer = (await this.deps.store.registry.listVolunteers()).find((v) => v.id === volunteerId);
    if (!volunteer) {
      await this.audit('link_sign_in', 'failure', {
        userId: null,
        subject: volunteerId,
        ip: client.ip,
        detail: { reason: 'unknown_volunteer' },
      });
      throw new GatewayError('GW_ERR_FORBIDDEN', 'this link is for a volunteer who is no longer registered');
    }
    const user = await this.linkUser({ kind: 'volunteer', volunteer });
    if (user.disabledAt !== null) {
      await this.audit('link_sign_in', 'failure', { userId: user.id, subject: volunteerId, ip: client.ip, detail: { reason: 'disabled' } });
      throw new GatewayError('GW_ERR_FORBIDDEN', 'this account is disabled');
    }
    await this.audit('link_sign_in', 'success', { userId: user.id, subject: volunteerId, ip: client.ip, detail: { method: 'sms_link' } });
    return this.signIn(user, client);
  }

  /** The live session behind a cookie value, with the caller it acts as. */
  async resolve(sessionId: string): Promise<(ActiveSession & { caller: Caller }) | null> {
    const active = await this.sessions.resolve(sessionId);
    return active ? { ...active, caller: callerOf(active.user) } : null;
  }

  async logout(sessionId: string, client: ClientInfo): Promise<void> {
    const session = await this.sessions.revoke(sessionId);
    if (session) await this.audit('logout', 'success', { userId: session.userId, subject: null, ip: client.ip, detail: null });
  }

  listUsers(): Promise<UserSummary[]> {
    return this.users.list();
  }

  createUser(input: NewUserInput, by: Caller): Promise<UserSummary> {
    return this.users.create(input, by);
  }

  disableUser(id: string, by: Caller): Promise<UserSummary> {
    return this.users.disable(id, by);
  }

  /** Newest first. */
  auditLog(limit: number): Promise<AccountAuditEntry[]> {
    return this.deps.store.accounts.listAudit(limit);
  }

  // ---- internals -------------------------------------------------------------------------------

  private refuseIfLimited(keys: [Limiter, string][]): void {
    const wait = longestWait(keys);
    if (wait > 0) throw rateLimited(wait);
  }

  private async signIn(user: UserRecord, client: ClientInfo): Promise<SignedIn> {
    const now = this.deps.clock.now();
    await this.deps.store.accounts.updateUser({ ...user, lastLoginAt: now, updatedAt: now });
    const created = await this.sessions.create(user, client.ip);
    return {
      user: publicUser(user),
      sessionId: created.id,
      csrfToken: created.csrfToken,
      maxAgeSeconds: this.sessions.cookieMaxAgeSeconds(created.record),
    };
  }

  /** The account of a registry worker or volunteer, created on first sign-in, kept in step with the registry after. */
  private async linkUser(owner: PhoneOwner): Promise<UserRecord> {
    const repo = this.deps.store.accounts;
    const now = this.deps.clock.now();
    const existing =
      owner.kind === 'worker' ? await repo.getUserByWorker(owner.worker.id) : await repo.getUserByVolunteer(owner.volunteer.id);
    const fromRegistry =
      owner.kind === 'worker'
        ? { name: owner.worker.name, phone: owner.worker.phone, community: owner.worker.community }
        : { name: owner.volunteer.name, phone: owner.volunteer.phone, community: owner.volunteer.community ?? null };
    if (existing) {
      const updated = { ...existing, ...fromRegistry, updatedAt: now };
      await repo.updateUser(updated);
      return updated;
    }
    const user: UserRecord = {
      ...this.newUser({ username: null, name: fromRegistry.name, role: owner.kind, passwordHash: null }),
      community: fromRegistry.community,
      phone: fromRegistry.phone,
      workerId: owner.kind === 'worker' ? owner.worker.id : null,
      volunteerId: owner.kind === 'volunteer' ? owner.volunteer.id : null,
    };
    await repo.createUser(user);
    return user;
  }

  private async bootstrapAdmin(usernameInput: string, password: string): Promise<void> {
    const repo = this.deps.store.accounts;
    const username = normaliseUsername(usernameInput);
    checkPasswordPolicy(password);
    const passwordHash = await hashPassword(password);
    const existing = await repo.getUserByUsername(username);
    const now = this.deps.clock.now();
    // With no active admin left, the variables also recover access: the named account becomes an enabled admin.
    const user = existing
      ? { ...existing, role: 'admin' as const, passwordHash, disabledAt: null, updatedAt: now }
      : this.newUser({ username, name: username, role: 'admin', passwordHash });
    await (existing ? repo.updateUser(user) : repo.createUser(user));
    await this.audit('admin_bootstrap', 'success', { userId: user.id, subject: username, ip: null, detail: { source: 'ADMIN_USERNAME' } });
    this.deps.log.info({ user: user.id }, 'first dashboard admin created from ADMIN_USERNAME/ADMIN_PASSWORD');
  }

  private newUser(p: Pick<UserRecord, 'username' | 'name' | 'role' | 'passwordHash'>): UserRecord {
    const now = this.deps.clock.now();
    return {
      id: newId('usr', now),
      community: null,
      workerId: null,
      volunteerId: null,
      phone: null,
      disabledAt: null,
      createdAt: now,
      updatedAt: now,
      lastLoginAt: null,
      ...p,
    };
  }

  private decoy(): Promise<string> {
    this.decoyHash ??= hashPassword(randomBytes(16).toString('hex'));
    return this.decoyHash;
  }

  private async audit(
    action: AccountAction,
    outcome: 'success' | 'failure',
    e: { userId: string | null; subject: string | null; ip: string | null; detail: Record<string, unknown> | null },
  ): Promise<void> {
    await this.deps.store.accounts.appendAudit({ at: this.deps.clock.now(), action, outcome, ...e });
    this.deps.log.info({ action, outcome, user: e.userId, ip: e.ip, reason: e.detail?.reason }, 'account audit');
  }
}

function personId(owner: PhoneOwner): string {
  return owner.kind === 'worker' ? owner.worker.id : owner.volunteer.id;
}
