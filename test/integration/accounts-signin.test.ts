// Dashboard sign-in through app.inject(): first admin, passwords, SMS codes, cookies, CSRF, rate limits, expiry, logout, audit.
import { createHash } from 'node:crypto';
import { waitFor } from '../helpers/wait.js';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccountService } from '../../gateway/accounts/service.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { SmsDispatcher, type NotifierEvents } from '../../gateway/notifiers/dispatcher.js';
import { bearer, expectErrorBody } from '../helpers/http-fixture.js';
import { tempDir } from '../helpers/tmp.js';
import { MIGRATIONS } from '../../gateway/storage/sqlite/migrations.js';
import { openSqliteStore } from '../../gateway/storage/sqlite/store.js';
import {
  ADMIN,
  PUBLIC_URL,
  SIGN_IN_CODE,
  V01,
  W01,
  browser,
  codeSentTo,
  login,
  phoneSignIn,
  startAccountsGateway,
  type AccountsGateway,
} from '../helpers/accounts.js';

const HOUR = 3600_000;

describe('first admin', () => {
  let t: AccountsGateway;
  afterEach(async () => t.close());

  it('comes from ADMIN_USERNAME/ADMIN_PASSWORD: no setup link, and the password signs in', async () => {
    t = await startAccountsGateway();
    expect(t.gateway.accounts.setupLink()).toBeNull();
    expect((await t.app.inject({ method: 'GET', url: '/auth/setup-status' })).json()).toEqual({ needsSetup: false });
    const res = await login(t.app, 'ADMIN', ADMIN.password);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ user: { role: 'admin', name: 'admin' } });
    expect(res.json<{ csrfToken: string }>().csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const audit = await t.store.accounts.listAudit(10);
    expect(audit.map((a) => a.action)).toEqual(['login', 'admin_bootstrap']);
  });

  it('otherwise comes from a one-time setup link: bad token and weak password refused, token single use, a restart replaces it', async () => {
    t = await startAccountsGateway({ admin: false });
    expect((await t.app.inject({ method: 'GET', url: '/auth/setup-status' })).json()).toEqual({ needsSetup: true });
    const first = t.gateway.accounts.setupLink();
    expect(first).toMatch(/^https:\/\/care\.example\.org\/#\/setup\?token=[A-Za-z0-9_-]{43}$/);
    // A restart before anyone used it prints a new link; the old one stops working.
    const again = new AccountService({
      store: t.store,
      sms: t.gateway.dispatcher,
      clock: t.clock,
      log: silentLogger(),
      publicUrl: PUBLIC_URL,
    });
    await again.start();
    const link = again.setupLink();
    expect(link).not.toBe(first);
    const tokenOf = (l: string | null) => new URL(String(l).replace('#/setup', 'setup')).searchParams.get('token') ?? '';
    const form = { username: 'chief', password: 'a long enough pw', name: '站长 刘' };
    const setup = (body: object) => t.app.inject({ method: 'POST', url: '/auth/setup', payload: body });

    const stale = await setup({ ...form, token: tokenOf(first) });
    expect(stale.statusCode).toBe(403);
    expectErrorBody(stale.json(), 'GW_ERR_SETUP_TOKEN');
    const weak = await setup({ ...form, password: 'short', token: tokenOf(link) });
    expect(weak.statusCode).toBe(400);
    expect(weak.json()).toMatchObject({ error: { message: 'password must have at least 10 characters' } });

    const ok = await setup({ ...form, token: tokenOf(link) });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ user: { role: 'admin', name: '站长 刘' } });
    const me = await browser(t.app, ok).get('/auth/me');
    expect(me.json()).toMatchObject({ user: { role: 'admin' } });

    const reuse = await setup({ ...form, username: 'other', token: tokenOf(link) });
    expect(reuse.statusCode).toBe(409);
    expect((await t.app.inject({ method: 'GET', url: '/auth/setup-status' })).json()).toEqual({ needsSetup: false });
    expect((await login(t.app, 'chief', form.password)).statusCode).toBe(200);
    const audit = await t.store.accounts.listAudit(20);
    expect(audit.filter((a) => a.action === 'setup').map((a) => a.outcome)).toEqual(['success', 'failure']);
  });

  it('lets only one of two simultaneous setups with the same token through', async () => {
    t = await startAccountsGateway({ admin: false });
    const token = new URL(String(t.gateway.accounts.setupLink()).replace('#/setup', 'setup')).searchParams.get('token');
    const results = await Promise.all(
      ['one', 'two'].map((u) =>
        t.app.inject({ method: 'POST', url: '/auth/setup', payload: { token, username: u, password: 'a long enough pw', name: u } }),
      ),
    );
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 403]);
    expect((await t.store.accounts.listUsers()).length).toBe(1);
  });
});

describe('password sign-in, sessions and CSRF', () => {
  let t: AccountsGateway;
  beforeEach(async () => {
    t = await startAccountsGateway();
  });
  afterEach(async () => t.close());

  it('sets an HttpOnly, SameSite=Strict, Secure cookie whose id is stored only as a sha256', async () => {
    const res = await login(t.app, 'admin', ADMIN.password);
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(/^cg_session=[A-Za-z0-9_-]{43}; Max-Age=604800; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    const id = setCookie.slice('cg_session='.length).split(';')[0] ?? '';
    expect(await t.store.accounts.getSession(id)).toBeNull();
    const stored = await t.store.accounts.getSession(createHash('sha256').update(id).digest('hex'));
    expect(stored).toMatchObject({ userId: res.json<{ user: { id: string } }>().user.id, revokedAt: null });
  });

  it('leaves Secure off when PUBLIC_URL is plain http (a LAN install)', async () => {
    await t.close();
    t = await startAccountsGateway({ publicUrl: 'http://192.168.1.10:8080' });
    const res = await login(t.app, 'admin', ADMIN.password);
    expect(String(res.headers['set-cookie'])).not.toContain('Secure');
  });

  it('answers a wrong password and an unknown user with the same 401, and audits both with the stranger redacted', async () => {
    const wrong = await login(t.app, 'admin', 'not the password');
    const unknown = await login(t.app, 'mypassword123', 'whatever123');
    for (const res of [wrong, unknown]) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: { code: 'GW_ERR_BAD_CREDENTIALS', message: 'wrong username or password' } });
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    const audit = await t.store.accounts.listAudit(2);
    expect(audit[0]).toMatchObject({
      action: 'login',
      outcome: 'failure',
      subject: 'm…(13 chars, unknown)',
      ip: '10.0.0.1',
      detail: { reason: 'unknown_user' },
    });
    expect(audit[1]).toMatchObject({ action: 'login', outcome: 'failure', subject: 'admin', detail: { reason: 'wrong_password' } });
    expect(JSON.stringify(audit)).not.toContain('mypassword123');
  });

  it('refuses malformed sign-in bodies with 400 before checking anything', async () => {
    for (const payload of [{ username: 'admin' }, { username: '', password: 'x' }, { username: 'admin', password: 'x'.repeat(1001) }]) {
      const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload });
      expect(res.statusCode).toBe(400);
      expectErrorBody(res.json(), 'GW_ERR_BAD_REQUEST');
    }
  });

  it('needs the CSRF token on every change made with the cookie, not on reads, not for the API token', async () => {
    const admin = browser(t.app, await login(t.app, 'admin', ADMIN.password));
    expect((await admin.get('/api/users')).statusCode).toBe(200);
    for (const csrf of [null, '', 'x'.repeat(43)]) {
      const res = await admin.post(
        '/api/users',
        { username: 'duty1', name: '值班员', password: 'duty password 1', role: 'duty_officer' },
        { csrf },
      );
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ error: { code: 'GW_ERR_CSRF', message: 'CSRF token missing or invalid' } });
    }
    expect((await t.store.accounts.listUsers()).length).toBe(1);
    const ok = await admin.post('/api/users', { username: 'duty1', name: '值班员', password: 'duty password 1', role: 'duty_officer' });
    expect(ok.statusCode).toBe(201);
    // The token of another session does not do either.
    const other = browser(t.app, await login(t.app, 'duty1', 'duty password 1'));
    expect((await admin.post('/api/users/x/disable', undefined, { csrf: other.csrf })).statusCode).toBe(403);
    const machine = await t.app.inject({
      method: 'POST',
      url: '/api/users',
      headers: bearer(),
      payload: { username: 'duty2', name: 'B', password: 'duty password 2', role: 'duty_officer' },
    });
    expect(machine.statusCode).toBe(201);
    // /auth/me hands the same token back to a reloaded page.
    expect((await admin.get('/auth/me')).json()).toEqual({ user: admin.user, csrfToken: admin.csrf });
  });

  it('refuses /auth posts from another origin, accepts PUBLIC_URL and the host itself', async () => {
    const from = (origin: string, host = 'care.example.org') =>
      t.app.inject({
        method: 'POST',
        url: '/auth/login',
        headers: { origin, host },
        payload: { username: 'admin', password: ADMIN.password },
      });
    const evil = await from('https://evil.example');
    expect(evil.statusCode).toBe(403);
    expectErrorBody(evil.json(), 'GW_ERR_CROSS_ORIGIN');
    expect((await from('null')).statusCode).toBe(403);
    expect((await from(PUBLIC_URL)).statusCode).toBe(200);
    expect((await from('http://127.0.0.1:8080', '127.0.0.1:8080')).statusCode).toBe(200);
    const otp = await t.app.inject({
      method: 'POST',
      url: '/auth/otp/request',
      headers: { origin: 'https://evil.example' },
      payload: { phone: W01 },
    });
    expect(otp.statusCode).toBe(403);
    expect(await codeSentTo(t, W01)).toBeNull();
  });

  it('cannot be used to shut the admin out: guesses from many addresses leave the right password from a new one working', async () => {
    // Four addresses, each at its own limit for this account: 20 wrong passwords in all, four times what one address may try.
    for (let a = 0; a < 4; a++) {
      for (let i = 0; i < 5; i++) expect((await login(t.app, 'admin', `wrong ${i}`, `10.0.1.${a}`)).statusCode).toBe(401);
      expect((await login(t.app, 'admin', `wrong 5`, `10.0.1.${a}`)).statusCode).toBe(429);
    }
    const admin = await login(t.app, 'admin', ADMIN.password, '10.0.2.1');
    expect(admin.statusCode).toBe(200);
    expect((await t.store.accounts.listAudit(1))[0]).toMatchObject({ action: 'login', outcome: 'success', ip: '10.0.2.1' });
  });

  it('slows the guessing address for that account (429 with Retry-After, doubling), and then checks the right password', async () => {
    for (let i = 0; i < 5; i++) expect((await login(t.app, 'admin', `wrong ${i}`, '10.0.3.3')).statusCode).toBe(401);
    const limited = await login(t.app, 'admin', ADMIN.password, '10.0.3.3');
    expect(limited.statusCode).toBe(429);
    expectErrorBody(limited.json(), 'GW_ERR_RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBe(15);
    expect((await t.store.accounts.listAudit(1))[0]).toMatchObject({
      action: 'login',
      outcome: 'failure',
      detail: { reason: 'rate_limited' },
    });
    // Another account from the same address is not slowed.
    await t.gateway.accounts.createUser(
      { username: 'officer', name: 'officer', password: 'officer password 1', role: 'duty_officer' },
      { kind: 'api_token', name: 'test', role: 'admin' },
    );
    expect((await login(t.app, 'officer', 'officer password 1', '10.0.3.3')).statusCode).toBe(200);

    // After the wait the next try is checked: one more wrong password doubles the wait.
    t.clock.advance(15_000);
    expect((await login(t.app, 'admin', 'wrong again', '10.0.3.3')).statusCode).toBe(401);
    expect(Number((await login(t.app, 'admin', ADMIN.password, '10.0.3.3')).headers['retry-after'])).toBe(30);
    t.clock.advance(30_000);
    expect((await login(t.app, 'admin', ADMIN.password, '10.0.3.3')).statusCode).toBe(200);
    // The success clears that address's count for the account.
    expect((await login(t.app, 'admin', 'one typo', '10.0.3.3')).statusCode).toBe(401);
    expect((await login(t.app, 'admin', ADMIN.password, '10.0.3.3')).statusCode).toBe(200);
  });

  it('treats one IPv6 /64 as one address, so rotating addresses inside it gains nothing', async () => {
    for (let i = 0; i < 5; i++) expect((await login(t.app, 'admin', `wrong ${i}`, `2001:db8:0:1::${i + 1}`)).statusCode).toBe(401);
    expect((await login(t.app, 'admin', 'wrong 5', '2001:db8:0:1:ffff::9')).statusCode).toBe(429);
    expect((await login(t.app, 'admin', ADMIN.password, '2001:db8:0:2::1')).statusCode).toBe(200);
  });

  it('rate-limits failures per address across usernames', async () => {
    for (let i = 0; i < 20; i++) expect((await login(t.app, `guess${i}`, 'password guess', '10.9.9.9')).statusCode).toBe(401);
    const limited = await login(t.app, 'admin', ADMIN.password, '10.9.9.9');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await login(t.app, 'admin', ADMIN.password, '10.9.9.10')).statusCode).toBe(200);
  });

  it('revokes the session on logout (CSRF needed), so the old cookie gets 401 everywhere', async () => {
    const admin = browser(t.app, await login(t.app, 'admin', ADMIN.password));
    const refused = await admin.post('/auth/logout', undefined, { csrf: null });
    expect(refused.statusCode).toBe(403);
    expect((await admin.get('/api/users')).statusCode).toBe(200);
    const out = await admin.post('/auth/logout');
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^cg_session=; Max-Age=0; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    expect((await admin.get('/api/users')).statusCode).toBe(401);
    const me = await admin.get('/auth/me');
    expect(me.statusCode).toBe(401);
    expectErrorBody(me.json(), 'GW_ERR_UNAUTHORIZED');
    expect((await t.store.accounts.listAudit(1))[0]).toMatchObject({ action: 'logout', outcome: 'success', userId: admin.user.id });
    // Logging out again, or without any session, is harmless.
    expect((await admin.post('/auth/logout')).statusCode).toBe(204);
  });

  it('ends a session after 12 h idle, and after 7 days whatever the activity', async () => {
    const idle = browser(t.app, await login(t.app, 'admin', ADMIN.password));
    t.clock.advance(12 * HOUR - 60_000);
    expect((await idle.get('/auth/me')).statusCode).toBe(200);
    t.clock.advance(12 * HOUR - 60_000);
    expect((await idle.get('/api/users')).statusCode).toBe(200);
    t.clock.advance(12 * HOUR);
    expect((await idle.get('/api/users')).statusCode).toBe(401);

    const busy = browser(t.app, await login(t.app, 'admin', ADMIN.password));
    for (let h = 6; h < 7 * 24; h += 6) {
      t.clock.advance(6 * HOUR);
      expect((await busy.get('/auth/me')).statusCode, `after ${h} h`).toBe(200);
    }
    t.clock.advance(6 * HOUR);
    expect((await busy.get('/auth/me')).statusCode).toBe(401);
  });

  it('manages users (admin only), refusing weak passwords, taken names, missing links and self-disabling', async () => {
    const admin = browser(t.app, await login(t.app, 'admin', ADMIN.password));
    const base = { name: '值班员', password: 'duty password 1', role: 'duty_officer' };
    const bad: [object, number, RegExp][] = [
      [{ ...base, username: 'd1', password: 'short' }, 400, /username must be|at least 10/],
      [{ ...base, username: 'duty1', password: 'short' }, 400, /at least 10 characters/],
      [{ ...base, username: 'admin' }, 409, /taken/],
      [{ ...base, username: 'wkr', role: 'worker' }, 400, /needs a community/],
      [{ ...base, username: 'wkr', role: 'worker', community: 'nowhere' }, 400, /no community "nowhere"/],
      [{ ...base, username: 'vol', role: 'volunteer' }, 400, /needs volunteerId/],
      [{ ...base, username: 'x1', role: 'superuser' }, 400, /role/],
    ];
    for (const [body, status, message] of bad) {
      const res = await admin.post('/api/users', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(status);
      expect(res.json<{ error: { message: string } }>().error.message).toMatch(message);
    }
    const duty = await admin.post('/api/users', { ...base, username: 'Duty1' });
    expect(duty.json()).toMatchObject({ username: 'duty1', role: 'duty_officer', hasPassword: true, disabled: false });
    const dutyId = duty.json<{ id: string }>().id;
    const officer = browser(t.app, await login(t.app, 'duty1', base.password));
    expect((await officer.get('/api/users')).statusCode).toBe(403);
    expect((await officer.post('/api/users', { ...base, username: 'duty2' })).statusCode).toBe(403);
    expect((await officer.post(`/api/users/${dutyId}/disable`)).statusCode).toBe(403);

    expect((await admin.post(`/api/users/${admin.user.id}/disable`)).json()).toMatchObject({
      error: { code: 'GW_ERR_CONFLICT', message: 'you cannot disable your own account' },
    });
    expect((await admin.post('/api/users/usr-none/disable')).statusCode).toBe(404);
    const disabled = await admin.post(`/api/users/${dutyId}/disable`);
    expect(disabled.json()).toMatchObject({ id: dutyId, disabled: true });
    expect((await officer.get('/auth/me')).statusCode).toBe(401);
    expect((await login(t.app, 'duty1', base.password)).statusCode).toBe(401);
    const list = (await admin.get('/api/users')).json<{ username: string; disabled: boolean }[]>();
    expect(list.map((u) => [u.username, u.disabled])).toEqual([
      ['admin', false],
      ['duty1', true],
    ]);
    expect(JSON.stringify(list)).not.toContain('scrypt');
    const audit = (await admin.get('/api/audit?limit=50')).json<{ action: string; userId: string }[]>();
    expect(audit.filter((a) => a.userId === dutyId).map((a) => a.action)).toEqual(['login', 'user_disabled', 'login', 'user_created']);
  });
});

describe('phone sign-in with an SMS code', () => {
  let t: AccountsGateway;
  beforeEach(async () => {
    t = await startAccountsGateway();
  });
  afterEach(async () => t.close());

  const request = (phone: string, ip = '10.0.0.9') =>
    t.app.inject({ method: 'POST', url: '/auth/otp/request', payload: { phone }, remoteAddress: ip });
  const verify = (phone: string, code: string, ip = '10.0.0.9') =>
    t.app.inject({ method: 'POST', url: '/auth/otp/verify', payload: { phone, code }, remoteAddress: ip });

  it('answers every phone the same, sends a code only to a registry worker or volunteer, through the SMS dispatcher', async () => {
    const known = await request(W01);
    const unknown = await request('+8613512345678');
    expect(known.statusCode).toBe(202);
    expect(unknown.statusCode).toBe(202);
    expect(unknown.body).toBe(known.body);
    const sent = (await t.store.sms.list(100)).filter((m) => m.purpose === 'otp');
    expect(sent.map((m) => [m.to, m.personId, m.context])).toEqual([[W01, 'w-01', null]]);
    expect(sent[0]?.body).toMatch(/验证码是 \*{6}，有效期5分钟/);
    expect(await codeSentTo(t, W01)).toMatch(/^\d{6}$/);
    const audit = await t.store.accounts.listAudit(2);
    expect(audit.map((a) => [a.subject, a.outcome])).toEqual([
      ['+86135****5678', 'failure'],
      ['+86139****0001', 'success'],
    ]);
    // The SMS log shows the message but not the code: reading the log must not be a way in.
    const admin = browser(t.app, await login(t.app, 'admin', ADMIN.password));
    const log = (await admin.get('/api/sms')).json<{ purpose: string; body: string }[]>();
    expect(log.find((m) => m.purpose === 'otp')?.body).toContain('验证码是 ******');
  });

  it('signs a worker in as role worker with the registry community, a volunteer as volunteer; a mobile without +86 works', async () => {
    const worker = await phoneSignIn(t, W01);
    const { id: workerUserId, ...workerUser } = worker.user;
    expect(workerUserId).toMatch(/^usr-/);
    expect(workerUser).toEqual({ name: '李明', role: 'worker', community: 'andali', workerId: 'w-01' });
    const volunteer = await phoneSignIn(t, V01.slice(3));
    expect({ ...volunteer.user, id: null }).toEqual({ id: null, name: '王奶奶', role: 'volunteer', volunteerId: 'v-01' });
    // The second sign-in links to the same account.
    expect((await phoneSignIn(t, W01)).user.id).toBe(worker.user.id);
    expect((await t.store.accounts.listUsers()).filter((u) => u.workerId === 'w-01')).toHaveLength(1);
  });

  it('refuses a wrong code, an expired code, a used code and a superseded code with a clear 401', async () => {
    await request(W01);
    const code = (await codeSentTo(t, W01)) ?? '';
    const wrongCode = code === '000000' ? '111111' : '000000';
    const wrong = await verify(W01, wrongCode);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ error: { code: 'GW_ERR_BAD_OTP', message: 'wrong or expired code' } });
    expect((await verify(W01, code)).statusCode).toBe(200);
    const used = await verify(W01, code);
    expect(used.statusCode).toBe(401);
    expectErrorBody(used.json(), 'GW_ERR_BAD_OTP');

    t.clock.advance(60_000);
    await request(W01);
    const late = (await codeSentTo(t, W01)) ?? '';
    t.clock.advance(5 * 60_000);
    const expired = await verify(W01, late);
    expect(expired.statusCode).toBe(401);
    expect(expired.json()).toMatchObject({ error: { message: 'the code has expired; ask for a new one' } });

    t.clock.advance(15 * 60_000);
    await request(W01);
    const older = (await codeSentTo(t, W01)) ?? '';
    t.clock.advance(1000);
    await request(W01);
    const newer = (await codeSentTo(t, W01)) ?? '';
    if (older !== newer) expect((await verify(W01, older)).statusCode).toBe(401);
    expect((await verify(W01, newer)).statusCode).toBe(200);
    const reasons = (await t.store.accounts.listAudit(50))
      .filter((a) => a.action === 'otp_verify' && a.outcome === 'failure')
      .map((a) => a.detail?.reason);
    expect(reasons).toContain('wrong');
    expect(reasons).toContain('used');
    expect(reasons).toContain('expired');
  });

  it('lets a code sign in once even when two phones race with it', async () => {
    await request(W01);
    const code = (await codeSentTo(t, W01)) ?? '';
    const results = await Promise.all([verify(W01, code, '10.5.0.1'), verify(W01, code, '10.5.0.2')]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 401]);
  });

  it('burns a code after 5 wrong guesses, even for the right code afterwards', async () => {
    // A per-phone limit above the code's own, so what refuses the right code is the burned code, not the limiter.
    await t.close();
    t = await startAccountsGateway({ accountLimits: { perSubject: { max: 50, windowMs: 15 * 60_000 } } });
    await request(V01);
    const code = (await codeSentTo(t, V01)) ?? '';
    const wrong = code === '000000' ? '111111' : '000000';
    // From different addresses and with the per-phone counter as it is: 5 guesses are all the code allows.
    for (let i = 0; i < 5; i++) expect((await verify(V01, wrong, `10.3.0.${i}`)).statusCode).toBe(401);
    const after = await verify(V01, code, '10.3.1.1');
    expect(after.statusCode).toBe(401);
    expect(after.headers['set-cookie']).toBeUndefined();
    expect((await t.store.accounts.listAudit(1))[0]?.detail).toMatchObject({ reason: 'too_many_attempts' });
    // A new code works again.
    expect((await phoneSignIn(t, V01)).user.volunteerId).toBe('v-01');
  });

  it('limits code requests per phone (429 with Retry-After) without telling whether the phone is known', async () => {
    for (const phone of [W01, '+8613512345678']) {
      for (let i = 0; i < 3; i++) expect((await request(phone, `10.4.${i}.1`)).statusCode).toBe(202);
      const limited = await request(phone, '10.4.9.1');
      expect(limited.statusCode).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect((await t.store.sms.list(100)).filter((m) => m.purpose === 'otp')).toHaveLength(3);
  });

  it('keeps the code out of the SMS table, the SMS logs and the live feed: only the phone gets it, so the log is no way in', async () => {
    await request(W01);
    const code = (await codeSentTo(t, W01)) ?? '';
    expect(code).toMatch(/^\d{6}$/);
    const admin = browser(t.app, await login(t.app, 'admin', ADMIN.password));
    const views = [
      (await admin.get('/api/sms/log?purpose=otp')).body,
      (await admin.get('/api/sms/log')).body,
      (await admin.get(`/api/sms/log?q=${code}`)).body,
      (await admin.get('/api/sms')).body,
      JSON.stringify(t.announced),
      JSON.stringify(t.store.database.db.prepare('SELECT * FROM sms_messages').all()),
      JSON.stringify(t.store.database.db.prepare('SELECT * FROM otp_codes').all()),
    ];
    const log = JSON.parse(views[0] ?? '{}') as { messages: { body: string }[] };
    expect(log.messages.map((m) => m.body)).toEqual([expect.stringContaining('验证码是 ******，有效期5分钟')]);
    for (const view of views) expect(view).not.toContain(code);
    // Whatever six digits a reader of the log could find, none signs in.
    const seen = [...new Set(views.join('\n').match(/(?<!\d)\d{6}(?!\d)/g) ?? [])];
    for (const guess of seen.slice(0, 4)) expect((await verify(W01, guess, '10.6.0.1')).statusCode).toBe(401);
    expect((await verify(W01, code)).statusCode).toBe(200);
  });

  it('stores only a keyed digest of the code: a copy of the database cannot give the code back by trying all million guesses', async () => {
    await request(W01);
    const code = (await codeSentTo(t, W01)) ?? '';
    const row = t.store.database.db
      .prepare<[], { code_hash: string; salt: string }>('SELECT code_hash, salt FROM otp_codes ORDER BY id DESC LIMIT 1')
      .get();
    expect(row?.code_hash).toMatch(/^[0-9a-f]{64}$/);
    // Trying all million guesses offline succeeds exactly when the right guess's digest, computed from the row alone, matches.
    const fromRowAlone = (guess: string) => [
      createHash('sha256').update(`${row?.salt}:${guess}`, 'utf8').digest('hex'),
      createHash('sha256').update(guess, 'utf8').digest('hex'),
    ];
    expect(fromRowAlone(code)).not.toContain(row?.code_hash);
    expect((await verify(W01, code)).statusCode).toBe(200);
  });

  it('does not send a code queued before a restart (the clear text was never stored); asking again works', async () => {
    await t.gateway.dispatcher.stop();
    await request(W01);
    const [queued] = (await t.store.sms.list(10)).filter((m) => m.purpose === 'otp');
    expect(queued?.status).toBe('queued');
    // A new process: a new dispatcher over the same database, as at start-up.
    const restarted = new SmsDispatcher({
      store: t.store,
      provider: t.gateway.provider,
      clock: t.clock,
      log: silentLogger(),
      bus: new EventBus<NotifierEvents>(silentLogger()),
      publicUrl: t.sim.url,
    });
    await restarted.start();
    await waitFor('the stale code failed', async () => (await t.store.sms.get(queued?.id ?? ''))?.status === 'failed');
    await restarted.stop();
    const failed = await t.store.sms.get(queued?.id ?? '');
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toContain('new code');
    // Nothing reached a phone: neither the code nor its masked text.
    expect(t.sim.messages().filter((m) => SIGN_IN_CODE.test(m.body))).toEqual([]);
    await t.gateway.dispatcher.start();
    t.clock.advance(1000);
    expect((await phoneSignIn(t, W01)).user.workerId).toBe('w-01');
  });

  it('refuses malformed phones and codes with 400', async () => {
    for (const res of [await request('call me'), await verify(W01, '12345'), await verify(W01, 'abcdef')]) {
      expect(res.statusCode).toBe(400);
      expectErrorBody(res.json(), 'GW_ERR_BAD_REQUEST');
    }
  });

  it('shows the audit log to admins and duty officers only, newest first', async () => {
    await phoneSignIn(t, W01);
    const admin = browser(t.app, await login(t.app, 'admin', ADMIN.password));
    const entries = (await admin.get('/api/audit?limit=3')).json<
      { action: string; outcome: string; subject: string; ip: string; at: number }[]
    >();
    expect(entries.map((e) => e.action)).toEqual(['login', 'otp_verify', 'otp_request']);
    expect(entries[1]).toMatchObject({ outcome: 'success', subject: '+86139****0001', ip: '10.0.0.9', at: t.clock.now() });
    expect((await admin.get('/api/audit?limit=0')).statusCode).toBe(400);
    const worker = await phoneSignIn(t, W01);
    expect((await worker.get('/api/audit')).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/api/audit' })).statusCode).toBe(401);
  });
});

describe('a database written before sign-in codes were masked', () => {
  it('masks the codes already stored when it opens, and leaves other messages alone', async () => {
    const dir = tempDir('care-gw-otp-mask-');
    const file = join(dir.path, 'gateway.db');
    try {
      const old = new Database(file);
      old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      for (const m of MIGRATIONS.filter((x) => x.version <= 8)) {
        old.exec(m.sql);
        old.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, 0);
      }
      const insert = old.prepare(
        "INSERT INTO sms_messages (id, to_phone, body, purpose, status, provider, attempts, created_at, updated_at) VALUES (?, '+8613900000001', ?, ?, 'delivered', 'twilio', 1, 0, 0)",
      );
      insert.run('sms-otp', '【社区关爱】您的登录验证码是 929985，5分钟内有效，仅可使用一次。如非本人操作，请忽略。', 'otp');
      insert.run('sms-otp-other', 'code 4711 valid 5 min', 'otp');
      insert.run('sms-page', '【求助】张桂兰 安达里3号楼2门401 按了求助 14:05 回1接单 回2转他人', 'page');
      old.close();

      const store = openSqliteStore(file);
      try {
        expect((await store.sms.get('sms-otp'))?.body).toBe(
          '【社区关爱】您的登录验证码是 ******，5分钟内有效，仅可使用一次。如非本人操作，请忽略。',
        );
        expect((await store.sms.get('sms-otp-other'))?.body).toBe('code **** valid * min');
        expect((await store.sms.get('sms-page'))?.body).toBe('【求助】张桂兰 安达里3号楼2门401 按了求助 14:05 回1接单 回2转他人');
      } finally {
        await store.close();
      }
    } finally {
      dir.remove();
    }
  });
});
