// Which community a dashboard caller may read: a worker only their own, everyone else any (or all).
import { GatewayError } from '../../core/errors.js';
import { communityScope } from '../auth.js';
import type { Caller } from '../deps.js';

/**
 * The community to read: the caller's own when they are tied to one (a worker), refusing another one they ask for;
 * else the one asked for, or null for all. A worker session without a community sees nothing rather than everything.
 */
export function readableCommunity(caller: Caller | null, requested: string | undefined): string | null {
  const own = communityScope(caller);
  if (caller?.role === 'worker' && own === null) throw new GatewayError('GW_ERR_FORBIDDEN', 'this worker account has no community');
  if (own === null) return requested ?? null;
  if (requested !== undefined && requested !== own) throw new GatewayError('GW_ERR_FORBIDDEN', 'you can see only your own community');
  return own;
}
