// Session callers for /api: the cookie strategy, the CSRF check on every change, and the same-origin check for /auth posts.
import type { FastifyRequest } from 'fastify';
import type { AccountApi } from '../../accounts/service.js';
import { sameToken } from '../../accounts/sessions.js';
import { GatewayError } from '../../core/errors.js';
import type { AuthStrategy } from '../auth.js';
import { readSessionCookie } from './cookies.js';

export const CSRF_HEADER = 'x-csrf-token';

/** Reading is safe; everything else changes something and needs the CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface SessionGuardDeps {
  accounts: Pick<AccountApi, 'resolve'>;
}

export class SessionGuard {
  /** The CSRF token of the session that authenticated a request, kept only as long as the request object. */
  private readonly csrfTokens = new WeakMap<FastifyRequest, string>();

  constructor(private readonly deps: SessionGuardDeps) {}

  /** An AuthStrategy for deps.authStrategies: the caller of the session in the `cg_session` cookie. */
  strategy(): AuthStrategy {
    return async (request) => {
      const id = readSessionCookie(request);
      if (!id) return null;
      const active = await this.deps.accounts.resolve(id);
      if (!active) return null;
      this.csrfTokens.set(request, active.session.csrfToken);
      return active.caller;
    };
  }

  /**
   * An onRequest hook for the /api scope, added after the auth hook: a change made with a session cookie must
   * carry `x-csrf-token`. Bearer callers are exempt: a browser never adds that header to a cross-site request.
   */
  csrfHook() {
    return async (request: FastifyRequest): Promise<void> => {
      if (SAFE_METHODS.has(request.method) || request.caller?.kind !== 'session') return;
      const expected = this.csrfTokens.get(request) ?? (await this.lookup(request));
      if (!expected || !csrfMatches(request, expected)) throw new GatewayError('GW_ERR_CSRF');
    };
  }

  /** When the session was recognised by a strategy from elsewhere, the token is looked up again. */
  private async lookup(request: FastifyRequest): Promise<string | null> {
    const id = readSessionCookie(request);
    return id ? ((await this.deps.accounts.resolve(id))?.session.csrfToken ?? null) : null;
  }
}

export function csrfMatches(request: FastifyRequest, expected: string): boolean {
  const given = request.headers[CSRF_HEADER];
  return typeof given === 'string' && given.length > 0 && sameToken(given, expected);
}

/**
 * True when the request has no Origin header (curl, old browsers: the cookie's SameSite=Strict still holds) or comes
 * from PUBLIC_URL's origin or from the very host it was sent to (the same dashboard reached by another name, e.g.
 * http://127.0.0.1:8080 while PUBLIC_URL says localhost). A page on another site can do neither.
 */
export function sameOrigin(request: FastifyRequest, publicUrl: string): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (typeof origin !== 'string' || origin === 'null') return false;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (parsed.origin === new URL(publicUrl).origin) return true;
  const host = request.headers.host;
  return typeof host === 'string' && parsed.host === host.toLowerCase();
}
