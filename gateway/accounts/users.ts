// Admin user management: create staff accounts, disable accounts (revoking their sessions), and the public views of a user.
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Caller } from '../access/caller.js';
import { ROLES, type Role } from '../access/roles.js';
import type { RegistryRepo } from '../storage/ports.js';
import { checkPasswordPolicy, hashPassword } from './passwords.js';
import { maskPhone } from './redact.js';
import type { AccountRepo } from './repo.js';
import type { PublicUser, UserRecord, UserSummary } from './types.js';

export const USERNAME_PATTERN = /^[A-Za-z0-9._@-]{3,64}$/;

export interface NewUserInput {
  username: string;
  name: string;
  password: string;
  role: Role;
  community?: string;
  workerId?: string;
  volunteerId?: string;
}

export interface UserAdminDeps {
  repo: AccountRepo;
  registry: Pick<RegistryRepo, 'getCommunity' | 'getWorker' | 'listVolunteers'>;
  clock: Clock;
  /** Writes the account audit entry for an admin action. */
  audit(action: 'user_created' | 'user_disabled', userId: string, by: Caller, subject: string | null): Promise<void>;
}

export function publicUser(u: UserRecord): PublicUser {
  const out: PublicUser = { id: u.id, name: u.name, role: u.role };
  if (u.community) out.community = u.community;
  if (u.workerId) out.workerId = u.workerId;
  if (u.volunteerId) out.volunteerId = u.volunteerId;
  return out;
}

export function userSummary(u: UserRecord): UserSummary {
  return {
    ...publicUser(u),
    username: u.username,
    phone: u.phone ? maskPhone(u.phone) : null,
    hasPassword: u.passwordHash !== null,
    disabled: u.disabledAt !== null,
    createdAt: u.createdAt,
    lastLoginAt: u.lastLoginAt,
  };
}

/** The caller a session of this user acts as; an admin is never narrowed to a community. */
export function callerOf(u: UserRecord): Caller {
  const caller: Caller = { kind: 'session', name: u.name, role: u.role, userId: u.id };
  if (u.community && u.role !== 'admin') caller.community = u.community;
  if (u.workerId) caller.workerId = u.workerId;
  if (u.volunteerId) caller.volunteerId = u.volunteerId;
  return caller;
}

export function normaliseUsername(username: string): string {
  if (!USERNAME_PATTERN.test(username)) throw new GatewayError('GW_ERR_BAD_REQUEST', 'username must be 3-64 letters, digits or . _ @ -');
  return username.toLowerCase();
}

export function checkName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length < 1 || [...trimmed].length > 100) throw new GatewayError('GW_ERR_BAD_REQUEST', 'name must have 1-100 characters');
  return trimmed;
}

export class UserAdmin {
  constructor(private readonly deps: UserAdminDeps) {}

  async list(): Promise<UserSummary[]> {
    return (await this.deps.repo.listUsers()).map(userSummary);
  }

  async create(input: NewUserInput, by: Caller): Promise<UserSummary> {
    const username = normaliseUsername(input.username);
    const name = checkName(input.name);
    if (!(ROLES as readonly string[]).includes(input.role))
      throw new GatewayError('GW_ERR_BAD_REQUEST', `role must be one of ${ROLES.join(', ')}`);
    checkPasswordPolicy(input.password);
    const links = await this.checkLinks(input);
    if (await this.deps.repo.getUserByUsername(username)) throw new GatewayError('GW_ERR_CONFLICT', `username "${username}" is taken`);
    const passwordHash = await hashPassword(input.password);
    const now = this.deps.clock.now();
    const user: UserRecord = {
      id: newId('usr', now),
      username,
      name,
      role: input.role,
      community: links.community,
      workerId: links.workerId,
      volunteerId: links.volunteerId,
      phone: links.phone,
      passwordHash,
      disabledAt: null,
      createdAt: now,
      updatedAt: now,
      lastLoginAt: null,
    };
    try {
      await this.deps.repo.createUser(user);
    } catch (err) {
      // Two admins creating the same username (or linking the same worker) at once: the database decides.
      if (err instanceof Error && /UNIQUE/.test(err.message))
        throw new GatewayError('GW_ERR_CONFLICT', 'username, worker or volunteer already has an account');
      throw err;
    }
    await this.deps.audit('user_created', user.id, by, username);
    return userSummary(user);
  }

  async disable(id: string, by: Caller): Promise<UserSummary> {
    const user = await this.deps.repo.getUser(id);
    if (!user) throw new GatewayError('GW_ERR_NOT_FOUND', 'user not found');
    if (by.userId === id) throw new GatewayError('GW_ERR_CONFLICT', 'you cannot disable your own account');
    if (user.disabledAt !== null) return userSummary(user);
    if (user.role === 'admin' && (await this.deps.repo.countActiveAdmins()) <= 1) {
      throw new GatewayError('GW_ERR_CONFLICT', 'the last active admin cannot be disabled');
    }
    const now = this.deps.clock.now();
    const disabled: UserRecord = { ...user, disabledAt: now, updatedAt: now };
    await this.deps.repo.updateUser(disabled);
    // Server-side revocation: an open dashboard of this user gets 401 on its next request.
    await this.deps.repo.revokeUserSessions(id, now);
    await this.deps.audit('user_disabled', id, by, user.username);
    return userSummary(disabled);
  }

  /** Community, worker and volunteer links must name registry entries; a worker needs a community, a volunteer her registry entry. */
  private async checkLinks(
    input: NewUserInput,
  ): Promise<{ community: string | null; workerId: string | null; volunteerId: string | null; phone: string | null }> {
    let community = input.community ?? null;
    let phone: string | null = null;
    if (input.workerId !== undefined) {
      const worker = await this.deps.registry.getWorker(input.workerId);
      if (!worker) throw new GatewayError('GW_ERR_BAD_REQUEST', `no worker "${input.workerId}" in the registry`);
      if (community !== null && community !== worker.community)
        throw new GatewayError('GW_ERR_BAD_REQUEST', `worker "${worker.id}" belongs to community "${worker.community}"`);
      community = worker.community;
      phone = worker.phone;
    }
    if (input.volunteerId !== undefined) {
      const volunteer = (await this.deps.registry.listVolunteers()).find((v) => v.id === input.volunteerId);
      if (!volunteer) throw new GatewayError('GW_ERR_BAD_REQUEST', `no volunteer "${input.volunteerId}" in the registry`);
      phone = volunteer.phone;
    }
    if (community !== null && !(await this.deps.registry.getCommunity(community))) {
      throw new GatewayError('GW_ERR_BAD_REQUEST', `no community "${community}" in the registry`);
    }
    if (input.role === 'worker' && community === null) throw new GatewayError('GW_ERR_BAD_REQUEST', 'a worker account needs a community');
    if (input.role === 'volunteer' && input.volunteerId === undefined)
      throw new GatewayError('GW_ERR_BAD_REQUEST', 'a volunteer account needs volunteerId (her registry entry)');
    if (input.workerId !== undefined && input.role !== 'worker')
      throw new GatewayError('GW_ERR_BAD_REQUEST', 'workerId is only for worker accounts');
    if (input.volunteerId !== undefined && input.role !== 'volunteer')
      throw new GatewayError('GW_ERR_BAD_REQUEST', 'volunteerId is only for volunteer accounts');
    return { community, workerId: input.workerId ?? null, volunteerId: input.volunteerId ?? null, phone };
  }
}
