// What each dashboard role may see and do in the existing /api routes: community and volunteer scoping, the acting responder.
import { GatewayError } from '../../core/errors.js';
import type { Incident, Responder } from '../../core/types.js';
import { communityScope } from '../auth.js';
import type { Caller, Role } from '../deps.js';

/** Workers see their own community; admin, duty officers without a station, and the API token see all (null). */
export function incidentCommunity(caller: Caller | null, asked?: string): string | null {
  const scope = caller?.role === 'worker' ? (communityScope(caller) ?? '') : communityScope(caller);
  if (scope !== null && asked !== undefined && asked !== scope) {
    throw new GatewayError('GW_ERR_FORBIDDEN', `you see only incidents of your community (${scope || 'none'})`);
  }
  return scope ?? asked ?? null;
}

/** 403 with the reason when the incident belongs to a community the caller does not cover. */
export function assertIncidentInScope(caller: Caller | null, incident: Pick<Incident, 'communityId'>): void {
  const scope = incidentCommunity(caller);
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
    if (by !== undefined && by !== caller.name) throw new GatewayError('GW_ERR_FORBIDDEN', 'a worker acts under their own name; leave out "by"');
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

/**
 * Like requireRole, for route plugins that may also be mounted on their own (tests drive visitRoutes without the /api
 * auth hook): a caller with another role gets 403; without any caller the plugin was mounted unauthenticated on purpose.
 * Inside /api the auth hook always sets a caller first, so there this is exactly requireRole.
 */
export function callerRoles(...roles: Role[]) {
  return async (request: { caller: Caller | null }): Promise<void> => {
    if (request.caller && !roles.includes(request.caller.role)) throw new GatewayError('GW_ERR_FORBIDDEN');
  };
}
