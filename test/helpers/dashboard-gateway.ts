// A whole test gateway plus a second HTTP app built from the same services, so a test can tune what the gateway fixes (the live feed heartbeat).
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../../gateway/accounts/service.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { Caller, HttpDeps, Role } from '../../gateway/http/deps.js';
import { buildApp } from '../../gateway/http/app.js';
import { tileOrigin } from '../../gateway/http/routes/dashboard.js';
import { LiveFeed } from '../../gateway/live/feed.js';
import { MapData } from '../../gateway/live/map-data.js';
import type { Clock } from '../../gateway/core/clock.js';
import type { Env } from '../../gateway/config/load.js';
import { freePort, startTestGateway, type TestGateway } from './gateway.js';

export const DASHBOARD_REGISTRY = fileURLToPath(new URL('../fixtures/dashboard-registry.yaml', import.meta.url));
export const ADMIN = { username: 'admin', password: 'admin-password-123' } as const;
export const PASSWORD = 'correct-horse-battery';

export interface DashboardGateway extends TestGateway {
  /** The dashboard app: /auth, /api (with /api/stream, /api/map, /api/ui-config), /i/<code> and the built dashboard. */
  app: FastifyInstance;
  url: string;
  live: LiveFeed;
  accounts: AccountService;
  /** Makes a user; worker and volunteer accounts are linked to their registry entry. */
  addUser(username: string, role: Role, links?: { workerId?: string; volunteerId?: string; community?: string }): Promise<void>;
  /** Signs in over HTTP: the session cookie and CSRF token for fetch-based tests. */
  signIn(username: string, password?: string): Promise<{ cookie: string; csrf: string }>;
  /** The SMS link as the gateway sent it, moved to the dashboard app's origin (same path and signed query). */
  onDashboard(link: string): string;
}

const SYSTEM: Caller = { kind: 'api_token', name: 'test setup', role: 'admin' };

export async function startDashboardGateway(
  opts: { env?: Env; clock?: Clock; heartbeatMs?: number; twilio?: boolean; /** false: no admin, so the one-time setup link is made. */ admin?: boolean } = {},
): Promise<DashboardGateway> {
  const admin = opts.admin === false ? {} : { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password };
  const tg = await startTestGateway({ env: { REGISTRY_FILE: DASHBOARD_REGISTRY, ...admin, ...opts.env }, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.twilio === undefined ? {} : { twilio: opts.twilio }) });
  const g = tg.gateway;
  const log = silentLogger();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The same deps as gateway/app.ts gives buildApp, with a live feed of its own (heartbeat tunable).
  const accounts = g.accounts;
  const live = new LiveFeed({ bus: g.bus, views: g.views, incidents: g.store.incidents, registry: g.store.registry, log, ...(opts.heartbeatMs ? { heartbeatMs: opts.heartbeatMs } : {}) });
  live.start();
  const map = new MapData({ registry: g.store.registry, incidents: g.store.incidents, health: (id) => g.ingest.healthOf(id) });
  const deps: HttpDeps = {
    log,
    publicUrl: url,
    apiToken: g.config.apiToken,
    twilioAuthToken: g.config.twilio?.authToken ?? null,
    incidents: g.views,
    inbound: g.replies,
    smsStatus: g.dispatcher,
    devices: {
      listDevices: () => g.store.registry.listDevices(),
      getDevice: (id) => g.store.registry.getDevice(id),
      health: (id) => g.ingest.healthOf(id),
      getResident: (id) => g.store.registry.getResident(id),
    },
    health: () => g.health(),
    metrics: g.metrics.registry,
    smsLog: (limit) => g.store.sms.list(limit),
    visits: g.visits,
    supervision: g.supervision,
    accounts,
    live,
    map,
    ui: { timeZone: g.config.timeZone, mapTileUrl: g.config.mapTileUrl, smsMode: g.config.twilio ? 'twilio' : 'outbox', version: 'test' },
    incidentPage: { links: g.links, clock: g.clock, timeZone: g.config.timeZone, map },
    dashboard: { tileOrigin: tileOrigin(g.config.mapTileUrl) },
  };
  const app = await buildApp(deps);
  await app.listen({ port, host: '127.0.0.1' });

  return {
    ...tg,
    app,
    url,
    live,
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
    onDashboard(link) {
      const u = new URL(link);
      return `${url}${u.pathname}${u.search}`;
    },
    async stop(stopOpts = {}) {
      live.stop();
      await app.close();
      await tg.stop(stopOpts);
    },
  };
}
