// /api/… over a real SQLite store: bearer auth, incident list/view/ack/resolve, devices, SMS log, error mapping.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceHealth } from '../../gateway/core/types.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import type { DeviceView } from '../../gateway/http/routes/devices.js';
import { bearer, createHttpFixture, expectErrorBody, makeIncident, makePage, RESIDENT, type HttpFixture } from '../helpers/http-fixture.js';

const T0 = Date.UTC(2026, 10, 26, 2, 0, 0);

async function seedIncidents(fx: HttpFixture): Promise<void> {
  await fx.store.incidents.create(makeIncident({ id: 'inc-old', openedAt: T0, state: 'resolved', resolvedAt: T0 + 600_000 }));
  await fx.store.incidents.create(
    makeIncident({ id: 'inc-mid', openedAt: T0 + 1_000, state: 'acknowledged', type: 'fall', residentId: 'r-003' }),
  );
  await fx.store.incidents.create(makeIncident({ id: 'inc-new', openedAt: T0 + 2_000, state: 'open' }));
  await fx.store.incidents.create(makeIncident({ id: 'inc-other', openedAt: T0 + 1_500, state: 'open', residentId: 'r-002' }));
  await fx.store.sms.insert(makePage({ id: 'sms-1', incidentId: 'inc-new', createdAt: T0 + 2_005 }));
  await fx.store.sms.insert(
    makePage({ id: 'sms-2', incidentId: 'inc-new', createdAt: T0 + 2_006, to: '+8613800000001', role: 'family', status: 'delivered' }),
  );
}

describe('HTTP /api authentication', () => {
  let fx: HttpFixture;
  beforeAll(async () => {
    fx = await createHttpFixture();
    await seedIncidents(fx);
  });
  afterAll(async () => fx.close());

  it('answers 401 without a bearer token, with a coded error and no personal data', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/api/incidents' });
    expect(res.statusCode).toBe(401);
    expectErrorBody(res.json(), 'GW_ERR_UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    for (const secret of [RESIDENT.name, RESIDENT.address, '+86', 'inc-new', 'r-001']) expect(res.body).not.toContain(secret);
  });

  it('answers 401 to a wrong token, a token of another length and a non-bearer scheme', async () => {
    for (const authorization of [
      'Bearer wrong-token-0123456789abcdef',
      'Bearer x',
      `Basic ${Buffer.from('a:b').toString('base64')}`,
      'Bearer',
    ]) {
      const res = await fx.app.inject({ method: 'GET', url: '/api/incidents', headers: { authorization } });
      expect(res.statusCode, authorization).toBe(401);
      expect(res.body).not.toContain(RESIDENT.name);
    }
  });

  it('checks the token before validating or routing, so nothing about the API leaks', async () => {
    const badQuery = await fx.app.inject({ method: 'GET', url: '/api/incidents?state=bogus' });
    expect(badQuery.statusCode).toBe(401);
    const unknownRoute = await fx.app.inject({ method: 'GET', url: '/api/no-such-thing' });
    expect(unknownRoute.statusCode).toBe(401);
    const authed = await fx.app.inject({ method: 'GET', url: '/api/no-such-thing', headers: bearer() });
    expect(authed.statusCode).toBe(404);
    expectErrorBody(authed.json(), 'GW_ERR_NOT_FOUND');
  });

  it('answers 200 with the right token (scheme in any case)', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/api/incidents', headers: bearer() });
    expect(res.statusCode).toBe(200);
    const lower = await fx.app.inject({ method: 'GET', url: '/api/sms', headers: { authorization: `bearer ${fx.deps.apiToken ?? ''}` } });
    expect(lower.statusCode).toBe(200);
  });

  it('leaves /healthz and /metrics open', async () => {
    expect((await fx.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await fx.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
  });
});

describe('HTTP /api without an API token configured', () => {
  let fx: HttpFixture;
  beforeAll(async () => {
    fx = await createHttpFixture({ apiToken: null });
  });
  afterAll(async () => fx.close());

  it('refuses every caller, including one that sends some bearer token', async () => {
    for (const headers of [{}, bearer(), { authorization: 'Bearer ' }]) {
      const res = await fx.app.inject({ method: 'GET', url: '/api/incidents', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: { code: 'GW_ERR_UNAUTHORIZED' } });
    }
  });

  it('lets an extra strategy (the future dashboard session) admit a caller and name it', async () => {
    const withSession = await createHttpFixture({
      apiToken: null,
      override: {
        authStrategies: [
          async (request) =>
            request.headers.cookie === 'session=ok' ? { kind: 'session', name: '值班员 陈', role: 'duty_officer' } : null,
        ],
      },
    });
    try {
      await withSession.store.incidents.create(makeIncident({ id: 'inc-s', openedAt: T0 }));
      expect((await withSession.app.inject({ method: 'GET', url: '/api/incidents', headers: { cookie: 'session=no' } })).statusCode).toBe(
        401,
      );
      const res = await withSession.app.inject({ method: 'POST', url: '/api/incidents/inc-s/ack', headers: { cookie: 'session=ok' } });
      expect(res.statusCode).toBe(200);
      expect(withSession.incidents.calls[0]?.by).toEqual({ role: 'staff', id: null, name: '值班员 陈', phone: null });
    } finally {
      await withSession.close();
    }
  });
});

describe('HTTP /api/incidents', () => {
  let fx: HttpFixture;
  beforeEach(async () => {
    fx = await createHttpFixture();
    await seedIncidents(fx);
  });
  afterEach(async () => fx.close());

  it('lists incidents in every state, newest first, with resident, type, state, openedAt and pages', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/api/incidents', headers: bearer() });
    expect(res.statusCode).toBe(200);
    const list = res.json<IncidentView[]>();
    expect(list.map((i) => i.id)).toEqual(['inc-new', 'inc-other', 'inc-mid', 'inc-old']);
    const newest = list[0];
    expect(newest).toMatchObject({ id: 'inc-new', resident: 'r-001', type: 'sos', state: 'open', openedAt: T0 + 2_000 });
    expect(newest?.pages.map((p) => ({ to: p.to, role: p.role, status: p.status }))).toEqual([
      { to: '+8613900000001', role: 'worker', status: 'sent' },
      { to: '+8613800000001', role: 'family', status: 'delivered' },
    ]);
  });

  it('filters by ?state=, ?resident= and ?limit=', async () => {
    const open = await fx.app.inject({ method: 'GET', url: '/api/incidents?state=open', headers: bearer() });
    expect(open.json<IncidentView[]>().map((i) => i.id)).toEqual(['inc-new', 'inc-other']);
    const resolved = await fx.app.inject({ method: 'GET', url: '/api/incidents?state=resolved', headers: bearer() });
    expect(resolved.json<IncidentView[]>().map((i) => i.id)).toEqual(['inc-old']);
    const mine = await fx.app.inject({ method: 'GET', url: '/api/incidents?resident=r-002', headers: bearer() });
    expect(mine.json<IncidentView[]>().map((i) => i.id)).toEqual(['inc-other']);
    const one = await fx.app.inject({ method: 'GET', url: '/api/incidents?limit=1', headers: bearer() });
    expect(one.json<IncidentView[]>().map((i) => i.id)).toEqual(['inc-new']);
  });

  it('answers 400 GW_ERR_BAD_REQUEST to an unknown state or an out-of-range limit', async () => {
    for (const url of [
      '/api/incidents?state=closed',
      '/api/incidents?state=',
      '/api/incidents?limit=0',
      '/api/incidents?limit=1001',
      '/api/incidents?limit=ten',
    ]) {
      const res = await fx.app.inject({ method: 'GET', url, headers: bearer() });
      expect(res.statusCode, url).toBe(400);
      expectErrorBody(res.json(), 'GW_ERR_BAD_REQUEST');
    }
  });

  it('shows one incident with its timeline, and 404 for an unknown id', async () => {
    await fx.store.incidents.appendAudit({
      incidentId: 'inc-new',
      at: T0 + 2_000,
      action: 'opened',
      actor: 'btn-001',
      channel: 'device',
      detail: null,
    });
    const res = await fx.app.inject({ method: 'GET', url: '/api/incidents/inc-new', headers: bearer() });
    expect(res.statusCode).toBe(200);
    const view = res.json<IncidentView>();
    expect(view.id).toBe('inc-new');
    expect(view.timeline?.map((e) => e.action)).toEqual(['opened']);

    const missing = await fx.app.inject({ method: 'GET', url: '/api/incidents/inc-nope', headers: bearer() });
    expect(missing.statusCode).toBe(404);
    expectErrorBody(missing.json(), 'GW_ERR_INCIDENT_NOT_FOUND');
  });

  it('acknowledges as staff through the API channel, with the note and name given', async () => {
    const res = await fx.app.inject({
      method: 'POST',
      url: '/api/incidents/inc-new/ack',
      headers: bearer(),
      payload: { note: '已电话联系, 李明在路上', by: '站长 刘' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json<IncidentView>()).toMatchObject({
      id: 'inc-new',
      state: 'acknowledged',
      acknowledgedBy: { role: 'staff', name: '站长 刘' },
    });
    expect(fx.incidents.calls).toEqual([
      {
        action: 'acknowledge',
        id: 'inc-new',
        by: { role: 'staff', id: null, name: '站长 刘', phone: null },
        channel: 'api',
        note: '已电话联系, 李明在路上',
      },
    ]);
    expect((await fx.store.incidents.get('inc-new'))?.state).toBe('acknowledged');
    expect(res.json<IncidentView>().timeline?.at(-1)).toMatchObject({
      action: 'acknowledged',
      channel: 'api',
      detail: { note: '已电话联系, 李明在路上' },
    });
  });

  it('resolves with no body at all, acting as "API"', async () => {
    const res = await fx.app.inject({ method: 'POST', url: '/api/incidents/inc-mid/resolve', headers: bearer() });
    expect(res.statusCode).toBe(200);
    expect(res.json<IncidentView>().state).toBe('resolved');
    expect(fx.incidents.calls[0]).toMatchObject({ action: 'resolve', by: { role: 'staff', name: 'API' }, channel: 'api', note: undefined });
  });

  it('maps GatewayError to 404 for an unknown incident and 409 for an impossible transition', async () => {
    const unknown = await fx.app.inject({ method: 'POST', url: '/api/incidents/inc-nope/ack', headers: bearer(), payload: {} });
    expect(unknown.statusCode).toBe(404);
    expectErrorBody(unknown.json(), 'GW_ERR_INCIDENT_NOT_FOUND');

    const again = await fx.app.inject({ method: 'POST', url: '/api/incidents/inc-mid/ack', headers: bearer() });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: { code: 'GW_ERR_INVALID_TRANSITION' } });
    const resolvedAgain = await fx.app.inject({ method: 'POST', url: '/api/incidents/inc-old/resolve', headers: bearer() });
    expect(resolvedAgain.statusCode).toBe(409);
  });

  it('rejects an over-long note or name, and a non-JSON-object body, before acting', async () => {
    const payloads = [{ note: 'x'.repeat(2001) }, { by: 'y'.repeat(101) }, { by: '' }, [1, 2]];
    for (const payload of payloads) {
      const res = await fx.app.inject({ method: 'POST', url: '/api/incidents/inc-new/ack', headers: bearer(), payload });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'GW_ERR_BAD_REQUEST' } });
    }
    const notJson = await fx.app.inject({
      method: 'POST',
      url: '/api/incidents/inc-new/ack',
      headers: { ...bearer(), 'content-type': 'application/json' },
      payload: '{"note": ',
    });
    expect(notJson.statusCode).toBe(400);
    expect(fx.incidents.calls).toEqual([]);
    expect((await fx.store.incidents.get('inc-new'))?.state).toBe('open');
  });
});

describe('HTTP /api/devices and /api/sms', () => {
  let fx: HttpFixture;
  beforeAll(async () => {
    fx = await createHttpFixture();
    await seedIncidents(fx);
    const online: DeviceHealth = {
      deviceId: 'btn-001',
      state: 'online',
      lastSeen: T0 + 60_000,
      battery: 87,
      rssi: -61,
      lastStatusAt: T0,
      remoteAddress: '127.0.0.1',
      lastRejection: { reason: 'malformed_json', detail: 'Unexpected token', at: T0 + 30_000 },
      rejectedCount: 2,
    };
    fx.devices.healthById.set('btn-001', online);
    fx.devices.healthById.set('btn-002', { ...online, deviceId: 'btn-002', state: 'offline', lastRejection: null, rejectedCount: 0 });
  });
  afterAll(async () => fx.close());

  it('lists device health with ISO times, and unknown state for a device never heard from', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/api/devices', headers: bearer() });
    expect(res.statusCode).toBe(200);
    const devices = res.json<DeviceView[]>();
    expect(devices.map((d) => [d.id, d.state])).toEqual([
      ['btn-001', 'online'],
      ['btn-002', 'offline'],
      ['fall-001', 'unknown'],
    ]);
    expect(devices[0]).toEqual({
      id: 'btn-001',
      kind: 'sos_button',
      resident: 'r-001',
      residentName: RESIDENT.name,
      community: 'andali',
      building: '安达里3号楼',
      state: 'online',
      lastSeen: new Date(T0 + 60_000).toISOString(),
      lastStatusAt: new Date(T0).toISOString(),
      battery: 87,
      rssi: -61,
      lastRejection: { reason: 'malformed_json', detail: 'Unexpected token', at: new Date(T0 + 30_000).toISOString() },
      rejectedCount: 2,
    });
    expect(devices[2]).toMatchObject({ lastSeen: null, battery: null, lastRejection: null });
    expect(res.body).not.toContain('scrypt');
  });

  it('filters devices by ?state= and ?resident=, and rejects an unknown state', async () => {
    const offline = await fx.app.inject({ method: 'GET', url: '/api/devices?state=offline', headers: bearer() });
    expect(offline.json<DeviceView[]>().map((d) => d.id)).toEqual(['btn-002']);
    const mine = await fx.app.inject({ method: 'GET', url: '/api/devices?resident=r-001', headers: bearer() });
    expect(mine.json<DeviceView[]>().map((d) => d.id)).toEqual(['btn-001', 'fall-001']);
    const bad = await fx.app.inject({ method: 'GET', url: '/api/devices?state=asleep', headers: bearer() });
    expect(bad.statusCode).toBe(400);
  });

  it('shows one device, and 404 GW_ERR_UNKNOWN_DEVICE for an unknown id', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/api/devices/fall-001', headers: bearer() });
    expect(res.statusCode).toBe(200);
    expect(res.json<DeviceView>()).toMatchObject({ id: 'fall-001', kind: 'fall_sensor', state: 'unknown' });
    const missing = await fx.app.inject({ method: 'GET', url: '/api/devices/nope', headers: bearer() });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'GW_ERR_UNKNOWN_DEVICE' } });
  });

  it('lists recent SMS newest first, honouring ?limit=', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/api/sms', headers: bearer() });
    expect(res.json<{ id: string }[]>().map((m) => m.id)).toEqual(['sms-2', 'sms-1']);
    const one = await fx.app.inject({ method: 'GET', url: '/api/sms?limit=1', headers: bearer() });
    expect(one.json<{ id: string }[]>().map((m) => m.id)).toEqual(['sms-2']);
    expect((await fx.app.inject({ method: 'GET', url: '/api/sms?limit=5000', headers: bearer() })).statusCode).toBe(400);
  });
});

describe('HTTP unexpected failures', () => {
  it('answers 500 GW_ERR_INTERNAL without the internal message, and logs it', async () => {
    const fx = await createHttpFixture({
      override: {
        smsLog: async () => {
          throw new Error('SQLITE_CORRUPT at /var/lib/care/gateway.db');
        },
      },
    });
    try {
      const res = await fx.app.inject({ method: 'GET', url: '/api/sms', headers: bearer() });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual({ error: { code: 'GW_ERR_INTERNAL', message: 'internal error' } });
      expect(res.body).not.toContain('SQLITE');
      expect(fx.logLines.some((l) => l.includes('SQLITE_CORRUPT') && l.includes('"level":50'))).toBe(true);
    } finally {
      await fx.close();
    }
  });
});
