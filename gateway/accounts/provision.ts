// Accounts nobody fills a form for: a registry worker's or volunteer's, made at first sign-in, and the first admin.
import type { Clock } from '../core/clock.js';
import { newId } from '../core/ids.js';
import type { PhoneOwner } from './otp.js';
import { checkPasswordPolicy, hashPassword } from './passwords.js';
import type { AccountRepo } from './repo.js';
import type { UserRecord } from './types.js';
import { normaliseUsername } from './users.js';

/** A new account with no community, phone or registry link yet. */
export function newUserRecord(p: Pick<UserRecord, 'username' | 'name' | 'role' | 'passwordHash'>, clock: Clock): UserRecord {
  const now = clock.now();
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

/** The account of a registry worker or volunteer, created on first sign-in, kept in step with the registry after. */
export async function linkedUser(repo: AccountRepo, owner: PhoneOwner, clock: Clock): Promise<UserRecord> {
  const now = clock.now();
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
    ...newUserRecord({ username: null, name: fromRegistry.name, role: owner.kind, passwordHash: null }, clock),
    community: fromRegistry.community,
    phone: fromRegistry.phone,
    workerId: owner.kind === 'worker' ? owner.worker.id : null,
    volunteerId: owner.kind === 'volunteer' ? owner.volunteer.id : null,
  };
  await repo.createUser(user);
  return user;
}

/** The admin from ADMIN_USERNAME/ADMIN_PASSWORD: created, or the named account made an enabled admin again. */
export async function bootstrapAdmin(repo: AccountRepo, admin: { username: string; password: string }, clock: Clock): Promise<UserRecord> {
  const username = normaliseUsername(admin.username);
  checkPasswordPolicy(admin.password);
  const passwordHash = await hashPassword(admin.password);
  const existing = await repo.getUserByUsername(username);
  const now = clock.now();
  // With no active admin left, the variables also recover access: the named account becomes an enabled admin.
  const user = existing
    ? { ...existing, role: 'admin' as const, passwordHash, disabledAt: null, updatedAt: now }
    : newUserRecord({ username, name: username, role: 'admin', passwordHash }, clock);
  await (existing ? repo.updateUser(user) : repo.createUser(user));
  return user;
}
