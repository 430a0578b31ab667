// What each caller may see and act on: community and volunteer scoping, and the responder a caller acts as.
import { GatewayError } from '../core/errors.js';
import type { Incident, Responder } from '../core/types.js';
import type { Caller } from './caller.js';

/**
 * The one community a caller is confined to, or null when they may see all (admin, duty officer without a station,
 * API token). A worker account tied to no community is refused with 403 rather than given everything or an empty
 * answer that looks like "nothing happened".
 */
export function communityScope(caller: Caller | null): string | null {
  if (!caller) throw new GatewayError('GW_ERR_UNAUTHORIZED');
  if (caller.role === 'worker' && !caller.community) throw new GatewayError('GW_ERR_FORBIDDEN', 'this worker account has no community');
  return caller.community ?? null;
}

/**
 * The community to read: the caller's own when they are tied to one, refusing another one they ask for;
 * else the one asked for, or null for all.
 */
export function readableCommunity(caller: Caller | null, asked?: string): string | null {
  const own = communityScope(caller);
  if (own === null) return asked ?? null;
  if (asked !== undefined && asked !== own) throw new GatewayError('GW_ERR_FORBIDDEN', `you can see only your own community (${own})`);
  return own;
}

/** 403 with the reason when the incident belongs to a community the caller does not cover. */
export function assertIncidentInScope(caller: Caller | null, incident: Pick<Incident, 'communityId'>): void {
  const scope = communityScope(caller);
  if (scope !== null && incident.communityId !== scope) {
    throw new GatewayError('GW_ERR_FORBIDDEN', 'this incident belongs to another community; you see only incidents of your own');
  }
}

/**
 * Who acknowledges or resolves: a worker always as themself (so the family hears the right name), staff as
 * the named colleague (`by`) or themself, a machine client as `by` or "API".
 */
export function actingResponder(caller: Caller | null, by: string | undefined): Responder {
  if (caller?.role === 'worker') {
    if (by !== undefined && by !== caller.name)
      throw new GatewayError('GW_ERR_FORBIDDEN', 'a worker acts under their own name; leave out "by"');
    return { role: 'worker', id: caller.workerId ?? caller.userId ?? null, name: caller.name, phone: null };
  }
  return { role: 'staff', id: caller?.userId ?? null, name: by ?? caller?.name ?? 'API', phone: null };
}

/** The volunteer's own registry id; 403 for anything she asks about someone else. */
export function volunteerSelf(caller: Caller, asked?: string): string {
  const own = caller.volunteerId;
  if (!own) throw new GatewayError('GW_ERR_FORBIDDEN', 'this volunteer account is not linked to a registry volunteer');
  if (asked !== undefined && asked !== own) throw new GatewayError('GW_ERR_FORBIDDEN', 'a volunteer sees only her own visits');
  return own;
}

/** Whether a live-feed message of this community reaches the caller: a worker without a community receives nothing. */
export function seesCommunity(caller: Caller, community: string | null): boolean {
  if (caller.role === 'worker' && !caller.community) return false;
  return !caller.community || community === null || caller.community === community;
}
