// Storm grouping over a real broker: 30 devices of one building dropping together make one outage, one page and no per-device tasks.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { Outage } from '../../gateway/supervision/types.js';
import { B3, B5, STATION, W01, W02, startSupervisionGateway, type SupervisionGateway } from '../helpers/supervision.js';
import { waitFor } from '../helpers/wait.js';

const MIN = 60_000;

describe('storm grouping', () => {
  let rig: SupervisionGateway;
  const outageEvents: string[] = [];

  beforeEach(async () => {
    rig = await startSupervisionGateway();
    outageEvents.length = 0;
    rig.bus.on({}, 'outageChanged', (o: Outage, what) => void outageEvents.push(`${o.place.key}:${what}`));
  });
  afterEach(async () => {
    await rig.close();
  });

  const connectAll = async (ids: string[]) => {
    const clients = new Map<string, MqttClient>();
    for (const id of ids) clients.set(id, await rig.online(id));
    await rig.settle();
    return clients;
  };

  it('30 devices of 安达里3号楼 dropping together: one outage, one page, no per-device tasks; closed with a summary when 80 % are back', async () => {
    const clients = await connectAll([...B3, ...B5]);
    expect(B3.every((id) => rig.ingest.healthOf(id)?.state === 'online')).toBe(true);

    // The building loses power: every connection dies, the broker publishes 30 wills.
    for (const id of B3) rig.drop(clients.get(id)!);
    await rig.settle();
    await waitFor('the B3 devices offline', () => B3.every((id) => rig.ingest.healthOf(id)?.state === 'offline'));
    await rig.settle();

    const [outage, ...others] = await rig.store.supervision.listOutages({});
    expect(others).toEqual([]);
    expect(outage?.place).toEqual({ kind: 'building', key: 'building:andali:安达里3号楼', communityId: 'andali', building: '安达里3号楼' });
    expect(outage?.devices.map((d) => d.deviceId).sort()).toEqual([...B3].sort());
    // The page waits 30 s (a building outage may still grow into a community one), then goes out once.
    expect(await rig.smsTo(W01, 'outage')).toEqual([]);
    await rig.advance(5 * MIN);
    const pages = (await rig.store.sms.list(1000)).filter((m) => m.purpose === 'outage');
    expect(pages).toHaveLength(1);
    // The on-duty worker nearest the building (w-00 is nearer to nothing here and has no shifts).
    expect(pages[0]).toMatchObject({ to: W01, role: 'worker', personId: 'w-01', context: null });
    expect(pages[0]?.body).toBe('【设备停线】安达里3号楼共30台设备10:00起离线，疑似停电或断网，请核实。恢复后另行通知。');
    // Past the storm window: still no device-offline task for any of the 30.
    expect((await rig.store.supervision.listOpenTasks()).filter((t) => t.kind === 'device_offline')).toEqual([]);

    // Power is back: 24 of 30 (80 %) reconnect; the outage closes and the 6 still down become tasks of their own.
    const back = B3.slice(0, 24);
    const still = B3.slice(24);
    for (const id of back) await rig.online(id);
    await rig.settle();
    const [closed] = await rig.store.supervision.listOutages({ state: 'closed' });
    expect(closed?.id).toBe(outage?.id);
    expect(closed?.summary).toBe(`安达里3号楼: 24/30 devices back after 5 min; still offline: ${still.join(', ')}`);
    const allClear = await rig.smsTo(W01, 'outage');
    expect(allClear.map((m) => m.body)).toEqual([
      pages[0]?.body,
      '【设备恢复】安达里3号楼已恢复24台共30台，停线5分钟；仍离线6台已转为照护待办。',
    ]);
    const offlineTasks = (await rig.store.supervision.listOpenTasks()).filter((t) => t.kind === 'device_offline');
    expect(offlineTasks.map((t) => t.deviceId).sort()).toEqual([...still].sort());
    expect(offlineTasks.every((t) => t.workerId === 'w-01')).toBe(true);
    expect(outageEvents[0]).toBe('building:andali:安达里3号楼:opened');
    expect(outageEvents.at(-1)).toBe('building:andali:安达里3号楼:closed');

    // The stragglers come back too: their tasks close by themselves; nobody else was paged.
    for (const id of still) await rig.online(id);
    await rig.settle();
    expect(await rig.store.supervision.listOpenTasks()).toEqual([]);
    expect(await rig.smsTo(W02)).toEqual([]);
    expect(await rig.smsTo(STATION)).toEqual([]);
  });

  it('a few devices dropping is no storm: no outage, no page, one task each after the window', async () => {
    const clients = await connectAll([...B3, ...B5]);
    const few = B3.slice(0, 4);
    for (const id of few) rig.drop(clients.get(id)!);
    await rig.settle();
    await waitFor('the few devices offline', () => few.every((id) => rig.ingest.healthOf(id)?.state === 'offline'));
    await rig.advance(3 * MIN);
    expect(await rig.store.supervision.listOutages({})).toEqual([]);
    expect((await rig.store.sms.list(1000)).filter((m) => m.purpose === 'outage')).toEqual([]);
    const tasks = (await rig.store.supervision.listOpenTasks()).filter((t) => t.kind === 'device_offline');
    expect(tasks.map((t) => t.deviceId).sort()).toEqual([...few].sort());
  });

  it('the whole of 5号楼 dropping one device every 50 s is no storm (never 5 within 120 s); every 20 s it is', async () => {
    let clients = await connectAll([...B5]);
    for (const id of B5) {
      rig.drop(clients.get(id)!);
      await rig.settle();
      await rig.advance(50_000);
    }
    await rig.advance(3 * MIN);
    expect(await rig.store.supervision.listOutages({})).toEqual([]);
    expect((await rig.store.supervision.listOpenTasks()).filter((t) => t.kind === 'device_offline')).toHaveLength(B5.length);

    clients = await connectAll([...B5]);
    expect(await rig.store.supervision.listOpenTasks()).toEqual([]);
    for (const id of B5) {
      rig.drop(clients.get(id)!);
      await rig.settle();
      await rig.advance(20_000);
    }
    const [outage] = await rig.store.supervision.listOutages({});
    expect(outage?.place.key).toBe('building:andali:安达里5号楼');
    expect(outage?.devices).toHaveLength(5);
    await rig.advance(3 * MIN);
    expect((await rig.store.supervision.listOpenTasks()).filter((t) => t.kind === 'device_offline')).toEqual([]);
    // 5号楼's own worker is the nearest on duty.
    expect((await rig.smsTo(W02, 'outage')).map((m) => m.body)).toEqual([
      '【设备停线】安达里5号楼共5台设备10:08起离线，疑似停电或断网，请核实。恢复后另行通知。',
    ]);
  });

  it('a community-wide drop across buildings opens one community outage that takes in the building one, and pages once', async () => {
    const clients = await connectAll([...B3, ...B5]);
    // Broadband cut: the whole of 安达里 drops within seconds.
    for (const id of [...B3, ...B5]) rig.drop(clients.get(id)!);
    await rig.settle();
    await waitFor('the B3 and B5 devices offline', () => [...B3, ...B5].every((id) => rig.ingest.healthOf(id)?.state === 'offline'));
    await rig.settle();
    await rig.advance(2 * MIN);
    const open = await rig.store.supervision.listOutages({ state: 'open' });
    // Whichever building crossed its line first, the community's outage took it in: one open outage for 安达里.
    expect(open.map((o) => o.place.key)).toEqual(['community:andali']);
    expect(open[0]?.devices.map((d) => d.deviceId).sort()).toEqual([...B3, ...B5].sort());
    const merged = await rig.store.supervision.listOutages({ state: 'closed' });
    expect(merged.every((o) => o.place.kind === 'building' && o.summary?.endsWith(`merged into ${open[0]?.id}`))).toBe(true);
    expect((await rig.store.sms.list(1000)).filter((m) => m.purpose === 'outage')).toHaveLength(1);
    expect((await rig.store.supervision.listOpenTasks()).filter((t) => t.kind === 'device_offline')).toEqual([]);
  });
});
