// A whole test gateway with the dashboard's registry, its admin, and helpers to make users and sign in over HTTP.
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../../gateway/accounts/service.js';
import type { Caller } from '../../gateway/access/caller.js';
import type { Role } from '../../gateway/access/roles.js';
import type { LiveFeed } from '../../gateway/live/feed.js';
import type { Clock } from '../../gateway/core/clock.js';
import type { Env } from '../../gateway/config/load.js';
import { startTestGateway, type TestGateway } from './gateway.js';

export const DASHBOARD_REGISTRY = fileURLToPath(new URL('../fixtures/dashboard-registry.yaml', import.meta.url));
export const ADMIN = { username: 'admin', password: 'admin-password-123' } as const;
export const PASSWORD = 'correct-horse-battery';

export interface DashboardGateway extends TestGateway {
  /** The gateway's own HTTP app: /auth, /api (with /api/stream, /api/map, /api/ui-config), /i/<code> and the built dashboard. */
  app: FastifyInstance;
  /** Where that app listens (also the gateway's PUBLIC_URL, so the SMS links point here). */
  url: string;
  live: LiveFeed;
  accounts: AccountService;
  /** Makes a user; worker and volunteer accounts are linked to their registry entry. */
  addUser(username: string, role: Role, links?: { workerId?: string; volunteerId?: string; community?: string }): Promise<void>;
  /** Signs in over HTTP: the session cookie and CSRF token for fetch-based tests. */
  signIn(username: string, password?: string): Promise<{ cookie: string; csrf: string }>;
}

const SYSTEM: Caller = { kind: 'api_token', name: 'test setup', role: 'admin' };

export async function startDashboardGateway(
  opts: {
    env?: Env;
    clock?: Clock;
    heartbeatMs?: number;
    twilio?: boolean;
    /** false: no admin, so the one-time setup link is made. */ admin?: boolean;
  } = {},
): Promise<DashboardGateway> {
  const admin = opts.admin === false ? {} : { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password };
  const tg = await startTestGateway({
    env: { REGISTRY_FILE: DASHBOARD_REGISTRY, ...admin, ...opts.env },
    // The registry's visits would be reminded by SMS at 19:00 China time the evening before: the dashboard tests
    // count SMS, so the visit jobs and the digest run only when a test calls them, whatever the time of day.
    jobs: 'manual',
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.twilio === undefined ? {} : { twilio: opts.twilio }),
    ...(opts.heartbeatMs ? { liveHeartbeatMs: opts.heartbeatMs } : {}),
  });
  const g = tg.gateway;
  const app = g.httpApp;
  if (!app) throw new Error('the test gateway started without its HTTP app');
  const url = tg.httpUrl;
  const accounts = g.accounts;
  return {
    ...tg,
    app,
    url,
    live: g.live,
    accounts,
    async addUser(username, role, links = {}) {
      await accounts.createUser({ username, name: username, password: PASSWORD, role, ...links }, SYSTEM);
    },
    async signIn(username, password = PASSWORD) {
      const res = await fetch(`${url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: url },
        body: JSON.stringify({ username, password }),
      });
      if (res.status !== 200) throw new Error(`sign-in of ${username} failed: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { csrfToken: string };
      const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      return { cookie, csrf: body.csrfToken };
    },
  };
}
