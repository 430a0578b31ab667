// Sign-in helpers over a gateway's HTTP app: password logins, the session cookie, and a signed-in browser's requests.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { AccountService } from '../../gateway/accounts/service.js';
import type { Caller } from '../../gateway/access/caller.js';
import type { Role } from '../../gateway/access/roles.js';

/** A signed-in browser: its cookie and CSRF token, and requests that carry them. */
export interface Browser {
  cookie: string;
  csrf: string;
  user: { id: string; role: string; community?: string; workerId?: string; volunteerId?: string; name: string };
  /** The cookie and CSRF headers, for requests made by hand. */
  headers: Record<string, string>;
  get(url: string): Promise<LightMyRequestResponse>;
  post(url: string, payload?: unknown, opts?: { csrf?: string | null; method?: InjectOptions['method'] }): Promise<LightMyRequestResponse>;
}

/** The `cg_session=…` pair from a Set-Cookie answer. */
export function cookieOf(res: LightMyRequestResponse): string {
  const header = res.headers['set-cookie'];
  const line = Array.isArray(header) ? header[0] : header;
  expect(line).toMatch(/^cg_session=[A-Za-z0-9_-]{43};/);
  return String(line).split(';')[0] ?? '';
}

export function browser(app: FastifyInstance, res: LightMyRequestResponse): Browser {
  expect(res.statusCode).toBeLessThan(300);
  const cookie = cookieOf(res);
  const body = res.json<{ user: Browser['user']; csrfToken: string }>();
  return {
    cookie,
    csrf: body.csrfToken,
    user: body.user,
    headers: { cookie, 'x-csrf-token': body.csrfToken },
    get: (url) => app.inject({ method: 'GET', url, headers: { cookie } }),
    post: (url, payload, opts = {}) => {
      const csrf = opts.csrf === undefined ? body.csrfToken : opts.csrf;
      const headers: Record<string, string> = { cookie };
      if (csrf !== null) headers['x-csrf-token'] = csrf;
      return app.inject({
        method: opts.method ?? 'POST',
        url,
        headers,
        ...(payload === undefined ? {} : { payload: payload as InjectOptions['payload'] }),
      });
    },
  };
}

export async function login(app: FastifyInstance, username: string, password: string, ip = '10.0.0.1'): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/auth/login', payload: { username, password }, remoteAddress: ip });
}

const SETUP: Caller = { kind: 'api_token', name: 'test setup', role: 'admin' };

/** Makes a password account (a worker or volunteer linked to its registry entry) and signs it in. */
export async function signedIn(
  gateway: { accounts: AccountService; httpApp: FastifyInstance | null },
  user: { username: string; name?: string; role: Role; workerId?: string; volunteerId?: string; community?: string },
): Promise<Browser> {
  const app = gateway.httpApp;
  if (!app) throw new Error('the gateway has no HTTP app yet');
  const password = `pw-${user.username}-0123456789`;
  await gateway.accounts.createUser({ ...user, name: user.name ?? user.username, password }, SETUP);
  return browser(app, await login(app, user.username, password));
}
