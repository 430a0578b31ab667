// Outages that never recover: closed by hand over the API (who, when, note; scope and roles) or by the 6-hour stale rule, and their devices still down get tasks.
import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { OutageView } from '../../gateway/supervision/service.js';
import type { Outage } from '../../gateway/supervision/types.js';
import { B3, W01, registryDoc, startSupervisionGateway, type SupervisionGateway } from '../helpers/supervision.js';
import { API_TOKEN } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';
import { signedIn } from '../helpers/sessions.js';
import type { Role } from '../../gateway/access/roles.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const admin = { authorization: `Bearer ${API_TOKEN}` };

describe('closing outages that never reach their recovery threshold', () => {
  let rig: SupervisionGateway;
  const outageEvents: string[] = [];

  const start = async () => {
    // A day's timeout: the devices that came back stay quiet for hours here, and must not time out into the outage again.
    rig = await startSupervisionGateway({
      registry: registryDoc({
        escalation: { ackTimeoutSeconds: 180, fallCancelSeconds: 30, offlineAfterSeconds: 86400 },
        volunteers: [{ id: 'v-01', name: '王奶奶', phone: '+8613700000001' }],
      }),
    });
    outageEvents.length = 0;
    rig.bus.on({}, 'outageChanged', (o: Outage, what) => void outageEvents.push(`${o.id}:${what}`));
  };
  afterEach(async () => {
    await rig.close();
  });

  /** 30 devices of 安达里3号楼 drop together (one outage), then `back` of them return: too few to close it. */
  const stormWithFewBack = async (back: number) => {
    const clients = new Map<string, MqttClient>();
    for (const id of B3) clients.set(id, await rig.online(id));
    await rig.settle();
    for (const id of B3) rig.drop(clients.get(id)!);
    await waitFor('the B3 devices offline', () => B3.every((id) => rig.ingest.healthOf(id)?.state === 'offline'));
    await rig.settle();
    await rig.advance(2 * MIN);
    for (const id of B3.slice(0, back)) await rig.online(id);
    await rig.settle();
    const [outage] = await rig.store.supervision.listOutages({ state: 'open' });
    expect(outage?.devices.filter((d) => d.backAt !== null)).toHaveLength(back);
    return outage!;
  };

  const closeOutage = (id: string, payload: unknown, headers: Record<string, string> = admin) =>
    rig.app.inject({ method: 'POST', url: `/api/outages/${id}/close`, headers, payload: payload as Record<string, unknown> });

  it('closes an open outage by hand: who, when and the note are recorded, devices still down get tasks, bad requests lose nothing', async () => {
    await start();
    const outage = await stormWithFewBack(10);
    const offlineTasks = async () => (await rig.store.supervision.listOpenTasks()).filter((t) => t.kind === 'device_offline');
    expect(await offlineTasks()).toEqual([]);

    expect((await rig.app.inject({ method: 'POST', url: `/api/outages/${outage.id}/close`, payload: { note: 'x' } })).statusCode).toBe(401);
    // Real dashboard sessions: a volunteer, the worker of another community, and the building's own worker.
    const session = (username: string, role: Role, link: { workerId?: string; volunteerId?: string }, name?: string) =>
      signedIn(rig.gateway, { username, role, ...link, ...(name ? { name } : {}) }).then((b) => b.headers);
    const volunteer = await session('wangnainai', 'volunteer', { volunteerId: 'v-01' });
    const otherWorker = await session('sunhong', 'worker', { workerId: 'w-b1' });
    const ownWorker = await session('liming', 'worker', { workerId: 'w-01' }, '李明');
    expect((await closeOutage(outage.id, { note: 'x' }, volunteer)).statusCode).toBe(403);
    const other = await closeOutage(outage.id, { note: 'x' }, otherWorker);
    expect(other.statusCode).toBe(403);
    expect(other.json()).toMatchObject({ error: { code: 'GW_ERR_FORBIDDEN' } });
    expect((await closeOutage(outage.id, {})).statusCode).toBe(400);
    expect((await closeOutage(outage.id, { note: '  ' })).statusCode).toBe(400);
    const unknown = await closeOutage('out-nope', { note: 'x' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'GW_ERR_OUTAGE_NOT_FOUND' } });
    // None of that touched it.
    expect((await rig.store.supervision.getOutage(outage.id))?.closedAt).toBeNull();

    rig.clock.advance(30 * MIN);
    const res = await closeOutage(outage.id, { note: '3号楼配电箱已修复，其余设备逐户查看' }, ownWorker);
    expect(res.statusCode).toBe(200);
    const view = res.json<OutageView>();
    expect(view).toMatchObject({
      id: outage.id,
      state: 'closed',
      closedAt: new Date(rig.clock.now()).toISOString(),
      closedBy: '李明', // the signed-in worker's account name
      closeReason: 'closed_by_hand',
      closeNote: '3号楼配电箱已修复，其余设备逐户查看',
    });
    expect(view.summary).toBe(`安达里3号楼: closed by hand, 10/30 devices back after 32 min; still offline: ${B3.slice(10).join(', ')}`);
    expect(outageEvents.at(-1)).toBe(`${outage.id}:closed`);
    await rig.settle();
    // The 20 still down are on their own now: one task each, for the building's worker.
    const tasks = await offlineTasks();
    expect(tasks.map((t) => t.deviceId).sort()).toEqual(B3.slice(10).sort());
    expect(tasks.every((t) => t.workerId === 'w-01')).toBe(true);
    // A hand close sends no all-clear: the people acting on it closed it.
    expect((await rig.smsTo(W01, 'outage')).map((m) => m.body.slice(0, 6))).toEqual(['【设备停线】']);

    const again = await closeOutage(outage.id, { note: 'again' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: { code: 'GW_ERR_OUTAGE_NOT_OPEN' } });
    // The record survives a restart, and a straggler coming back now clears its own task.
    await rig.restart();
    expect(await rig.store.supervision.getOutage(outage.id)).toMatchObject({
      closedBy: '李明', // the signed-in worker's account name
      closeReason: 'closed_by_hand',
      closeNote: '3号楼配电箱已修复，其余设备逐户查看',
    });
    await rig.online(B3[29]!);
    await rig.settle();
    expect((await offlineTasks()).map((t) => t.deviceId)).not.toContain(B3[29]);
    expect(await offlineTasks()).toHaveLength(19);
  });

  it('closes an outage open 6 h as partially recovered, opening tasks for the devices still offline, and none for those back', async () => {
    await start();
    const outage = await stormWithFewBack(12);
    await rig.advance(6 * HOUR - 10 * MIN, 5 * MIN);
    expect((await rig.store.supervision.getOutage(outage.id))?.closedAt).toBeNull();
    expect(rig.supervision.health()).toMatchObject({ openOutages: 1, oldestOpenOutageAt: new Date(outage.openedAt).toISOString() });

    await rig.advance(15 * MIN, 5 * MIN);
    const closed = (await rig.store.supervision.getOutage(outage.id))!;
    expect(closed).toMatchObject({
      closedBy: 'system',
      closeReason: 'partially_recovered',
      closeNote: null,
      closedAt: outage.openedAt + 6 * HOUR,
    });
    expect(closed.summary).toBe(
      `安达里3号楼: partially recovered, 12/30 devices back after 360 min; still offline: ${B3.slice(12).join(', ')}`,
    );
    expect(outageEvents.filter((e) => e === `${outage.id}:closed`)).toHaveLength(1);
    const tasks = (await rig.store.supervision.listOpenTasks()).filter((t) => t.kind === 'device_offline');
    expect(tasks.map((t) => t.deviceId).sort()).toEqual(B3.slice(12).sort());
    expect(tasks.every((t) => t.openedAt === outage.openedAt + 6 * HOUR)).toBe(true);
    // No SMS at the stale close (it may fall at night); the tasks reach the worker in the digest.
    expect(await rig.smsTo(W01, 'outage')).toHaveLength(1);
    expect(rig.supervision.health()).toMatchObject({ openOutages: 0, openTasks: 18, oldestOpenOutageAt: null });
  });

  it('closes an outage that went stale while the gateway was down as soon as it starts again', async () => {
    await start();
    const outage = await stormWithFewBack(5);
    await rig.supervision.stop();
    rig.clock.advance(7 * HOUR);
    await rig.restart();
    await rig.advance(1000, 1000);
    // Due at start: closed on the first tick of the clock after it.
    expect(await rig.store.supervision.getOutage(outage.id)).toMatchObject({
      closeReason: 'partially_recovered',
      closedBy: 'system',
      closedAt: rig.clock.now() - 1000,
    });
    const tasks = (await rig.store.supervision.listOpenTasks()).filter((t) => t.kind === 'device_offline');
    expect(tasks.map((t) => t.deviceId).sort()).toEqual(B3.slice(5).sort());
  });
});
