// /api/ui-config, /api/map and POST /api/incidents/:id/onsite with real sessions over a whole gateway, every role and the denials.
import { readFileSync } from 'node:fs';
import { waitFor } from '../helpers/wait.js';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentView } from '../../gateway/incidents/views.js';
import type { MapModel } from '../../gateway/live/map-data.js';
import { API_TOKEN, connectDevice } from '../helpers/gateway.js';
import { ADMIN, startDashboardGateway, type DashboardGateway } from '../helpers/dashboard-gateway.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('dashboard API: ui-config, map, on-site', () => {
  let dg: DashboardGateway;
  const devices: MqttClient[] = [];
  const session: Record<string, { cookie: string; csrf: string }> = {};

  const get = (url: string, who?: string) =>
    dg.app.inject({ method: 'GET', url, headers: who ? { cookie: session[who]?.cookie ?? '' } : {} });
  const post = (url: string, who: string, body: unknown = {}, csrf = true) =>
    dg.app.inject({
      method: 'POST',
      url,
      headers: { cookie: session[who]?.cookie ?? '', ...(csrf ? { 'x-csrf-token': session[who]?.csrf ?? '' } : {}), origin: dg.url },
      payload: body as Record<string, unknown>,
    });

  const press = async (deviceId: string, secret: string): Promise<IncidentView> => {
    const button = await connectDevice(dg.mqttUrl, deviceId, secret);
    devices.push(button);
    await button.publishAsync(`care/v1/${deviceId}/event`, JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    return waitFor(`incident of ${deviceId}`, async () => {
      const list = (await get('/api/incidents?state=open', 'admin')).json<IncidentView[]>();
      return list.find((v) => v.resident === (deviceId === 'btn-002' ? 'r-002' : deviceId === 'btn-101' ? 'r-101' : 'r-003'));
    });
  };

  beforeAll(async () => {
    dg = await startDashboardGateway();
    await dg.addUser('officer', 'duty_officer');
    await dg.addUser('limin', 'worker', { workerId: 'w-01' });
    await dg.addUser('qianfang', 'worker', { workerId: 'w-09' });
    await dg.addUser('wangnn', 'volunteer', { volunteerId: 'v-01' });
    session.admin = await dg.signIn(ADMIN.username, ADMIN.password);
    for (const who of ['officer', 'limin', 'qianfang', 'wangnn']) session[who] = await dg.signIn(who);
  });

  afterAll(async () => {
    for (const d of devices) await d.endAsync();
    await dg?.stop();
  });

  it('GET /api/ui-config answers every signed-in role, and nobody else', async () => {
    expect((await get('/api/ui-config')).statusCode).toBe(401);
    for (const who of ['admin', 'officer', 'limin', 'wangnn']) {
      const res = await get('/api/ui-config', who);
      expect(res.statusCode, who).toBe(200);
      expect(res.json()).toEqual({ timeZone: 'Asia/Shanghai', mapTileUrl: null, smsMode: 'twilio', version: VERSION });
    }
  });

  it('GET /api/map: coordinates, buildings and communities, scoped to a worker, refused to a volunteer', async () => {
    expect((await get('/api/map')).statusCode).toBe(401);
    const all = (await get('/api/map', 'officer')).json<MapModel>();
    expect(all.communities.map((c) => c.id).sort()).toEqual(['andali', 'kongcun', 'xinhua']);
    expect(all.residents).toHaveLength(5);
    const b3 = all.buildings.find((b) => b.name === '安达里3号楼');
    expect(b3?.residents.sort()).toEqual(['r-001', 'r-002']);
    expect(b3?.lat).toBeCloseTo((39.2101 + 39.2103) / 2, 6);
    const r1 = all.residents.find((r) => r.id === 'r-001');
    expect(r1).toMatchObject({
      name: '张桂兰',
      building: '安达里3号楼',
      community: 'andali',
      deviceHealth: 'unknown',
      activeIncident: null,
    });
    // Medical notes are not map data.
    expect(JSON.stringify(all)).not.toContain('糖尿病');

    const mine = (await get('/api/map', 'limin')).json<MapModel>();
    expect(mine.communities.map((c) => c.id)).toEqual(['andali']);
    expect(mine.residents.map((r) => r.id).sort()).toEqual(['r-001', 'r-002', 'r-003']);
    expect(mine.buildings.every((b) => b.community === 'andali')).toBe(true);

    const volunteer = await get('/api/map', 'wangnn');
    expect(volunteer.statusCode).toBe(403);
    expect(volunteer.json()).toMatchObject({ error: { code: 'GW_ERR_FORBIDDEN' } });
    expect(volunteer.body).not.toContain('张桂兰');
    const token = await dg.app.inject({ method: 'GET', url: '/api/map', headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(token.json<MapModel>().residents).toHaveLength(5);
  });

  it('marks a resident with an open alarm on the map', async () => {
    const incident = await press('btn-003', 's3cret-btn-003');
    const map = (await get('/api/map', 'admin')).json<MapModel>();
    expect(map.residents.find((r) => r.id === 'r-003')?.activeIncident).toEqual({ id: incident.id, state: 'open', type: 'sos' });
  });

  it('POST /onsite: only after an acknowledgement, recorded once with an audit entry, kept through resolve', async () => {
    const incident = await press('btn-002', 's3cret-btn-002');
    expect(incident.residentCard).toMatchObject({ name: '王淑珍', building: '安达里3号楼', communityName: '安达里社区' });

    const early = await post(`/api/incidents/${incident.id}/onsite`, 'limin');
    expect(early.statusCode).toBe(409);
    expect(early.json()).toMatchObject({ error: { code: 'GW_ERR_INVALID_TRANSITION' } });

    expect((await post(`/api/incidents/${incident.id}/ack`, 'limin')).statusCode).toBe(200);
    const noCsrf = await post(`/api/incidents/${incident.id}/onsite`, 'limin', {}, false);
    expect(noCsrf.statusCode).toBe(403);
    const otherCommunity = await post(`/api/incidents/${incident.id}/onsite`, 'qianfang');
    expect([403, 404]).toContain(otherCommunity.statusCode);
    const volunteer = await post(`/api/incidents/${incident.id}/onsite`, 'wangnn');
    expect(volunteer.statusCode).toBe(403);
    const tooLong = await post(`/api/incidents/${incident.id}/onsite`, 'limin', { note: 'x'.repeat(2001) });
    expect(tooLong.statusCode).toBe(400);

    const res = await post(`/api/incidents/${incident.id}/onsite`, 'limin', { note: '已进门' });
    expect(res.statusCode).toBe(200);
    const view = res.json<IncidentView>();
    expect(view.state).toBe('acknowledged');
    expect(view.onSiteAt).toBeGreaterThanOrEqual(view.acknowledgedAt ?? Infinity);
    expect(view.onSiteBy?.name).toBe('limin');
    const entry = view.timeline?.find((e) => e.action === 'on_site');
    expect(entry).toMatchObject({ channel: 'dashboard', detail: { note: '已进门', by: 'limin' } });

    // The same person again: nothing changes, no error. Someone else: told who was first.
    const again = await post(`/api/incidents/${incident.id}/onsite`, 'limin');
    expect(again.statusCode).toBe(200);
    expect(again.json<IncidentView>().onSiteAt).toBe(view.onSiteAt);
    expect(again.json<IncidentView>().timeline?.filter((e) => e.action === 'on_site')).toHaveLength(1);
    const second = await post(`/api/incidents/${incident.id}/onsite`, 'officer');
    expect(second.statusCode).toBe(409);
    expect(second.json<{ error: { message: string } }>().error.message).toContain('limin is already on site');

    const resolved = await post(`/api/incidents/${incident.id}/resolve`, 'limin', { note: '<script>alert(1)</script>' });
    expect(resolved.statusCode).toBe(200);
    expect(resolved.json<IncidentView>()).toMatchObject({ state: 'resolved', onSiteAt: view.onSiteAt });
    const stored = await dg.gateway.store.incidents.get(incident.id);
    expect(stored?.onSiteAt).toBe(view.onSiteAt);
    const unknown = await post('/api/incidents/inc-nope/onsite', 'admin');
    expect(unknown.statusCode).toBe(404);
  });
});
