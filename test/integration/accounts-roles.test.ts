// Role scoping of /api through real sessions: admin, duty officer, worker (own community) and volunteer (own visits), denials included.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { bearer, expectErrorBody, makeIncident } from '../helpers/http-fixture.js';
import {
  ADMIN,
  V01,
  W01,
  W11,
  browser,
  login,
  phoneSignIn,
  staff,
  startAccountsGateway,
  type AccountsGateway,
  type Browser,
} from '../helpers/accounts.js';
import { shanghaiMonth } from '../helpers/calendar.js';
import { dateOf, onDay } from '../helpers/visits.js';

const T0 = onDay(0, 11);
const VISITS = `/api/visits?from=${dateOf(0)}&to=${dateOf(3)}`;

describe('role scoping of /api', () => {
  let t: AccountsGateway;
  let admin: Browser;
  let duty: Browser;
  let worker: Browser;
  let otherWorker: Browser;
  let volunteer: Browser;

  beforeAll(async () => {
    t = await startAccountsGateway();
    const { incidents } = t.store;
    await incidents.create(makeIncident({ id: 'inc-a', openedAt: T0, residentId: 'r-001', communityId: 'andali' }));
    await incidents.create(makeIncident({ id: 'inc-b', openedAt: T0 + 1000, residentId: 'r-002', communityId: 'andali' }));
    await incidents.create(makeIncident({ id: 'inc-x', openedAt: T0 + 2000, residentId: 'r-101', communityId: 'xinhe' }));
    admin = browser(t.app, await login(t.app, ADMIN.username, ADMIN.password));
    duty = await staff(t, admin, { username: 'duty1', role: 'duty_officer' });
    worker = await phoneSignIn(t, W01);
    otherWorker = await phoneSignIn(t, W11);
    volunteer = await phoneSignIn(t, V01);
  });
  afterAll(async () => t.close());

  const ids = (res: { json: <T>() => T }) =>
    res
      .json<{ id: string }[]>()
      .map((i) => i.id)
      .sort();

  it('gives admin and duty officer every incident and the SMS log', async () => {
    for (const who of [admin, duty]) {
      expect(ids(await who.get('/api/incidents'))).toEqual(['inc-a', 'inc-b', 'inc-x']);
      expect((await who.get('/api/incidents/inc-x')).statusCode).toBe(200);
      expect((await who.get('/api/sms')).statusCode).toBe(200);
    }
  });

  it('shows a worker only the incidents of their community, and says so for another community', async () => {
    expect(ids(await worker.get('/api/incidents'))).toEqual(['inc-a', 'inc-b']);
    expect(ids(await worker.get('/api/incidents?community=andali'))).toEqual(['inc-a', 'inc-b']);
    expect(ids(await otherWorker.get('/api/incidents'))).toEqual(['inc-x']);
    const asked = await worker.get('/api/incidents?community=xinhe');
    expect(asked.statusCode).toBe(403);
    expect(asked.json()).toEqual({ error: { code: 'GW_ERR_FORBIDDEN', message: 'you can see only your own community (andali)' } });
    const one = await worker.get('/api/incidents/inc-x');
    expect(one.statusCode).toBe(403);
    expect(one.json<{ error: { message: string } }>().error.message).toMatch(/another community/);
    for (const action of ['ack', 'resolve']) {
      const res = await worker.post(`/api/incidents/inc-x/${action}`, { note: '我去' });
      expect(res.statusCode).toBe(403);
      expectErrorBody(res.json(), 'GW_ERR_FORBIDDEN');
    }
    expect((await t.store.incidents.get('inc-x'))?.state).toBe('open');
    expect((await worker.get('/api/incidents/nope')).statusCode).toBe(404);
  });

  it('lets a worker acknowledge and resolve in their community, as themself through the dashboard channel', async () => {
    expect((await worker.post('/api/incidents/inc-b/ack', { by: '别人' })).statusCode).toBe(403);
    const ack = await worker.post('/api/incidents/inc-b/ack', { note: '五分钟到' });
    expect(ack.statusCode).toBe(200);
    expect(ack.json<IncidentView>()).toMatchObject({ state: 'acknowledged', acknowledgedBy: { role: 'worker', id: 'w-01', name: '李明' } });
    expect((await t.store.incidents.listAudit('inc-b')).at(-1)).toMatchObject({
      action: 'acknowledged',
      actor: 'worker:w-01',
      channel: 'dashboard',
      detail: { note: '五分钟到' },
    });
    expect((await worker.post('/api/incidents/inc-b/resolve', {})).statusCode).toBe(200);
    // Without the CSRF token nothing happens.
    expect((await worker.post('/api/incidents/inc-a/ack', {}, { csrf: null })).statusCode).toBe(403);
    expect((await t.store.incidents.get('inc-a'))?.state).toBe('open');
  });

  it('keeps the SMS log, the audit log and user management from workers and volunteers', async () => {
    for (const who of [worker, volunteer]) {
      for (const url of ['/api/sms', '/api/audit', '/api/users']) {
        const res = await who.get(url);
        expect(res.statusCode, url).toBe(403);
        expectErrorBody(res.json(), 'GW_ERR_FORBIDDEN');
      }
    }
    expect((await duty.get('/api/audit')).statusCode).toBe(200);
  });

  it('shows a volunteer no incidents at all', async () => {
    for (const res of [
      await volunteer.get('/api/incidents'),
      await volunteer.get('/api/incidents/inc-a'),
      await volunteer.post('/api/incidents/inc-a/ack', {}),
    ]) {
      expect(res.statusCode).toBe(403);
      expectErrorBody(res.json(), 'GW_ERR_FORBIDDEN');
    }
  });

  it('keeps device health from a volunteer', async () => {
    for (const res of [await volunteer.get('/api/devices'), await volunteer.get('/api/devices/btn-001')]) {
      expect(res.statusCode).toBe(403);
      expectErrorBody(res.json(), 'GW_ERR_FORBIDDEN');
    }
  });

  it("gives a volunteer only her own visits, with residents' names and addresses and nothing else about them", async () => {
    const res = await volunteer.get(VISITS);
    expect(res.statusCode).toBe(200);
    const list = res.json<{ visit: string; volunteer: string; resident: string; residentName: string; address: string }[]>();
    expect(new Set(list.map((o) => o.visit))).toEqual(new Set(['vis-01', 'vis-03']));
    expect(list.every((o) => o.volunteer === 'v-01')).toBe(true);
    expect(list.find((o) => o.resident === 'r-101')).toMatchObject({ residentName: '孙凤英', address: '新河7号楼1门101' });
    expect(res.body).not.toContain('胰岛素');
    expect(res.body).not.toContain('+86138');
    expect(res.body).not.toContain('family');

    const other = await volunteer.get(`${VISITS}&volunteer=v-02`);
    expect(other.statusCode).toBe(403);
    expect(other.json()).toMatchObject({ error: { message: 'a volunteer sees only her own visits' } });
    expect((await volunteer.get('/api/visits/vis-01')).statusCode).toBe(200);
    expect((await volunteer.get('/api/visits/vis-04')).statusCode).toBe(403);
    expect((await volunteer.get('/api/volunteers/v-01/ledger')).statusCode).toBe(200);
    expect((await volunteer.get('/api/volunteers/v-02/ledger')).statusCode).toBe(403);
    const changes = [
      volunteer.post('/api/visits', {
        volunteer: 'v-01',
        resident: 'r-001',
        at: `${dateOf(5)}T10:00`,
        durationMinutes: 30,
        activity: '聊天',
      }),
      volunteer.post('/api/visits/vis-01/pause'),
      volunteer.post(`/api/visits/vis-01/occurrences/${dateOf(1)}T11:00/cancel`, {}),
      volunteer.post('/api/volunteers/v-01/redemptions', { points: 1, note: '米' }),
      volunteer.get(`/api/volunteers/hours.csv?month=${shanghaiMonth(T0)}`),
    ];
    for (const res of await Promise.all(changes)) expect(res.statusCode).toBe(403);
  });

  it("gives a worker the visits of their community's residents only, and no plan changes", async () => {
    const list = (await worker.get(VISITS)).json<{ visit: string; resident: string }[]>();
    expect(new Set(list.map((o) => o.visit))).toEqual(new Set(['vis-01', 'vis-04']));
    expect((await worker.get(`${VISITS}&community=xinhe`)).statusCode).toBe(403);
    expect((await worker.get('/api/visits/vis-03')).statusCode).toBe(403);
    expect((await worker.get('/api/visits/vis-04')).statusCode).toBe(200);
    expect((await worker.post('/api/visits/vis-01/pause')).statusCode).toBe(403);
    expect((await worker.get('/api/volunteers/v-01/ledger')).statusCode).toBe(403);
    // Coordinators see and change everything.
    expect(new Set((await duty.get(VISITS)).json<{ visit: string }[]>().map((o) => o.visit))).toEqual(
      new Set(['vis-01', 'vis-03', 'vis-04']),
    );
    const paused = await duty.post('/api/visits/vis-04/pause');
    expect(paused.statusCode).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: '/api/visits/vis-04/resume', headers: bearer() })).statusCode).toBe(200);
  });

  it('refuses a note over 2000 characters with a clear 400, keeps a script-bearing note as typed, and the SMS page escapes it', async () => {
    const long = await duty.post('/api/incidents/inc-a/ack', { note: '长'.repeat(2001) });
    expect(long.statusCode).toBe(400);
    expect(long.json()).toEqual({ error: { code: 'GW_ERR_BAD_REQUEST', message: 'body/note must NOT have more than 2000 characters' } });
    expect((await t.store.incidents.get('inc-a'))?.state).toBe('open');

    const note = '<script>alert("x")</script> 老人已送医 & 家属已到';
    const ack = await worker.post('/api/incidents/inc-a/ack', { note: '长'.repeat(2000) });
    expect(ack.statusCode).toBe(200);
    const resolved = await worker.post('/api/incidents/inc-a/resolve', { note });
    expect(resolved.statusCode).toBe(200);
    expect(resolved.json<IncidentView>().timeline?.at(-1)?.detail).toEqual({ from: 'acknowledged', by: '李明', role: 'worker', note });

    const code = resolved.json<IncidentView>().code;
    const page = await t.app.inject({
      method: 'GET',
      url: `/i/${code}?${t.gateway.links.sign(code, 'w-01', 'worker', t.clock.now() + 3600_000)}`,
    });
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toContain('<script');
    expect(page.body).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; 老人已送医 &#38; 家属已到');
  });

  it('answers 401 with no personal data to a request without a session or token', async () => {
    for (const url of ['/api/incidents', VISITS, '/api/users', '/api/audit']) {
      const res = await t.app.inject({ method: 'GET', url, headers: { cookie: 'cg_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
      expect(res.statusCode, url).toBe(401);
      expectErrorBody(res.json(), 'GW_ERR_UNAUTHORIZED');
    }
  });
});
