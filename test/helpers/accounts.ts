// Account helpers over the test gateway: a second community to scope against, sign-in codes read where a phone reads them, signed-in staff.
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { SIM_SID, SIM_TOKEN, startTestGateway, type TestGateway, type TestGatewayOptions } from './gateway.js';
import { API_TOKEN } from './http-fixture.js';
import { browser, login, type Browser } from './sessions.js';
import { onDay, visitsRegistry } from './visits.js';
import { waitFor } from './wait.js';

export { browser, cookieOf, login, type Browser } from './sessions.js';

/** PUBLIC_URL of these tests: https, so session cookies are Secure; the Twilio simulator's callbacks are delivered locally. */
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

/** The test gateway for the account tests: both communities, the first admin from ADMIN_*, codes through the Twilio simulator. */
export interface AccountsGateway {
  tg: TestGateway;
  gateway: TestGateway['gateway'];
  app: FastifyInstance;
  clock: ManualClock;
  store: TestGateway['gateway']['store'];
  /** The phones' side: sign-in codes arrive here in clear, through the real Twilio SDK (the gateway stores them masked). */
  sim: TwilioSimServer;
  /** Every message the dispatcher announced (what the live feed and the dashboard are fed). */
  announced: OutboundSms[];
  /** A process restart over the same data dir, clock and simulator (the fields then reach the new gateway). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startAccountsGateway(
  opts: TestGatewayOptions & { clock?: ManualClock; publicUrl?: string; admin?: boolean } = {},
): Promise<AccountsGateway> {
  const clock = opts.clock ?? new ManualClock(onDay(0, 12));
  // Status callbacks go to PUBLIC_URL, which no test host serves: the simulator delivers them to the gateway itself,
  // as a reverse proxy would, and still signs the public URL.
  const target = { url: '' };
  const sim = new TwilioSimServer({
    accountSid: SIM_SID,
    authToken: SIM_TOKEN,
    callbackDelayMs: 2,
    deliverTo: (url) => {
      const u = new URL(url);
      return `${target.url}${u.pathname}${u.search}`;
    },
  });
  await sim.start({ port: 0 });
  const admin = opts.admin === false ? {} : { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password };
  let tg: TestGateway;
  try {
    tg = await startTestGateway({
      jobs: 'manual',
      registry: visitsRegistry(XINHE),
      ...opts,
      clock,
      sms: sim,
      // The API token of the HTTP tests, so their bearer() works here too.
      env: { PUBLIC_URL: opts.publicUrl ?? PUBLIC_URL, API_TOKEN, ...admin, ...opts.env },
    });
  } catch (err) {
    await sim.stop();
    throw err;
  }
  target.url = tg.httpUrl;
  const announced: OutboundSms[] = [];
  const watch = () => tg.gateway.bus.on(announced, 'smsStatusChanged', (m) => void announced.push(m));
  watch();
  const rig: AccountsGateway = {
    get tg() {
      return tg;
    },
    get gateway() {
      return tg.gateway;
    },
    get app() {
      const app = tg.gateway.httpApp;
      if (!app) throw new Error('the test gateway has no HTTP app');
      return app;
    },
    clock,
    get store() {
      return tg.gateway.store;
    },
    sim,
    announced,
    async restart() {
      tg = await tg.restart();
      target.url = tg.httpUrl;
      watch();
    },
    async close() {
      await tg.stop();
      await sim.stop();
    },
  };
  return rig;
}

/** What tells a sign-in code SMS from the gateway's others. */
export const SIGN_IN_CODE = /验证码/;

/** The newest sign-in code the phone received, once every code queued for it has reached the simulator. */
export async function codeSentTo(t: AccountsGateway, phone: string): Promise<string | null> {
  const queued = async () =>
    (await t.store.sms.list(1000)).filter((m) => m.to === phone && m.purpose === 'otp' && m.status !== 'failed').length;
  // The gateway's other SMS (a missed-visit notice to a worker) reach the same phones.
  const received = () => t.sim.messages().filter((m) => m.to === phone && SIGN_IN_CODE.test(m.body));
  const expected = await queued();
  await waitFor(`${expected} SMS to ${phone}`, () => received().length >= expected);
  return /(\d{6})/.exec(received().at(-1)?.body ?? '')?.[1] ?? null;
}

/** Signs in by phone code; returns the browser. */
export async function phoneSignIn(t: AccountsGateway, phone: string, ip = '10.0.0.9'): Promise<Browser> {
  // A second apart, so "the newest code" is well defined by time.
  t.clock.advance(1000);
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
  t: AccountsGateway,
  admin: Browser,
  user: { username: string; role: string; community?: string; volunteerId?: string; workerId?: string },
): Promise<Browser> {
  const password = `pw-${user.username}-0123456789`;
  const created = await admin.post('/api/users', { name: user.username, password, ...user });
  expect(created.statusCode, created.body).toBe(201);
  return browser(t.app, await login(t.app, user.username, password, `10.1.0.${Math.floor(Math.random() * 200) + 1}`));
}
