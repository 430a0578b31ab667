// Who may call /api/…: the API bearer token today, further strategies (dashboard sessions) plugged in beside it.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../core/errors.js';
import type { Caller } from '../access/caller.js';
import type { Role } from '../access/roles.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the /api auth hook; null outside /api. */
    caller: Caller | null;
  }
}

/** One way to recognise a caller (bearer token, session cookie...); null when the request does not carry it. */
export type AuthStrategy = (request: FastifyRequest) => Promise<Caller | null>;

/** Resolves a request to its caller, or null when it carries no valid credential. */
export type Authenticate = (request: FastifyRequest) => Promise<Caller | null>;

/** Digests first, so the comparison takes the same time whatever the length or content of the guess. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 6750 §2.1), else null. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1] ?? null;
}

export function apiTokenStrategy(apiToken: string): AuthStrategy {
  return async (request) => {
    const token = bearerToken(request);
    return token !== null && sameSecret(token, apiToken) ? { kind: 'api_token', name: 'API', role: 'admin' } : null;
  };
}

/** Tries the API token (when configured), then each extra strategy in order; the first caller found wins. */
export function createAuthenticate(deps: { apiToken: string | null; authStrategies?: AuthStrategy[] }): Authenticate {
  const strategies: AuthStrategy[] = [];
  if (deps.apiToken) strategies.push(apiTokenStrategy(deps.apiToken));
  strategies.push(...(deps.authStrategies ?? []));
  return async (request) => {
    for (const strategy of strategies) {
      const caller = await strategy(request);
      if (caller) return caller;
    }
    return null;
  };
}

/**
 * An onRequest hook: runs before the body is read or validated, so an unauthenticated caller learns
 * nothing about the route (no 400s, no 404s for ids), only 401.
 */
export function requireCaller(authenticate: Authenticate) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const caller = await authenticate(request);
    if (!caller) {
      void reply.header('www-authenticate', 'Bearer realm="care-gateway"');
      throw new GatewayError('GW_ERR_UNAUTHORIZED');
    }
    request.caller = caller;
  };
}

/**
 * A preHandler that admits only the given roles (the API token counts as admin), else 403.
 * Community and volunteer scoping of the data itself is done by the route with gateway/access/scope.ts.
 */
export function requireRole(...roles: Role[]) {
  return async (request: FastifyRequest): Promise<void> => {
    const caller = request.caller;
    if (!caller) throw new GatewayError('GW_ERR_UNAUTHORIZED');
    if (!roles.includes(caller.role)) throw new GatewayError('GW_ERR_FORBIDDEN');
  };
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
