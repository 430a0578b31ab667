// Dashboard accounts assembled: the first admin, password and phone-code sign-in with rate limits, sessions, users, the audit log.
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Caller } from '../access/caller.js';
import type { SmsQueue } from '../paging/pager.js';
import type { RegistryRepo } from '../storage/ports.js';
import { rateLimited, SignInLimits, type AccountLimits } from './limits.js';
import { OtpCodes, type OtpSettings, type PhoneOwner } from './otp.js';
import { bootstrapAdmin, linkedUser, newUserRecord } from './provision.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './passwords.js';
import { longestWait } from './rate-limit.js';
import { maskPhone, redactUnknownUsername } from './redact.js';
import type { AccountRepo } from './repo.js';
import type { SharedFailures } from '../lockouts/shared.js';
import { SessionStore, type ActiveSession, type SessionLifetimes } from './sessions.js';
import type { AccountAction, AccountAuditEntry, PublicUser, UserRecord, UserSummary } from './types.js';
import { callerOf, checkName, normaliseUsername, publicUser, UserAdmin, type NewUserInput } from './users.js';

export { DEFAULT_LIMITS, type AccountLimits } from './limits.js';

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

export class AccountService {
  readonly sessions: SessionStore;
  readonly users: UserAdmin;
  private readonly otp: OtpCodes;
  private readonly limits: SignInLimits;
  /** Compared against when the username is unknown, so a miss costs the same time as a wrong password. */
  private decoyHash: Promise<string> | null = null;
  private setupUrl: string | null = null;

  constructor(private readonly deps: AccountServiceDeps) {
    const { store, clock } = deps;
    this.limits = new SignInLimits({ clock, limits: deps.limits, shared: deps.sharedFailures });
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
  }

  /** Makes sure an admin can exist: from ADMIN_USERNAME/ADMIN_PASSWORD, else a one-time setup link (see setupLink()). */
  async start(): Promise<void> {
    const repo = this.deps.store.accounts;
    await repo.pruneSessions(this.deps.clock.now() - this.sessions.lifetimes.idleMs);
    if ((await repo.countActiveAdmins()) > 0) return;
    const admin = this.deps.admin;
    if (admin) {
      const user = await bootstrapAdmin(repo, admin, this.deps.clock);
      await this.audit('admin_bootstrap', 'success', {
        userId: user.id,
        subject: normaliseUsername(admin.username),
        ip: null,
        detail: { source: 'ADMIN_USERNAME' },
      });
      this.deps.log.info({ user: user.id }, 'first dashboard admin created from ADMIN_USERNAME/ADMIN_PASSWORD');
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
    this.limits.refuseAddress(client.ip);
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
      const created = newUserRecord({ username, name, role: 'admin', passwordHash }, this.deps.clock);
      await repo.createUser(created);
      return created;
    });
    if (!user) {
      this.limits.failedFrom(client.ip);
      await this.audit('setup', 'failure', { userId: null, subject: username, ip: client.ip, detail: { reason: 'bad_token' } });
      throw new GatewayError('GW_ERR_SETUP_TOKEN');
    }
    this.setupUrl = null;
    await this.audit('setup', 'success', { userId: user.id, subject: username, ip: client.ip, detail: null });
    return this.signIn(user, client);
  }

  async login(usernameInput: string, password: string, client: ClientInfo): Promise<SignedIn> {
    const username = usernameInput.trim().toLowerCase();
    const limit = this.limits.password(client.ip, username);
    const user = await this.deps.store.accounts.getUserByUsername(username);
    const subject = user ? username : redactUnknownUsername(usernameInput);
    const wait = longestWait(limit.keys);
    if (wait > 0) {
      await this.audit('login', 'failure', { userId: user?.id ?? null, subject, ip: client.ip, detail: { reason: 'rate_limited' } });
      throw rateLimited(wait);
    }
    const hash = user?.passwordHash ?? (await this.decoy());
    const matches = await verifyPassword(password, hash);
    const ok = matches && user !== null && user.passwordHash !== null && user.disabledAt === null;
    if (!ok || !user) {
      for (const [limiter, key] of limit.keys) limiter.record(key);
      const reason = !user ? 'unknown_user' : user.disabledAt !== null ? 'disabled' : 'wrong_password';
      await this.audit('login', 'failure', { userId: user?.id ?? null, subject, ip: client.ip, detail: { reason } });
      throw new GatewayError('GW_ERR_BAD_CREDENTIALS');
    }
    this.limits.succeeded(limit);
    await this.audit('login', 'success', { userId: user.id, subject, ip: client.ip, detail: { method: 'password' } });
    return this.signIn(user, client);
  }

  /** Sends a code when the phone is a registry worker's or volunteer's; says nothing either way. */
  async requestOtp(phoneInput: string, client: ClientInfo): Promise<void> {
    const { phone, owner } = await this.otp.owner(phoneInput);
    const keys = this.limits.codeRequest(client.ip, phone);
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
    const limit = this.limits.code(client.ip, phone);
    const wait = longestWait(limit.keys);
    if (wait > 0) {
      await this.audit('otp_verify', 'failure', { userId: null, subject, ip: client.ip, detail: { reason: 'rate_limited' } });
      throw rateLimited(wait);
    }
    const check = await this.otp.check(phone, code);
    const user = check === 'ok' && owner ? await linkedUser(this.deps.store.accounts, owner, this.deps.clock) : null;
    if (!user || user.disabledAt !== null) {
      for (const [limiter, key] of limit.keys) limiter.record(key);
      const reason = check !== 'ok' ? check : !owner ? 'unknown_phone' : 'disabled';
      await this.audit('otp_verify', 'failure', { userId: user?.id ?? null, subject, ip: client.ip, detail: { reason } });
      throw new GatewayError('GW_ERR_BAD_OTP', check === 'expired' ? 'the code has expired; ask for a new one' : undefined);
    }
    this.limits.succeeded(limit);
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
    const user = await linkedUser(this.deps.store.accounts, { kind: 'volunteer', volunteer }, this.deps.clock);
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
