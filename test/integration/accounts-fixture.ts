// Accounts test rig: the real AccountService over real SQLite, the real SMS dispatcher (sign-in codes through the Twilio simulator), a VisitService, and buildApp.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { waitFor } from '../helpers/wait.js';
import { expect } from 'vitest';
import { AccountService, type AccountServiceDeps } from '../../gateway/accounts/service.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import { SmsDispatcher, type NotifierEvents } from '../../gateway/notifiers/dispatcher.js';
import { TwilioProvider } from '../../gateway/notifiers/twilio.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { buildApp } from '../../gateway/http/app.js';
import type { HealthReport } from '../../gateway/core/health.js';
import type { HttpDeps } from '../../gateway/http/deps.js';
import { createMetrics } from '../../gateway/metrics/metrics.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import { createDashboardPageDeps } from '../../gateway/wiring/dashboard-pages.js';
import { API_TOKEN, RecordingInbound, StoreDeviceDirectory, StoreIncidentActions, StoreSmsStatus } from '../helpers/http-fixture.js';
import { startVisitRig, TZ, type VisitRig } from './visits-fixture.js';

export const PUBLIC_URL = 'https://care.example.org';
export const ADMIN = { username: 'admin', password: 'correct horse battery' };
export const W01 = '+8613900000001'; // 李明, worker of andali
export const W11 = '+8613900000011'; // 钱军, worker of xinhe
export const V01 = '+8613700000001'; // 王奶奶, volunteer

/** A second community, so community scoping has something to hide; r-101 has notes and family a volunteer must not see. */
export const XINHE = {
  communities: [{ id: 'xinhe', name: '新河社区' }],
  residents: [
    {
      id: 'r-101',
      name: '孙凤英',
      community: 'xinhe',
      address: '新河7号楼1门101',
      notes: '糖尿病，每日注射胰岛素',
      family: [{ name: '孙涛', relation: '儿子', phone: '+8613800000101' }],
    },
  ],
  workers: [
    {
      id: 'w-11',
      name: '钱军',
      phone: W11,
      community: 'xinhe',
      shifts: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '00:00' }],
    },
  ],
  visits: [
    { id: 'vis-03', volunteer: 'v-01', resident: 'r-101', cron: '0 15 * * *', durationMinutes: 60, activity: '聊天' },
    { id: 'vis-04', volunteer: 'v-02', resident: 'r-002', cron: '0 9 * * *', durationMinutes: 60, activity: '买菜' },
  ],
};

export interface AccountRig {
  rig: VisitRig;
  app: FastifyInstance;
  accounts: AccountService;
  incidents: StoreIncidentActions;
  /** The phones' side: sign-in codes arrive here, in clear, through the real Twilio SDK (the gateway stores them masked). */
  sim: TwilioSimServer;
  /** The dispatcher that sends the sign-in codes, and the provider behind it (the simulator through the real SDK). */
  otpSms: SmsDispatcher;
  provider: TwilioProvider;
  /** Every message the dispatcher announced (what the live feed and the dashboard are fed). */
  announced: OutboundSms[];
  close(): Promise<void>;
}

export async function startAccountRig(over: Partial<AccountServiceDeps> = {}, http: Partial<HttpDeps> = {}): Promise<AccountRig> {
  const rig = await startVisitRig();
  await importRegistryDocument({ store: rig.store, log: silentLogger() }, XINHE);
  // The outbox keeps only the masked text: a code is read where a phone would read it.
  const sim = new TwilioSimServer({ callbackDelayMs: 2 });
  const apiUrl = (await sim.start()).url;
  const provider = new TwilioProvider({
    accountSid: sim.accountSid,
    authToken: sim.authToken,
    from: '+15005550006',
    apiUrl,
    timeoutMs: 2000,
    log: silentLogger(),
  });
  const bus = new EventBus<NotifierEvents>(silentLogger());
  const announced: OutboundSms[] = [];
  bus.on(announced, 'smsStatusChanged', (m) => void announced.push(m));
  const otpSms = new SmsDispatcher({ store: rig.store, provider, clock: rig.clock, log: silentLogger(), bus, publicUrl: sim.url });
  await otpSms.start();
  const accounts = new AccountService({
    store: rig.store,
    sms: otpSms,
    clock: rig.clock,
    log: silentLogger(),
    publicUrl: PUBLIC_URL,
    admin: ADMIN,
    ...over,
  });
  await accounts.start();
  const incidents = new StoreIncidentActions(rig.store);
  const health: HealthReport = { alarmsOk: true, components: {}, unassignedIncidents: 0 };
  const deps: HttpDeps = {
    log: silentLogger(),
    publicUrl: PUBLIC_URL,
    apiToken: API_TOKEN,
    twilioAuthToken: null,
    incidents,
    inbound: new RecordingInbound(rig.store),
    smsStatus: new StoreSmsStatus(rig.store),
    devices: new StoreDeviceDirectory(rig.store),
    health: async () => health,
    metrics: createMetrics().registry,
    smsLog: (limit) => rig.store.sms.list(limit),
    visits: rig.visits,
    accounts,
    dashboardPages: createDashboardPageDeps({
      store: rig.store,
      clock: rig.clock,
      timeZone: TZ,
      log: silentLogger(),
      smsProvider: () => 'twilio',
      visits: rig.visits,
    }),
    ...http,
  };
  const app = await buildApp(deps);
  return {
    rig,
    app,
    accounts,
    incidents,
    sim,
    otpSms,
    provider,
    announced,
    close: async () => {
      await app.close();
      await accounts.stop();
      await otpSms.stop();
      await provider.close();
      await sim.stop();
      await rig.close();
    },
  };
}

/** A signed-in browser: its cookie and CSRF token, and requests that carry them. */
export interface Browser {
  cookie: string;
  csrf: string;
  user: { id: string; role: string; community?: string; workerId?: string; volunteerId?: string; name: string };
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

/** The 6-digit code of the newest sign-in SMS to the phone, read from the real SMS store. */
/** The newest sign-in code the phone received, once every code queued for it has reached the simulator. */
export async function codeSentTo(t: AccountRig, phone: string): Promise<string | null> {
  const queued = async () =>
    (await t.rig.store.sms.list(1000)).filter((m) => m.to === phone && m.purpose === 'otp' && m.status !== 'failed').length;
  const received = () => t.sim.messages().filter((m) => m.to === phone);
  const expected = await queued();
  await waitFor(`${expected} SMS to ${phone}`, () => received().length >= expected);
  return /(\d{6})/.exec(received().at(-1)?.body ?? '')?.[1] ?? null;
}

/** Signs in by phone code; returns the browser. */
export async function phoneSignIn(t: AccountRig, phone: string, ip = '10.0.0.9'): Promise<Browser> {
  // A second apart, so "the newest code" is well defined by time.
  t.rig.clock.advance(1000);
  const req = await t.app.inject({ method: 'POST', url: '/auth/otp/request', payload: { phone }, remoteAddress: ip });
  expect(req.statusCode).toBe(202);
  const code = await codeSentTo(t, phone.startsWith('+') ? phone : `+86${phone}`);
  expect(code).toMatch(/^\d{6}$/);
  const res = await t.app.inject({ method: 'POST', url: '/auth/otp/verify', payload: { phone, code }, remoteAddress: ip });
  expect(res.statusCode).toBe(200);
  return browser(t.app, res);
}

/** An admin creates a password account; returns the browser of its first sign-in. */
export async function staff(
  t: AccountRig,
  admin: Browser,
  user: { username: string; role: string; community?: string; volunteerId?: string; workerId?: string },
): Promise<Browser> {
  const password = `pw-${user.username}-0123456789`;
  const created = await admin.post('/api/users', { name: user.username, password, ...user });
  expect(created.statusCode, created.body).toBe(201);
  return browser(t.app, await login(t.app, user.username, password, `10.1.0.${Math.floor(Math.random() * 200) + 1}`));
}
