// /auth/*: sign-in by password or SMS code, the first admin's setup, who am I, and sign-out; each sets or clears the cookie.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AccountApi, SignedIn } from '../../accounts/service.js';
import { publicUser } from '../../accounts/users.js';
import { GatewayError } from '../../core/errors.js';
import { clearSessionCookie, isSecureUrl, readSessionCookie, setSessionCookie } from './cookies.js';
import { csrfMatches, sameOrigin } from './guard.js';

export interface SessionRouteOptions {
  accounts: AccountApi;
  /** PUBLIC_URL: the allowed Origin of sign-in posts, and Secure cookies when it is https. */
  publicUrl: string;
}

/** Sign-in forms are tiny; a bigger body is not one of ours. */
const AUTH_BODY_LIMIT = 8 * 1024;

const str = (min: number, max: number) => ({ type: 'string', minLength: min, maxLength: max }) as const;

const loginBody = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password'],
  properties: { username: str(1, 200), password: str(1, 1000) },
} as const;

const phone = { type: 'string', pattern: '^\\+?[0-9][0-9 ()-]{5,24}$' } as const;
const otpRequestBody = { type: 'object', additionalProperties: false, required: ['phone'], properties: { phone } } as const;
const otpVerifyBody = {
  type: 'object',
  additionalProperties: false,
  required: ['phone', 'code'],
  properties: { phone, code: { type: 'string', pattern: '^[0-9]{6}$' } },
} as const;

const setupBody = {
  type: 'object',
  additionalProperties: false,
  required: ['token', 'username', 'password', 'name'],
  properties: { token: str(1, 200), username: str(1, 200), password: str(1, 1000), name: str(1, 200) },
} as const;

/** The same words whether or not the phone is registered: the answer must not tell who has an account. */
const OTP_ACCEPTED = { message: 'If this phone belongs to a registered worker or volunteer, a 6-digit code is on its way by SMS.' };

export const sessionRoutes: FastifyPluginAsync<SessionRouteOptions> = async (app, { accounts, publicUrl }) => {
  const secure = isSecureUrl(publicUrl);

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('cache-control', 'no-store');
    // Sign-in posts from another site's page are refused outright (login CSRF, password spraying from a victim's browser).
    if (request.method === 'POST' && !sameOrigin(request, publicUrl)) throw new GatewayError('GW_ERR_CROSS_ORIGIN');
  });

  const client = (request: FastifyRequest) => ({ ip: request.ip ?? null });

  const answer = (reply: FastifyReply, signedIn: SignedIn, status = 200): FastifyReply => {
    setSessionCookie(reply, signedIn.sessionId, signedIn.maxAgeSeconds, secure);
    return reply.code(status).send({ user: signedIn.user, csrfToken: signedIn.csrfToken });
  };

  app.post<{ Body: { username: string; password: string } }>(
    '/auth/login',
    { schema: { body: loginBody }, bodyLimit: AUTH_BODY_LIMIT },
    async (request, reply) =>
      answer(reply, await withRetryAfter(reply, () => accounts.login(request.body.username, request.body.password, client(request)))),
  );

  app.post<{ Body: { phone: string } }>(
    '/auth/otp/request',
    { schema: { body: otpRequestBody }, bodyLimit: AUTH_BODY_LIMIT },
    async (request, reply) => {
      await withRetryAfter(reply, () => accounts.requestOtp(request.body.phone, client(request)));
      return reply.code(202).send(OTP_ACCEPTED);
    },
  );

  app.post<{ Body: { phone: string; code: string } }>(
    '/auth/otp/verify',
    { schema: { body: otpVerifyBody }, bodyLimit: AUTH_BODY_LIMIT },
    async (request, reply) =>
      answer(reply, await withRetryAfter(reply, () => accounts.verifyOtp(request.body.phone, request.body.code, client(request)))),
  );

  app.post('/auth/logout', async (request, reply) => {
    const id = readSessionCookie(request);
    const active = id ? await accounts.resolve(id) : null;
    // Signing someone out is a change too: a live session needs its CSRF token, like every other post.
    if (id && active) {
      if (!csrfMatches(request, active.session.csrfToken)) throw new GatewayError('GW_ERR_CSRF');
      await accounts.logout(id, client(request));
    }
    clearSessionCookie(reply, secure);
    return reply.code(204).send();
  });

  app.get('/auth/me', async (request, reply) => {
    const id = readSessionCookie(request);
    const active = id ? await accounts.resolve(id) : null;
    if (!active) {
      if (id) clearSessionCookie(reply, secure);
      throw new GatewayError('GW_ERR_UNAUTHORIZED', 'not signed in');
    }
    return { user: publicUser(active.user), csrfToken: active.session.csrfToken };
  });

  app.get('/auth/setup-status', async () => ({ needsSetup: await accounts.needsSetup() }));

  app.post<{ Body: { token: string; username: string; password: string; name: string } }>(
    '/auth/setup',
    { schema: { body: setupBody }, bodyLimit: AUTH_BODY_LIMIT },
    async (request, reply) => answer(reply, await withRetryAfter(reply, () => accounts.setup(request.body, client(request))), 201),
  );
};

/** A refused attempt says when to come back (RFC 6585 §4: Retry-After on 429). */
async function withRetryAfter<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof GatewayError && err.code === 'GW_ERR_RATE_LIMITED') {
      const details = err.details;
      const seconds =
        typeof details === 'object' && details !== null && 'retryAfterSeconds' in details ? Number(details.retryAfterSeconds) : 60;
      void reply.header('retry-after', String(seconds));
    }
    throw err;
  }
}
