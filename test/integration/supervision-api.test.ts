// /api/devices (community and state filters, worker scope), /api/tasks (list, close by hand) and /api/outages over the real rig.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CareTaskView, OutageView } from '../../gateway/supervision/service.js';
import type { DeviceView } from '../../gateway/http/routes/devices.js';
import { B5, BQ, startSupervisionGateway, type SupervisionGateway } from '../helpers/supervision.js';
import { API_TOKEN } from '../helpers/gateway.js';
import { signedIn } from '../helpers/sessions.js';

const admin = { authorization: `Bearer ${API_TOKEN}` };

describe('supervision API', () => {
  let rig: SupervisionGateway;
  let lowBattery: CareTaskView;
  /** A signed-in worker of 拜泉里 (w-b1): the cookie and CSRF headers of her dashboard session. */
  let baiquanli: Record<string, string>;

  beforeAll(async () => {
    rig = await startSupervisionGateway();
    baiquanli = (await signedIn(rig.gateway, { username: 'sunhong', role: 'worker', workerId: 'w-b1' })).headers;
    const clients = [];
    for (const id of [...B5, ...BQ]) clients.push(await rig.online(id));
    await rig.publish(clients[0]!, 'telemetry', JSON.stringify({ battery: 11, rssi: -70 }));
    // 5号楼 loses power: all five drop at once, a grouped outage.
    for (const c of clients.slice(0, 5)) rig.drop(c);
    // One 拜泉里 device drops alone: a device-offline task after the window.
    rig.drop(clients[6]!);
    await rig.settle();
    await rig.advance(3 * 60_000);
  });
  afterAll(async () => {
    await rig.close();
  });

  const get = async <T>(url: string, headers: Record<string, string> = admin) => {
    const res = await rig.app.inject({ method: 'GET', url, headers });
    return { status: res.statusCode, body: res.json<T>() };
  };
  const close = (id: string, payload: unknown, headers: Record<string, string> = admin) =>
    rig.app.inject({ method: 'POST', url: `/api/tasks/${id}/close`, headers, payload: payload as Record<string, unknown> });

  it('needs a caller', async () => {
    for (const url of ['/api/devices', '/api/tasks', '/api/outages'])
      expect((await rig.app.inject({ method: 'GET', url })).statusCode).toBe(401);
  });

  it('filters devices by community and state, keeping the contract fields', async () => {
    const offline = await get<DeviceView[]>('/api/devices?community=andali&state=offline');
    expect(offline.status).toBe(200);
    expect(offline.body.map((d) => d.id)).toEqual(B5);
    expect(offline.body[0]).toMatchObject({
      id: B5[0],
      state: 'offline',
      battery: 11,
      rssi: -70,
      lastRejection: null,
      community: 'andali',
      building: '安达里5号楼',
    });
    expect(typeof offline.body[0]?.lastSeen).toBe('string');
    expect((await get<DeviceView[]>('/api/devices?state=online')).body.map((d) => d.id)).toEqual([BQ[0]]);
    // 3号楼's buttons were never installed: unknown until the timeout, then offline.
    expect((await get<DeviceView[]>('/api/devices?state=unknown&community=andali')).body).toHaveLength(30);
    expect((await get<unknown>('/api/devices?state=broken')).status).toBe(400);
  });

  it('shows a worker session its own community only, and refuses another with 403', async () => {
    const own = await get<DeviceView[]>('/api/devices', baiquanli);
    expect(own.body.map((d) => d.id)).toEqual(BQ);
    expect((await get<unknown>('/api/devices?community=andali', baiquanli)).status).toBe(403);
    expect((await get<unknown>(`/api/devices/${B5[0]}`, baiquanli)).status).toBe(403);
    expect((await get<DeviceView>(`/api/devices/${BQ[0]}`, baiquanli)).body.id).toBe(BQ[0]);
    expect((await get<unknown>('/api/tasks?community=andali', baiquanli)).status).toBe(403);
    expect((await get<unknown>('/api/outages?community=andali', baiquanli)).status).toBe(403);
    expect((await get<OutageView[]>('/api/outages', baiquanli)).body).toEqual([]);
  });

  it('lists tasks by state, community and worker', async () => {
    const open = await get<CareTaskView[]>('/api/tasks?state=open');
    expect(open.body.map((t) => [t.kind, t.device]).sort()).toEqual([
      ['device_offline', BQ[1]],
      ['low_battery', B5[0]],
    ]);
    const andali = await get<CareTaskView[]>('/api/tasks?state=open&community=andali&worker=w-02');
    expect(andali.body).toHaveLength(1);
    lowBattery = andali.body[0]!;
    expect(lowBattery).toMatchObject({
      kind: 'low_battery',
      state: 'open',
      resident: `r-${B5[0]}`,
      residentName: '居民5-01',
      community: 'andali',
      worker: 'w-02',
      workerName: '赵强',
      detail: { battery: 11 },
    });
    expect((await get<CareTaskView[]>('/api/tasks?worker=w-01')).body).toEqual([]);
    expect((await get<CareTaskView[]>('/api/tasks', baiquanli)).body.map((t) => t.device)).toEqual([BQ[1]]);
    expect((await get<unknown>('/api/tasks?state=pending')).status).toBe(400);
  });

  it('closes a task by hand with a note, recording who and when; bad input is refused', async () => {
    const unknown = await close('task-nope', { note: 'x' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'GW_ERR_TASK_NOT_FOUND' } });
    expect((await close(lowBattery.id, {})).statusCode).toBe(400);
    expect((await close(lowBattery.id, { note: '   ' })).statusCode).toBe(400);
    expect((await close(lowBattery.id, { note: 'x' }, baiquanli)).statusCode).toBe(403);

    const res = await close(lowBattery.id, { note: '已换电池' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: lowBattery.id,
      state: 'closed',
      closedBy: 'API',
      closeReason: 'closed by hand',
      closeNote: '已换电池',
      closedAt: new Date(rig.clock.now()).toISOString(),
    });
    const again = await close(lowBattery.id, { note: 'again' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: { code: 'GW_ERR_TASK_NOT_OPEN' } });
    expect((await get<CareTaskView[]>('/api/tasks?state=closed')).body.map((t) => t.id)).toEqual([lowBattery.id]);
  });

  it('lists outages with place, devices, openedAt, closedAt and summary', async () => {
    const { body } = await get<OutageView[]>('/api/outages?state=open&community=andali');
    expect(body).toHaveLength(1);
    expect(body[0]).toMatchObject({
      state: 'open',
      place: { kind: 'building', community: 'andali', building: '安达里5号楼', label: '安达里5号楼' },
      closedAt: null,
      summary: null,
      paged: { role: 'worker', personId: 'w-02' },
    });
    expect(body[0]?.devices.map((d) => d.id)).toEqual(B5);
    expect((await get<OutageView[]>('/api/outages?state=closed')).body).toEqual([]);
    expect((await get<unknown>('/api/outages?state=gone')).status).toBe(400);
  });
});
