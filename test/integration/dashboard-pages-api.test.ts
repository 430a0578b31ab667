// The dashboard pages' API through app.inject() with real sessions: every route and role, the denials, CSV, registry import and my visits.
import { intentOf } from '../../gateway/notifiers/kinds.js';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/http-fixture.js';
import { ADMIN, browser, login, startAccountsGateway, type AccountsGateway, type Browser } from '../helpers/accounts.js';
import { shanghaiMonth } from '../helpers/calendar.js';
import { dateOf, doorAlarmsOf, onDay, textFrom, V01 } from '../helpers/visits.js';

let t: AccountsGateway;
let app: FastifyInstance;
let admin: Browser;
let duty: Browser;
let worker: Browser;
let volunteer: Browser;

async function account(user: {
  username: string;
  role: string;
  community?: string;
  workerId?: string;
  volunteerId?: string;
}): Promise<Browser> {
  const password = `pw-${user.username}-0123456789`;
  const created = await admin.post('/api/users', { name: user.username, password, ...user });
  expect(created.statusCode, created.body).toBe(201);
  return browser(app, await login(app, user.username, password, `10.2.0.${user.username.length}`));
}

const json = <T>(res: LightMyRequestResponse): T => {
  expect(res.statusCode, res.body).toBe(200);
  return res.json<T>();
};

beforeAll(async () => {
  // No SMS provider: the SMS log shows the outbox mode (these tests sign in by password only).
  t = await startAccountsGateway({ twilio: false });
  await t.store.health.save([
    {
      deviceId: 'btn-001',
      state: 'online',
      lastSeen: t.clock.now(),
      battery: 15,
      rssi: -70,
      lastStatusAt: t.clock.now(),
      remoteAddress: null,
      lastRejection: { reason: 'malformed_json', detail: 'Unexpected token', at: t.clock.now() },
      rejectedCount: 1,
    },
    {
      deviceId: 'fall-001',
      state: 'offline',
      lastSeen: t.clock.now() - 3_600_000,
      battery: 60,
      rssi: -80,
      lastStatusAt: null,
      remoteAddress: null,
      lastRejection: null,
      rejectedCount: 0,
    },
  ]);
  // The ingest reads device health at start: a restart, as after a day of these readings.
  await t.restart();
  app = t.app;
  admin = browser(app, await login(app, ADMIN.username, ADMIN.password));
  duty = await account({ username: 'duty1', role: 'duty_officer' });
  worker = await account({ username: 'worker1', role: 'worker', workerId: 'w-01' });
  volunteer = await account({ username: 'grandma1', role: 'volunteer', volunteerId: 'v-01' });
});

afterAll(async () => {
  await t?.close();
});

describe('who may read what', () => {
  const staffRoutes = ['/api/reports/monthly', '/api/reports/trend', '/api/residents', '/api/workers', '/api/roster', '/api/communities'];

  it('answers 401 without a session or token, and 403 to a volunteer on every staff route, the SMS log, volunteers and the registry', async () => {
    for (const url of [...staffRoutes, '/api/sms/log', '/api/registry', '/api/my-visits']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
      expect(res.body).not.toContain('张桂兰');
    }
    for (const url of [...staffRoutes, '/api/sms/log', '/api/volunteers', '/api/registry', '/api/reports/monthly?format=csv']) {
      const res = await volunteer.get(url);
      expect(res.statusCode, url).toBe(403);
      expect(res.json<{ error: { code: string } }>().error.code).toBe('GW_ERR_FORBIDDEN');
    }
  });

  it('limits a worker to their own community and refuses another one by name', async () => {
    const residents = json<{ id: string; notes?: string | null }[]>(await worker.get('/api/residents'));
    expect(residents.map((r) => r.id)).toEqual(['r-001', 'r-002']);
    for (const url of [
      '/api/residents?community=xinhe',
      '/api/workers?community=xinhe',
      '/api/reports/monthly?community=xinhe',
      '/api/reports/trend?community=xinhe',
      '/api/roster?community=xinhe',
    ]) {
      expect((await worker.get(url)).statusCode, url).toBe(403);
    }
    const workers = json<{ id: string; community: string }[]>(await worker.get('/api/workers'));
    expect(new Set(workers.map((w) => w.community))).toEqual(new Set(['andali']));
    expect(json<{ community: string }>(await worker.get('/api/reports/monthly')).community).toBe('andali');
    expect(json<{ id: string }[]>(await worker.get('/api/communities')).map((c) => c.id)).toEqual(['andali']);
    // Station staff only: phone numbers of every family are in the SMS log; volunteers' phones in their list.
    expect((await worker.get('/api/sms/log')).statusCode).toBe(403);
    expect((await worker.get('/api/volunteers')).statusCode).toBe(403);
    expect((await worker.get('/api/registry')).statusCode).toBe(403);
  });

  it('shows a duty officer every community with medical notes, but not the registry editor', async () => {
    const residents = json<{ id: string; notes?: string | null; family: unknown[] }[]>(await duty.get('/api/residents'));
    expect(residents.map((r) => r.id)).toEqual(['r-001', 'r-002', 'r-101']);
    expect(residents.find((r) => r.id === 'r-101')?.notes).toBe('糖尿病，每日注射胰岛素');
    expect((await duty.get('/api/registry')).statusCode).toBe(403);
    expect((await duty.post('/api/registry', { format: 'yaml', text: 'communities: []' })).statusCode).toBe(403);
    expect(json<unknown[]>(await duty.get('/api/volunteers')).length).toBeGreaterThan(0);
  });
});

describe('lists with search and health', () => {
  it('finds residents by name or address and sums up their devices', async () => {
    const found = json<
      {
        id: string;
        health: string;
        devices: { id: string; state: string; battery: number | null; lastError: { reason: string } | null }[];
      }[]
    >(await admin.get(`/api/residents?q=${encodeURIComponent('张')}`));
    expect(found.map((r) => r.id)).toEqual(['r-001']);
    const r001 = found[0];
    expect(r001?.health).toBe('offline');
    expect(r001?.devices.find((d) => d.id === 'btn-001')).toMatchObject({
      state: 'online',
      battery: 15,
      lastError: { reason: 'malformed_json' },
    });
    const byAddress = json<{ id: string }[]>(await admin.get(`/api/residents?q=${encodeURIComponent('新河7号楼')}`));
    expect(byAddress.map((r) => r.id)).toEqual(['r-101']);
    expect(json<{ health: string }[]>(await admin.get('/api/residents?q=r-002'))[0]?.health).toBe('unknown');
  });

  it('says who is on duty now and this week', async () => {
    const roster = json<{
      onDutyNow: { worker: string }[];
      neverOnDuty: { worker: string }[];
      week: { date: string; weekday: string; shifts: { worker: string; overnight: boolean }[] }[];
      dutyContacts: { community: string }[];
    }>(await worker.get('/api/roster'));
    expect(roster.onDutyNow.map((w) => w.worker)).toEqual(['w-01', 'w-02', 'w-03']);
    expect(roster.neverOnDuty.map((w) => w.worker)).toEqual(['w-04']);
    // The rig's day is a Wednesday: the week starts on the Monday two days before.
    expect(roster.week.map((d) => d.date)).toEqual([dateOf(-2), dateOf(-1), dateOf(0), dateOf(1), dateOf(2), dateOf(3), dateOf(4)]);
    expect(roster.week[0]?.weekday).toBe('mon');
    expect(roster.week[2]?.shifts.map((s) => s.worker)).toEqual(['w-01', 'w-02', 'w-03']);
    expect(roster.dutyContacts.map((c) => c.community)).toEqual(['andali']);
    const all = json<{ onDutyNow: { worker: string }[] }>(await duty.get(`/api/roster?from=${dateOf(5)}`));
    expect(all.onDutyNow.map((w) => w.worker)).toContain('w-11');
    expect((await duty.get('/api/roster?from=2026-02-30')).statusCode).toBe(400);
  });
});

describe('reports', () => {
  /** The month of the rig's day, and the month `n` before it. */
  const MONTH = shanghaiMonth(onDay(0, 12));
  const monthBefore = (n: number) => {
    const [y, m] = MONTH.split('-').map(Number);
    return shanghaiMonth(Date.UTC(y ?? 0, (m ?? 1) - 1 - n, 15));
  };

  it('serves the monthly report as CSV with a UTF-8 byte-order mark, one row per community and the total', async () => {
    const res = await duty.get(`/api/reports/monthly?month=${MONTH}&format=csv`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="care-report-${MONTH}.csv"`);
    expect([...res.rawPayload.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = res.body
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]?.startsWith('月份,社区编号,社区,报警总数')).toBe(true);
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 3).join(','))).toEqual([
      `${MONTH},andali,安达里社区`,
      `${MONTH},xinhe,新河社区`,
      `${MONTH},all,全部`,
    ]);
    const mine = await worker.get(`/api/reports/monthly?month=${MONTH}&format=csv&lang=en`);
    const rows = mine.body
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(rows[0]?.startsWith('month,community,community name,alarms')).toBe(true);
    expect(rows).toHaveLength(2);
    expect(rows[1]?.startsWith(`${MONTH},andali,安达里社区,`)).toBe(true);
  });

  it('serves JSON with the per-community rows and a trend; bad months are 400', async () => {
    const report = json<{ month: string; community: null; byCommunity: { community: string }[]; devices: { total: number } }>(
      await admin.get(`/api/reports/monthly?month=${MONTH}`),
    );
    expect(report.community).toBeNull();
    expect(report.byCommunity.map((r) => r.community)).toEqual(['andali', 'xinhe']);
    expect(report.devices.total).toBe(3);
    const trend = json<{ months: { month: string }[] }>(await admin.get(`/api/reports/trend?months=3&to=${MONTH}`));
    expect(trend.months.map((m) => m.month)).toEqual([monthBefore(2), monthBefore(1), MONTH]);
    expect((await admin.get('/api/reports/monthly?month=2026-13')).statusCode).toBe(400);
    expect((await admin.get('/api/reports/trend?months=99')).statusCode).toBe(400);
    // The API token acts as an admin.
    expect((await app.inject({ method: 'GET', url: '/api/reports/monthly', headers: bearer() })).statusCode).toBe(200);
  });
});

describe('SMS log', () => {
  it('lists sent and received messages, and marks outbox messages as not sent', async () => {
    await t.gateway.dispatcher.enqueue({
      to: '+8613800000001',
      intent: intentOf('resolved', { name: '测试出站' }),
      priority: 'routine',
      purpose: 'notice',
      incidentId: null,
      step: null,
      role: 'family',
      personId: null,
      context: null,
    });
    await textFrom(t.gateway, V01, '帮助');
    const log = json<{
      outboxMode: boolean;
      notSentTotal: number;
      messages: { direction: string; phone: string; body: string; notSent: boolean; status: string }[];
    }>(await duty.get('/api/sms/log'));
    expect(log.outboxMode).toBe(true);
    expect(log.notSentTotal).toBeGreaterThan(0);
    const sent = log.messages.find((m) => m.body === '测试出站的求助已处理完毕。');
    expect(sent).toMatchObject({ direction: 'out', notSent: true, phone: '+8613800000001' });
    const received = json<{ messages: { direction: string; phone: string; status: string; body: string }[] }>(
      await duty.get('/api/sms/log?direction=in'),
    );
    expect(received.messages.length).toBeGreaterThan(0);
    expect(received.messages.every((m) => m.direction === 'in' && m.status === 'received')).toBe(true);
    expect(received.messages.find((m) => m.phone === V01)?.body).toBe('帮助');
    const filtered = json<{ messages: { body: string }[] }>(await duty.get(`/api/sms/log?q=${encodeURIComponent('出站')}`));
    expect(filtered.messages.map((m) => m.body)).toEqual(['测试出站的求助已处理完毕。']);
    expect((await duty.get('/api/sms/log?limit=0')).statusCode).toBe(400);
  });
});

describe('registry editor (admin)', () => {
  it('exports the registry without any device secret, in YAML and JSON', async () => {
    const yaml = json<{ text: string; devices: { id: string }[] }>(await admin.get('/api/registry'));
    expect(yaml.text).toContain('安达里社区');
    expect(yaml.text).not.toMatch(/s3cret|secretHash|scrypt\$/);
    expect(yaml.devices.map((d) => d.id)).toContain('btn-001');
    const asJson = json<{ text: string }>(await admin.get('/api/registry?format=json'));
    const parsed = JSON.parse(asJson.text) as { communities: { id: string }[]; residents: { id: string }[]; devices?: unknown };
    expect(parsed.communities.map((c) => c.id)).toEqual(['andali', 'xinhe']);
    expect(parsed.residents.map((r) => r.id)).toEqual(['r-001', 'r-002', 'r-101']);
    expect(parsed.devices).toBeUndefined();
    expect(asJson.text).not.toContain('s3cret');
    // The export imports again unchanged.
    expect((await admin.post('/api/registry', { format: 'yaml', text: yaml.text })).statusCode).toBe(200);
  });

  it('refuses a document with errors, names each path, and changes nothing', async () => {
    const before = await t.store.registry.counts();
    const text = [
      'residents:',
      '  - { id: r-002, name: 改过的名字, community: andali, address: 安达里5号楼1门202 }',
      '  - { id: r-900, name: 新人, community: andali, address: 安达里1号楼, location: { lat: north, lon: 117.1 } }',
      'devices:',
      '  - { id: btn-900, kind: sos_button, resident: r-999 }',
    ].join('\n');
    const res = await admin.post('/api/registry', { format: 'yaml', text });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ error: { code: string; issues: string[] } }>();
    expect(body.error.code).toBe('GW_ERR_REGISTRY_INVALID');
    expect(body.error.issues).toEqual(
      expect.arrayContaining([
        'residents[1].location.lat: expected a number',
        'devices[0].secret: required',
        'devices[0].resident: unknown resident "r-999"',
      ]),
    );
    expect(await t.store.registry.counts()).toEqual(before);
    expect((await t.store.registry.getResident('r-002'))?.name).toBe('王淑珍');
    const syntax = await admin.post('/api/registry', { format: 'json', text: '{"residents": [' });
    expect(syntax.statusCode).toBe(400);
    expect(syntax.json<{ error: { issues: string[] } }>().error.issues[0]).toMatch(/^line 1, column \d+: JSON syntax error/);
  });

  it('imports a valid edit, needs the CSRF token, and refuses an oversized body', async () => {
    const text = 'residents:\n  - { id: r-002, name: 王淑珍, community: andali, address: 安达里5号楼1门203 }\n';
    expect((await admin.post('/api/registry', { format: 'yaml', text }, { csrf: null })).statusCode).toBe(403);
    expect((await t.store.registry.getResident('r-002'))?.address).toBe('安达里5号楼1门202');
    const ok = json<{ imported: boolean; counts: { residents: number } }>(await admin.post('/api/registry', { format: 'yaml', text }));
    expect(ok).toMatchObject({ imported: true, counts: { residents: 3 } });
    expect((await t.store.registry.getResident('r-002'))?.address).toBe('安达里5号楼1门203');
    const huge = `residents:\n${'  - { id: r-x, name: x, community: andali, address: x }\n'.repeat(45_000)}`;
    const big = await admin.post('/api/registry', { format: 'yaml', text: huge });
    expect(big.statusCode).toBe(413);
    expect(big.json<{ error: { code: string } }>().error.code).toBe('GW_ERR_PAYLOAD_TOO_LARGE');
    expect((await t.store.registry.counts()).residents).toBe(3);
  });
});

describe('my visits (a volunteer)', () => {
  it('shows her own visits with names and addresses only, never notes, family or other volunteers', async () => {
    const mine = json<{ volunteer: string; today: string; current: { visit: string } | null; visits: Record<string, unknown>[] }>(
      await volunteer.get('/api/my-visits?days=7'),
    );
    expect(mine.volunteer).toBe('v-01');
    expect(mine.today).toBe(dateOf(0));
    expect(mine.visits.length).toBeGreaterThan(0);
    expect(new Set(mine.visits.map((v) => v.volunteer))).toEqual(new Set(['v-01']));
    expect(mine.visits.map((v) => v.visit)).not.toContain('vis-04');
    const r101 = mine.visits.find((v) => v.resident === 'r-101');
    expect(r101).toMatchObject({ residentName: '孙凤英', address: '新河7号楼1门101' });
    expect(JSON.stringify(mine)).not.toMatch(/糖尿病|孙涛|\+86138/);
    expect(mine.current).toEqual({ visit: 'vis-03', start: `${dateOf(0)}T15:00:00+08:00` });
    // Staff do not use this page: it is hers.
    expect((await admin.get('/api/my-visits')).statusCode).toBe(403);
    expect((await worker.post('/api/my-visits/check-in')).statusCode).toBe(403);
  });

  it('checks her in and out with the big buttons, by the same rules as her SMS', async () => {
    const early = await volunteer.post('/api/my-visits/check-in');
    expect(early.statusCode).toBe(409);
    expect(early.json<{ error: { message: string } }>().error.message).toBe('visit_too_early');
    t.clock.set(onDay(0, 14, 55));
    expect(json<{ outcome: string }>(await volunteer.post('/api/my-visits/check-in')).outcome).toBe('visit_check_in');
    const during = json<{ visits: { visit: string; start: string; status: string }[] }>(await volunteer.get('/api/my-visits?days=1'));
    expect(during.visits.find((v) => v.visit === 'vis-03')?.status).toBe('checked_in');
    t.clock.set(onDay(0, 15, 50));
    expect(json<{ outcome: string }>(await volunteer.post('/api/my-visits/check-out')).outcome).toBe('visit_check_out');
    const after = json<{ visits: { visit: string; status: string; hours: number | null }[] }>(await volunteer.get('/api/my-visits?days=1'));
    expect(after.visits.find((v) => v.visit === 'vis-03')).toMatchObject({ status: 'done' });
    expect((await volunteer.post('/api/my-visits/check-out')).statusCode).toBe(409);
    expect((await volunteer.post('/api/my-visits/check-in', undefined, { csrf: null })).statusCode).toBe(403);
    expect((await volunteer.post('/api/my-visits/teleport')).statusCode).toBe(400);
  });

  it('raises the door alarm for her current visit', async () => {
    t.clock.set(onDay(1, 10, 45));
    // A day later her session has lapsed: she signs in again.
    expect((await volunteer.get('/api/my-visits')).statusCode).toBe(401);
    volunteer = browser(app, await login(app, 'grandma1', 'pw-grandma1-0123456789', '10.2.0.99'));
    const res = json<{ outcome: string }>(await volunteer.post('/api/my-visits/door-unanswered'));
    expect(res.outcome).toBe('visit_door_unanswered');
    expect(await doorAlarmsOf(t.gateway)).toEqual(['r-001/v-01']);
  });
});
